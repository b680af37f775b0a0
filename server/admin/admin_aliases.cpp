// Alias administration: see admin_aliases.hpp.
#include "admin_aliases.hpp"

#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <optional>

#include "exit_codes.hpp"
#include "json_text.hpp"
#include "mail_address.hpp"
#include "open_store.hpp"
#include "run_sync.hpp"
#include "server_config.hpp"

namespace missive {

namespace {

template <typename T>
T wait_for(asio::awaitable<T> operation) {
  asio::io_context io;
  return run_sync(io, std::move(operation));
}

// A bare address as the user commands take it, re-spelled as stored; nullopt if it is none.
std::optional<std::string> address_argument(const std::string& text) {
  auto parsed = parse_address(text);
  if (parsed.error != address_error::none || parsed.consumed != text.size()) return std::nullopt;
  return parsed.address.str();
}

// A source: an address, or "@domain" (a catch-all), the domain in lower case.
std::optional<std::string> source_argument(const std::string& text) {
  if (text.size() > 1 && text.front() == '@') {
    auto as_address = address_argument("postmaster" + text);  // the domain checked as in an address
    if (!as_address) return std::nullopt;
    return "@" + lowercase_ascii(text.substr(1));
  }
  return address_argument(text);
}

int list(mail_store& store, bool json) {
  auto aliases = wait_for(store.aliases());
  if (json) {
    std::vector<std::string> items;
    for (const auto& a : aliases) {
      std::vector<std::string> targets;
      for (const auto& t : a.targets) targets.push_back(json_string(t));
      items.push_back(fmt::format("{{\"source\": {}, \"targets\": [{}]}}", json_string(a.source),
                                  fmt::join(targets, ", ")));
    }
    std::cout << fmt::format("{{\"aliases\": [{}]}}\n", fmt::join(items, ", "));
  } else {
    // As /etc/aliases writes them: source, a colon, the targets.
    for (const auto& a : aliases) std::cout << fmt::format("{}: {}\n", a.source, fmt::join(a.targets, ", "));
  }
  return exit_code::ok;
}

// Tells the running relays that the aliases changed (as for users: the same counter).
void announce_change(mail_store& store) {
  if (!store.announce_user_change()) {
    std::cerr << "missived: note: cannot tell a running relay at once; it sees the change "
                 "within 10 seconds\n";
  }
}

}  // namespace

int run_alias_command(const server_config& config, const alias_command& command) {
  auto store = open_store(config, store_purpose::admin);
  if (command.action == "list") return list(*store, command.json);
  auto source = source_argument(command.source);
  if (!source) {
    std::cerr << fmt::format("missived: '{}' is not a mail address such as info@example.test, nor "
                             "@domain for a catch-all\n", command.source);
    return exit_code::usage;
  }
  if (command.action == "del") {
    if (!wait_for(store->delete_alias(*source))) {
      std::cerr << fmt::format("missived: no alias {}\n", *source);
      return exit_code::no_user;
    }
    announce_change(*store);
    std::cout << fmt::format("deleted alias {}\n", *source);
    return exit_code::ok;
  }
  std::vector<std::string> targets;
  for (const auto& text : command.targets) {
    auto target = address_argument(text);
    if (!target) {
      std::cerr << fmt::format("missived: target '{}' is not a mail address such as "
                               "alice@example.test\n", text);
      return exit_code::usage;
    }
    if (iequals(*target, *source)) {
      std::cerr << fmt::format("missived: {} cannot be its own target (a loop)\n", *source);
      return exit_code::data_error;
    }
    targets.push_back(std::move(*target));
  }
  std::string domain = source->substr(source->rfind('@') + 1);
  if (!config.is_local_domain(domain)) {
    std::cerr << fmt::format("missived: note: {} is not one of the local domains ({}); the alias "
                             "applies only once it is\n", domain, fmt::join(config.domains, ", "));
  }
  if (source->front() != '@' && wait_for(store->user_exists(*source))) {
    std::cerr << fmt::format("missived: note: {} is also a user, whose mailbox comes first; the "
                             "alias applies only once the user is deleted\n", *source);
  }
  auto added = wait_for(store->add_alias(*source, targets));
  announce_change(*store);
  std::cout << fmt::format("added alias {}: {}{}\n", *source, fmt::join(targets, ", "),
                           added < targets.size() ? " (some targets were there already)" : "");
  return exit_code::ok;
}

}  // namespace missive
