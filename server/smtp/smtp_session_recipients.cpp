// RCPT for the local domains: what an address leads to (users, aliases, subaddresses,
// catch-alls, SRS addresses of ours), added to the transaction once per mailbox.
#include <chrono>

#include "ascii.hpp"
#include "limits.hpp"
#include "log.hpp"
#include "recipient_expansion.hpp"
#include "server_config.hpp"
#include "smtp_replies.hpp"
#include "smtp_session.hpp"
#include "srs_address.hpp"
#include "user_directory.hpp"

namespace missive {

namespace {

std::int64_t today() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return srs_day(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

// The one recipient an address that is a user's own leads to.
expansion direct_user(const std::string& address, std::string mailbox) {
  expansion found;
  found.status = expansion_status::found;
  found.recipients.push_back({address, std::move(mailbox), false});
  return found;
}

}  // namespace

void smtp_session::add_local(incoming_recipient recipient) {
  // One copy per mailbox, however the client spelled the address or however many aliases
  // led there.
  auto mailbox = [](const incoming_recipient& r) -> const std::string& {
    return r.mailbox.empty() ? r.address : r.mailbox;
  };
  auto& list = transaction_.local_recipients;
  for (const auto& r : list) {
    if (mailbox(r) == mailbox(recipient)) return;
  }
  list.push_back(std::move(recipient));
}

void smtp_session::add_remote(incoming_recipient recipient) {
  // One copy per outside address too: named directly and reached through an alias, it goes
  // once, with the envelope sender of the first.
  auto& list = transaction_.remote_recipients;
  for (const auto& r : list) {
    if (iequals(r.address, recipient.address)) return;
  }
  list.push_back(std::move(recipient));
}

std::string smtp_session::forwarding_sender() const {
  const mail_address& sender = transaction_.sender;
  // RFC 5321 4.5.5: the null sender stays null; without a key nothing can be rewritten.
  if (sender.is_null() || context_.srs_secret.empty()) return {};
  mail_address rewritten{srs_forward(sender.local_part, sender.domain, context_.srs_secret, today()),
                         context_.config.srs_domain()};
  // RFC 5321 4.5.3.1.1: a local part is at most 64 octets. A longer SRS address would be
  // refused by the next hop (and by us, when the bounce came back), so a long original
  // address is forwarded as it is: the next hop's SPF check may fail, but its bounce goes
  // straight to the sender.
  if (rewritten.local_part.size() > limits::local_part) {
    log::info(id_, "event=srs_not_applied reason=local_part_too_long sender=<{}>", sender.str());
    return {};
  }
  return rewritten.str();
}

asio::awaitable<std::optional<smtp_reply>> smtp_session::add_local_recipient(std::string address,
                                                                             std::string local_part,
                                                                             std::string domain) {
  if (is_srs_local_part(local_part) && !context_.srs_secret.empty()) {
    // A reply (most often a bounce) to mail we forwarded: it goes back to the original
    // sender, wherever that is; one we did not make is refused, so the address cannot be
    // used to relay through us.
    auto reversed = srs_reverse(local_part, context_.srs_secret, today());
    if (reversed.verdict != srs_verdict::valid) {
      co_return replies::bad_srs_address(address, srs_problem(reversed.verdict));
    }
    mail_address original{reversed.local, reversed.domain};
    log::info(id_, "event=srs_reversed to=<{}> original=<{}>", address, original.str());
    if (!context_.config.is_local_domain(reversed.domain)) {
      add_remote({original.str(), false});
      co_return std::nullopt;
    }
    address = original.str();
    local_part = reversed.local;
    domain = reversed.domain;
  }
  expansion found;
  try {
    auto known = context_.users.known_local_user(address);
    if (known && *known) found = direct_user(address, std::move(**known));
    else found = co_await context_.users.resolve(address);
  } catch (const std::exception& e) {
    log::error(id_, "event=lookup_failed reason=\"{}\"", e.what());
    co_return replies::lookup_failed;
  }
  if (found.status != expansion_status::found) {
    if (iequals(local_part, "postmaster")) {
      // RFC 5321 4.5.1: postmaster is always accepted; without a mailbox or an alias of
      // that name the message waits in the queue until an operator adds one.
      add_local({"postmaster@" + lowercase_ascii(domain), true});
      co_return std::nullopt;
    }
    const auto& limits = context_.users.expansion_settings();
    switch (found.status) {
      case expansion_status::loop:
        log::warning(id_, "event=alias_loop to=<{}> path=\"{}\"", address, found.detail);
        co_return replies::alias_loop(address, found.detail);
      case expansion_status::too_deep:
        log::warning(id_, "event=alias_too_deep to=<{}> at=<{}>", address, found.detail);
        co_return replies::alias_too_deep(address, limits.max_depth);
      case expansion_status::too_many:
        co_return replies::alias_too_wide(address, limits.max_recipients);
      default:
        co_return replies::unknown_user(address);
    }
  }
  std::string forwarded_from;
  for (auto& r : found.recipients) {
    if (r.mailbox.empty()) {
      // Forwarded to an outside address: sent with an SRS sender, so the next hop's SPF
      // check sees our domain (RFC 7208 11.3); an outside address given directly (an SRS
      // reversal) keeps the sender.
      if (r.forwarded && forwarded_from.empty()) forwarded_from = forwarding_sender();
      add_remote({r.address, false, "", r.forwarded ? forwarded_from : std::string()});
    } else if (iequals(r.address, r.mailbox)) {
      add_local({std::move(r.mailbox), true});  // the mailbox's own spelling
    } else {
      add_local({std::move(r.address), true, std::move(r.mailbox)});  // a subaddress
    }
  }
  co_return std::nullopt;
}

}  // namespace missive
