// The metrics endpoint: see metrics_http.hpp.
#include "metrics_http.hpp"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <chrono>

#include "connection_io.hpp"
#include "log.hpp"
#include "mail_store.hpp"
#include "metrics.hpp"
#include "metrics_text.hpp"
#include "server_config.hpp"
#include "server_context.hpp"

namespace missive {

namespace {

// The whole request (line and headers) must arrive within this; a scraper sends it at once.
constexpr auto request_deadline = std::chrono::seconds(10);
// The response must be taken within this.
constexpr auto response_deadline = std::chrono::seconds(10);
// Limits on the request head: a line (Apache's and nginx's default is 8 KiB), and the
// header lines in all. A body is never read (GET and HEAD have none).
constexpr std::size_t max_line = 8192;
constexpr std::size_t max_header_lines = 100;
// Open connections at once; beyond this a connection is closed without an answer.
constexpr std::size_t max_connections = 16;
// A write batch that ended this recently tells /healthz whether the store takes writes;
// without one, /healthz makes a write of its own (mail_store::probe_write). Under load
// batches end every few milliseconds and no probe is made.
constexpr auto recent_write = std::chrono::seconds(1);

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

namespace http {

std::optional<request_line> parse_request_line(std::string_view line) {
  auto first = line.find(' ');
  if (first == std::string_view::npos || first == 0) return std::nullopt;
  auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second == first + 1) return std::nullopt;
  request_line out{std::string(line.substr(0, first)),
                   std::string(line.substr(first + 1, second - first - 1)),
                   std::string(line.substr(second + 1))};
  for (char c : out.method) {
    if (!is_token_char(c)) return std::nullopt;
  }
  for (char c : out.target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return std::nullopt;
  }
  if (out.version != "HTTP/1.1" && out.version != "HTTP/1.0") return std::nullopt;
  return out;
}

route route_of(const request_line& request) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  bool known = path == "/metrics" || path == "/healthz";
  if (!known) return route::not_found;
  if (request.method != "GET" && request.method != "HEAD") return route::method_not_allowed;
  return path == "/metrics" ? route::metrics : route::healthz;
}

std::string response(int status, std::string_view reason, std::string_view content_type,
                     std::string_view body, bool head_only, std::string_view extra) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n{}\r\n",
      status, reason, content_type, body.size(), extra);
  if (!head_only) out += body;
  return out;
}

}  // namespace http

