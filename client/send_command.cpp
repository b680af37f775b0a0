// `missive send`: compose (mime_compose) and submit (submission).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "mail_address.hpp"
#include "mime_compose.hpp"
#include "hand_over.hpp"

namespace missive::client {

namespace {

// A random hex string of `digits` digits.
std::string random_hex(std::size_t digits) {
  static std::random_device device;
  std::mt19937_64 generator(device());
  std::string out;
  while (out.size() < digits) out += fmt::format("{:016x}", generator());
  out.resize(digits);
  return out;
}

// Reads an attachment; client_error 65 when it cannot be read.
mime::attachment read_attachment(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw client_error(exit_code::data_error, fmt::format("cannot attach {}: not a readable file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw client_error(exit_code::data_error, fmt::format("cannot attach {}: cannot open it", path));
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) throw client_error(exit_code::data_error, fmt::format("cannot attach {}: read error", path));
  std::string name = std::filesystem::path(path).filename().string();
  return {name, mime::guess_content_type(name), std::move(data).str()};
}

}  // namespace

std::string make_message_id(const std::string& domain) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return fmt::format("{}.{}@{}", now, random_hex(20), domain.empty() ? "localhost" : domain);
}

mime::mailbox checked_mailbox(const std::string& text, std::string_view flag) {
  mime::mailbox box = mime::split_mailbox(text);
  auto parsed = parse_address(box.address);
  if (box.address.empty() || parsed.error != address_error::none ||
      parsed.consumed != box.address.size()) {
    throw client_error(exit_code::data_error, fmt::format("{} '{}' is not a valid mail address", flag, text));
  }
  return box;
}

std::string make_boundary() { return "=_missive_" + random_hex(24); }

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  std::string out{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return out;
}

int run_send(const client_config& config, const send_options& options) {
  mime::outgoing_message message;
  message.from = checked_mailbox(options.from, "--from");
  submission envelope;
  envelope.sender = message.from.address;
  for (const auto& to : options.to) message.to.push_back(checked_mailbox(to, "--to"));
  for (const auto& cc : options.cc) message.cc.push_back(checked_mailbox(cc, "--cc"));
  for (const auto& box : message.to) envelope.recipients.push_back(box.address);
  for (const auto& box : message.cc) envelope.recipients.push_back(box.address);
  // RFC 5322 3.6.3: Bcc recipients are in the envelope only, never in the header.
  for (const auto& bcc : options.bcc) envelope.recipients.push_back(checked_mailbox(bcc, "--bcc").address);
  if (envelope.recipients.empty()) {
    throw client_error(exit_code::usage, "no recipient: give --to, --cc or --bcc");
  }
  for (const auto& path : options.attach) message.attachments.push_back(read_attachment(path));
  message.subject = options.subject;
  message.body = read_stdin();
  message.date = std::chrono::system_clock::now();
  auto at = message.from.address.rfind('@');
  message.message_id = make_message_id(message.from.address.substr(at + 1));
  message.boundary = make_boundary();
  envelope.content = mime::compose_message(message);
  auto result = hand_over(config, envelope, options.no_queue);
  if (result.queue_id) std::cout << "queued as " << *result.queue_id << "\n";
  return exit_code::ok;
}

}  // namespace missive::client
