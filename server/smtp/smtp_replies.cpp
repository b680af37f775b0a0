// The SMTP server's replies: see smtp_replies.hpp.
#include "smtp_replies.hpp"

#include <fmt/format.h>

namespace missive::replies {

smtp_reply greeting(std::string_view hostname) {
  return {220, "", fmt::format("{} ESMTP Missive", hostname)};
}

smtp_reply queued(std::string_view queue_id) {
  return {250, "2.0.0", fmt::format("Ok: queued as {}", queue_id)};
}

smtp_reply chunk_received(std::uint64_t octets) {
  return {250, "2.0.0", fmt::format("Ok: {} octets received", octets)};
}

smtp_reply syntax(std::string_view usage) {
  return {501, "5.5.4", fmt::format("Syntax: {}", usage)};
}

smtp_reply bad_address(address_error error, std::string_view enhanced) {
  switch (error) {
    case address_error::non_ascii:
      return {553, "5.6.7", "Error: non-ASCII address requires SMTPUTF8 (RFC 6531)"};
    case address_error::local_part_too_long:
      return {501, std::string(enhanced), "Error: local part longer than 64 octets"};
    case address_error::domain_too_long:
      return {501, std::string(enhanced), "Error: domain longer than 255 octets"};
    case address_error::path_too_long:
      return {501, std::string(enhanced), "Error: path longer than 256 octets"};
    default:
      return {501, std::string(enhanced), "Error: bad address syntax"};
  }
}

smtp_reply forwarding_loop(std::string_view mailbox) {
  return {554, "5.4.6", fmt::format("Error: mail forwarding loop for <{}>", mailbox)};
}

smtp_reply unknown_user(std::string_view address) {
  return {550, "5.1.1", fmt::format("<{}>: Recipient address rejected: User unknown", address)};
}

smtp_reply relay_denied(std::string_view address) {
  return {554, "5.7.1", fmt::format("<{}>: Relay access denied", address)};
}

smtp_reply alias_loop(std::string_view address, std::string_view path) {
  return {550, "5.4.6", fmt::format("<{}>: Recipient address rejected: alias loop ({})", address, path)};
}

smtp_reply alias_too_deep(std::string_view address, std::size_t limit) {
  return {550, "5.4.6", fmt::format("<{}>: Recipient address rejected: aliases nested more than "
                                    "{} deep", address, limit)};
}

smtp_reply alias_too_wide(std::string_view address, std::size_t limit) {
  return {550, "5.5.3", fmt::format("<{}>: Recipient address rejected: alias leads to more than "
                                    "{} recipients", address, limit)};
}

smtp_reply bad_srs_address(std::string_view address, std::string_view problem) {
  return {550, "5.1.1", fmt::format("<{}>: Recipient address rejected: {}", address, problem)};
}

smtp_reply sender_not_owned(std::string_view sender, std::string_view user) {
  return {553, "5.7.1", fmt::format("<{}>: Sender address rejected: not owned by {}", sender, user)};
}

smtp_reply shutting_down(std::string_view hostname) {
  return {421, "4.3.2", fmt::format("{} Service shutting down", hostname)};
}

smtp_reply timed_out(std::string_view hostname) {
  return {421, "4.4.2", fmt::format("{} Error: timeout exceeded", hostname)};
}

smtp_reply too_many_errors(std::string_view hostname) {
  return {421, "4.7.0", fmt::format("{} Error: too many errors", hostname)};
}

smtp_reply spf_failed(std::string_view explanation) {
  // The explanation comes from the sender's DNS (RFC 7208 6.2): it is shown, not trusted.
  std::string text(explanation.substr(0, 200));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return {550, "5.7.23", fmt::format("Error: SPF check failed: {}", text)};
}

smtp_reply dmarc_rejected(std::string_view from_domain) {
  return {550, "5.7.1",
          fmt::format("Error: message rejected by the DMARC policy of {}", from_domain)};
}

}  // namespace missive::replies
