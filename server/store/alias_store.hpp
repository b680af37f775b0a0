// Aliases in the database, synchronous: for admin commands and worker threads. An alias maps
// a source (an address, or "@domain" for a catch-all) to targets (addresses); what they
// lead to is recipient_expansion's to say.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "recipient_expansion.hpp"

namespace missive {

// One alias: its source and its targets, in the order they were added.
struct alias_entry {
  std::string source;
  std::vector<std::string> targets;
};

// Adds targets to the alias `source` (making it if it is new); targets it already has are
// left as they are. Returns how many were new.
template <class Db>
std::size_t add_alias_targets(Db& db, std::string_view source, const std::vector<std::string>& targets);
// Removes an alias and all its targets; false when there is none.
template <class Db>
bool delete_alias(Db& db, std::string_view source);
// Every alias, sorted by source.
template <class Db>
std::vector<alias_entry> list_aliases(Db& db);
// The targets of the alias `source` (any case), in order; empty when there is none.
template <class Db>
std::vector<std::string> find_alias_targets(Db& db, std::string_view source);

// What `address` leads to, users and aliases read from `db` (recipient_expansion.hpp).
template <class Db>
expansion resolve_stored_recipient(Db& db, std::string_view address, const expansion_options& options);

}  // namespace missive
