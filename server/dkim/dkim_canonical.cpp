// Relaxed canonicalization: see dkim_canonical.hpp.
#include "dkim_canonical.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "ascii.hpp"

namespace missive {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::vector<header_field> split_header_fields(std::string_view headers) {
  std::vector<header_field> fields;
  std::size_t at = 0;
  while (at < headers.size()) {
    std::size_t end = headers.find('\n', at);
    if (end == std::string_view::npos) end = headers.size();
    else ++end;
    std::string_view line = headers.substr(at, end - at);
    if (line == "\r\n" || line == "\n") break;  // the end of the header section
    if (!line.empty() && is_blank(line[0]) && !fields.empty()) {
      // A continuation line: part of the field before it.
      auto& last = fields.back();
      last.text = std::string_view(last.text.data(), last.text.size() + line.size());
    } else {
      std::size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
      fields.push_back({name, line});
    }
    at = end;
  }
  return fields;
}

std::string relaxed_header(std::string_view text) {
  std::size_t colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
  std::string out = lowercase_ascii(std::string(name));
  out += ':';
  std::string_view value = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  bool blank = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (is_blank(c)) {
      blank = true;
      continue;
    }
    // Blanks before the value (after the colon) go; inside it, a run is one space.
    if (blank && out.back() != ':') out += ' ';
    blank = false;
    out += c;
  }
  out += "\r\n";
  return out;
}

struct relaxed_body_hash::digest {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~digest() { EVP_MD_CTX_free(ctx); }
};

relaxed_body_hash::relaxed_body_hash() : digest_(std::make_unique<digest>()) {
  if (digest_->ctx == nullptr || EVP_DigestInit_ex(digest_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("DKIM: cannot start SHA-256");
  }
}

relaxed_body_hash::~relaxed_body_hash() = default;

void relaxed_body_hash::update(std::string_view piece) {
  for (char c : piece) {
    if (c == '\n') {
      line_done();
    } else if (c == '\r') {
      continue;  // a line ends at LF; CR LF, and a bare LF, alike
    } else if (is_blank(c)) {
      pending_blank_ = true;
    } else {
      if (pending_blank_) line_ += ' ';
      pending_blank_ = false;
      line_ += c;
    }
  }
}

void relaxed_body_hash::line_done() {
  pending_blank_ = false;  // blanks at the end of a line go
  if (line_.empty()) {
    ++empty_lines_;  // written only if text follows: empty lines at the end go
    return;
  }
  for (; empty_lines_ > 0; --empty_lines_) EVP_DigestUpdate(digest_->ctx, "\r\n", 2);
  line_ += "\r\n";
  EVP_DigestUpdate(digest_->ctx, line_.data(), line_.size());
  line_.clear();
}

std::string relaxed_body_hash::finish() {
  // A last line without its CRLF gets one (RFC 6376 3.4.4); an empty body hashes nothing.
  if (!line_.empty() || pending_blank_) line_done();
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned length = 0;
  EVP_DigestFinal_ex(digest_->ctx, reinterpret_cast<unsigned char*>(out.data()), &length);
  out.resize(length);
  return out;
}

}  // namespace missive
