// Grouping messages into conversations for `missive inbox --threads`, without I/O: by the
// Message-ID, In-Reply-To and References fields (RFC 5322 3.6.4), and by subject only for a
// message that has neither In-Reply-To nor References.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace missive::client {

// What threading needs of one message.
struct thread_member {
  std::int64_t id = 0;
  std::int64_t date_unix = 0;
  std::string message_id;               // without brackets; "" when missing
  std::vector<std::string> in_reply_to; // msg-ids
  std::vector<std::string> references;  // msg-ids
  std::string subject;                  // decoded
};

// The subject with "Re:", "Fwd:", "Fw:" prefixes (any case, repeated, "Re[2]:") and
// surrounding blanks removed, lowercased ASCII: what replies to one message share.
std::string base_subject(std::string_view subject);

// The threads: each a list of indexes into `messages`, oldest first (by date, then id);
// threads ordered newest first (by their newest message). Every message is in one thread.
std::vector<std::vector<std::size_t>> group_threads(const std::vector<thread_member>& messages);

}  // namespace missive::client
