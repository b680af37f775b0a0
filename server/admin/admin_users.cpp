// User administration: see admin_users.hpp.
#include "admin_users.hpp"

#include <termios.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <optional>

#include "exit_codes.hpp"
#include "json_text.hpp"
#include "mail_address.hpp"
#include "open_store.hpp"
#include "password_hash.hpp"
#include "run_sync.hpp"
#include "server_config.hpp"

namespace missive {

namespace {

// Reads one line from stdin, without echo when stdin is a terminal.
std::optional<std::string> read_secret_line(const char* prompt) {
  bool terminal = isatty(STDIN_FILENO);
  termios saved{};
  if (terminal) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Asks for a new password: one line from stdin, or twice at a terminal.
std::optional<std::string> read_new_password(bool from_stdin) {
  auto password = read_secret_line("New password: ");
  if (!password || password->empty()) {
    std::cerr << "missived: no password given (an empty password is not allowed)\n";
    return std::nullopt;
  }
  if (!from_stdin && isatty(STDIN_FILENO)) {
    auto again = read_secret_line("Repeat password: ");
    if (!again || *again != *password) {
      std::cerr << "missived: the passwords do not match\n";
      return std::nullopt;
    }
  }
  return password;
}

// Runs one store operation to its end.
template <typename T>
T wait_for(asio::awaitable<T> operation) {
  asio::io_context io;
  return run_sync(io, std::move(operation));
}

// Tells the running relays that the users changed, so they forget what they knew of them.
void announce_user_change(mail_store& store) {
  if (!store.announce_user_change()) {
    std::cerr << "missived: note: cannot tell a running relay at once; it sees the change "
                 "within 10 seconds\n";
  }
}

}  // namespace

int run_user_command(const server_config& config, const user_command& command) {
  auto store = open_store(config, store_purpose::admin);
  if (command.action == "list") {
    auto users = wait_for(store->users());
    if (command.json) {
      std::vector<std::string> quoted;
      for (const auto& address : users) quoted.push_back(json_string(address));
      std::cout << fmt::format("{{\"users\": [{}]}}\n", fmt::join(quoted, ", "));
    } else {
      for (const auto& address : users) std::cout << address << "\n";
    }
    return exit_code::ok;
  }
  auto parsed = parse_address(command.address);
  if (parsed.error != address_error::none || parsed.consumed != command.address.size()) {
    std::cerr << fmt::format("missived: '{}' is not a mail address such as alice@example.test\n",
                             command.address);
    return exit_code::usage;
  }
  std::string address = parsed.address.str();
  if (command.action == "del") {
    if (!wait_for(store->delete_user(address))) {
      std::cerr << fmt::format("missived: no user {}\n", address);
      return exit_code::no_user;
    }
    announce_user_change(*store);
    std::cout << fmt::format("deleted {}\n", address);
    return exit_code::ok;
  }
  bool exists = wait_for(store->user_exists(address));
  if (command.action == "add" && exists) {
    std::cerr << fmt::format("missived: user {} already exists\n", address);
    return exit_code::failure;
  }
  if (command.action == "passwd" && !exists) {
    std::cerr << fmt::format("missived: no user {}\n", address);
    return exit_code::no_user;
  }
  auto password = read_new_password(command.password_stdin);
  if (!password) return exit_code::data_error;
  std::string hash = hash_password(*password);
  if (command.action == "add") {
    if (!wait_for(store->add_user(address, hash))) {
      std::cerr << fmt::format("missived: user {} already exists\n", address);
      return exit_code::failure;
    }
    if (!config.is_local_domain(parsed.address.domain)) {
      std::cerr << fmt::format("missived: note: {} is not one of the local domains ({})\n",
                               parsed.address.domain, fmt::join(config.domains, ", "));
    }
    announce_user_change(*store);
    std::cout << fmt::format("added {}\n", address);
  } else {
    wait_for(store->set_password(address, hash));
    std::cout << fmt::format("password changed for {}\n", address);
  }
  return exit_code::ok;
}

}  // namespace missive
