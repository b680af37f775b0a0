// The DMARC check: see dmarc_check.hpp. Section numbers are RFC 7489's.
#include "dmarc_check.hpp"

#include <fmt/format.h>

#include "ascii.hpp"
#include "dns_rdata.hpp"
#include "dns_source.hpp"
#include "organizational_domain.hpp"

namespace missive {

namespace {

using kind = dmarc_result::kind;

// 3.1.1, 3.1.2: strict alignment is the same name; relaxed, the same organizational domain.
bool aligned(std::string_view authenticated, std::string_view from, bool strict) {
  if (authenticated.empty()) return false;
  if (iequals(authenticated, from)) return true;
  return !strict && organizational_domain(authenticated) == organizational_domain(from);
}

// 6.6.4: mail outside pct= gets the next policy down.
dmarc_policy sampled(dmarc_policy policy, int percent, int sample) {
  if (sample < percent) return policy;
  return policy == dmarc_policy::reject ? dmarc_policy::quarantine : dmarc_policy::none;
}

struct discovered {
  enum class outcome { found, none, temporary } what = outcome::none;
  std::optional<dmarc_record> record;
  std::string detail;
};

// The one usable DMARC record at _dmarc.`domain` (6.6.3 steps 1-4: none, or several, is none).
asio::awaitable<discovered> discover(dns_source& dns, const std::string& domain) {
  discovered d;
  dns_answer answer = co_await dns.query("_dmarc." + domain, dns_type::txt);
  if (answer.outcome == dns_answer::kind::temporary) {
    d.what = discovered::outcome::temporary;
    d.detail = fmt::format("DNS error at _dmarc.{}: {}", domain, answer.detail);
    co_return d;
  }
  int count = 0;
  for (const auto& rdata : answer.records) {
    std::string text = txt_text(rdata);
    if (!is_dmarc_record(text)) continue;
    ++count;
    d.record = parse_dmarc_record(text);
  }
  if (count == 1 && d.record) d.what = discovered::outcome::found;
  else d.record.reset();
  co_return d;
}

}  // namespace

std::string_view result_name(dmarc_result::kind outcome) {
  switch (outcome) {
    case kind::none: return "none";
    case kind::pass: return "pass";
    case kind::fail: return "fail";
    case kind::temperror: return "temperror";
    case kind::permerror: return "permerror";
  }
  return "none";
}

dmarc_result evaluate_dmarc(const dmarc_record& record, bool at_organization,
                            const dmarc_evidence& evidence) {
  dmarc_result result;
  result.from_domain = evidence.from_domains.front();
  const std::string& from = result.from_domain;
  // 6.3: sp= is for names below the organizational domain, when the record was found there.
  result.policy = at_organization && record.subdomain_policy ? *record.subdomain_policy : record.policy;
  for (const auto& signature : evidence.dkim) {
    if (signature.outcome == dkim_result::kind::pass && aligned(signature.domain, from, record.strict_dkim)) {
      result.outcome = kind::pass;
      result.reason = fmt::format("DKIM d={} aligned", signature.domain);
      return result;
    }
  }
  if (evidence.spf == spf_result::kind::pass && aligned(evidence.spf_domain, from, record.strict_spf)) {
    result.outcome = kind::pass;
    result.reason = fmt::format("SPF {} aligned", evidence.spf_domain);
    return result;
  }
  // An answer that might have been a pass, but for a DNS error, is not yet a fail.
  bool undecided = evidence.spf == spf_result::kind::temperror;
  for (const auto& signature : evidence.dkim) {
    undecided = undecided || signature.outcome == dkim_result::kind::temperror;
  }
  if (undecided) {
    result.outcome = kind::temperror;
    result.reason = "SPF or DKIM could not be checked for now";
    return result;
  }
  result.outcome = kind::fail;
  result.reason = "no aligned SPF or DKIM pass";
  result.disposition = sampled(*result.policy, record.percent, evidence.sample);
  return result;
}

asio::awaitable<dmarc_result> check_dmarc(dns_source& dns, const dmarc_evidence& evidence) {
  dmarc_result result;
  // 6.6.1: exactly one author domain is checked; a message with none or several is malformed.
  if (evidence.from_domains.size() != 1 || evidence.from_domains.front().empty()) {
    result.outcome = kind::permerror;
    result.reason = evidence.from_domains.size() > 1 ? "more than one From: field"
                                                     : "no From: domain";
    co_return result;
  }
  std::string from = lowercase_ascii(evidence.from_domains.front());
  result.from_domain = from;
  discovered d = co_await discover(dns, from);
  bool at_organization = false;
  if (d.what == discovered::outcome::none) {
    std::string organization = organizational_domain(from);
    if (organization != from) {
      d = co_await discover(dns, organization);
      at_organization = true;
    }
  }
  if (d.what == discovered::outcome::temporary) {
    result.outcome = kind::temperror;
    result.reason = d.detail;
    co_return result;
  }
  if (d.what == discovered::outcome::none) {
    result.reason = fmt::format("{} publishes no DMARC policy", from);
    co_return result;
  }
  dmarc_evidence about = evidence;
  about.from_domains = {from};
  co_return evaluate_dmarc(*d.record, at_organization, about);
}

}  // namespace missive
