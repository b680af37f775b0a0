// Reading a message's MIME structure: see mime_parse.hpp.
#include "mime_parse.hpp"

#include "ascii.hpp"
#include "mime_encoding.hpp"

namespace missive::mime {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// Splits a message or part into its header section and body, at the first empty line.
std::pair<std::string_view, std::string_view> split_part(std::string_view part) {
  if (part.starts_with("\r\n")) return {{}, part.substr(2)};
  if (part.starts_with("\n")) return {{}, part.substr(1)};
  auto crlf = part.find("\r\n\r\n");
  auto lf = part.find("\n\n");
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf + 1 <= lf)) {
    return {part.substr(0, crlf + 2), part.substr(crlf + 4)};
  }
  if (lf != std::string_view::npos) return {part.substr(0, lf + 1), part.substr(lf + 2)};
  return {part, {}};
}

// Decodes RFC 2231 "%XX" escapes.
std::string percent_decode(std::string_view text) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += char(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// A parameter section in RFC 2231 form: "name*N*" pieces, kept in order.
struct parameter_pieces {
  std::map<int, std::pair<bool, std::string>> sections;  // number -> (extended, value)
};

// The value with comments removed and folding undone, quoted strings kept.
std::string strip_comments(std::string_view value) {
  std::string out;
  bool quoted = false;
  int comment = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' || c == '\n') continue;
    if (quoted) {
      out += c;
      if (c == '\\' && i + 1 < value.size()) out += value[++i];
      else if (c == '"') quoted = false;
    } else if (comment > 0) {
      if (c == '(') ++comment;
      else if (c == ')') --comment;
      else if (c == '\\') ++i;
    } else if (c == '(') {
      ++comment;
    } else {
      if (c == '"') quoted = true;
      out += c;
    }
  }
  return out;
}

// Parses "type/subtype; a=b; c="d"" (also dispositions, which have no subtype).
content_type parse_structured(std::string_view value, bool with_subtype) {
  content_type out;
  // Unfold and drop comments outside quoted strings (RFC 5322 3.2.2).
  std::string text = strip_comments(value);
  std::string_view rest = text;
  auto semicolon = rest.find(';');
  std::string_view head = trim(rest.substr(0, semicolon));
  rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
  if (with_subtype) {
    auto slash = head.find('/');
    if (slash != std::string_view::npos && !trim(head.substr(0, slash)).empty() &&
        !trim(head.substr(slash + 1)).empty()) {
      out.type = lowercase_ascii(trim(head.substr(0, slash)));
      out.subtype = lowercase_ascii(trim(head.substr(slash + 1)));
    }
  } else {
    out.type = lowercase_ascii(head);
    out.subtype.clear();
  }
  std::map<std::string, parameter_pieces> extended;
  while (!rest.empty()) {
    auto equals = rest.find('=');
    if (equals == std::string_view::npos) break;
    std::string name = lowercase_ascii(trim(rest.substr(0, equals)));
    rest.remove_prefix(equals + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::string param;
    if (!rest.empty() && rest.front() == '"') {
      std::size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        param += rest[i];
      }
      rest.remove_prefix(std::min(rest.size(), i + 1));
      auto next = rest.find(';');
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    } else {
      auto next = rest.find(';');
      param = std::string(trim(rest.substr(0, next)));
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    }
    // RFC 2231: "name*" (extended), "name*N" (continuation), "name*N*" (both).
    auto star = name.find('*');
    if (star == std::string::npos) {
      out.parameters[name] = param;
      continue;
    }
    std::string base = name.substr(0, star);
    std::string_view suffix = std::string_view(name).substr(star + 1);
    bool is_extended = suffix.ends_with("*") || suffix.empty();
    if (suffix.ends_with("*")) suffix.remove_suffix(1);
    int number = 0;
    for (char c : suffix) {
      if (c < '0' || c > '9' || number > 1000) {
        number = -1;
        break;
      }
      number = number * 10 + (c - '0');
    }
    if (number < 0) continue;
    extended[base].sections[number] = {is_extended, param};
  }
  for (auto& [name, pieces] : extended) {
    std::string charset;
    std::string bytes;
    bool first = true;
    for (auto& [number, section] : pieces.sections) {
      auto& [is_extended, raw] = section;
      std::string_view piece = raw;
      if (first && is_extended) {
        // charset'language'value
        auto q1 = piece.find('\'');
        auto q2 = q1 == std::string_view::npos ? q1 : piece.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset = std::string(piece.substr(0, q1));
          piece = piece.substr(q2 + 1);
        }
      }
      bytes += is_extended ? percent_decode(piece) : std::string(piece);
      first = false;
    }
    auto converted = to_utf8(bytes, charset);
    out.parameters[name] = converted ? *converted : bytes;
  }
  return out;
}

