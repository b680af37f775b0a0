// BDAT (RFC 3030): the message data in chunks of a declared size, an alternative to DATA.
// A chunk has no end marker to find and nothing is dot-unstuffed; the whole message goes
// through the same store() as DATA's (trace headers, checks, DKIM signing).
#include <fmt/format.h>

#include "bdat_command.hpp"
#include "log.hpp"
#include "server_config.hpp"
#include "server_context.hpp"
#include "smtp_replies.hpp"
#include "smtp_session.hpp"

namespace missive {

std::optional<smtp_reply> smtp_session::bdat_refusal() const {
  if (state_ == state::connected) return replies::bad_sequence_helo;
  // RFC 3030 2: BDAT is an extension, offered in the reply to EHLO only.
  if (!extended_) return replies::bdat_needs_ehlo;
  if (state_ == state::greeted) return replies::bad_sequence_mail;
  if (state_ != state::rcpt) return replies::bad_sequence_rcpt;
  return std::nullopt;
}

asio::awaitable<smtp_reply> smtp_session::on_bdat(const smtp_command& command) {
  auto args = parse_bdat(command.argument);
  if (!args) {
    // Where the chunk ends is unknown: what follows cannot be read as commands (it would be
    // message data taken for commands). The session ends after the reply.
    enter_state(state::closing);
    end_reason_ = "bad_bdat";
    co_return replies::bdat_syntax;
  }
  // RFC 3030 2: a refused BDAT's chunk is still read (and dropped), to stay in step.
  std::optional<smtp_reply> refusal = bdat_refusal();
  const std::uint64_t limit = context_.config.smtp.max_message_size;
  bool keep = !refusal && !transaction_.bdat_too_big;
  if (keep && (args->size > limit || transaction_.chunks.size() + args->size > limit)) {
    // RFC 3030 4: too much data; the rest of the message is read and dropped, and the
    // last chunk answered 552 like this one.
    keep = false;
    transaction_.bdat_too_big = true;
    transaction_.chunks.clear();
    transaction_.chunks.shrink_to_fit();
  }
  if (keep && transaction_.chunks.empty() && transaction_.declared_size > 0) {
    transaction_.chunks.reserve(
        static_cast<std::size_t>(std::min<std::uint64_t>(transaction_.declared_size, limit)));
  }
  bool complete = co_await io_.read_octets(args->size, transaction_.chunks, keep,
                                           context_.config.smtp.data_timeout);
  if (!complete) co_return connection_lost;
  if (refusal) co_return *refusal;
  transaction_.bdat = true;
  ++transaction_.bdat_chunks;
  if (!args->last) {
    if (transaction_.bdat_too_big) co_return replies::too_big;
    co_return replies::chunk_received(args->size);
  }
  // The last chunk: the message is complete (or refused), and the transaction ends.
  enter_state(state::greeted);
  refusal_.stage = "END-OF-MESSAGE";
  if (transaction_.recipient_count() > 0) {
    refusal_.to = transaction_.local_recipients.empty() ? transaction_.remote_recipients.front().address
                                                        : transaction_.local_recipients.front().address;
  }
  smtp_reply result;
  if (transaction_.bdat_too_big) {
    result = replies::too_big;
  } else if (check_bdat_text(transaction_.chunks) != data_error::none) {
    result = replies::bdat_not_text;
  } else {
    std::string data = std::move(transaction_.chunks);
    log::info(id_, "event=bdat_message chunks={} size={}", transaction_.bdat_chunks, data.size());
    result = co_await store(data);
  }
  transaction_ = {};
  co_return result;
}

}  // namespace missive
