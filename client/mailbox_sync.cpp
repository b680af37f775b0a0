// One POP3 poll: see mailbox_sync.hpp.
#include "mailbox_sync.hpp"

#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include "client_error.hpp"
#include "exit_codes.hpp"
#include "mime_encoding.hpp"
#include "mime_parse.hpp"
#include "message_headers.hpp"
#include "pop3_client.hpp"
#include "run_sync.hpp"

namespace missive::client {

namespace {

// The STLS behaviour the configuration asks for.
pop3_client_options::tls_mode stls_mode(tls_policy policy) {
  switch (policy) {
    case tls_policy::none: return pop3_client_options::tls_mode::none;
    case tls_policy::required: return pop3_client_options::tls_mode::required;
    case tls_policy::starttls: break;
  }
  return pop3_client_options::tls_mode::opportunistic;
}

}  // namespace

asio::awaitable<poll_result> poll_mailbox(const client_config& config, const std::string& password,
                                          local_store& store, const bool& delete_fetched,
                                          const download_progress& progress) {
  pop3_client_options options;
  options.connect_timeout = std::chrono::seconds(15);
  options.command_timeout = std::chrono::seconds(120);
  options.stls = stls_mode(config.tls);
  options.verify = config.verify;
  options.ca_file = config.ca_file;
  options.tls_server_name = config.tls_server_name;
  pop3_client client(co_await asio::this_coro::executor, options);
  co_await client.connect(config.server, config.pop3_port);
  auto capabilities = co_await client.capabilities();
  co_await client.login(config.user, password, capabilities);
  auto listing = co_await client.unique_ids();

  const std::string& account = config.user;
  const auto known = store.known_uids(account);
  const auto pending = store.pending_deletions(account);
  poll_result result;
  std::set<std::string> deleted;  // uids DELE'd this session: gone once QUIT commits
  for (const auto& entry : listing) {
    if (pending.count(entry.uid) == 0) continue;
    const std::uint32_t number = entry.number;
    const bool removed = co_await client.remove(number);
    if (removed) deleted.insert(entry.uid);
  }
  std::size_t to_download = 0, downloaded = 0;
  for (const auto& entry : listing) {
    if (pending.count(entry.uid) == 0 && known.count(entry.uid) == 0) ++to_download;
  }
  if (progress && to_download > 0) progress(0, to_download);
  for (const auto& entry : listing) {
    if (pending.count(entry.uid) != 0) continue;
    const std::uint32_t number = entry.number;
    if (known.count(entry.uid) == 0) {
      std::string raw = co_await client.retrieve(number);
      // Committed before the next RETR: a kill loses at most the message in flight, and
      // UNIQUE(account, uid) makes a repeated download a no-op.
      auto id = store.insert(account, entry.uid, raw);
      if (id) {
        auto fields = mime::parse_header_fields(header_section(raw));
        auto field = [&](std::string_view name) {
          auto value = mime::find_field(fields, name);
          return value ? mime::decode_header_value(*value) : std::string();
        };
        result.stored.push_back({*id, field("From"), field("Subject")});
      }
      if (progress) progress(++downloaded, to_download);
    }
    if (delete_fetched) {
      const bool removed = co_await client.remove(number);
      if (removed) ++result.deleted_on_server;
    }
  }
  const bool committed = co_await client.quit();
  // Pending deletions whose uid the server no longer lists are done too.
  std::set<std::string> done;
  if (committed) done = deleted;
  std::set<std::string> listed;
  for (const auto& entry : listing) listed.insert(entry.uid);
  for (const auto& uid : pending) {
    if (listed.count(uid) == 0) done.insert(uid);
  }
  store.deletions_done(account, done);
  if (committed) result.deleted_on_server += deleted.size();
  co_return result;
}

std::string require_password(const client_config& config) {
  if (config.user.empty()) {
    throw client_error(exit_code::config,
                       "no user is configured: set user in the config file or pass --user");
  }
  auto password = resolve_password(config);
  if (!password) {
    throw client_error(exit_code::config,
                       "no password: set MISSIVE_PASSWORD or password_command in the config file");
  }
  return *password;
}

void rethrow_poll_failure(const client_config& config, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const tls_error& e) {
    throw client_error(exit_code::config, fmt::format("cannot use TLS as configured: {}", e.what()));
  } catch (const pop3_tls_error& e) {
    // Not a temporary failure: the server and the configuration disagree about TLS.
    throw client_error(exit_code::unavailable,
                       fmt::format("cannot fetch securely from the mail server: {}", e.what()));
  } catch (const pop3_client_error& e) {
    throw client_error(exit_code::temp_failure,
                       fmt::format("cannot reach the mail server at {}:{} ({}); try again later",
                                   config.server, config.pop3_port, e.what()));
  } catch (const pop3_login_error& e) {
    if (e.temporary()) {
      throw client_error(exit_code::temp_failure,
                         fmt::format("the mailbox of {} is not available now ({}); try again later",
                                     config.user, e.what()));
    }
    throw client_error(exit_code::no_permission,
                       fmt::format("the mail server refused the user name or password for {}",
                                   config.user));
  }
}

poll_result poll_once(const client_config& config, local_store& store, bool delete_fetched,
                      const download_progress& progress) {
  const std::string password = require_password(config);
  asio::io_context context;
  try {
    return run_sync(context, poll_mailbox(config, password, store, delete_fetched, progress));
  } catch (const tls_error&) {
    rethrow_poll_failure(config, std::current_exception());
  } catch (const pop3_client_error&) {
    rethrow_poll_failure(config, std::current_exception());
  } catch (const pop3_login_error&) {
    rethrow_poll_failure(config, std::current_exception());
  }
}

}  // namespace missive::client
