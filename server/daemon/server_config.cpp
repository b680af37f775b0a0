// Loading the relay's configuration: see server_config.hpp.
#include "server_config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <toml++/toml.h>

#include "duration.hpp"
#include "mail_address.hpp"

namespace missive {

std::string endpoint::str() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

endpoint parse_endpoint(std::string_view text, std::string_view where) {
  auto bad = [&] {
    return config_error(fmt::format("{}: '{}' is not an address:port such as "
                                    "\"127.0.0.1:2525\" or \"[::1]:2525\"", where, text));
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw bad();
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw bad();
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535 || !parse_ip_address(host)) {
    throw bad();
  }
  return endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

bool server_config::is_local_domain(std::string_view domain) const {
  std::string lower = lowercase_ascii(domain);
  return std::find(domains.begin(), domains.end(), lower) != domains.end();
}

server_config default_server_config() {
  server_config config;
  char name[256] = {};
  config.hostname = gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
  config.smtp.trusted_networks = {*parse_ip_network("127.0.0.0/8"), *parse_ip_network("::1/128")};
  return config;
}

namespace {

// Reads one TOML file, naming the file, line and key in every error.
class config_reader {
 public:
  explicit config_reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node& node, std::string_view key, std::string_view what) const {
    throw config_error(fmt::format("{}:{}: {}: {}", file_, node.source().begin.line, key, what));
  }

  // Refuses any key of `table` not in `known`.
  void check_keys(const toml::table& table, std::string_view prefix,
                  std::initializer_list<std::string_view> known) const {
    for (auto&& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        throw config_error(fmt::format("{}:{}: unknown key '{}{}'", file_, key.source().begin.line,
                                       prefix, key.str()));
      }
    }
  }

  std::string string(const toml::node& node, std::string_view key) const {
    if (!node.is_string()) fail(node, key, "expected a string");
    return std::string(*node.value<std::string_view>());
  }

  std::int64_t positive(const toml::node& node, std::string_view key) const {
    if (!node.is_integer() || *node.value<std::int64_t>() <= 0) {
      fail(node, key, "expected a positive integer");
    }
    return *node.value<std::int64_t>();
  }

  std::int64_t non_negative(const toml::node& node, std::string_view key) const {
    if (!node.is_integer() || *node.value<std::int64_t>() < 0) {
      fail(node, key, "expected an integer, 0 or more");
    }
    return *node.value<std::int64_t>();
  }

  std::chrono::seconds duration(const toml::node& node, std::string_view key) const {
    auto parsed = parse_duration(string(node, key));
    if (!parsed || parsed->count() == 0) {
      fail(node, key, "expected a duration such as \"30s\", \"5m\", \"1h\" or \"5d\"");
    }
    return *parsed;
  }

  std::vector<std::string> strings(const toml::node& node, std::string_view key) const {
    const toml::array* array = node.as_array();
    if (!array) fail(node, key, "expected an array of strings");
    std::vector<std::string> out;
    for (const auto& item : *array) out.push_back(string(item, key));
    return out;
  }

  endpoint one_endpoint(const toml::node& node, std::string_view key) const {
    return parse_endpoint(string(node, key),
                          fmt::format("{}:{}: {}", file_, node.source().begin.line, key));
  }

  std::vector<endpoint> endpoints(const toml::node& node, std::string_view key) const {
    std::vector<endpoint> out;
    for (const auto& text : strings(node, key)) {
      out.push_back(parse_endpoint(text, fmt::format("{}:{}: {}", file_,
                                                     node.source().begin.line, key)));
    }
    return out;
  }

  // One address "host:port", the error naming this node's line.
  endpoint single_endpoint(const toml::node& node, std::string_view key) const {
    return parse_endpoint(string(node, key),
                          fmt::format("{}:{}: {}", file_, node.source().begin.line, key));
  }

  const toml::table& table(const toml::node& node, std::string_view key) const {
    if (!node.is_table()) fail(node, key, "expected a table");
    return *node.as_table();
  }

 private:
  std::string file_;
};

void read_smtp(const config_reader& reader, const toml::table& table, smtp_settings& smtp) {
  reader.check_keys(table, "smtp.", {"listen", "submission", "submissions", "trusted_networks",
                                     "max_message_size", "max_recipients", "plaintext_auth",
                                     "command_timeout", "data_timeout", "max_connections",
                                     "max_connections_per_address", "auth_failure_limit",
                                     "auth_ban_time", "greeting_delay", "min_free_space"});
  for (auto&& [key, node] : table) {
    std::string name = "smtp." + std::string(key.str());
    if (key == "listen") smtp.listen = reader.endpoints(node, name);
    else if (key == "submission") smtp.submission = reader.endpoints(node, name);
    else if (key == "submissions") smtp.submissions = reader.endpoints(node, name);
    else if (key == "max_message_size") smtp.max_message_size = reader.positive(node, name);
    else if (key == "max_recipients") smtp.max_recipients = reader.positive(node, name);
    else if (key == "min_free_space") smtp.min_free_space = reader.non_negative(node, name);
    else if (key == "command_timeout") smtp.command_timeout = reader.duration(node, name);
    else if (key == "data_timeout") smtp.data_timeout = reader.duration(node, name);
    else if (key == "max_connections") smtp.max_connections = reader.positive(node, name);
    else if (key == "max_connections_per_address") {
      smtp.max_connections_per_address = reader.positive(node, name);
    } else if (key == "auth_failure_limit") smtp.auth_failure_limit = reader.positive(node, name);
    else if (key == "auth_ban_time") smtp.auth_ban_time = reader.duration(node, name);
    else if (key == "greeting_delay") {
      auto delay = parse_duration_ms(reader.string(node, name));
      if (!delay) reader.fail(node, name, "expected a duration such as \"100ms\" or \"0s\"");
      smtp.greeting_delay = *delay;
    } else if (key == "plaintext_auth") {
      std::string policy = reader.string(node, name);
      if (policy == "never") smtp.plaintext_auth = plaintext_auth_policy::never;
      else if (policy == "loopback") smtp.plaintext_auth = plaintext_auth_policy::loopback;
      else if (policy == "always") smtp.plaintext_auth = plaintext_auth_policy::always;
      else reader.fail(node, name, "expected \"never\", \"loopback\" or \"always\"");
    } else if (key == "trusted_networks") {
      smtp.trusted_networks.clear();
      for (const auto& text : reader.strings(node, name)) {
        auto network = parse_ip_network(text);
        if (!network) reader.fail(node, name, fmt::format("'{}' is not a network such as "
                                                          "\"127.0.0.0/8\"", text));
        smtp.trusted_networks.push_back(*network);
      }
    }
  }
}

void read_pop3(const config_reader& reader, const toml::table& table, pop3_settings& pop3) {
  reader.check_keys(table, "pop3.", {"listen", "pop3s", "idle_timeout", "max_connections"});
  for (auto&& [key, node] : table) {
    std::string name = "pop3." + std::string(key.str());
    if (key == "listen") pop3.listen = reader.endpoints(node, name);
    else if (key == "pop3s") pop3.pop3s = reader.endpoints(node, name);
    else if (key == "idle_timeout") pop3.idle_timeout = reader.duration(node, name);
    else if (key == "max_connections") pop3.max_connections = reader.positive(node, name);
  }
}

void read_queue(const config_reader& reader, const toml::table& table, queue_settings& queue) {
  reader.check_keys(table, "queue.", {"retry_initial", "retry_max", "max_lifetime", "keep_history",
                                      "max_connections", "max_connections_per_destination",
                                      "mx_port"});
  for (auto&& [key, node] : table) {
    std::string name = "queue." + std::string(key.str());
    if (key == "retry_initial") queue.retry_initial = reader.duration(node, name);
    else if (key == "retry_max") queue.retry_max = reader.duration(node, name);
    else if (key == "max_lifetime") queue.max_lifetime = reader.duration(node, name);
    else if (key == "keep_history") queue.keep_history = reader.duration(node, name);
    else if (key == "max_connections") queue.max_connections = reader.positive(node, name);
    else if (key == "max_connections_per_destination") {
      queue.max_connections_per_destination = reader.positive(node, name);
    } else if (key == "mx_port") {
      auto port = reader.positive(node, name);
      if (port > 65535) reader.fail(node, name, "expected a port, 1 to 65535");
      queue.mx_port = static_cast<std::uint16_t>(port);
    }
  }
}

void read_dns(const config_reader& reader, const toml::table& table, dns_settings& dns) {
  reader.check_keys(table, "dns.", {"resolver", "timeout"});
  for (auto&& [key, node] : table) {
    std::string name = "dns." + std::string(key.str());
    if (key == "resolver") {
      dns.resolver = reader.one_endpoint(node, name);
    } else if (key == "timeout") {
      dns.timeout = reader.duration(node, name);
    }
  }
}

void read_store(const config_reader& reader, const toml::table& table, store_settings& store) {
  reader.check_keys(table, "store.", {"url", "node", "lease"});
  for (auto&& [key, node] : table) {
    std::string name = "store." + std::string(key.str());
    if (key == "url") store.url = reader.string(node, name);
    else if (key == "node") store.node = reader.string(node, name);
    else if (key == "lease") store.lease = reader.duration(node, name);
  }
}

void read_metrics(const config_reader& reader, const toml::table& table, metrics_settings& metrics) {
  reader.check_keys(table, "metrics.", {"listen"});
  for (auto&& [key, node] : table) {
    std::string name = "metrics." + std::string(key.str());
    if (key == "listen") metrics.listen = reader.single_endpoint(node, name);
  }
}

void read_tls(const config_reader& reader, const toml::table& table, tls_settings& tls) {
  reader.check_keys(table, "tls.", {"cert", "key"});
  for (auto&& [key, node] : table) {
    std::string name = "tls." + std::string(key.str());
    if (key == "cert") tls.cert = reader.string(node, name);
    else if (key == "key") tls.key = reader.string(node, name);
  }
}

void read_dkim(const config_reader& reader, const toml::node& node, std::vector<dkim_settings>& keys) {
  const toml::array* array = node.as_array();
  if (!array) reader.fail(node, "dkim", "expected [[dkim]] tables");
  for (const auto& item : *array) {
    const toml::table& table = reader.table(item, "dkim");
    reader.check_keys(table, "dkim.", {"domain", "selector", "key", "algorithm"});
    if (!table.contains("domain") || !table.contains("selector")) {
      reader.fail(item, "dkim", "needs both 'domain' and 'selector'");
    }
    dkim_settings entry;
    entry.domain = lowercase_ascii(reader.string(*table.get("domain"), "dkim.domain"));
    entry.selector = reader.string(*table.get("selector"), "dkim.selector");
    if (const toml::node* algorithm = table.get("algorithm")) {
      entry.algorithm = reader.string(*algorithm, "dkim.algorithm");
      if (entry.algorithm != "rsa" && entry.algorithm != "ed25519") {
        reader.fail(*algorithm, "dkim.algorithm", "expected \"rsa\" or \"ed25519\"");
      }
    }
    entry.key = std::filesystem::path("dkim") / (entry.domain + "." + entry.selector + ".pem");
    if (const toml::node* key = table.get("key")) entry.key = reader.string(*key, "dkim.key");
    keys.push_back(std::move(entry));
  }
}

void read_routes(const config_reader& reader, const toml::node& node, std::vector<route>& routes) {
  const toml::array* array = node.as_array();
  if (!array) reader.fail(node, "route", "expected [[route]] tables");
  for (const auto& item : *array) {
    const toml::table& table = reader.table(item, "route");
    reader.check_keys(table, "route.", {"domain", "host", "tls", "user", "password"});
    route entry;
    if (!table.contains("domain") || !table.contains("host")) {
      reader.fail(item, "route", "needs both 'domain' and 'host'");
    }
    entry.domain = lowercase_ascii(reader.string(*table.get("domain"), "route.domain"));
    const toml::node& host = *table.get("host");
    entry.host = reader.endpoints(toml::array{reader.string(host, "route.host")}, "route.host")[0];
    if (const toml::node* tls = table.get("tls")) {
      entry.tls = reader.string(*tls, "route.tls");
      if (entry.tls != "opportunistic" && entry.tls != "required" && entry.tls != "none") {
        reader.fail(*tls, "route.tls", "expected \"opportunistic\", \"required\" or \"none\"");
      }
    }
    if (const toml::node* user = table.get("user")) entry.user = reader.string(*user, "route.user");
    if (const toml::node* password = table.get("password")) {
      entry.password = reader.string(*password, "route.password");
    }
    if (entry.user.empty() != entry.password.empty()) {
      reader.fail(item, "route", "'user' and 'password' go together");
    }
    routes.push_back(std::move(entry));
  }
}

}  // namespace

