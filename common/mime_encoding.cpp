// MIME encodings and charset conversion: see mime_encoding.hpp.
#include "mime_encoding.hpp"

#include <cstdint>

#include <iconv.h>

#include <cerrno>
#include <vector>

#include "ascii.hpp"
#include "base64.hpp"

namespace missive::mime {

namespace {

constexpr std::string_view hex_digits = "0123456789ABCDEF";
// RFC 2047 2: an encoded-word is at most 75 characters.
constexpr std::size_t max_encoded_word = 75;
// "=?UTF-8?B?" and "?=".
constexpr std::string_view word_prefix = "=?UTF-8?B?";
constexpr std::size_t word_overhead = word_prefix.size() + 2;
// U+FFFD REPLACEMENT CHARACTER, for octets a charset cannot map.
constexpr std::string_view replacement = "\xEF\xBF\xBD";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void append_hex(std::string& out, unsigned char c) {
  out += '=';
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xF];
}

// The length of the longest prefix of `text` of at most `limit` octets that does not end
// inside a UTF-8 sequence (at least one character, so progress is always made).
std::size_t utf8_prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text.size();
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  if (end == 0) {
    end = 1;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  }
  return end;
}

// The encoded-word for `bytes` (UTF-8, base64).
std::string encoded_word(std::string_view bytes) {
  return std::string(word_prefix) + base64_encode(bytes) + "?=";
}

// Octets of UTF-8 text that fit in an encoded-word of at most `width` characters.
std::size_t word_capacity(std::size_t width) {
  if (width <= word_overhead) return 0;
  return (width - word_overhead) / 4 * 3;
}

// Splits `text` into encoded-words; the first fits in `first_width` columns, the others in
// 75 (each goes on a line of its own after one space of folding).
std::vector<std::string> encoded_words(std::string_view text, std::size_t first_width) {
  std::vector<std::string> words;
  std::size_t width = std::min(first_width, max_encoded_word);
  if (word_capacity(width) < 4) width = max_encoded_word;  // a new line for the first word
  while (!text.empty()) {
    std::size_t n = utf8_prefix(text, word_capacity(width));
    words.push_back(encoded_word(text.substr(0, n)));
    text.remove_prefix(n);
    width = std::min(max_encoded_word, max_header_line - 1);
  }
  return words;
}

// Whether `c` may appear in an RFC 5322 atom (3.2.3).
bool atext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Whether `c` may appear unencoded in an RFC 2231 value (attribute-char).
bool attribute_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

// Removes the CRLF (or LF) before folding white space (RFC 5322 2.2.3).
std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    if (value[i] == '\n') continue;
    out += value[i];
  }
  return out;
}

// One decoded RFC 2047 word: its charset and the octets it stands for.
struct decoded_word {
  std::string charset;
  std::string bytes;
};

