// Per-address abuse limits: see abuse_guard.hpp.
#include "abuse_guard.hpp"

namespace missive {

bool abuse_guard::exempt(const client_address& address) const {
  for (const auto& network : exempt_) {
    if (network.contains(address)) return true;
  }
  return false;
}

bool abuse_guard::banned(const client_address& address, clock::time_point now) const {
  if (exempt(address)) return false;
  auto found = failures_.find(address);
  return found != failures_.end() && found->second.banned_until > now;
}

bool abuse_guard::try_connect(const client_address& address) {
  if (exempt(address)) return true;
  std::size_t& open = connections_[address];
  if (open >= limits_.connections_per_address) {
    if (open == 0) connections_.erase(address);
    return false;
  }
  ++open;
  return true;
}

void abuse_guard::disconnect(const client_address& address) {
  if (exempt(address)) return;  // never counted
  auto found = connections_.find(address);
  if (found == connections_.end()) return;
  if (--found->second == 0) connections_.erase(found);
}

bool abuse_guard::login_failed(const client_address& address, clock::time_point now) {
  // Failures from an exempt address are still slowed (the sessions pause before answering),
  // never banned.
  if (exempt(address)) return false;
  failures& f = failures_[address];
  if (now - f.window_start > limits_.failure_window) {
    f.count = 0;
    f.window_start = now;
  }
  if (++f.count < limits_.auth_failures) return false;
  f.banned_until = now + limits_.ban;
  f.count = 0;
  // Old entries would otherwise pile up under a wide scan: drop expired ones now and then.
  if (failures_.size() > 10000) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      if (it->second.banned_until < now && now - it->second.window_start > limits_.failure_window) {
        it = failures_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return true;
}

}  // namespace missive
