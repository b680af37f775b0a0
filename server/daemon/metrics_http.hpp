// The metrics endpoint: a small HTTP/1.1 server (RFC 9112) on [metrics] listen that answers
// GET /metrics with the registry in the Prometheus text format and GET /healthz with 200
// while the store takes writes, 503 when it does not (from the last write batch if it is
// recent, else from a probe write). One request per connection
// (Connection: close), a bounded request head, a deadline for the whole exchange; it runs on
// the relay's event loop and never blocks it (the queue's figures come from the store's
// reader threads).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace missive {

struct server_context;
class session_registry;

namespace http {

// The request line of an HTTP/1.x request (RFC 9112 3).
struct request_line {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
};

// Parses "METHOD SP request-target SP HTTP/1.x"; nullopt when malformed.
std::optional<request_line> parse_request_line(std::string_view line);

// What the endpoint serves for a request, before the body of /metrics is written.
enum class route { metrics, healthz, not_found, method_not_allowed, bad_request };

// Which answer `request` gets: GET or HEAD of /metrics or /healthz (a query string is
// ignored); other paths 404, other methods 405.
route route_of(const request_line& request);

// A whole response: status line, Content-Type, Content-Length, Connection: close, the
// headers in `extra` (each ending in CRLF), then the body unless `head_only`.
std::string response(int status, std::string_view reason, std::string_view content_type,
                     std::string_view body, bool head_only, std::string_view extra = {});

}  // namespace http

// Accepts connections on `acceptor` and serves each until the acceptor closes; open
// connections are registered in `sessions` (closed at shutdown).
asio::awaitable<void> serve_metrics(asio::ip::tcp::acceptor& acceptor, server_context& context,
                                    session_registry& sessions);

}  // namespace missive