server_config load_server_config(const std::filesystem::path& file) {
  server_config config = default_server_config();
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw config_error(fmt::format("{}:{}: {}", file.string(), e.source().begin.line,
                                   e.description()));
  }
  config_reader reader(file.string());
  reader.check_keys(root, "", {"hostname", "data_dir", "domains", "run_as", "smtp", "pop3",
                               "tls", "queue", "store", "dns", "metrics", "route", "dkim"});
  for (auto&& [key, node] : root) {
    std::string name(key.str());
    if (key == "hostname") config.hostname = reader.string(node, name);
    else if (key == "run_as") config.run_as = reader.string(node, name);
    else if (key == "data_dir") config.data_dir = reader.string(node, name);
    else if (key == "domains") {
      config.domains.clear();
      for (const auto& domain : reader.strings(node, name)) {
        config.domains.push_back(lowercase_ascii(domain));
      }
    } else if (key == "smtp") read_smtp(reader, reader.table(node, name), config.smtp);
    else if (key == "pop3") read_pop3(reader, reader.table(node, name), config.pop3);
    else if (key == "queue") read_queue(reader, reader.table(node, name), config.queue);
    else if (key == "store") read_store(reader, reader.table(node, name), config.store);
    else if (key == "dns") read_dns(reader, reader.table(node, name), config.dns);
    else if (key == "tls") read_tls(reader, reader.table(node, name), config.tls);
    else if (key == "metrics") read_metrics(reader, reader.table(node, name), config.metrics);
    else if (key == "route") read_routes(reader, node, config.routes);
    else if (key == "dkim") read_dkim(reader, node, config.dkim);
  }
  return config;
}

}  // namespace missive
