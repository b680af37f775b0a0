// Loading the client's configuration: see client_config.hpp.
#include "client_config.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <asio/ip/address.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "client_error.hpp"
#include "exit_codes.hpp"

namespace missive::client {

namespace {

// $NAME, or "" when unset.
std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The default config file: $XDG_CONFIG_HOME/missive/config.toml or ~/.config/missive/...
std::filesystem::path default_config_file() {
  std::string base = env("XDG_CONFIG_HOME");
  if (base.empty()) {
    std::string home = env("HOME");
    if (home.empty()) return {};
    base = home + "/.config";
  }
  return std::filesystem::path(base) / "missive" / "config.toml";
}

// The default data directory: $XDG_DATA_HOME/missive or ~/.local/share/missive.
std::string default_data_dir() {
  std::string base = env("XDG_DATA_HOME");
  if (base.empty()) {
    std::string home = env("HOME");
    if (home.empty()) return "./missive-client";
    base = home + "/.local/share";
  }
  return (std::filesystem::path(base) / "missive").string();
}

[[noreturn]] void config_fail(const std::string& file, const toml::node& node, std::string_view key,
                              std::string_view what) {
  throw client_error(exit_code::config, fmt::format("configuration error: {}:{}: {}: {}", file,
                                                    node.source().begin.line, key, what));
}

std::string string_value(const std::string& file, const toml::node& node, std::string_view key) {
  if (!node.is_string()) config_fail(file, node, key, "expected a string");
  return std::string(*node.value<std::string_view>());
}

std::uint16_t port_value(const std::string& file, const toml::node& node, std::string_view key) {
  if (!node.is_integer()) config_fail(file, node, key, "expected a port number");
  auto value = *node.value<std::int64_t>();
  if (value < 1 || value > 65535) config_fail(file, node, key, "expected a port number (1-65535)");
  return static_cast<std::uint16_t>(value);
}

// `tls`: "none" | "starttls" | "required".
tls_policy tls_value(const std::string& file, const toml::node& node, std::string_view key) {
  std::string value = string_value(file, node, key);
  if (value == "none") return tls_policy::none;
  if (value == "starttls") return tls_policy::starttls;
  if (value == "required") return tls_policy::required;
  config_fail(file, node, key, "expected \"none\", \"starttls\" or \"required\"");
}

// `tls_verify`: "peer" | "none".
tls_verify verify_value(const std::string& file, const toml::node& node, std::string_view key) {
  std::string value = string_value(file, node, key);
  if (value == "peer") return tls_verify::peer;
  if (value == "none") return tls_verify::none;
  config_fail(file, node, key, "expected \"peer\" or \"none\"");
}

// `ca_file`: a readable file, relative to the config file's folder.
std::string ca_file_value(const std::string& file, const toml::node& node, std::string_view key) {
  std::filesystem::path path = string_value(file, node, key);
  if (path.empty()) config_fail(file, node, key, "expected a file name");
  if (path.is_relative()) path = std::filesystem::path(file).parent_path() / path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    config_fail(file, node, key, fmt::format("{} is not a readable file", path.string()));
  }
  return path.string();
}

// `tls_server_name`: a host name (letters, digits, '-' and '.') or an IP address.
std::string server_name_value(const std::string& file, const toml::node& node, std::string_view key) {
  std::string value = string_value(file, node, key);
  std::error_code ec;
  asio::ip::make_address(value, ec);
  if (!ec) return value;
  const bool name = !value.empty() && value.size() <= 253 && value.front() != '.' &&
                    value.front() != '-' &&
                    value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
                        std::string::npos;
  if (!name) config_fail(file, node, key, "expected a host name or an IP address");
  return value;
}

void read_file(const std::string& file, client_config& config) {
  toml::table table;
  try {
    table = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw client_error(exit_code::config,
                       fmt::format("configuration error: {}:{}: {}", file,
                                   e.source().begin.line, e.description()));
  }
  for (auto&& [key, node] : table) {
    std::string_view name = key.str();
    if (name == "server") config.server = string_value(file, node, name);
    else if (name == "smtp_port") config.smtp_port = port_value(file, node, name);
    else if (name == "pop3_port") config.pop3_port = port_value(file, node, name);
    else if (name == "user") config.user = string_value(file, node, name);
    else if (name == "password_command") config.password_command = string_value(file, node, name);
    else if (name == "data_dir") config.data_dir = string_value(file, node, name);
    else if (name == "tls") config.tls = tls_value(file, node, name);
    else if (name == "tls_verify") config.verify = verify_value(file, node, name);
    else if (name == "ca_file") config.ca_file = ca_file_value(file, node, name);
    else if (name == "tls_server_name") config.tls_server_name = server_name_value(file, node, name);
    else {
      throw client_error(exit_code::config, fmt::format("configuration error: {}:{}: unknown key '{}'",
                                                        file, key.source().begin.line, name));
    }
  }
}

}  // namespace

client_config load_client_config(const config_overrides& overrides) {
  client_config config;
  if (!overrides.config_file.empty()) {
    if (!std::filesystem::exists(overrides.config_file)) {
      throw client_error(exit_code::config,
                         fmt::format("configuration file {} does not exist", overrides.config_file));
    }
    read_file(overrides.config_file, config);
  } else {
    auto path = default_config_file();
    std::error_code ec;
    if (!path.empty() && std::filesystem::exists(path, ec)) read_file(path.string(), config);
  }
  if (!overrides.server.empty()) config.server = overrides.server;
  if (overrides.smtp_port != 0) config.smtp_port = overrides.smtp_port;
  if (overrides.pop3_port != 0) config.pop3_port = overrides.pop3_port;
  if (!overrides.user.empty()) config.user = overrides.user;
  if (!overrides.data_dir.empty()) config.data_dir = overrides.data_dir;
  if (config.data_dir.empty()) config.data_dir = default_data_dir();
  return config;
}

std::optional<std::string> resolve_password(const client_config& config) {
  if (const char* value = std::getenv("MISSIVE_PASSWORD")) return std::string(value);
  if (config.password_command.empty()) return std::nullopt;
  // Like msmtp's passwordeval: the command's first line of output is the password.
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(config.password_command.c_str(), "r"), ::pclose);
  if (!pipe) {
    throw client_error(exit_code::config, "cannot run the password_command");
  }
  std::string output;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0) output.append(buffer, n);
  int status = ::pclose(pipe.release());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw client_error(exit_code::config, "the password_command failed");
  }
  auto newline = output.find('\n');
  if (newline != std::string::npos) output.resize(newline);
  if (!output.empty() && output.back() == '\r') output.pop_back();
  return output;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
  return "localhost";
}

}  // namespace missive::client