// Decodes a part's body by its Content-Transfer-Encoding.
std::string decode_body(std::string_view body, std::string_view encoding) {
  std::string cte = lowercase_ascii(trim(encoding));
  if (cte == "base64") return base64_decode_lenient(body);
  if (cte == "quoted-printable") return quoted_printable_decode(body);
  return std::string(body);
}

// CRLF (and lone CR) to LF, for the terminal.
std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The body parts of a multipart body (RFC 2046 5.1.1): the text between delimiter lines
// "--boundary", up to the close delimiter "--boundary--". The line break before a
// delimiter belongs to the delimiter.
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary) {
  std::vector<std::string_view> parts;
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = 0;
  std::size_t part_start = std::string_view::npos;
  while (pos <= body.size()) {
    auto newline = body.find('\n', pos);
    std::size_t line_end = newline == std::string_view::npos ? body.size() : newline;
    std::string_view line = body.substr(pos, line_end - pos);
    if (line.starts_with(delimiter)) {
      std::string_view after = line.substr(delimiter.size());
      bool close = after.starts_with("--");
      if (close || trim(after).empty()) {
        if (part_start != std::string_view::npos) {
          std::size_t end = pos;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          parts.push_back(body.substr(part_start, end - part_start));
        }
        if (close) return parts;
        part_start = newline == std::string_view::npos ? body.size() : newline + 1;
      }
    }
    if (newline == std::string_view::npos) break;
    pos = newline + 1;
  }
  // No close delimiter: what follows the last delimiter is the last part.
  if (part_start != std::string_view::npos && part_start < body.size()) {
    parts.push_back(body.substr(part_start));
  }
  return parts;
}

// Walks one part, filling the text (first text/plain that is not an attachment, else the
// first text/html) and the attachment list.
struct walker {
  message_view& view;
  bool have_plain = false;
  bool have_html = false;

  void walk(std::string_view part, int depth, bool digest) {
    auto [head, body] = split_part(part);
    auto fields = parse_header_fields(head);
    auto type_field = find_field(fields, "Content-Type");
    content_type type = type_field ? parse_content_type(*type_field) : content_type{};
    if (!type_field && digest) type = {"message", "rfc822", {}};
    auto cte = find_field(fields, "Content-Transfer-Encoding").value_or("7bit");
    auto disposition_field = find_field(fields, "Content-Disposition");
    content_type disposition = disposition_field ? parse_disposition(*disposition_field)
                                                 : content_type{"", "", {}};

    if (type.type == "multipart" && depth < max_mime_depth) {
      auto boundary = type.parameters.find("boundary");
      if (boundary != type.parameters.end() && !boundary->second.empty()) {
        for (auto sub : split_multipart(body, boundary->second)) {
          walk(sub, depth + 1, type.subtype == "digest");
        }
        return;
      }
    }
    std::string filename;
    if (auto it = disposition.parameters.find("filename"); it != disposition.parameters.end()) {
      filename = it->second;
    } else if (auto name = type.parameters.find("name"); name != type.parameters.end()) {
      filename = name->second;
    }
    filename = decode_header_value(filename);  // some mailers put RFC 2047 words here
    bool attachment = disposition.type == "attachment" || !filename.empty();
    std::string decoded = decode_body(body, cte);
    if (!attachment && type.type == "text" && (type.subtype == "plain" || type.subtype == "html")) {
      bool plain = type.subtype == "plain";
      if (plain ? !have_plain : (!have_plain && !have_html)) {
        auto charset = type.parameters.count("charset") ? type.parameters["charset"] : "";
        auto text = to_utf8(decoded, charset);
        view.text = to_lf(text ? *text : decoded);
        (plain ? have_plain : have_html) = true;
        return;
      }
    }
    if (attachment || type.type != "text") {
      view.attachments.push_back({filename, type.mime_type(), decoded.size(), decoded});
    } else if (type.subtype == "plain") {
      // A further inline text part (a footer some lists append) follows the first.
      auto charset = type.parameters.count("charset") ? type.parameters["charset"] : "";
      auto text = to_utf8(decoded, charset);
      if (!view.text.empty() && !view.text.ends_with("\n")) view.text += "\n";
      view.text += to_lf(text ? *text : decoded);
    }
    // Other inline text (the HTML alternative of a plain part) is not shown.
  }
};

}  // namespace

std::vector<header_field> parse_header_fields(std::string_view header_section) {
  std::vector<header_field> fields;
  std::size_t pos = 0;
  while (pos < header_section.size()) {
    auto newline = header_section.find('\n', pos);
    std::size_t end = newline == std::string_view::npos ? header_section.size() : newline + 1;
    std::string_view line = header_section.substr(pos, end - pos);
    pos = end;
    std::string_view bare = line;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r')) bare.remove_suffix(1);
    if (bare.empty()) break;  // the end of the header section
    if ((bare.front() == ' ' || bare.front() == '\t')) {
      if (!fields.empty()) fields.back().value += "\r\n" + std::string(bare);
      continue;
    }
    auto colon = bare.find(':');
    if (colon == std::string_view::npos) continue;  // not a field; skipped
    std::string_view value = bare.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    fields.push_back({std::string(trim(bare.substr(0, colon))), std::string(value)});
  }
  return fields;
}

