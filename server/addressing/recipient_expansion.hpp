// addressing/: what a recipient address of a local domain leads to. Pure code over a
// lookup interface (the store answers it on its reader threads; tests give a table).
//
// An address resolves, in this order, to: the local user of that address; else the alias
// of that address; else, with a recipient delimiter, the user or alias of the address
// without its subaddress (alice+tag@d -> alice@d, the tag kept in the envelope recipient);
// else the catch-all alias @domain; else nothing. An alias's targets resolve the same way,
// recursively, to at most max_depth levels; an alias met again on its own path is a loop,
// and the whole expansion is refused (never a hang, never a partial delivery). A mailbox
// reached twice is listed once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// What expansion asks: users and aliases as stored (addresses in any case).
class address_book {
 public:
  virtual ~address_book() = default;
  // The stored address of the local user `address` names, if there is one.
  virtual std::optional<std::string> user(std::string_view address) = 0;
  // The targets of the alias `source` (an address, or "@domain"), in order; empty if none.
  virtual std::vector<std::string> alias_targets(std::string_view source) = 0;
};

// How expansion is done.
struct expansion_options {
  std::vector<std::string> local_domains;  // lower case; other domains are not looked up
  std::string recipient_delimiter = "+";   // each character splits off a subaddress; "" off
  std::size_t max_depth = 10;              // aliases within aliases
  std::size_t max_recipients = 1000;       // what one address may fan out to
};

// One final recipient an address leads to.
struct expanded_recipient {
  std::string address;     // the envelope recipient to store (a subaddress keeps its tag)
  std::string mailbox;     // the local user's stored address; empty for an outside address
  bool forwarded = false;  // reached through an alias (its sender is rewritten: SRS)
};

// How an expansion ended.
enum class expansion_status {
  found,     // recipients holds at least one recipient
  unknown,   // no user, alias or catch-all matches (or every target led nowhere)
  loop,      // an alias leads back to itself: detail names the path
  too_deep,  // more than max_depth aliases within aliases
  too_many,  // more than max_recipients recipients
};

// What an address leads to.
struct expansion {
  expansion_status status = expansion_status::unknown;
  std::vector<expanded_recipient> recipients;
  std::string detail;  // for a loop: "a@d -> b@d -> a@d"
};

// The domain of an address (after the last '@'), lower case.
std::string domain_of(std::string_view address);

// `address` without its subaddress (RFC 5233 calls it the detail): the local part cut at the
// first delimiter character, when something is left before it; nullopt if it has none.
std::optional<std::string> without_subaddress(std::string_view address, std::string_view delimiters);

// Expands `address` (a recipient in a local domain) through `book`.
expansion expand_recipient(std::string_view address, const expansion_options& options,
                           address_book& book);

}  // namespace missive