// Decodes the Q encoding (RFC 2047 4.2): '_' is a space, "=XX" an octet.
std::string q_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out += ' ';
    } else if (text[i] == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += char(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Parses an encoded-word "=?charset?B|Q?text?=" at the start of `text`; its length in
// `length`. nullopt when it is not one.
std::optional<decoded_word> parse_encoded_word(std::string_view text, std::size_t& length) {
  if (!text.starts_with("=?")) return std::nullopt;
  auto q1 = text.find('?', 2);
  if (q1 == std::string_view::npos || q1 + 2 >= text.size() || text[q1 + 2] != '?') {
    return std::nullopt;
  }
  auto end = text.find("?=", q1 + 3);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view charset = text.substr(2, q1 - 2);
  // RFC 2231 5: "charset*language".
  charset = charset.substr(0, charset.find('*'));
  char encoding = to_lower_ascii(text[q1 + 1]);
  std::string_view payload = text.substr(q1 + 3, end - q1 - 3);
  if (payload.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  decoded_word word{std::string(charset), {}};
  if (encoding == 'b') {
    word.bytes = base64_decode_lenient(payload);
  } else if (encoding == 'q') {
    word.bytes = q_decode(payload);
  } else {
    return std::nullopt;
  }
  length = end + 2;
  return word;
}

// Appends the run of words in one charset, converted to UTF-8.
void flush_words(std::string& out, decoded_word& run) {
  if (run.bytes.empty() && run.charset.empty()) return;
  auto text = to_utf8(run.bytes, run.charset);
  out += text ? *text : run.bytes;
  run = {};
}

// The text with every invalid UTF-8 sequence (RFC 3629 4: overlong forms, surrogates, code
// points above U+10FFFF, stray continuation octets) replaced by U+FFFD.
std::string valid_utf8_or_replaced(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = length != 0 && i + length <= text.size();
    std::uint32_t code = length == 1 ? c : length == 2 ? c & 0x1F : length == 3 ? c & 0x0F : c & 0x07;
    for (std::size_t k = 1; ok && k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      ok = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && code >= smallest[length] && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF);
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += replacement;
      ++i;
    }
  }
  return out;
}

}  // namespace

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool is_7bit_safe(std::string_view text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') return false;
    if (c == '\r') {
      if (i + 1 >= text.size() || text[i + 1] != '\n') return false;
      continue;
    }
    if (c == '\n') {
      line = 0;
      continue;
    }
    if (++line > max_line) return false;
  }
  return true;
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string quoted_printable_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 11 / 10);
  std::size_t start = 0;
  while (start <= text.size()) {
    auto newline = text.find('\n', start);
    bool last_line = newline == std::string_view::npos;
    std::string_view line = text.substr(start, last_line ? std::string_view::npos : newline - start);
    // A CR is part of the line break only when an LF follows it; a lone final CR is data.
    if (!last_line && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (last_line && line.empty()) break;  // the text ended with a line break
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      bool final = i + 1 == line.size();
      std::string token;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !final)) {
        token = char(c);
      } else {
        append_hex(token, c);
      }
      // The last token may use the 76th column; any other must leave room for the '='.
      std::size_t limit = final ? max_encoded_line : max_encoded_line - 1;
      if (column + token.size() > limit) {
        out += "=\r\n";
        column = 0;
      }
      out += token;
      column += token.size();
    }
    if (last_line) break;
    out += "\r\n";
    start = newline + 1;
  }
  return out;
}

std::string quoted_printable_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    auto newline = text.find('\n', start);
    bool has_break = newline != std::string_view::npos;
    std::string_view line = text.substr(start, has_break ? newline - start : std::string_view::npos);
    bool crlf = !line.empty() && line.back() == '\r';
    if (crlf) line.remove_suffix(1);
    // RFC 2045 6.7 (3): trailing white space was added in transport; it is removed.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '=' && i + 2 < line.size() &&
          hex_value(line[i + 1]) >= 0 && hex_value(line[i + 2]) >= 0) {
        out += char(hex_value(line[i + 1]) * 16 + hex_value(line[i + 2]));
        i += 2;
      } else {
        out += line[i];
      }
    }
    if (has_break && !soft) out += crlf ? "\r\n" : "\n";
    if (!has_break) break;
    start = newline + 1;
  }
  return out;
}

std::string base64_encode_lines(std::string_view bytes) {
  std::string encoded = base64_encode(bytes);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / max_encoded_line * 2 + 2);
  for (std::size_t i = 0; i < encoded.size(); i += max_encoded_line) {
    out.append(encoded, i, max_encoded_line);
    out += "\r\n";
  }
  return out;
}

std::string base64_decode_lenient(std::string_view text) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t group = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    auto value = alphabet.find(c);
    if (value == std::string_view::npos) continue;
    group = group << 6 | std::uint32_t(value);
    if (++count == 4) {
      out += char(group >> 16 & 0xFF);
      out += char(group >> 8 & 0xFF);
      out += char(group & 0xFF);
      group = 0;
      count = 0;
    }
  }
  if (count == 2) {
    out += char(group >> 4 & 0xFF);
  } else if (count == 3) {
    out += char(group >> 10 & 0xFF);
    out += char(group >> 2 & 0xFF);
  }
  return out;
}

std::string encode_unstructured_field(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ":";
  std::size_t column = out.size();
  if (!is_ascii(value)) {
    // One space before the first word, a fold before each further word (RFC 2047 2).
    auto words = encoded_words(value, max_header_line - column - 1);
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (i > 0 && column + 1 + words[i].size() > max_header_line) {
        out += "\r\n";
        column = 0;
      }
      out += ' ';
      out += words[i];
      column += 1 + words[i].size();
    }
    out += "\r\n";
    return out;
  }
  // ASCII: fold at white space before a word that would cross column 78.
  std::size_t pos = 0;
  bool first = true;
  while (pos < value.size() || first) {
    auto space = value.find(' ', pos);
    std::string_view word = value.substr(pos, space == std::string_view::npos ? space : space - pos);
    if (!first && column + 1 + word.size() > max_header_line && column > 1) {
      out += "\r\n";
      column = 0;
    }
    out += ' ';
    out += word;
    column += 1 + word.size();
    first = false;
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  out += "\r\n";
  return out;
}

