// A failure `missive` reports to its user: one sentence and a sysexits status.
#pragma once

#include <stdexcept>
#include <string>

namespace missive::client {

// What went wrong, in one sentence for stderr, and the exit status it maps to.
class client_error : public std::runtime_error {
 public:
  client_error(int exit_status, const std::string& sentence)
      : std::runtime_error(sentence), exit_status_(exit_status) {}
  // The process exit status (exit_codes.hpp).
  int exit_status() const { return exit_status_; }

 private:
  int exit_status_;
};

}  // namespace missive::client
