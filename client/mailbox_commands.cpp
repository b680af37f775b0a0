// `missive fetch`, `inbox`, `read`, `delete` and `watch`: the local store and POP3 polls.
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <csignal>
#include <ctime>
#include <iostream>

#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "local_store.hpp"
#include "mailbox_sync.hpp"
#include "mime_parse.hpp"
#include "pop3_client.hpp"
#include "terminal_progress.hpp"

namespace missive::client {

namespace {

// The longest pause between polls while the server is away.
constexpr std::chrono::seconds max_backoff{300};

// Text safe for a terminal: control characters (escape sequences) become '?', except
// line breaks and tabs when `multiline`.
std::string printable(std::string_view text, bool multiline = false) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (multiline && (c == '\n' || c == '\t')) out += c;
    else if (u < 0x20 || u == 0x7F) out += (c == '\t' || c == '\n' || c == '\r') ? ' ' : '?';
    else out += c;
  }
  return out;
}

// `text` cut or padded to `width` characters (UTF-8 code points).
std::string fit(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = 1;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0xF0) len = 4;
    else if (c >= 0xE0) len = 3;
    else if (c >= 0xC0) len = 2;
    if (count + 1 == width && i + len < text.size()) {
      out += "…";
      ++count;
      break;
    }
    out.append(text.substr(i, len));
    ++count;
    i += len;
    if (count == width) break;
  }
  while (count++ < width) out += ' ';
  return out;
}

// "2026-11-21 18:49" in local time.
std::string format_local(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M", &tm);
  return buffer;
}

// "12.3K", "4.0M": a size for the table.
std::string format_size(std::int64_t size) {
  if (size < 1024) return fmt::format("{}", size);
  if (size < 1024 * 1024) return fmt::format("{:.1f}K", size / 1024.0);
  return fmt::format("{:.1f}M", size / (1024.0 * 1024.0));
}

// The line `watch` prints for a new message.
std::string new_message_line(const new_message& m) {
  return fmt::format("new {}: {} — {}", m.id, printable(m.from), printable(m.subject));
}

// What one poll of `watch` came to.
enum class poll_outcome { ok, unreachable, refused };

// Polls forever, `every` apart, backing off while the server is away.
asio::awaitable<int> watch_loop(const client_config& config, const std::string& password,
                                local_store& store, const std::chrono::seconds& every) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::chrono::seconds delay = every;
  bool was_down = false;
  const bool delete_fetched = false;
  for (;;) {
    poll_outcome outcome = poll_outcome::ok;
    poll_result result;
    std::string why;
    try {
      result = co_await poll_mailbox(config, password, store, delete_fetched);
    } catch (const pop3_tls_error&) {
      // TLS as configured cannot be had: waiting will not change that.
      rethrow_poll_failure(config, std::current_exception());
    } catch (const tls_error&) {
      rethrow_poll_failure(config, std::current_exception());
    } catch (const pop3_client_error& e) {
      outcome = poll_outcome::unreachable;
      why = e.what();
    } catch (const pop3_login_error& e) {
      outcome = e.temporary() ? poll_outcome::unreachable : poll_outcome::refused;
      why = e.what();
    }
    if (outcome == poll_outcome::refused) {
      throw client_error(exit_code::no_permission,
                         fmt::format("the mail server refused the user name or password for {}", config.user));
    }
    if (outcome == poll_outcome::unreachable) {
      delay = was_down ? std::min(delay * 2, std::max(max_backoff, every)) : every;
      std::cerr << fmt::format("missive: cannot reach the mail server at {}:{} ({}); retrying in {}s\n",
                               config.server, config.pop3_port, why, delay.count());
      was_down = true;
    } else {
      if (was_down) std::cerr << "missive: the mail server is back\n";
      was_down = false;
      delay = every;
      for (const auto& m : result.stored) std::cout << new_message_line(m) << "\n";
      std::cout.flush();
    }
    timer.expires_after(delay);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

int run_fetch(const client_config& config, bool delete_fetched) {
  local_store store(config.data_dir);
  poll_result result;
  {
    terminal_progress line;  // cleared before the count is printed
    download_progress show;
    if (line.shown()) show = [&line](std::size_t done, std::size_t total) {
      line.update("fetching", static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
    };
    result = poll_once(config, store, delete_fetched, show);
  }
  std::size_t count = result.stored.size();
  std::cout << count << (count == 1 ? " new message\n" : " new messages\n");
  return exit_code::ok;
}

int run_inbox(const client_config& config, bool offline) {
  local_store store(config.data_dir);
  if (!offline) {
    try {
      poll_once(config, store, false);
    } catch (const client_error& e) {
      if (e.exit_status() != exit_code::temp_failure) throw;
      std::cerr << "missive: " << e.what() << "; showing the local store\n";
    }
  }
  auto rows = store.list();
  std::cout << fmt::format("{:>5}  {:<16}  {}  {}  {:>7}  {}\n", "ID", "DATE", fit("FROM", 28),
                           fit("SUBJECT", 40), "SIZE", "STATUS");
  for (const auto& row : rows) {
    std::cout << fmt::format("{:>5}  {:<16}  {}  {}  {:>7}  {}\n", row.id, format_local(row.date_unix),
                             fit(printable(row.from), 28), fit(printable(row.subject), 40),
                             format_size(row.size), row.seen ? "seen" : "new");
  }
  return exit_code::ok;
}

int run_read(const client_config& config, std::int64_t id, bool raw) {
  local_store store(config.data_dir);
  auto message = store.find(id);
  if (!message) throw client_error(exit_code::data_error, fmt::format("there is no message {}", id));
  if (raw) {
    std::cout.write(message->raw.data(), static_cast<std::streamsize>(message->raw.size()));
    std::cout.flush();
  } else {
    auto view = mime::parse_message(message->raw);
    std::string out;
    out += "From:    " + printable(view.from) + "\n";
    if (!view.to.empty()) out += "To:      " + printable(view.to) + "\n";
    if (!view.cc.empty()) out += "Cc:      " + printable(view.cc) + "\n";
    out += "Date:    " + printable(view.date) + "\n";
    out += "Subject: " + printable(view.subject) + "\n\n";
    out += printable(view.text, true);
    if (!out.ends_with("\n")) out += "\n";
    if (!view.attachments.empty()) {
      out += "\nAttachments:\n";
      for (const auto& a : view.attachments) {
        out += fmt::format("  {}  {}  {} bytes\n", a.filename.empty() ? "(unnamed)" : printable(a.filename),
                           a.content_type, a.size);
      }
    }
    std::cout << out;
    std::cout.flush();
  }
  store.mark_seen(id);
  return exit_code::ok;
}

int run_delete(const client_config& config, std::int64_t id) {
  local_store store(config.data_dir);
  if (!store.delete_locally(id)) {
    throw client_error(exit_code::data_error, fmt::format("there is no message {}", id));
  }
  std::cout << fmt::format("deleted message {} (from the server at the next poll)\n", id);
  return exit_code::ok;
}

int run_watch(const client_config& config, std::chrono::seconds every) {
  const std::string password = require_password(config);
  local_store store(config.data_dir);
  asio::io_context context;
  asio::signal_set signals(context, SIGINT, SIGTERM);
  bool stopping = false;
  signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    stopping = true;
    context.stop();
  });
  std::exception_ptr error;
  asio::co_spawn(context, watch_loop(config, password, store, every),
                 [&](std::exception_ptr e, int) {
                   error = e;
                   context.stop();
                 });
  context.run();
  if (error && !stopping) std::rethrow_exception(error);
  return exit_code::ok;
}

}  // namespace missive::client
