// DKIM verification: see dkim_verify.hpp.
#include "dkim_verify.hpp"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include <map>
#include <optional>

#include "ascii.hpp"
#include "base64.hpp"
#include "dkim_canonical.hpp"
#include "dkim_tags.hpp"
#include "dns_rdata.hpp"
#include "offload.hpp"
#include "dns_source.hpp"

namespace missive {

namespace {

struct pkey_ptr {
  EVP_PKEY* key = nullptr;
  ~pkey_ptr() { EVP_PKEY_free(key); }
};

dkim_result outcome(dkim_result::kind kind, std::string reason) {
  dkim_result r;
  r.outcome = kind;
  r.reason = std::move(reason);
  return r;
}

// The public key of a record, for `algorithm`; empty (key == nullptr) with `why` when unusable.
void load_public_key(const dkim_public_key& record, const std::string& algorithm, pkey_ptr& out,
                     std::string& why) {
  bool ed25519 = algorithm == "ed25519-sha256";
  if (record.key_type != (ed25519 ? "ed25519" : "rsa")) {
    why = "the key's type does not match a=";
    return;
  }
  const auto* data = reinterpret_cast<const unsigned char*>(record.key_data.data());
  if (ed25519) {
    out.key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, data, record.key_data.size());
  } else {
    // SubjectPublicKeyInfo, as published by nearly everyone; else a bare RSAPublicKey.
    const unsigned char* at = data;
    out.key = d2i_PUBKEY(nullptr, &at, static_cast<long>(record.key_data.size()));
    if (out.key == nullptr) {
      at = data;
      out.key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &at, static_cast<long>(record.key_data.size()));
    }
  }
  if (out.key == nullptr) {
    why = "the key cannot be decoded";
    return;
  }
  // RFC 8301 3.2: RSA keys under 1024 bits are not to be trusted.
  if (!ed25519 && EVP_PKEY_get_bits(out.key) < 1024) {
    why = fmt::format("an RSA key of {} bits", EVP_PKEY_get_bits(out.key));
    EVP_PKEY_free(out.key);
    out.key = nullptr;
  }
}

bool signature_matches(EVP_PKEY* key, const std::string& algorithm, const std::string& data,
                       const std::string& signature) {
  bool ed25519 = algorithm == "ed25519-sha256";
  std::string digest = ed25519 ? sha256_of(data) : std::string();
  std::string_view signed_bytes = ed25519 ? std::string_view(digest) : std::string_view(data);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                             signed_bytes.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string canonical_header(std::string_view text, bool relaxed) {
  return relaxed ? relaxed_header(text) : std::string(text);
}

}  // namespace

std::string_view result_name(dkim_result::kind outcome) {
  switch (outcome) {
    case dkim_result::kind::pass: return "pass";
    case dkim_result::kind::fail: return "fail";
    case dkim_result::kind::temperror: return "temperror";
    case dkim_result::kind::permerror: return "permerror";
  }
  return "permerror";
}

std::string without_signature_value(std::string_view field) {
  std::size_t colon = field.find(':');
  std::size_t at = colon == std::string_view::npos ? 0 : colon + 1;
  while (at < field.size()) {
    std::size_t end = field.find(';', at);
    if (end == std::string_view::npos) end = field.size();
    std::string_view tag = field.substr(at, end - at);
    std::size_t equals = tag.find('=');
    if (equals != std::string_view::npos) {
      std::string_view name = tag.substr(0, equals);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t' || name.front() == '\r' ||
                               name.front() == '\n')) {
        name.remove_prefix(1);
      }
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (name == "b") {
        // Everything after '=' up to the ';' (or the field's CRLF) goes.
        std::size_t value_start = at + equals + 1;
        std::size_t value_end = end;
        if (end == field.size()) {
          while (value_end > value_start && (field[value_end - 1] == '\n' || field[value_end - 1] == '\r')) {
            --value_end;
          }
        }
        return std::string(field.substr(0, value_start)) + std::string(field.substr(value_end));
      }
    }
    at = end + 1;
  }
  return std::string(field);
}

