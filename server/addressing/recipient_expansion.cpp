// What a local recipient leads to: see recipient_expansion.hpp.
#include "recipient_expansion.hpp"

#include <algorithm>

#include "ascii.hpp"

namespace missive {

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lowercase_ascii(address.substr(at + 1));
}

std::optional<std::string> without_subaddress(std::string_view address,
                                              std::string_view delimiters) {
  if (delimiters.empty()) return std::nullopt;
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  auto cut = address.substr(0, at).find_first_of(delimiters);
  // "+tag@d" has no base: it is an address of its own.
  if (cut == std::string_view::npos || cut == 0) return std::nullopt;
  return std::string(address.substr(0, cut)).append(address.substr(at));
}

namespace {

// One expansion under way: the path of aliases being followed, and what was found.
class expander {
 public:
  expander(const expansion_options& options, address_book& book) : options_(options), book_(book) {}

  expansion run(std::string_view address) {
    visit(std::string(address), 0, false);
    if (result_.status == expansion_status::unknown && !result_.recipients.empty()) {
      result_.status = expansion_status::found;
    }
    if (result_.status != expansion_status::found) result_.recipients.clear();
    return std::move(result_);
  }

 private:
  bool stopped() const { return result_.status != expansion_status::unknown; }

  bool is_local(std::string_view address) const {
    auto domain = domain_of(address);
    return std::find(options_.local_domains.begin(), options_.local_domains.end(), domain) !=
           options_.local_domains.end();
  }

  void add(expanded_recipient r) {
    auto same = [&](const expanded_recipient& other) {
      return r.mailbox.empty() ? other.mailbox.empty() && iequals(other.address, r.address)
                               : other.mailbox == r.mailbox;
    };
    if (std::any_of(result_.recipients.begin(), result_.recipients.end(), same)) return;
    if (result_.recipients.size() >= options_.max_recipients) {
      result_.status = expansion_status::too_many;
      return;
    }
    result_.recipients.push_back(std::move(r));
  }

  // Follows an alias's targets, the alias `source` being on the path while they are.
  void follow(const std::string& source, const std::vector<std::string>& targets, std::size_t depth) {
    std::string key = lowercase_ascii(source);
    if (std::find(path_.begin(), path_.end(), key) != path_.end()) {
      result_.status = expansion_status::loop;
      for (const auto& step : path_) result_.detail += step + " -> ";
      result_.detail += key;
      return;
    }
    if (depth >= options_.max_depth) {
      result_.status = expansion_status::too_deep;
      result_.detail = key;
      return;
    }
    path_.push_back(key);
    for (const auto& target : targets) {
      visit(target, depth + 1, true);
      if (stopped()) return;
    }
    path_.pop_back();
  }

  void visit(const std::string& address, std::size_t depth, bool forwarded) {
    if (!is_local(address)) {
      add({address, "", forwarded});
      return;
    }
    if (auto user = book_.user(address)) {
      add({address, std::move(*user), forwarded});
      return;
    }
    if (auto targets = book_.alias_targets(address); !targets.empty()) {
      follow(address, targets, depth);
      return;
    }
    if (auto base = without_subaddress(address, options_.recipient_delimiter)) {
      if (auto user = book_.user(*base)) {
        add({address, std::move(*user), forwarded});  // the tag stays in the envelope
        return;
      }
      if (auto targets = book_.alias_targets(*base); !targets.empty()) {
        follow(*base, targets, depth);
        return;
      }
    }
    std::string catch_all = "@" + domain_of(address);
    if (auto targets = book_.alias_targets(catch_all); !targets.empty()) {
      follow(catch_all, targets, depth);
      return;
    }
    // Nothing here: a target that leads nowhere is passed over; if nothing is left, the
    // address is unknown.
  }

  const expansion_options& options_;
  address_book& book_;
  std::vector<std::string> path_;
  expansion result_;
};

}  // namespace

expansion expand_recipient(std::string_view address, const expansion_options& options,
                           address_book& book) {
  return expander(options, book).run(address);
}

}  // namespace missive
