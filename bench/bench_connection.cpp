// A client connection with a per-step deadline: see bench_connection.hpp.
//
// The deadline is a plain callback timer, not a coroutine raced with `||` (in Asio 1.22 that
// can call freed cancellation handlers). Each step moves the deadline to now + the step
// timeout; the timer, when it fires early because the deadline moved, waits again for the new
// one, so a step costs no timer operation at all in the common case.
#include "bench_connection.hpp"

#include <asio/connect.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstring>

namespace missive::bench {

namespace {

// Octets asked of the socket per read: replies and POP3 listings are small.
constexpr std::size_t read_chunk = 16 * 1024;

}  // namespace

connection::connection(const asio::any_io_executor& executor, bench_clock::duration step_timeout)
    : state_(std::make_shared<shared_state>(executor)), step_timeout_(step_timeout) {}

connection::~connection() {
  std::error_code ignored;
  state_->timer.cancel();
  state_->socket.close(ignored);
}

void connection::close() {
  std::error_code ignored;
  state_->socket.close(ignored);
}

void connection::arm() {
  state_->deadline = bench_clock::now() + step_timeout_;
  if (!state_->waiting) watch(state_);
}

void connection::watch(const std::shared_ptr<shared_state>& state) {
  state->waiting = true;
  state->timer.expires_at(state->deadline);
  state->timer.async_wait([state](std::error_code ec) {
    state->waiting = false;
    if (ec) return;  // cancelled: the connection is finished
    if (bench_clock::now() < state->deadline) {
      watch(state);  // the deadline moved on while we waited
      return;
    }
    state->timed_out = true;
    std::error_code ignored;
    state->socket.close(ignored);  // the pending step ends with operation_aborted
  });
}

void connection::fail(const std::error_code& ec, const char* what) {
  if (state_->timed_out) {
    error_ = std::string("timeout ") + what;
  } else if (ec == asio::error::eof) {
    error_ = std::string("closed by peer ") + what;
  } else {
    error_ = std::string(what) + ": " + ec.message();
  }
  close();
}

asio::awaitable<bool> connection::connect(const asio::ip::tcp::endpoint& endpoint) {
  arm();
  std::error_code ec;
  co_await state_->socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(ec, "connecting");
    co_return false;
  }
  state_->socket.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return true;
}

asio::awaitable<bool> connection::write(const std::string& bytes) {
  arm();
  std::error_code ec;
  co_await asio::async_write(state_->socket, asio::buffer(bytes),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(ec, "writing");
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> connection::fill() {
  if (start_ == input_.size()) {
    input_.clear();
    start_ = 0;
  } else if (start_ > 0) {
    input_.erase(0, start_);
    start_ = 0;
  }
  std::size_t old_size = input_.size();
  input_.resize(old_size + read_chunk);
  arm();
  std::error_code ec;
  std::size_t n = co_await state_->socket.async_read_some(
      asio::buffer(input_.data() + old_size, read_chunk), asio::redirect_error(asio::use_awaitable, ec));
  input_.resize(old_size + n);
  if (ec) {
    fail(ec, "reading");
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> connection::read_reply(smtp_reply& reply) {
  for (;;) {
    if (start_ < input_.size()) {
      start_ += parser_.feed(std::string_view(input_).substr(start_));
      if (parser_.error() != reply_error::none) {
        error_ = "unreadable reply";
        close();
        co_return false;
      }
      if (parser_.done()) {
        reply = parser_.reply();
        parser_.next();
        co_return true;
      }
    }
    bool more = co_await fill();
    if (!more) co_return false;
  }
}

asio::awaitable<bool> connection::read_line(std::string& line) {
  for (;;) {
    const char* begin = input_.data() + start_;
    const void* lf = std::memchr(begin, '\n', input_.size() - start_);
    if (lf != nullptr) {
      std::size_t length = static_cast<const char*>(lf) - begin;
      line.assign(begin, length);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      start_ += length + 1;
      co_return true;
    }
    if (input_.size() - start_ > 64 * 1024) {
      error_ = "line too long";
      close();
      co_return false;
    }
    bool more = co_await fill();
    if (!more) co_return false;
  }
}

asio::awaitable<void> connection::wait_for_close() {
  std::string saved_error = error_;
  for (;;) {
    bool more = co_await fill();
    if (!more) break;
    start_ = input_.size();  // whatever still comes is not ours to read
  }
  error_ = saved_error;
}

}  // namespace missive::bench