namespace {

// Whether the data directory has the room below which MAIL is refused ([smtp]
// min_free_space).
bool room_for_mail(server_context& context) {
  std::uint64_t reserve = context.config.smtp.min_free_bytes();
  if (reserve == 0) return true;
  auto available = context.disk_space.available(context.config.data_dir, reserve);
  return !available || *available >= reserve;
}

// Whether the store took writes at its last write batch, and the data directory has room:
// the missive_store_writable gauge.
bool store_writable(server_context& context) {
  return metrics::relay().store_writable() && room_for_mail(context);
}

// Whether the store takes writes now, for /healthz: as the last write batch says if it
// ended within recent_write, else as a probe write says (its batch is recorded like any).
asio::awaitable<bool> store_writable_now(server_context& context, std::string_view id) {
  if (!room_for_mail(context)) co_return false;
  if (!metrics::relay().wrote_within(recent_write)) {
    try {
      co_await context.store.probe_write();
    } catch (const std::exception& e) {
      log::warning(id, "event=health_probe_failed reason=\"{}\"", e.what());
      co_return false;
    }
  }
  co_return metrics::relay().store_writable();
}

asio::awaitable<std::string> metrics_body(server_context& context) {
  std::optional<queue_counts> queue;
  try {
    queue = co_await context.store.queue_gauges(std::chrono::system_clock::now());
  } catch (const std::exception& e) {
    // The rest is still worth having: the queue's families are left out of this scrape.
    log::warning("metrics", "event=queue_gauges_failed reason=\"{}\"", e.what());
  }
  exposition::text_writer out;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  metrics::relay().write(out, queue, now, store_writable(context));
  co_return out.take();
}

// Reads the request head and answers it.
asio::awaitable<void> serve_request(connection_io& io, server_context& context, std::string_view id) {
  io.set_timeout(request_deadline);
  std::string line;
  auto status = co_await io.read_line(line, max_line);
  if (status == connection_io::read_status::closed) co_return;
  std::optional<http::request_line> request;
  if (status == connection_io::read_status::line) request = http::parse_request_line(line);
  // The header fields are read and ignored, up to the empty line that ends them.
  std::size_t header_lines = 0;
  bool head_complete = false;
  while (status == connection_io::read_status::line && header_lines <= max_header_lines) {
    std::string field;
    status = co_await io.read_line(field, max_line);
    if (status == connection_io::read_status::closed) co_return;
    if (status == connection_io::read_status::line && field.empty()) {
      head_complete = true;
      break;
    }
    ++header_lines;
  }
  constexpr std::string_view text = "text/plain; charset=utf-8";
  std::string answer;
  bool head_only = request && request->method == "HEAD";
  http::route where = request && head_complete ? http::route_of(*request) : http::route::bad_request;
  if (status == connection_io::read_status::too_long || header_lines > max_header_lines) {
    answer = http::response(431, "Request Header Fields Too Large", text, "request too large\n", false);
  } else {
    switch (where) {
      case http::route::metrics: {
        std::string body = co_await metrics_body(context);
        answer = http::response(200, "OK", exposition::content_type, body, head_only);
        break;
      }
      case http::route::healthz: {
        bool writable = co_await store_writable_now(context, id);
        answer = writable ? http::response(200, "OK", text, "ok\n", head_only)
                          : http::response(503, "Service Unavailable", text,
                                           "the store does not take writes\n", head_only);
        break;
      }
      case http::route::not_found:
        answer = http::response(404, "Not Found", text, "not found\n", head_only);
        break;
      case http::route::method_not_allowed:
        answer = http::response(405, "Method Not Allowed", text, "method not allowed\n", false,
                                "Allow: GET, HEAD\r\n");
        break;
      case http::route::bad_request:
        answer = http::response(400, "Bad Request", text, "bad request\n", false);
        break;
    }
  }
  log::debug(id, "event=http_request method={} target=\"{}\" status={}",
             request ? request->method : "-", request ? request->target : "-",
             std::string_view(answer).substr(9, 3));
  io.set_timeout(response_deadline);
  io.write(answer);
  co_await io.flush();
}

asio::awaitable<void> run_connection(asio::ip::tcp::socket socket, asio::ip::tcp::endpoint peer,
                                     server_context& context, session_registry& sessions,
                                     std::string id) {
  connection_io io(std::move(socket), peer, context.tls);
  auto handle = sessions.add([&io] { io.close(); });
  try {
    co_await serve_request(io, context, id);
  } catch (const std::exception& e) {
    log::warning(id, "event=http_failed reason=\"{}\"", e.what());
  }
  io.close();
  sessions.remove(handle);
}

}  // namespace

asio::awaitable<void> serve_metrics(asio::ip::tcp::acceptor& acceptor, server_context& context,
                                    session_registry& sessions) {
  auto executor = acceptor.get_executor();
  std::uint64_t next_id = 1;
  while (acceptor.is_open()) {
    std::error_code ec;
    asio::ip::tcp::endpoint peer;
    auto socket = co_await acceptor.async_accept(peer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      log::warning("metrics", "event=accept_failed reason=\"{}\"", ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (sessions.size() >= max_connections) {
      socket.close(ec);
      continue;
    }
    std::string id = fmt::format("H{}", next_id++);
    asio::co_spawn(executor,
                   run_connection(std::move(socket), peer, context, sessions, id),
                   [id](std::exception_ptr failure) {
                     if (!failure) return;
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& e) {
                       log::error(id, "event=coroutine_failed reason=\"{}\"", e.what());
                     }
                   });
  }
}

}  // namespace missive
