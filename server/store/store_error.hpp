// How a store operation failed, as the layers above the store need to know it: whatever the
// implementation (SQLite today), a session answers from this alone (RFC 3463: 4.3.0, 4.3.1).
#pragma once

#include <stdexcept>
#include <string>

namespace missive {

// A failed store operation.
class store_error : public std::runtime_error {
 public:
  enum class kind {
    temporary,  // busy, locked by another process, an I/O error: try again later
    full,       // no room on the disk or in the database
    permanent,  // a constraint or a damaged database: trying again will not help
  };
  store_error(kind why, const std::string& what) : std::runtime_error(what), kind_(why) {}
  // Why it failed.
  kind why() const { return kind_; }

 private:
  kind kind_;
};

}  // namespace missive
