// The MX response parser: see mx_lookup.hpp. It reads RFC 1035 4.1 wire format and trusts
// nothing in it: every length and pointer is checked against the end of the packet. No I/O
// here (the fuzz targets link it alone); the query is in mx_query.cpp.
#include "mx_lookup.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace missive {
namespace {

// RFC 1035 4.1.1: the fixed header.
constexpr std::size_t header_size = 12;
// RFC 1035 3.2.2, 3.2.4: the RR type and class we want.
constexpr std::uint16_t type_mx = 15;
constexpr std::uint16_t class_in = 1;
// RFC 1035 4.1.1: RCODE values.
constexpr unsigned rcode_servfail = 2;
constexpr unsigned rcode_nxdomain = 3;
// RFC 1035 2.3.4: a name is at most 255 octets on the wire.
constexpr std::size_t max_name_octets = 255;
// More compression pointers than a maximal name has labels can only be a loop.
constexpr int max_pointer_hops = 128;
// The largest DNS message (RFC 1035 4.2.2: the TCP length prefix is 16 bits).
constexpr std::size_t max_message = 65535;

// A bounds-checked reader over a DNS message.
class packet_reader {
 public:
  explicit packet_reader(std::string_view packet) : packet_(packet) {}

  std::size_t offset() const { return offset_; }
  void seek(std::size_t offset) { offset_ = offset; }

  bool read_u16(std::uint16_t& value) {
    if (packet_.size() < 2 || offset_ > packet_.size() - 2) return false;
    value = static_cast<std::uint16_t>(octet(offset_) << 8 | octet(offset_ + 1));
    offset_ += 2;
    return true;
  }

  bool skip(std::size_t count) {
    if (count > packet_.size() - offset_) return false;
    offset_ += count;
    return true;
  }

  // Reads a possibly compressed name (RFC 1035 4.1.4) at the current offset into `name`
  // (labels joined by dots, no trailing dot; the root is ""), and moves past it.
  bool read_name(std::string& name) {
    name.clear();
    std::size_t at = offset_;
    std::size_t resume = 0;  // where reading goes on after the first pointer
    bool jumped = false;
    int hops = 0;
    std::size_t wire_octets = 1;  // the final zero octet
    for (;;) {
      if (at >= packet_.size()) return false;
      unsigned length = octet(at);
      if (length == 0) break;
      if ((length & 0xC0) == 0xC0) {
        if (at + 1 >= packet_.size() || ++hops > max_pointer_hops) return false;
        if (!jumped) resume = at + 2;
        jumped = true;
        at = (length & 0x3F) << 8 | octet(at + 1);
        continue;
      }
      if ((length & 0xC0) != 0) return false;  // RFC 6891 extended label types: not for us
      if (length >= packet_.size() - at) return false;
      wire_octets += 1 + length;
      if (wire_octets > max_name_octets) return false;
      if (!name.empty()) name += '.';
      name.append(packet_.substr(at + 1, length));
      at += 1 + length;
    }
    offset_ = jumped ? resume : at + 1;
    return true;
  }

 private:
  unsigned octet(std::size_t at) const { return static_cast<unsigned char>(packet_[at]); }

  std::string_view packet_;
  std::size_t offset_ = 0;
};

mx_answer failure(mx_answer::kind outcome, std::string detail) {
  mx_answer answer;
  answer.outcome = outcome;
  answer.detail = std::move(detail);
  return answer;
}

mx_answer malformed(std::string_view what) {
  return failure(mx_answer::kind::temporary, "malformed DNS response: " + std::string(what));
}

// Whether `host` can be a host name to connect to (RFC 1123 2.1 letters, digits, hyphens;
// underscores are seen in the wild). Anything else from DNS never reaches a log or a socket.
bool usable_host_name(std::string_view host) {
  if (host.empty()) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

mx_answer parse_mx_response(std::string_view response) {
  packet_reader reader(response);
  std::uint16_t id, flags, question_count, answer_count, authority_count, additional_count;
  if (!reader.read_u16(id) || !reader.read_u16(flags) || !reader.read_u16(question_count) ||
      !reader.read_u16(answer_count) || !reader.read_u16(authority_count) ||
      !reader.read_u16(additional_count))
    return malformed("shorter than the header");
  if ((flags & 0x8000) == 0) return malformed("not a response");

  // The question section is checked before the RCODE is believed: a packet cut short must
  // never turn into a permanent failure (NXDOMAIN bounces the mail).
  std::string name;
  for (unsigned i = 0; i < question_count; ++i)
    if (!reader.read_name(name) || !reader.skip(4)) return malformed("truncated question");

  unsigned rcode = flags & 0x000F;
  if (rcode == rcode_nxdomain) return failure(mx_answer::kind::no_domain, "NXDOMAIN");
  if (rcode == rcode_servfail) return failure(mx_answer::kind::temporary, "SERVFAIL");
  if (rcode != 0)
    return failure(mx_answer::kind::temporary, "DNS error RCODE " + std::to_string(rcode));

  mx_answer answer;
  int mx_seen = 0;
  bool null_mx_seen = false;
  for (unsigned i = 0; i < answer_count; ++i) {
    std::uint16_t type, rr_class, ttl_high, ttl_low, data_length;
    if (!reader.read_name(name) || !reader.read_u16(type) || !reader.read_u16(rr_class) ||
        !reader.read_u16(ttl_high) || !reader.read_u16(ttl_low) || !reader.read_u16(data_length))
      return malformed("truncated answer record");
    std::size_t data_start = reader.offset();
    if (!reader.skip(data_length)) return malformed("answer data beyond the end");
    if (type != type_mx || rr_class != class_in) continue;  // e.g. the CNAME that led here

    // RFC 1035 3.3.9: PREFERENCE (16 bits), EXCHANGE (a name that may point anywhere in the
    // message), together exactly RDLENGTH octets.
    packet_reader data(response);
    data.seek(data_start);
    std::uint16_t preference;
    mx_record record;
    if (!data.read_u16(preference) || !data.read_name(record.host) ||
        data.offset() != data_start + data_length)
      return malformed("bad MX record data");
    ++mx_seen;
    record.preference = preference;
    if (record.host.empty()) {
      null_mx_seen |= preference == 0;
      continue;  // RFC 7505: the root is no host to deliver to
    }
    if (!usable_host_name(record.host)) continue;
    answer.hosts.push_back(std::move(record));
  }

  if (mx_seen == 0) return failure(mx_answer::kind::no_records, "no MX records");
  if (mx_seen == 1 && null_mx_seen)
    return failure(mx_answer::kind::null_mx, "null MX (RFC 7505): the domain accepts no mail");
  if (answer.hosts.empty())
    return failure(mx_answer::kind::temporary, "no usable MX host in the answer");
  // RFC 5321 5.1: lowest preference first; equal preferences keep the answer order.
  std::stable_sort(answer.hosts.begin(), answer.hosts.end(),
                   [](const mx_record& a, const mx_record& b) { return a.preference < b.preference; });
  answer.outcome = mx_answer::kind::records;
  answer.detail = std::to_string(answer.hosts.size()) + " MX record(s)";
  return answer;
}

}  // namespace missive