asio::awaitable<std::vector<dkim_result>> verify_dkim(dns_source& dns, std::string_view headers,
                                                      std::string_view body, std::int64_t now,
                                                      asio::thread_pool* hashing,
                                                      std::size_t limit) {
  std::vector<dkim_result> results;
  auto fields = split_header_fields(headers);
  std::optional<std::string> relaxed_hash, simple_hash;  // each made once, when first needed
  for (const auto& field : fields) {
    if (!iequals(field.name, "dkim-signature")) continue;
    if (results.size() == limit) break;
    std::string_view value = field.text.substr(field.text.find(':') + 1);
    auto parsed = parse_dkim_signature(value);
    if (!parsed.tags) {
      results.push_back(outcome(dkim_result::kind::permerror, parsed.error));
      continue;
    }
    const auto& tags = *parsed.tags;
    dkim_result result;
    result.domain = tags.domain;
    result.selector = tags.selector;
    result.b_prefix = base64_encode(tags.signature).substr(0, 8);
    auto finish = [&](dkim_result::kind kind, std::string reason) {
      result.outcome = kind;
      result.reason = std::move(reason);
      results.push_back(result);
    };
    if (tags.expires && *tags.expires < now) {
      finish(dkim_result::kind::permerror, "signature expired");
      continue;
    }
    // The body first: no DNS for a signature whose body changed.
    auto& hash = tags.relaxed_body ? relaxed_hash : simple_hash;
    if (!hash) {
      auto hash_body = [relaxed = tags.relaxed_body, body]() -> std::string {
        if (relaxed) {
          relaxed_body_hash h;
          h.update(body);
          return h.finish();
        }
        simple_body_hash h;
        h.update(body);
        return h.finish();
      };
      if (hashing != nullptr) hash = co_await offload(*hashing, std::move(hash_body));
      else hash = hash_body();
    }
    if (*hash != tags.body_hash) {
      finish(dkim_result::kind::fail, "body hash did not verify");
      continue;
    }
    std::string name = fmt::format("{}._domainkey.{}", tags.selector, tags.domain);
    dns_answer answer = co_await dns.query(name, dns_type::txt);
    if (answer.outcome == dns_answer::kind::temporary) {
      finish(dkim_result::kind::temperror, "key lookup: " + answer.detail);
      continue;
    }
    std::optional<dkim_public_key> record;
    for (const auto& rdata : answer.records) {
      auto candidate = parse_dkim_key_record(txt_text(rdata));
      if (candidate.error.empty() || !record) record = std::move(candidate);
      if (record->error.empty()) break;
    }
    if (!record) {
      finish(dkim_result::kind::permerror, "no key for signature at " + name);
      continue;
    }
    if (!record->error.empty()) {
      finish(dkim_result::kind::permerror, record->error);
      continue;
    }
    pkey_ptr key;
    std::string why;
    load_public_key(*record, tags.algorithm, key, why);
    if (key.key == nullptr) {
      finish(dkim_result::kind::permerror, why);
      continue;
    }
    // RFC 6376 5.4.2: each name in h= takes the next instance from the bottom up; a name with
    // none left adds nothing.
    std::map<std::string, std::size_t> used;
    std::string data;
    for (const auto& wanted : tags.header_names) {
      std::size_t skip = used[wanted]++;
      for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
        if (!iequals(it->name, wanted)) continue;
        if (skip-- > 0) continue;
        data += canonical_header(it->text, tags.relaxed_header);
        break;
      }
    }
    std::string own = canonical_header(without_signature_value(field.text), tags.relaxed_header);
    if (own.ends_with("\r\n")) own.resize(own.size() - 2);
    else if (own.ends_with("\n")) own.pop_back();
    data += own;
    if (signature_matches(key.key, tags.algorithm, data, tags.signature)) {
      finish(dkim_result::kind::pass, "");
    } else {
      finish(dkim_result::kind::fail, "signature did not verify");
    }
  }
  co_return results;
}

}  // namespace missive
