// `missive fetch`, `inbox`, `read`, `delete` and `watch`: the local store and POP3 polls
// (and, in `watch`, the outbox).
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

#include "attachment_saving.hpp"
#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "inbox_listing.hpp"
#include "local_store.hpp"
#include "mailbox_sync.hpp"
#include "mime_parse.hpp"
#include "msg_id_list.hpp"
#include "outbox_flush.hpp"
#include "outbox_policy.hpp"
#include "outbox_store.hpp"
#include "pop3_client.hpp"
#include "terminal_text.hpp"
#include "thread_grouping.hpp"

namespace missive::client {

namespace {

// The longest pause between polls while the server is away.
constexpr std::chrono::seconds max_backoff{300};

// The line `watch` prints for a new message.
std::string new_message_line(const new_message& m) {
  return fmt::format("new {}: {} — {}", m.id, printable(m.from), printable(m.subject));
}

// One round of the outbox for `watch`: the messages whose backoff has passed.
void flush_due_messages(const client_config& config, outbox_store& outbox,
                        std::chrono::seconds every, std::string& trouble) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::string why;
  try {
    auto report = flush_outbox(
        config, outbox,
        [&](std::int64_t attempts, std::int64_t last) {
          return now >= outbox_next_attempt(last, attempts, every);
        },
        std::cout, std::cerr);
    why = report.stop_reason;
  } catch (const std::exception& e) {
    // A password missing or a busy store: said, and tried again next round, as the poll is.
    why = e.what();
  }
  if (!why.empty() && why != trouble) std::cerr << "missive: the outbox waits: " << why << "\n";
  trouble = why;
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
  outbox_store outbox(store);
  std::string outbox_trouble;  // said once, not every round
  for (;;) {
    flush_due_messages(config, outbox, every, outbox_trouble);
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

void poll_or_say_why(const client_config& config, local_store& store) {
  try {
    poll_once(config, store, false);
  } catch (const client_error& e) {
    if (e.exit_status() != exit_code::temp_failure) throw;
    std::cerr << "missive: " << e.what() << "; showing the local store\n";
  }
}

int run_fetch(const client_config& config, bool delete_fetched) {
  local_store store(config.data_dir);
  auto result = poll_once(config, store, delete_fetched);
  std::size_t count = result.stored.size();
  std::cout << count << (count == 1 ? " new message\n" : " new messages\n");
  return exit_code::ok;
}

int run_inbox(const client_config& config, const inbox_options& options) {
  local_store store(config.data_dir);
  if (!options.offline) poll_or_say_why(config, store);
  if (!options.threads) {
    auto rows = store.list();
    std::cout << (options.json ? inbox_json(rows) : inbox_table(rows));
    return exit_code::ok;
  }
  auto messages = store.list_with_headers();
  std::vector<thread_member> members;
  for (const auto& [summary, head] : messages) {
    auto fields = mime::parse_header_fields(head);
    auto ids = [&](std::string_view name) {
      auto value = mime::find_field(fields, name);
      return value ? parse_msg_ids(*value) : std::vector<std::string>{};
    };
    auto own = ids("Message-ID");
    members.push_back({summary.id, summary.date_unix, own.empty() ? "" : own.front(),
                       ids("In-Reply-To"), ids("References"), summary.subject});
  }
  std::vector<std::vector<stored_summary>> threads;
  for (const auto& thread : group_threads(members)) {
    auto& rows = threads.emplace_back();
    for (auto index : thread) rows.push_back(messages[index].first);
  }
  std::cout << (options.json ? threads_json(threads) : threads_table(threads));
  return exit_code::ok;
}

int run_read(const client_config& config, std::int64_t id, bool raw, const std::string& save_dir) {
  local_store store(config.data_dir);
  auto message = store.find(id);
  if (!message) throw client_error(exit_code::data_error, fmt::format("there is no message {}", id));
  if (!save_dir.empty()) {
    auto view = mime::parse_message(message->raw);
    for (const auto& path : save_attachments(view.attachments, save_dir)) std::cout << path << "\n";
  } else if (raw) {
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