std::string encode_phrase(std::string_view display_name) {
  if (!is_ascii(display_name)) {
    std::string out;
    for (const auto& word : encoded_words(display_name, max_encoded_word)) {
      if (!out.empty()) out += ' ';
      out += word;
    }
    return out;
  }
  bool atoms = !display_name.empty();
  for (char c : display_name) atoms = atoms && (atext(c) || c == ' ');
  if (atoms) return std::string(display_name);
  std::string out = "\"";
  for (char c : display_name) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  out += '"';
  return out;
}

std::string decode_header_value(std::string_view value) {
  std::string text = unfold(value);
  std::string out;
  decoded_word run;            // adjacent words in one charset, decoded together
  std::string pending_space;   // white space after a word: dropped if another word follows
  bool after_word = false;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t length = 0;
    if (rest.starts_with("=?")) {
      if (auto word = parse_encoded_word(rest, length)) {
        if (after_word && !iequals(word->charset, run.charset)) flush_words(out, run);
        if (run.charset.empty()) run.charset = word->charset;
        run.bytes += word->bytes;
        pending_space.clear();
        after_word = true;
        rest.remove_prefix(length);
        continue;
      }
    }
    char c = rest.front();
    rest.remove_prefix(1);
    if (after_word && (c == ' ' || c == '\t')) {
      pending_space += c;
      continue;
    }
    if (after_word) {
      flush_words(out, run);
      out += pending_space;
      pending_space.clear();
      after_word = false;
    }
    out += c;
  }
  flush_words(out, run);
  out += pending_space;
  return out;
}

std::string encode_parameter(std::string_view name, std::string_view value) {
  if (is_ascii(value)) {
    std::string out = std::string(name) + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\r' || c == '\n') continue;
      out += c;
    }
    out += '"';
    return out;
  }
  // RFC 2231 3 and 4: charset, empty language, percent-encoded octets, split into numbered
  // sections so that no line crosses 78 columns.
  constexpr std::size_t section = 60;
  std::vector<std::string> parts{"utf-8''"};
  for (char c : value) {
    std::string piece;
    if (attribute_char(c)) {
      piece = c;
    } else {
      piece = "%";
      piece += hex_digits[static_cast<unsigned char>(c) >> 4];
      piece += hex_digits[static_cast<unsigned char>(c) & 0xF];
    }
    if (parts.back().size() + piece.size() > section) parts.emplace_back();
    parts.back() += piece;
  }
  if (parts.size() == 1) return std::string(name) + "*=" + parts[0];
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ";\r\n ";
    out += std::string(name) + "*" + std::to_string(i) + "*=" + parts[i];
  }
  return out;
}

std::optional<std::string> to_utf8(std::string_view bytes, std::string_view charset) {
  std::string from = charset.empty() ? "UTF-8" : std::string(charset);
  if (iequals(from, "us-ascii") || iequals(from, "ascii")) {
    // Mislabelled 8-bit text is common; UTF-8 is the likeliest truth.
    from = "UTF-8";
  }
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  std::vector<char> buffer(4096);
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  while (in_left > 0) {
    char* dst = buffer.data();
    std::size_t dst_left = buffer.size();
    std::size_t rc = iconv(cd, &in, &in_left, &dst, &dst_left);
    out.append(buffer.data(), buffer.size() - dst_left);
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ or EINVAL: an octet that cannot be mapped, or a sequence cut short.
      out += replacement;
      ++in;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* dst = buffer.data();
  std::size_t dst_left = buffer.size();
  iconv(cd, nullptr, nullptr, &dst, &dst_left);
  out.append(buffer.data(), buffer.size() - dst_left);
  iconv_close(cd);
  // glibc passes code points above U+10FFFF through: keep the promise of valid UTF-8.
  return valid_utf8_or_replaced(out);
}

}  // namespace missive::mime
