// Per-address limits against abuse: concurrent connections per client address, and failed
// logins (SMTP AUTH, POP3 PASS) counted per address, past a threshold refused for a while.
// Trusted networks are exempt, as Postfix exempts $mynetworks
// (smtpd_client_event_limit_exceptions): a webmail on localhost or an office behind a
// trusted NAT shares its address with whoever abuses it, and a lockout anyone can cause is a
// denial of service. Used from the network thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "ip_network.hpp"

namespace missive {

// A client address in the 16-byte IPv4-mapped form (see connection_io::peer_bytes).
using client_address = std::array<std::uint8_t, 16>;

// The counters and bans; limits come from [smtp] in the config.
class abuse_guard {
 public:
  using clock = std::chrono::steady_clock;

  // The limits: connections per address, failures before a ban, how long a ban lasts.
  struct limits {
    std::size_t connections_per_address = 20;
    std::size_t auth_failures = 5;
    std::chrono::seconds failure_window{600};
    std::chrono::seconds ban{600};
  };

  // A guard with these limits for every address outside `exempt`.
  explicit abuse_guard(limits l, std::vector<ip_network> exempt = {})
      : limits_(l), exempt_(std::move(exempt)) {}

  // Whether the address is in a network the limits do not apply to.
  bool exempt(const client_address& address) const;
  // Whether the address is refused now after too many failed logins.
  bool banned(const client_address& address, clock::time_point now = clock::now()) const;
  // Counts a new connection from `address`; false (and nothing counted) when it has too many.
  bool try_connect(const client_address& address);
  // Counts a connection's end.
  void disconnect(const client_address& address);
  // Counts a failed login; true when this failure got the address banned.
  bool login_failed(const client_address& address, clock::time_point now = clock::now());

 private:
  struct failures {
    std::size_t count = 0;
    clock::time_point window_start;
    clock::time_point banned_until;
  };
  limits limits_;
  std::vector<ip_network> exempt_;
  std::map<client_address, std::size_t> connections_;
  std::map<client_address, failures> failures_;
};

}  // namespace missive