std::optional<std::string> find_field(const std::vector<header_field>& fields, std::string_view name) {
  for (const auto& field : fields) {
    if (iequals(field.name, name)) return field.value;
  }
  return std::nullopt;
}

content_type parse_content_type(std::string_view value) { return parse_structured(value, true); }

content_type parse_disposition(std::string_view value) { return parse_structured(value, false); }

message_view parse_message(std::string_view raw) {
  message_view view;
  auto [head, body] = split_part(raw);
  auto fields = parse_header_fields(head);
  auto decoded = [&](std::string_view name) {
    auto value = find_field(fields, name);
    return value ? std::string(trim(decode_header_value(*value))) : std::string();
  };
  view.from = decoded("From");
  view.to = decoded("To");
  view.cc = decoded("Cc");
  view.date = decoded("Date");
  view.subject = decoded("Subject");
  walker w{view};
  w.walk(raw, 0, false);
  return view;
}

}  // namespace missive::mime

namespace missive::mime {

namespace {

// The address in one mailbox: inside <> when there are some, else the bare addr-spec.
std::string mailbox_address(std::string_view item) {
  bool quoted = false;
  std::size_t open = std::string_view::npos;
  for (std::size_t i = 0; i < item.size(); ++i) {
    if (item[i] == '\\') { ++i; continue; }
    if (item[i] == '"') quoted = !quoted;
    else if (!quoted && item[i] == '<') open = i;
    else if (!quoted && item[i] == '>' && open != std::string_view::npos) {
      return std::string(trim(item.substr(open + 1, i - open - 1)));
    }
  }
  return std::string(trim(item));
}

}  // namespace

std::vector<std::string> parse_address_list(std::string_view value) {
  std::string text = strip_comments(value);
  std::vector<std::string> out;
  bool quoted = false;
  bool angle = false;
  std::size_t start = 0;
  auto take = [&](std::size_t end) {
    std::string_view item = trim(std::string_view(text).substr(start, end - start));
    if (!item.empty()) {
      std::string address = mailbox_address(item);
      if (!address.empty()) out.push_back(std::move(address));
    }
    start = end + 1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') { ++i; continue; }
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '<') angle = true;
    else if (c == '>') angle = false;
    else if (angle) continue;
    else if (c == ':') start = i + 1;  // a group's display name ends here (RFC 5322 3.4)
    else if (c == ',' || c == ';') take(i);
  }
  take(text.size());
  return out;
}

std::optional<std::int64_t> parse_rfc5322_date(std::string_view text) {
  std::string cleaned = strip_comments(text);
  std::vector<std::string_view> tokens;
  std::string_view rest = cleaned;
  while (!rest.empty()) {
    auto start = rest.find_first_not_of(" \t,");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto end = std::min(rest.find_first_of(" \t,"), rest.size());
    tokens.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto number = [](std::string_view t, int& out) {
    if (t.empty() || t.size() > 4) return false;
    out = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  std::size_t i = 0;
  if (!tokens.empty() && !tokens[0].empty() && !(tokens[0][0] >= '0' && tokens[0][0] <= '9')) ++i;
  if (tokens.size() < i + 4) return std::nullopt;
  int day = 0, year = 0;
  if (!number(tokens[i], day)) return std::nullopt;
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  int month = -1;
  for (int m = 0; m < 12; ++m) {
    if (iequals(tokens[i + 1].substr(0, 3), months[m])) month = m;
  }
  if (month < 0 || !number(tokens[i + 2], year)) return std::nullopt;
  if (tokens[i + 2].size() <= 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 4.3
  int hour = 0, minute = 0, second = 0;
  std::string_view time = tokens[i + 3];
  auto c1 = time.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  auto c2 = time.find(':', c1 + 1);
  if (!number(time.substr(0, c1), hour) ||
      !number(time.substr(c1 + 1, c2 == std::string_view::npos ? c2 : c2 - c1 - 1), minute) ||
      (c2 != std::string_view::npos && !number(time.substr(c2 + 1), second))) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int offset = 0;
  if (tokens.size() > i + 4) {
    std::string_view zone = tokens[i + 4];
    int hhmm = 0;
    if ((zone.front() == '+' || zone.front() == '-') && zone.size() == 5 && number(zone.substr(1), hhmm)) {
      offset = (hhmm / 100 * 60 + hhmm % 100) * 60 * (zone.front() == '-' ? -1 : 1);
    }
  }
  // Days from the civil date (Howard Hinnant's algorithm).
  const int m = month + 1;
  int y = year - (m <= 2);
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int mp = (m + 9) % 12;
  int doy = (153 * mp + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  std::int64_t days = std::int64_t(era) * 146097 + doe - 719468;
  return days * 86400 + hour * 3600 + minute * 60 + second - offset;
}

}  // namespace missive::mime
