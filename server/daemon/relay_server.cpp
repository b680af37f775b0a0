// The running relay: see relay_server.hpp.
#include "relay_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "clock.hpp"
#include "config_check.hpp"
#include "delivery_scheduler.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "metrics_http.hpp"
#include "open_store.hpp"
#include "pid_file.hpp"
#include "pop3_session.hpp"
#include "privileges.hpp"
#include "remote_delivery.hpp"
#include "server_config.hpp"
#include "server_context.hpp"
#include "smtp_session.hpp"
#include "tls.hpp"
#include "user_directory.hpp"

namespace missive {

namespace {

// How long outbound deliveries may go on after SIGTERM before the relay stops regardless.
constexpr auto shutdown_grace = std::chrono::seconds(10);
// How long an info line may wait in memory to be written with others (see run_relay): at
// 10,000 messages a second, a write per millisecond instead of one per message; 10 ms
// measured no better.
constexpr auto log_flush_delay = std::chrono::milliseconds(1);

asio::ip::tcp::acceptor open_acceptor(asio::io_context& io, const endpoint& where) {
  asio::ip::tcp::endpoint bind_to(asio::ip::make_address(where.host), where.port);
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(bind_to.protocol());
  acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor.bind(bind_to);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

// Refuses a connection beyond the cap with one line, without waiting for the client.
void refuse(asio::ip::tcp::socket& socket, std::string_view line) {
  std::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(line), ec);
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

// A completion handler for co_spawn that logs what escaped a coroutine, if anything.
auto log_escaped(std::string subject) {
  return [subject = std::move(subject)](std::exception_ptr failure) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      log::error(subject, "event=coroutine_failed reason=\"{}\"", e.what());
    }
  };
}

// After a stop signal: waits until no session is open and no delivery is under way, or
// the grace period has passed, then stops the event loop.
asio::awaitable<void> wait_until_quiet(asio::io_context& io, server_context& context,
                                       const session_registry& http_sessions,
                                       delivery_scheduler& scheduler, bool& stopped_hard) {
  auto deadline = std::chrono::steady_clock::now() + shutdown_grace;
  asio::steady_timer tick(io);
  while (context.smtp_sessions.size() + context.pop3_sessions.size() + http_sessions.size() > 0 ||
         !scheduler.idle()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      log::warning("missived", "event=stopping_hard reason=\"deliveries still under way\"");
      stopped_hard = true;
      break;
    }
    tick.expires_after(std::chrono::milliseconds(20));
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  io.stop();
}

template <typename Session>
asio::awaitable<void> run_session(asio::ip::tcp::socket socket, asio::ip::tcp::endpoint peer,
                                  server_context& context, listener_role role,
                                  session_registry& registry, metrics::listener_metrics& counted,
                                  std::string id) {
  metrics::open_session open(counted);
  Session session(std::move(socket), peer, context, role, std::move(id));
  auto handle = registry.add([&session] { session.stop(); });
  co_await session.run();
  registry.remove(handle);
  context.guard.disconnect(session.peer_bytes());
}

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, listener_role role,
                                  metrics::listener_metrics& counted, server_context& context) {
  bool smtp = role.proto == listener_role::protocol::smtp;
  auto& registry = smtp ? context.smtp_sessions : context.pop3_sessions;
  std::size_t cap = smtp ? context.config.smtp.max_connections : context.config.pop3.max_connections;
  auto executor = acceptor.get_executor();
  while (acceptor.is_open()) {
    std::error_code ec;
    // The peer's endpoint comes with the accept: no getpeername() per connection.
    asio::ip::tcp::endpoint peer_endpoint;
    auto socket = co_await acceptor.async_accept(peer_endpoint,
                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // EMFILE and friends: pause a moment rather than spin, then keep accepting.
      log::warning(role.name(), "event=accept_failed reason=\"{}\"", ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    client_address peer = mapped_bytes(peer_endpoint.address());
    if (context.guard.banned(peer) || !context.guard.try_connect(peer)) {
      bool banned = context.guard.banned(peer);
      log::warning(role.name(), "event=refused client=[{}] reason={}",
                   peer_endpoint.address().to_string(),
                   banned ? "too_many_failed_logins" : "too_many_connections_from_address");
      if (!role.implicit_tls) {
        refuse(socket, smtp ? fmt::format("421 4.7.0 {} Error: {}, try later\r\n",
                                          context.config.hostname,
                                          banned ? "too many failed logins" : "too many connections from your address")
                            : std::string("-ERR [SYS/TEMP] Too many connections or failed logins, try later\r\n"));
      }
      continue;
    }
    if (registry.size() >= cap) {
      context.guard.disconnect(peer);
      log::warning(role.name(), "event=refused reason=too_many_connections");
      if (!role.implicit_tls) {
        refuse(socket, smtp ? fmt::format("421 4.7.0 {} Error: too many connections, try later\r\n",
                                          context.config.hostname)
                            : std::string("-ERR [SYS/TEMP] Too many connections, try later\r\n"));
      }
      continue;
    }
    std::string id = fmt::format("{}{}", smtp ? "S" : "P", context.next_session_id++);
    auto on_exit = log_escaped(id);
    if (smtp) {
      asio::co_spawn(executor,
                     run_session<smtp_session>(std::move(socket), peer_endpoint, context, role,
                                               registry, counted, id),
                     on_exit);
    } else {
      asio::co_spawn(executor,
                     run_session<pop3_session>(std::move(socket), peer_endpoint, context, role,
                                               registry, counted, id),
                     on_exit);
    }
  }
}

// RFC 5321 4.5.1: mail for postmaster is always accepted, and without a mailbox of that
// name it waits in the queue; an operator learns it at start, not when it is found waiting.
asio::awaitable<void> warn_of_missing_postmasters(mail_store& store,
                                                  const std::vector<std::string>& domains) {
  for (const auto& domain : domains) {
    std::string postmaster = "postmaster@" + domain;
    if (co_await store.local_user(postmaster)) continue;
    log::warning("missived",
                 "event=no_postmaster domain={} reason=\"mail for <{}> waits in the queue until "
                 "the user is added (missived user add {})\"",
                 domain, postmaster, postmaster);
  }
}

// Removes finished messages and their history once [queue] keep_history has passed, now and
// then: often enough that none outlives it by more than a tenth (at most an hour). Ends
// when `timer` is cancelled.
asio::awaitable<void> keep_history(mail_store& store, std::chrono::seconds keep,
                                   asio::steady_timer& timer) {
  auto every = std::clamp<std::chrono::seconds>(keep / 10, std::chrono::seconds(1),
                                                std::chrono::hours(1));
  for (;;) {
    try {
      std::size_t removed = co_await store.purge_history(keep);
      if (removed > 0) log::info("missived", "event=history_removed messages={}", removed);
    } catch (const std::exception& e) {
      log::warning("missived", "event=history_removal_failed reason=\"{}\"", e.what());
    }
    timer.expires_after(every);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

// The server TLS context from [tls] (checked by require_usable_config), or an unused one
// when TLS is not configured.
asio::ssl::context server_tls(const server_config& config) {
  if (config.tls.cert.empty()) return asio::ssl::context(asio::ssl::context::tls_server);
  return make_server_tls_context(config.tls.cert, config.tls.key);
}

}  // namespace

int run_relay(const server_config& config) {
  // What `missived check` would refuse stops the start before anything is opened or bound.
  require_usable_config(config);
  asio::io_context io(1);
  // Info lines go out together, at most log_flush_delay after the first of them: under
  // load one write carries many sessions' lines (it was one write per turn of the loop,
  // about one per message). The request may come from any thread: the timer is the loop's.
  asio::steady_timer log_flush_timer(io);
  log::deferred_flush batched_log([&io, &log_flush_timer] {
    asio::post(io, [&log_flush_timer] {
      log_flush_timer.expires_after(log_flush_delay);
      log_flush_timer.async_wait([](std::error_code) { log::flush(); });
    });
  });
  std::optional<run_as_user> run_as = user_to_run_as(config);
  // Read while still privileged (a key is its owner's only); a bad one stops the start.
  std::vector<dkim_key> keys;
  for (const auto& settings : config.dkim) keys.emplace_back(settings, config.data_dir);
  std::unique_ptr<mail_store> opened = open_store(config, store_purpose::relay);
  mail_store& store = *opened;
  // The store exists now: it and the rest of the data directory become the user's.
  if (run_as) hand_over(config.data_dir, *run_as);
  system_time time;
  smtp_client_options outbound;
  outbound.helo_name = config.hostname;
  smtp_courier smtp(store, outbound);
  dns_resolver dns(io.get_executor(), config.dns);
  delivery_scheduler scheduler(io.get_executor(), store, config, time, dns, smtp);
  asio::ssl::context tls = server_tls(config);
  bool tls_enabled = !config.tls.cert.empty();
  abuse_guard::limits limits{config.smtp.max_connections_per_address, config.smtp.auth_failure_limit,
                             std::chrono::seconds(600), config.smtp.auth_ban_time};
  user_directory users(store);
  // One thread: signing overlaps the network thread's work; the writer has the other core.
  asio::thread_pool message_work(1);
  server_context context{config, tls, tls_enabled, store, users, scheduler, {}, {},
                         abuse_guard(limits, config.smtp.trusted_networks), 1, {},
                         std::move(keys), dns, message_work};

  // Each listener with its metrics (sessions open, connections).
  struct listener {
    asio::ip::tcp::acceptor acceptor;
    listener_role role;
    metrics::listener_metrics& counted;
  };
  std::list<listener> acceptors;
  // [metrics]: the HTTP endpoint and its open connections.
  std::optional<asio::ip::tcp::acceptor> metrics_acceptor;
  session_registry http_sessions;
  // The signal handler is in place before the listening lines are printed, so a supervisor
  // that signals as soon as it reads them gets a graceful stop.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  bool stopped_hard = false;
  asio::signal_set flush_signal(io, SIGUSR1);
  asio::steady_timer history_timer(io);
  // `missived queue flush` and `queue retry` make recipients due, then send SIGUSR1.
  std::function<void(std::error_code, int)> on_flush = [&](std::error_code ec, int) {
    if (ec) return;
    log::info("missived", "event=flush");
    scheduler.notify();
    flush_signal.async_wait(on_flush);
  };
  flush_signal.async_wait(on_flush);
  // A store shared by several relays says itself when another one made work due.
  store.on_due_work([&io, &scheduler] {
    asio::post(io, [&scheduler] {
      log::info("missived", "event=flush");
      scheduler.notify();
    });
  });
  struct forget_wake {
    mail_store& store;
    ~forget_wake() { store.on_due_work({}); }
  } forget{store};
  signals.async_wait([&](std::error_code ec, int signal) {
    if (ec) return;
    flush_signal.cancel();
    history_timer.cancel();
    log::info("missived", "event=stopping signal={}", signal);
    // Stop taking new work, then end open sessions; committed mail is safe in the queue,
    // and a message whose 250 was not yet sent will be sent again by its client.
    for (auto& l : acceptors) {
      std::error_code ignored;
      l.acceptor.close(ignored);
    }
    if (metrics_acceptor) {
      std::error_code ignored;
      metrics_acceptor->close(ignored);
    }
    context.smtp_sessions.close_all();
    context.pop3_sessions.close_all();
    http_sessions.close_all();
    scheduler.stop();
    // Sessions end at once; outbound deliveries under way get a grace period to finish.
    // After it the relay stops anyway: their recipients are still queued on disk and are
    // retried after the restart.
    asio::co_spawn(io, wait_until_quiet(io, context, http_sessions, scheduler, stopped_hard),
                   log_escaped("shutdown"));
  });

  auto listen = [&](const std::vector<endpoint>& where, listener_role role) {
    if (role.implicit_tls && !where.empty() && !tls_enabled) {
      throw config_error(fmt::format("{} listeners need [tls] cert and key", role.name()));
    }
    for (const auto& e : where) {
      asio::ip::tcp::acceptor opened(io);
      try {
        opened = open_acceptor(io, e);
      } catch (const std::system_error& failure) {
        throw std::system_error(failure.code(), fmt::format("cannot listen for {} on {}",
                                                            role.name(), e.str()));
      }
      auto bound = opened.local_endpoint();
      endpoint shown{bound.address().to_string(), bound.port()};
      auto& counted = metrics::relay().add_listener(service_of(role), shown.str());
      acceptors.push_back({std::move(opened), role, counted});
      std::printf("missived: %s listening on %s\n", role.name(), shown.str().c_str());
    }
  };
  using proto = listener_role::protocol;
  listen(config.smtp.listen, {proto::smtp, false, false});
  listen(config.smtp.submission, {proto::smtp, false, true});
  listen(config.smtp.submissions, {proto::smtp, true, true});
  listen(config.pop3.listen, {proto::pop3, false, false});
  listen(config.pop3.pop3s, {proto::pop3, true, false});
  if (config.metrics.listen) {
    const endpoint& e = *config.metrics.listen;
    try {
      metrics_acceptor.emplace(open_acceptor(io, e));
    } catch (const std::system_error& failure) {
      throw std::system_error(failure.code(), fmt::format("cannot listen for metrics on {}", e.str()));
    }
    auto bound = metrics_acceptor->local_endpoint();
    endpoint shown{bound.address().to_string(), bound.port()};
    std::printf("missived: metrics listening on %s\n", shown.str().c_str());
  }
  std::fflush(stdout);
  // Ports are bound and the TLS key is read: root is needed no more.
  if (run_as) drop_privileges(*run_as);
  pid_file pid(config.data_dir / "missived.pid");
  log::info("missived", "event=started hostname={} data_dir={} domains={}", config.hostname,
            config.data_dir.string(), fmt::join(config.domains, ","));

  for (auto& l : acceptors) {
    asio::co_spawn(io, accept_loop(l.acceptor, l.role, l.counted, context), log_escaped(l.role.name()));
  }
  if (metrics_acceptor) {
    asio::co_spawn(io, serve_metrics(*metrics_acceptor, context, http_sessions),
                   log_escaped("metrics"));
  }
  asio::co_spawn(io, scheduler.run(), log_escaped("delivery"));
  asio::co_spawn(io, warn_of_missing_postmasters(store, config.domains), log_escaped("missived"));
  asio::co_spawn(io, keep_history(store, config.queue.keep_history, history_timer),
                 log_escaped("missived"));

  io.run();
  if (stopped_hard) {
    // Coroutines still suspended refer to state that is about to go; everything that matters
    // is on disk, so leave without unwinding them (SQLite's journal keeps the file sound).
    log::info("missived", "event=stopped");
    log::flush();  // the loop that would have written it has stopped
    std::fflush(nullptr);
    std::_Exit(0);
  }
  log::info("missived", "event=stopped write_batches={}", store.write_batches());
  return 0;
}

}  // namespace missive
