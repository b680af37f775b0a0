// check_host(): see spf_check.hpp. Section numbers are RFC 7208's.
#include "spf_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "ascii.hpp"
#include "dns_rdata.hpp"
#include "dns_source.hpp"
#include "spf_macro.hpp"
#include "spf_record.hpp"

namespace missive {

namespace {

using address = std::array<std::uint8_t, 16>;
using kind = spf_result::kind;

// 4.6.4: the limits that keep one check from becoming a flood of queries.
constexpr int max_dns_terms = 10;
constexpr int max_void_lookups = 2;
constexpr std::size_t max_mx_names = 10;
constexpr std::size_t max_ptr_names = 10;

// What one mechanism came to.
enum class match { yes, no, temperror, permerror };

// What one whole check shares across include and redirect.
struct evaluation {
  dns_source& dns;
  const spf_identity& identity;
  int dns_terms = 0;
  int void_lookups = 0;
  std::string error;  // why a temperror or permerror, for the reason
};

// 4.3: a domain that can be asked about: labels of 1-63 octets, at least two of them.
bool valid_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    std::size_t end = dot == std::string_view::npos ? name.size() : dot;
    if (end == start || end - start > 63) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool in_network(const address& client, const address& network, int prefix_bits) {
  for (int i = 0; i < 16 && prefix_bits > 0; ++i, prefix_bits -= 8) {
    int bits = std::min(prefix_bits, 8);
    auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((client[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

bool is_v4(const evaluation& e) { return is_mapped_ipv4(e.identity.client); }

// Whether one record of an A or AAAA answer is the client, within the mechanism's CIDR.
bool address_matches(const evaluation& e, const std::string& rdata, const spf_mechanism& m) {
  address candidate{};
  if (rdata.size() == 4) {
    candidate[10] = candidate[11] = 0xff;
    std::copy(rdata.begin(), rdata.end(), candidate.begin() + 12);
    return is_v4(e) && in_network(e.identity.client, candidate, 96 + m.ip4_prefix);
  }
  if (rdata.size() == 16) {
    std::copy(rdata.begin(), rdata.end(), candidate.begin());
    return !is_v4(e) && in_network(e.identity.client, candidate, m.ip6_prefix);
  }
  return false;
}

// The address record type that can name the client.
std::uint16_t address_type(const evaluation& e) { return is_v4(e) ? dns_type::a : dns_type::aaaa; }

// 4.6.4: a query that found nothing (NXDOMAIN, or NOERROR without records) counts as void.
bool counts_as_void(evaluation& e, const dns_answer& answer) {
  if (answer.outcome == dns_answer::kind::temporary || !answer.records.empty()) return false;
  ++e.void_lookups;
  if (e.void_lookups > max_void_lookups) {
    e.error = "more than 2 void lookups";
    return true;
  }
  return false;
}

bool count_dns_term(evaluation& e) {
  if (++e.dns_terms <= max_dns_terms) return true;
  e.error = "more than 10 DNS lookups";
  return false;
}

spf_macro_values macro_values(const evaluation& e, const std::string& domain) {
  spf_macro_values v;
  const spf_identity& id = e.identity;
  v.sender = id.sender;
  std::size_t at = id.sender.rfind('@');
  v.local_part = id.sender.substr(0, at);
  v.sender_domain = at == std::string::npos ? std::string() : id.sender.substr(at + 1);
  v.domain = domain;
  v.client = id.client;
  v.helo = id.helo;
  v.receiver = id.receiver;
  v.now = id.now;
  return v;
}

// 5.5: the names of the client's PTR records that lead back to it (at most 10 are asked
// about); errors only shorten the list.
asio::awaitable<std::vector<std::string>> validated_names(evaluation& e) {
  std::vector<std::string> names;
  dns_answer ptr = co_await e.dns.query(reverse_lookup_name(e.identity.client), dns_type::ptr);
  if (ptr.outcome != dns_answer::kind::answer) co_return names;
  std::size_t asked = 0;
  for (const auto& rdata : ptr.records) {
    if (asked++ == max_ptr_names) break;
    auto name = rdata_name(rdata);
    if (!name || !valid_domain(*name)) continue;
    dns_answer found = co_await e.dns.query(*name, address_type(e));
    spf_mechanism any;  // a host address: the whole of it must match
    for (const auto& record : found.records) {
      if (address_matches(e, record, any)) {
        names.push_back(*name);
        break;
      }
    }
  }
  co_return names;
}

// Whether `name` is `domain` or a name under it, regardless of case.
bool within_domain(std::string_view name, std::string_view domain) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (iequals(name, domain)) return true;
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         iequals(name.substr(name.size() - domain.size()), domain);
}

// 7.3: %{p}, the client's validated name, preferring `domain` itself, then a name under it.
asio::awaitable<std::string> validated_name_for(evaluation& e, const std::string& domain) {
  std::vector<std::string> names = co_await validated_names(e);
  for (const auto& name : names) {
    if (iequals(name, domain)) co_return name;
  }
  for (const auto& name : names) {
    if (within_domain(name, domain)) co_return name;
  }
  co_return names.empty() ? std::string("unknown") : names.front();
}

// A domain-spec expanded for the check of `domain` (with %{p} looked up only if used).
asio::awaitable<std::string> expand_domain_spec(evaluation& e, const std::string& spec,
                                                const std::string& domain) {
  spf_macro_values values = macro_values(e, domain);
  if (uses_validated_name(spec)) values.validated_name = co_await validated_name_for(e, domain);
  co_return target_name(expand_macros(spec, values, macro_use::domain_spec));
}

asio::awaitable<spf_result> check_host(evaluation& e, std::string domain);

asio::awaitable<match> match_addresses_of(evaluation& e, const std::string& host,
                                          const spf_mechanism& m, bool count_void) {
  // 4.8: a name that cannot be asked for (an empty label after expansion) matches nothing.
  if (!valid_domain(host)) co_return match::no;
  dns_answer found = co_await e.dns.query(host, address_type(e));
  if (found.outcome == dns_answer::kind::temporary) {
    e.error = fmt::format("DNS error at {}: {}", host, found.detail);
    co_return match::temperror;
  }
  if (count_void && counts_as_void(e, found)) co_return match::permerror;
  for (const auto& record : found.records) {
    if (address_matches(e, record, m)) co_return match::yes;
  }
  co_return match::no;
}

asio::awaitable<match> mechanism_matches(evaluation& e, const spf_mechanism& m,
                                         const std::string& domain) {
  using mk = spf_mechanism_kind;
  if (m.kind == mk::all) co_return match::yes;
  if (m.kind == mk::ip4) co_return is_v4(e) && in_network(e.identity.client, m.network, 96 + m.ip4_prefix) ? match::yes : match::no;
  if (m.kind == mk::ip6) co_return !is_v4(e) && in_network(e.identity.client, m.network, m.ip6_prefix) ? match::yes : match::no;
  if (!count_dns_term(e)) co_return match::permerror;
  std::string target = domain;
  if (!m.domain_spec.empty()) target = co_await expand_domain_spec(e, m.domain_spec, domain);

  switch (m.kind) {
    case mk::include: {
      // 5.2: the included domain's result decides only whether this term matches.
      spf_result inner = co_await check_host(e, target);
      switch (inner.outcome) {
        case kind::pass: co_return match::yes;
        case kind::fail: case kind::softfail: case kind::neutral: co_return match::no;
        case kind::temperror: co_return match::temperror;
        case kind::none:
          e.error = fmt::format("include:{} has no SPF record", target);
          co_return match::permerror;
        case kind::permerror: co_return match::permerror;
      }
      co_return match::permerror;
    }
    case mk::a:
      co_return co_await match_addresses_of(e, target, m, true);
    case mk::mx: {
      if (!valid_domain(target)) co_return match::no;
      dns_answer mx = co_await e.dns.query(target, dns_type::mx);
      if (mx.outcome == dns_answer::kind::temporary) {
        e.error = fmt::format("DNS error at {}: {}", target, mx.detail);
        co_return match::temperror;
      }
      if (counts_as_void(e, mx)) co_return match::permerror;
      // 4.6.4: more than 10 exchangers to look up is an error, not a quiet cut.
      if (mx.records.size() > max_mx_names) {
        e.error = fmt::format("{} has more than 10 MX records", target);
        co_return match::permerror;
      }
      for (const auto& rdata : mx.records) {
        auto host = mx_exchange(rdata);
        if (!host || host->empty()) continue;  // RFC 7505 null MX: no host
        match found = co_await match_addresses_of(e, *host, m, false);
        if (found != match::no) co_return found;
      }
      co_return match::no;
    }
    case mk::ptr: {
      // 5.5: DNS errors here make the mechanism not match; they never fail the check.
      std::vector<std::string> names = co_await validated_names(e);
      for (const auto& name : names) {
        if (within_domain(name, target)) co_return match::yes;
      }
      co_return match::no;
    }
    case mk::exists: {
      // 5.7: an A query whatever the client's family.
      if (!valid_domain(target)) co_return match::no;
      dns_answer found = co_await e.dns.query(target, dns_type::a);
      if (found.outcome == dns_answer::kind::temporary) {
        e.error = fmt::format("DNS error at {}: {}", target, found.detail);
        co_return match::temperror;
      }
      if (counts_as_void(e, found)) co_return match::permerror;
      co_return found.records.empty() ? match::no : match::yes;
    }
    default: break;
  }
  co_return match::no;
}

kind qualifier_result(spf_qualifier q) {
  switch (q) {
    case spf_qualifier::pass: return kind::pass;
    case spf_qualifier::fail: return kind::fail;
    case spf_qualifier::softfail: return kind::softfail;
    case spf_qualifier::neutral: return kind::neutral;
  }
  return kind::neutral;
}

// 6.2: the explanation of a fail: the exp= domain's one TXT record, expanded; ours when it is
// missing, unreadable or not one record.
asio::awaitable<std::string> explanation_for(evaluation& e, const spf_record& record,
                                             const std::string& domain) {
  spf_macro_values values = macro_values(e, domain);
  std::string ours = fmt::format("{} is not allowed to send mail for {}",
                                 expand_macros("%{c}", values, macro_use::explanation), domain);
  if (!record.explanation) co_return ours;
  std::string name = co_await expand_domain_spec(e, *record.explanation, domain);
  if (!valid_domain(name)) co_return ours;
  dns_answer found = co_await e.dns.query(name, dns_type::txt);
  if (found.outcome != dns_answer::kind::answer || found.records.size() != 1) co_return ours;
  std::string text = txt_text(found.records.front());
  if (!valid_macro_string(text, macro_use::explanation)) co_return ours;
  if (uses_validated_name(text)) values.validated_name = co_await validated_name_for(e, domain);
  co_return expand_macros(text, values, macro_use::explanation);
}

asio::awaitable<spf_result> check_host(evaluation& e, std::string domain) {
  spf_result result;
  // 4.3: a malformed or single-label domain has no SPF record to find.
  if (!valid_domain(domain)) {
    result.reason = fmt::format("\"{}\" is not a domain that can be checked", domain);
    co_return result;
  }
  // 4.4: TXT records only (type SPF is no longer asked for, RFC 7208 3.1).
  dns_answer found = co_await e.dns.query(domain, dns_type::txt);
  if (found.outcome == dns_answer::kind::temporary) {
    result.outcome = kind::temperror;
    result.reason = fmt::format("DNS error at {}: {}", domain, found.detail);
    co_return result;
  }
  std::vector<std::string> texts;
  for (const auto& rdata : found.records) {
    std::string text = txt_text(rdata);
    if (is_spf_record(text)) texts.push_back(std::move(text));
  }
  // 4.5: none is none; more than one is an error.
  if (texts.empty()) {
    result.reason = fmt::format("{} has no SPF record", domain);
    co_return result;
  }
  if (texts.size() > 1) {
    result.outcome = kind::permerror;
    result.reason = fmt::format("{} has {} SPF records", domain, texts.size());
    co_return result;
  }
  spf_parse_result parsed = parse_spf_record(texts.front());
  if (!parsed.record) {
    result.outcome = kind::permerror;
    result.reason = fmt::format("SPF record of {}: {}", domain, parsed.error);
    co_return result;
  }
  const spf_record& record = *parsed.record;
  for (const auto& m : record.mechanisms) {
    match found_match = co_await mechanism_matches(e, m, domain);
    if (found_match == match::temperror || found_match == match::permerror) {
      result.outcome = found_match == match::temperror ? kind::temperror : kind::permerror;
      result.reason = e.error;
      co_return result;
    }
    if (found_match == match::yes) {
      result.outcome = qualifier_result(m.qualifier);
      result.reason = fmt::format("matched a term of the SPF record of {}", domain);
      if (result.outcome == kind::fail) result.explanation = co_await explanation_for(e, record, domain);
      co_return result;
    }
  }
  // 6.1: redirect= applies only when no mechanism matched (and "all" is absent: it matches).
  if (record.redirect) {
    if (!count_dns_term(e)) {
      result.outcome = kind::permerror;
      result.reason = e.error;
      co_return result;
    }
    std::string target = co_await expand_domain_spec(e, *record.redirect, domain);
    result = co_await check_host(e, target);
    if (result.outcome == kind::none) {
      result.outcome = kind::permerror;
      result.reason = fmt::format("redirect={} has no SPF record", target);
    }
    co_return result;
  }
  result.outcome = kind::neutral;  // 4.7: the default
  result.reason = fmt::format("no term of the SPF record of {} matched", domain);
  co_return result;
}

// 4.3: the sender's local-part and domain; "postmaster" stands in for a missing local-part.
std::pair<std::string, std::string> split_sender(std::string_view sender) {
  std::size_t at = sender.rfind('@');
  if (at == std::string_view::npos) return {"postmaster", std::string(sender)};
  std::string local(sender.substr(0, at));
  if (local.empty()) local = "postmaster";
  return {local, std::string(sender.substr(at + 1))};
}

}  // namespace

std::string_view result_name(spf_result::kind outcome) {
  switch (outcome) {
    case kind::none: return "none";
    case kind::neutral: return "neutral";
    case kind::pass: return "pass";
    case kind::fail: return "fail";
    case kind::softfail: return "softfail";
    case kind::temperror: return "temperror";
    case kind::permerror: return "permerror";
  }
  return "none";
}

spf_identity mail_from_identity(const std::array<std::uint8_t, 16>& client, std::string_view sender,
                                std::string_view helo, std::string_view receiver, std::int64_t now) {
  if (sender.empty()) return helo_identity(client, helo, receiver, now);  // 2.4
  spf_identity id;
  id.client = client;
  auto [local, domain] = split_sender(sender);
  id.sender = local + "@" + domain;
  id.domain = domain;
  id.helo = std::string(helo);
  id.receiver = std::string(receiver);
  id.now = now;
  return id;
}

spf_identity helo_identity(const std::array<std::uint8_t, 16>& client, std::string_view helo,
                           std::string_view receiver, std::int64_t now) {
  spf_identity id;
  id.client = client;
  id.sender = "postmaster@" + std::string(helo);
  id.domain = std::string(helo);
  id.helo = std::string(helo);
  id.receiver = std::string(receiver);
  id.now = now;
  return id;
}

asio::awaitable<spf_result> check_spf(dns_source& dns, const spf_identity& identity) {
  evaluation e{dns, identity, 0, 0, {}};
  co_return co_await check_host(e, identity.domain);
}

}  // namespace missive
