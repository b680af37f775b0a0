// DKIM tag lists: see dkim_tags.hpp.
#include "dkim_tags.hpp"

#include <charconv>

#include "ascii.hpp"
#include "base64.hpp"

namespace missive {

namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_fws(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_fws(text.back())) text.remove_suffix(1);
  return text;
}

std::string without_blanks(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (!is_fws(c)) out += c;
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    std::size_t end = text.find(separator, at);
    out.emplace_back(trim(text.substr(at, end == std::string_view::npos ? std::string_view::npos
                                                                      : end - at)));
    if (end == std::string_view::npos) return out;
    at = end + 1;
  }
}

}  // namespace

std::optional<std::map<std::string, std::string>> parse_dkim_tags(std::string_view text) {
  std::map<std::string, std::string> tags;
  for (const auto& item : split(text, ';')) {
    if (item.empty()) continue;  // a trailing ';' is allowed
    std::size_t equals = item.find('=');
    if (equals == std::string::npos) return std::nullopt;
    std::string name(trim(std::string_view(item).substr(0, equals)));
    std::string_view value = trim(std::string_view(item).substr(equals + 1));
    if (name.empty()) return std::nullopt;
    bool base64 = name == "b" || name == "bh" || name == "p";
    if (!tags.emplace(name, base64 ? without_blanks(value) : std::string(value)).second) {
      return std::nullopt;  // RFC 6376 3.2: a tag twice makes the list invalid
    }
  }
  return tags;
}

parsed_dkim_signature parse_dkim_signature(std::string_view value) {
  auto fail = [](std::string why) { return parsed_dkim_signature{std::nullopt, std::move(why)}; };
  auto tags = parse_dkim_tags(value);
  if (!tags) return fail("malformed tag list");
  for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (!tags->contains(required)) return fail(std::string("no ") + required + "= tag");
  }
  if ((*tags)["v"] != "1") return fail("v= is not 1");
  dkim_signature_tags out;
  out.algorithm = lowercase_ascii((*tags)["a"]);
  // RFC 8301 3.1: rsa-sha1 is no longer to be considered valid.
  if (out.algorithm != "rsa-sha256" && out.algorithm != "ed25519-sha256") {
    return fail("algorithm " + out.algorithm + " is not accepted");
  }
  auto signature = base64_decode((*tags)["b"]);
  auto body_hash = base64_decode((*tags)["bh"]);
  if (!signature || !body_hash || signature->empty()) return fail("b= or bh= is not base64");
  out.signature = std::move(*signature);
  out.body_hash = std::move(*body_hash);
  std::string canon = tags->contains("c") ? lowercase_ascii((*tags)["c"]) : "simple/simple";
  auto parts = split(canon, '/');
  if (parts.size() == 1) parts.push_back("simple");
  if (parts.size() != 2) return fail("bad c= tag");
  for (std::size_t i = 0; i < 2; ++i) {
    if (parts[i] != "simple" && parts[i] != "relaxed") return fail("bad c= tag");
  }
  out.relaxed_header = parts[0] == "relaxed";
  out.relaxed_body = parts[1] == "relaxed";
  out.domain = lowercase_ascii((*tags)["d"]);
  out.selector = (*tags)["s"];
  if (out.domain.empty() || out.selector.empty()) return fail("empty d= or s=");
  bool from = false;
  for (const auto& name : split((*tags)["h"], ':')) {
    std::string lower = lowercase_ascii(name);
    if (lower.empty()) return fail("bad h= tag");
    from |= lower == "from";
    out.header_names.push_back(std::move(lower));
  }
  if (!from) return fail("h= does not sign From");  // RFC 6376 6.1.1
  if (tags->contains("i")) {
    // RFC 6376 6.1.1: the AUID's domain is d= or a subdomain of it.
    std::string auid = lowercase_ascii((*tags)["i"]);
    std::string_view domain = std::string_view(auid).substr(auid.rfind('@') + 1);
    if (domain != out.domain && !(domain.size() > out.domain.size() &&
                                  domain.ends_with("." + out.domain))) {
      return fail("i= is not in d=");
    }
  }
  if (tags->contains("x")) {
    std::int64_t x = 0;
    const std::string& text = (*tags)["x"];
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (ec != std::errc() || end != text.data() + text.size()) return fail("bad x= tag");
    out.expires = x;
  }
  return {std::move(out), {}};
}

dkim_public_key parse_dkim_key_record(std::string_view record) {
  dkim_public_key key;
  auto tags = parse_dkim_tags(record);
  if (!tags) {
    key.error = "malformed key record";
    return key;
  }
  if (tags->contains("v") && (*tags)["v"] != "DKIM1") key.error = "v= is not DKIM1";
  if (tags->contains("k")) key.key_type = lowercase_ascii((*tags)["k"]);
  if (key.key_type != "rsa" && key.key_type != "ed25519") key.error = "unknown key type " + key.key_type;
  if (!tags->contains("p")) {
    key.error = "no p= tag";
  } else if (!(*tags)["p"].empty()) {
    auto data = base64_decode((*tags)["p"]);
    if (!data) key.error = "p= is not base64";
    else key.key_data = std::move(*data);
  } else if (key.error.empty()) {
    key.error = "key revoked (empty p=)";
  }
  return key;
}

}  // namespace missive
