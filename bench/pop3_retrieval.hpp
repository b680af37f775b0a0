// One POP3 retrieval session as a mail client runs it, timed step by step (issue 20): log in
// (USER/PASS), STAT, UIDL, RETR of every message, then QUIT, or DELE of every message and
// QUIT (the UPDATE state, RFC 1939 6). One connection, one command at a time unless a
// window of commands in flight is asked for (RFC 2449 6.6 PIPELINING).
//
// The client does as little as it can per octet: a RETR response is read in large pieces
// and scanned line by line for the terminating "." (RFC 1939 3), counting the octets of the
// message without its byte-stuffing; nothing is copied. With `digest`, each message is also
// hashed (FNV-1a over the unstuffed octets) and the hashes summed, so two servers holding
// the same messages in any order give the same digest.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace missive::bench {

// What the session does.
struct retrieval_options {
  asio::ip::tcp::endpoint endpoint;
  std::string user;
  std::string password;
  bool remove = false;             // DELE every message after retrieving it all, then QUIT
  bool retrieve = true;            // false: log in, STAT, UIDL, (DELE,) QUIT only
  bool digest = false;             // hash every message (costs the client CPU)
  std::size_t window = 1;          // RETR/DELE commands in flight at once
  std::chrono::seconds timeout{600};  // the whole session, from connect to QUIT's answer
};

// What the session measured. Times are wall-clock milliseconds or seconds on steady_clock.
struct retrieval_report {
  double connect_ms = 0;           // TCP connect to the greeting's end
  double login_ms = 0;             // USER sent to PASS answered +OK
  double login_to_uidl_ms = 0;     // USER sent to the end of the UIDL listing (USER, PASS, STAT, UIDL)
  std::uint64_t stat_messages = 0; // from STAT
  std::uint64_t stat_octets = 0;
  std::uint64_t uidl_lines = 0;
  std::uint64_t retrieved = 0;     // RETR answered +OK and read to its end
  std::uint64_t retrieved_octets = 0;  // message octets, CRLF line ends, without byte-stuffing
  double retrieve_s = 0;           // first RETR sent to the last one's final "."
  std::uint64_t digest = 0;        // sum of the messages' FNV-1a hashes (with `digest`)
  std::uint64_t deleted = 0;       // DELE answered +OK
  double dele_s = 0;               // first DELE sent to the last one's answer
  double quit_ms = 0;              // QUIT sent to its answer: the UPDATE state when deleting
  bool quit_ok = false;
  std::string quit_text;           // the server's answer to QUIT
  double session_s = 0;            // connect to QUIT's answer
  std::string error;               // empty when the session went as planned
};

// Runs one session; never throws for network outcomes (they end up in `report.error`).
asio::awaitable<void> run_retrieval(const retrieval_options& options, retrieval_report& report);

}  // namespace missive::bench
