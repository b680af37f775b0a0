// User administration: see admin_users.hpp.
#include "admin_users.hpp"

#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <optional>

#include "db.hpp"
#include "exit_codes.hpp"
#include "mail_address.hpp"
#include "sqlite_store.hpp"
#include "password_hash.hpp"
#include "server_config.hpp"
#include "user_generation.hpp"
#include "user_store.hpp"

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

// Tells a running relay that the users changed, so it forgets what it knew about them.
void announce_user_change(const server_config& config) {
  auto file = user_generation_file(config.database_path().parent_path());
  user_generation changes(file);
  if (!changes.bump()) {
    std::cerr << fmt::format(
        "missived: note: cannot write {}; a running relay sees the change within 10 seconds\n",
        file.string());
  }
}

}  // namespace

int run_user_command(const server_config& config, const user_command& command) {
  prepare_database(config.database_path());
  db::connection db(config.database_path().string());
  db.exec("PRAGMA foreign_keys = ON");
  if (command.action == "list") {
    for (const auto& address : list_users(db)) std::cout << address << "\n";
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
    if (!delete_user(db, address)) {
      std::cerr << fmt::format("missived: no user {}\n", address);
      return exit_code::no_user;
    }
    announce_user_change(config);
    std::cout << fmt::format("deleted {}\n", address);
    return exit_code::ok;
  }
  if (command.action == "add" && find_user(db, address)) {
    std::cerr << fmt::format("missived: user {} already exists\n", address);
    return exit_code::failure;
  }
  if (command.action == "passwd" && !find_user(db, address)) {
    std::cerr << fmt::format("missived: no user {}\n", address);
    return exit_code::no_user;
  }
  auto password = read_new_password(command.password_stdin);
  if (!password) return exit_code::data_error;
  std::string hash = hash_password(*password);
  if (command.action == "add") {
    if (!add_user(db, address, hash)) {
      std::cerr << fmt::format("missived: user {} already exists\n", address);
      return exit_code::failure;
    }
    if (!config.is_local_domain(parsed.address.domain)) {
      std::cerr << fmt::format("missived: note: {} is not one of the local domains ({})\n",
                               parsed.address.domain, fmt::join(config.domains, ", "));
    }
    announce_user_change(config);
    std::cout << fmt::format("added {}\n", address);
  } else {
    set_password_hash(db, address, hash);
    std::cout << fmt::format("password changed for {}\n", address);
  }
  return exit_code::ok;
}

}  // namespace missive
