// libunbound driven from the event loop: see dns_resolver.hpp.
#include "dns_resolver.hpp"

#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <unbound.h>

#include <map>
#include <stdexcept>

namespace missive {

namespace {

constexpr int class_in = 1;

std::string rcode_name(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return fmt::format("rcode {}", rcode);
  }
}

dns_answer temporary(std::string detail) {
  dns_answer answer;
  answer.outcome = dns_answer::kind::temporary;
  answer.detail = std::move(detail);
  return answer;
}

dns_answer from_unbound(const std::string& name, int err, ub_result* result) {
  if (err != 0 || result == nullptr) {
    return temporary(fmt::format("cannot resolve {}: {}", name, ub_strerror(err)));
  }
  if (result->bogus != 0) {
    return temporary(fmt::format("DNSSEC validation failed for {}: {}", name,
                                 result->why_bogus != nullptr ? result->why_bogus : "bogus"));
  }
  dns_answer answer;
  answer.secure = result->secure != 0;
  if (result->answer_packet != nullptr) {
    answer.packet.assign(static_cast<const char*>(result->answer_packet),
                         static_cast<std::size_t>(result->answer_len));
  }
  if (result->havedata != 0) {
    for (int i = 0; result->data[i] != nullptr; ++i) {
      answer.records.emplace_back(result->data[i], static_cast<std::size_t>(result->len[i]));
    }
  }
  if (result->rcode == 0) {
    answer.outcome = dns_answer::kind::answer;
  } else if (result->rcode == 3) {
    answer.outcome = dns_answer::kind::no_domain;
    answer.detail = fmt::format("{}: no such domain (NXDOMAIN)", name);
  } else {
    answer.outcome = dns_answer::kind::temporary;
    answer.detail = fmt::format("the DNS server answered {} for {}", rcode_name(result->rcode), name);
  }
  return answer;
}

void expect_ok(int err, const char* what) {
  if (err != 0) throw std::runtime_error(fmt::format("DNS resolver: cannot {}: {}", what, ub_strerror(err)));
}

}  // namespace

struct dns_resolver::state : std::enable_shared_from_this<state> {
  // A query under way: its answer, and a timer cancelled when it arrives.
  struct pending_query {
    explicit pending_query(const asio::any_io_executor& executor) : arrived(executor) {}
    asio::steady_timer arrived;
    std::optional<dns_answer> answer;
    std::string name;
    state* owner = nullptr;
    int id = 0;
  };

  ub_ctx* ctx = nullptr;
  std::optional<asio::posix::stream_descriptor> results;  // libunbound's descriptor
  std::chrono::milliseconds timeout{};
  bool watching = false;
  // The queries libunbound holds a pointer to, by async id.
  std::map<int, std::shared_ptr<pending_query>> pending;

  ~state() {
    if (results) results->release();  // libunbound's own, closed by ub_ctx_delete
    if (ctx != nullptr) ub_ctx_delete(ctx);
  }

  static void on_result(void* data, int err, ub_result* result) {
    auto* query = static_cast<pending_query*>(data);
    query->answer = from_unbound(query->name, err, result);
    if (result != nullptr) ub_resolve_free(result);
    query->arrived.cancel();
    query->owner->pending.erase(query->id);  // last: it may free `query`
  }

  // Waits for libunbound's descriptor while queries are out, then hands their answers over
  // (ub_process runs on_result on this thread).
  void watch() {
    if (watching || pending.empty()) return;
    watching = true;
    results->async_wait(asio::posix::descriptor_base::wait_read,
                        [self = shared_from_this()](std::error_code ec) {
                          self->watching = false;
                          if (ec) return;
                          ub_process(self->ctx);
                          self->watch();
                        });
  }
};

dns_resolver::dns_resolver(asio::any_io_executor executor, const dns_settings& settings)
    : state_(std::make_shared<state>()) {
  state_->ctx = ub_ctx_create();
  if (state_->ctx == nullptr) throw std::runtime_error("DNS resolver: cannot create a context");
  state_->timeout = settings.timeout;
  ub_ctx* ctx = state_->ctx;
  // Answers are worked out on libunbound's thread and collected here through its descriptor.
  expect_ok(ub_ctx_async(ctx, 1), "use a thread");
  // A resolver on this host (a local cache, or the tests' server) may be asked.
  expect_ok(ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"), "allow 127.0.0.1");
  if (settings.resolver) {
    expect_ok(ub_ctx_set_fwd(ctx, fmt::format("{}@{}", settings.resolver->host,
                                              settings.resolver->port).c_str()),
              "use the configured resolver");
    // libunbound answers the special-use name test. (RFC 6761 6.2) itself, with NXDOMAIN;
    // a resolver named in the config (test set-ups, split horizon) is asked instead.
    expect_ok(ub_ctx_zone_remove(ctx, "test."), "ask about test.");
  } else {
    // The system's servers; without any, libunbound resolves from the root itself.
    ub_ctx_resolvconf(ctx, nullptr);
    ub_ctx_hosts(ctx, nullptr);
  }
  state_->results.emplace(executor, ub_fd(ctx));
}

dns_resolver::~dns_resolver() = default;

asio::awaitable<dns_answer> dns_resolver::query(std::string name, std::uint16_t type) {
  auto self = state_;
  auto query = std::make_shared<state::pending_query>(co_await asio::this_coro::executor);
  query->name = name;
  query->owner = self.get();
  query->arrived.expires_after(self->timeout);
  int err = ub_resolve_async(self->ctx, name.c_str(), type, class_in, query.get(),
                             &state::on_result, &query->id);
  if (err != 0) co_return from_unbound(name, err, nullptr);
  if (!query->answer) {  // (libunbound may answer from its cache at once)
    self->pending.emplace(query->id, query);
    self->watch();
    std::error_code ec;
    co_await query->arrived.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!query->answer) {
    // No answer in time: libunbound forgets the query and will not call back.
    ub_cancel(self->ctx, query->id);
    self->pending.erase(query->id);
    co_return temporary(fmt::format("no DNS answer for {} within {} s", name,
                                    std::chrono::duration_cast<std::chrono::seconds>(self->timeout).count()));
  }
  co_return std::move(*query->answer);
}

}  // namespace missive
