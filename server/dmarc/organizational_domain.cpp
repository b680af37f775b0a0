// Organizational domains through libpsl: see organizational_domain.hpp.
#include "organizational_domain.hpp"

#include <libpsl.h>

#include "ascii.hpp"

namespace missive {

namespace {

// The newest list on the machine: Debian's /usr/share/publicsuffix, or libpsl's built-in one
// when that is newer. Loaded once, read-only afterwards (libpsl allows concurrent readers).
const psl_ctx_t* suffix_list() {
  static const psl_ctx_t* list = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest ? latest : psl_builtin();
  }();
  return list;
}

}  // namespace

std::string organizational_domain(std::string_view domain) {
  std::string name = lowercase_ascii(domain);
  if (!name.empty() && name.back() == '.') name.pop_back();
  const psl_ctx_t* list = suffix_list();
  if (list == nullptr) return name;
  const char* registrable = psl_registrable_domain(list, name.c_str());
  return registrable ? std::string(registrable) : name;
}

}  // namespace missive
