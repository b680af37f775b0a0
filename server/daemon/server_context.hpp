// What every session of the running relay shares: configuration, storage, the delivery
// scheduler, and the registry that lets shutdown reach every open session.
#pragma once

#include <asio/thread_pool.hpp>

#include <asio/ssl/context.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <set>

#include "abuse_guard.hpp"
#include "data_directory.hpp"
#include "dkim_signer.hpp"
#include "dns_resolver.hpp"
#include "metrics.hpp"
#include <string>

namespace missive {

struct server_config;

// What a listener is for: the protocol, whether TLS starts at once (RFC 8314), and whether
// it is the submission service (RFC 6409: AUTH required, MAIL FROM must be the user's).
struct listener_role {
  enum class protocol { smtp, pop3 } proto = protocol::smtp;
  bool implicit_tls = false;
  bool submission = false;

  // The name printed at start and used in logs: smtp, submission, submissions, pop3, pop3s.
  const char* name() const {
    if (proto == protocol::pop3) return implicit_tls ? "pop3s" : "pop3";
    if (submission) return implicit_tls ? "submissions" : "submission";
    return "smtp";
  }
};

// The metrics' name for a listener's service (listener_role::name()).
inline metrics::service service_of(const listener_role& role) {
  using metrics::service;
  if (role.proto == listener_role::protocol::pop3) {
    return role.implicit_tls ? service::pop3s : service::pop3;
  }
  if (role.submission) return role.implicit_tls ? service::submissions : service::submission;
  return service::smtp;
}
class mail_store;
class user_directory;
class delivery_scheduler;

// The open sessions of one protocol: counted for the connection cap, and closable at shutdown.
class session_registry {
 public:
  using closer = std::function<void()>;
  using handle = std::list<closer>::iterator;

  // Registers a session; `close` ends it at shutdown.
  handle add(closer close) { return sessions_.insert(sessions_.end(), std::move(close)); }
  // Unregisters a session that has ended.
  void remove(handle h) { sessions_.erase(h); }
  // The number of open sessions.
  std::size_t size() const { return sessions_.size(); }
  // Closes every open session.
  void close_all() {
    auto copy = sessions_;
    for (auto& close : copy) close();
  }

 private:
  std::list<closer> sessions_;
};

// Everything sessions share. All of it is used from the one network thread.
struct server_context {
  const server_config& config;
  // The server TLS context; `tls_enabled` says whether [tls] configured a certificate
  // (otherwise the context only satisfies the stream's constructor and is never used).
  asio::ssl::context& tls;
  bool tls_enabled = false;
  mail_store& store;
  user_directory& users;  // the store's users, with caches in front
  delivery_scheduler& scheduler;
  session_registry smtp_sessions;
  session_registry pop3_sessions;
  abuse_guard guard;
  std::uint64_t next_session_id = 1;
  // The data directory's free space, checked before each message is accepted.
  free_space_gauge disk_space;
  // The keys of [[dkim]], loaded at start.
  std::vector<dkim_key> dkim_keys;
  // The relay's resolver (the scheduler's too): DKIM keys of inbound mail, SPF, DMARC.
  dns_resolver& dns;
  // Where work on a message that costs CPU (DKIM signatures) runs, off the network thread.
  asio::thread_pool& message_work;
};

}  // namespace missive
