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

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(joined(problems)), problems_(std::move(problems)) {}

std::string config_source::where(std::string_view key) const {
  auto found = lines.find(key);
  if (file.empty() || found == lines.end()) return std::string(key);
  return fmt::format("{}:{}: {}", file, found->second, key);
}

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

expansion_options recipient_expansion_of(const server_config& config) {
  expansion_options options;
  options.local_domains = config.domains;
  options.recipient_delimiter = config.smtp.recipient_delimiter;
  return options;
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

  // Calls read(key, name, node) for each key of `table`, name being prefix + key. An unknown
  // key or a bad value becomes one more problem and the other keys are still read, so one
  // run names every mistake, as `postfix check` does.
  template <typename Read>
  void each(const toml::table& table, std::string_view prefix,
            std::initializer_list<std::string_view> known, Read&& read) {
    for (auto&& [key, node] : table) {
      std::string name = fmt::format("{}{}", prefix, key.str());
      int line = static_cast<int>(key.source().begin.line);
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        problems_.push_back(fmt::format("{}:{}: unknown key '{}'", file_, line, name));
        continue;
      }
      lines_.emplace(name, line);  // of a [[route]] key: its first
      collect([&] { read(std::string_view(key.str()), name, node); });
    }
  }

  // Runs `step`, keeping the config_error it throws as problems rather than stopping.
  template <typename Step>
  void collect(Step&& step) {
    try {
      step();
    } catch (const config_error& e) {
      problems_.insert(problems_.end(), e.problems().begin(), e.problems().end());
    }
  }

  // Every problem found, in the order of the file (a table iterates its keys sorted).
  std::vector<std::string> problems() const {
    auto line_of = [this](const std::string& problem) {
      unsigned line = 0;
      if (problem.starts_with(file_ + ":")) {
        const char* digits = problem.data() + file_.size() + 1;
        std::from_chars(digits, problem.data() + problem.size(), line);
      }
      return line;
    };
    std::vector<std::string> sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
      return line_of(a) < line_of(b);
    });
    return sorted;
  }
  std::map<std::string, int, std::less<>> take_lines() { return std::move(lines_); }

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

  // A duration, or "0" (also "0s", "0m", ...) for "never".
  std::chrono::seconds duration_or_never(const toml::node& node, std::string_view key) const {
    std::string text = string(node, key);
    if (text == "0") return std::chrono::seconds(0);
    auto parsed = parse_duration(text);
    if (!parsed) {
      fail(node, key, "expected a duration such as \"30s\", \"5m\", \"1h\" or \"5d\", or \"0\"");
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

  // One address "host:port", the error naming this node's line.
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

  const toml::table& table(const toml::node& node, std::string_view key) const {
    if (!node.is_table()) fail(node, key, "expected a table");
    return *node.as_table();
  }

 private:
  std::string file_;
  std::vector<std::string> problems_;
  std::map<std::string, int, std::less<>> lines_;
};

void read_smtp(config_reader& reader, const toml::table& table, smtp_settings& smtp) {
  reader.each(table, "smtp.", {"listen", "submission", "submissions", "trusted_networks",
                               "max_message_size", "max_recipients", "plaintext_auth",
                               "command_timeout", "data_timeout", "max_connections",
                               "max_connections_per_address", "auth_failure_limit",
                               "auth_ban_time", "greeting_delay", "min_free_space",
                               "recipient_delimiter"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
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
    else if (key == "recipient_delimiter") {
      smtp.recipient_delimiter = reader.string(node, name);
      // Characters an address can hold unquoted and that cannot start it being the domain.
      for (char c : smtp.recipient_delimiter) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '@' || c == '"' || c == '\\' || c == '.') {
          reader.fail(node, name, "expected \"\" or characters such as \"+\" or \"-\" "
                                  "(no '@', '.', quotes, spaces or control characters)");
        }
      }
    }
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
  });
}

void read_pop3(config_reader& reader, const toml::table& table, pop3_settings& pop3) {
  reader.each(table, "pop3.", {"listen", "pop3s", "idle_timeout", "max_connections"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "listen") pop3.listen = reader.endpoints(node, name);
    else if (key == "pop3s") pop3.pop3s = reader.endpoints(node, name);
    else if (key == "idle_timeout") pop3.idle_timeout = reader.duration(node, name);
    else if (key == "max_connections") pop3.max_connections = reader.positive(node, name);
  });
}

void read_queue(config_reader& reader, const toml::table& table, queue_settings& queue) {
  reader.each(table, "queue.", {"retry_initial", "retry_max", "max_lifetime", "delay_warning",
                                "keep_history",
                                "max_connections", "max_connections_per_destination", "mx_port"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "retry_initial") queue.retry_initial = reader.duration(node, name);
    else if (key == "retry_max") queue.retry_max = reader.duration(node, name);
    else if (key == "max_lifetime") queue.max_lifetime = reader.duration(node, name);
    else if (key == "delay_warning") queue.delay_warning = reader.duration_or_never(node, name);
    else if (key == "keep_history") queue.keep_history = reader.duration(node, name);
    else if (key == "max_connections") queue.max_connections = reader.positive(node, name);
    else if (key == "max_connections_per_destination") {
      queue.max_connections_per_destination = reader.positive(node, name);
    } else if (key == "mx_port") {
      auto port = reader.positive(node, name);
      if (port > 65535) reader.fail(node, name, "expected a port, 1 to 65535");
      queue.mx_port = static_cast<std::uint16_t>(port);
    }
  });
}

void read_dns(config_reader& reader, const toml::table& table, dns_settings& dns) {
  reader.each(table, "dns.", {"resolver", "timeout"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "resolver") {
      dns.resolver = reader.one_endpoint(node, name);
    } else if (key == "timeout") {
      dns.timeout = reader.duration(node, name);
    }
  });
}

void read_store(config_reader& reader, const toml::table& table, store_settings& store) {
  reader.each(table, "store.", {"url", "node", "lease"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "url") store.url = reader.string(node, name);
    else if (key == "node") store.node = reader.string(node, name);
    else if (key == "lease") store.lease = reader.duration(node, name);
  });
}

void read_metrics(config_reader& reader, const toml::table& table, metrics_settings& metrics) {
  reader.each(table, "metrics.", {"listen"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "listen") metrics.listen = reader.one_endpoint(node, name);
  });
}

void read_tls(config_reader& reader, const toml::table& table, tls_settings& tls) {
  reader.each(table, "tls.", {"cert", "key"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "cert") tls.cert = reader.string(node, name);
    else if (key == "key") tls.key = reader.string(node, name);
  });
}

void read_srs(config_reader& reader, const toml::table& table, srs_settings& srs) {
  reader.each(table, "srs.", {"secret", "domain"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    if (key == "secret") {
      srs.secret = reader.string(node, name);
      if (srs.secret.size() < srs_settings::min_secret_length) {
        reader.fail(node, name, fmt::format("expected at least {} characters (`missived srs "
                                            "keygen` makes one)", srs_settings::min_secret_length));
      }
    } else if (key == "domain") {
      srs.domain = lowercase_ascii(reader.string(node, name));
    }
  });
}

void read_checks(config_reader& reader, const toml::table& table, checks_settings& checks) {
  reader.each(table, "checks.", {"spf", "dkim", "dmarc"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    std::string& mode = key == "spf" ? checks.spf : key == "dkim" ? checks.dkim : checks.dmarc;
    mode = reader.string(node, name);
    // DKIM alone has no enforce mode: a failed signature is treated as none (RFC 6376 6.3);
    // DMARC is what acts on it.
    if (key == "dkim") {
      if (mode != "off" && mode != "annotate") reader.fail(node, name, "expected \"off\" or \"annotate\"");
    } else if (mode != "off" && mode != "annotate" && mode != "enforce") {
      reader.fail(node, name, "expected \"off\", \"annotate\" or \"enforce\"");
    }
  });
}

// One [[dkim]] table: its keys, then what they mean together.
void read_one_dkim(config_reader& reader, const toml::node& item, std::vector<dkim_settings>& keys) {
  const toml::table& table = reader.table(item, "dkim");
  dkim_settings entry;
  std::string key_file;
  bool bad = false;
  reader.each(table, "dkim.", {"domain", "selector", "key", "algorithm"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    bad = true;  // until the value is read
    if (key == "domain") entry.domain = lowercase_ascii(reader.string(node, name));
    else if (key == "selector") entry.selector = reader.string(node, name);
    else if (key == "key") key_file = reader.string(node, name);
    else if (key == "algorithm") {
      entry.algorithm = reader.string(node, name);
      if (entry.algorithm != "rsa" && entry.algorithm != "ed25519") {
        reader.fail(node, name, "expected \"rsa\" or \"ed25519\"");
      }
    }
    bad = false;
  });
  if (!table.contains("domain") || !table.contains("selector")) {
    reader.fail(item, "dkim", "needs both 'domain' and 'selector'");
  }
  entry.key = key_file.empty()
                  ? std::filesystem::path("dkim") / (entry.domain + "." + entry.selector + ".pem")
                  : std::filesystem::path(key_file);
  if (!bad) keys.push_back(std::move(entry));
}

void read_dkim(config_reader& reader, const toml::node& node, std::vector<dkim_settings>& keys) {
  const toml::array* array = node.as_array();
  if (!array) reader.fail(node, "dkim", "expected [[dkim]] tables");
  for (const auto& item : *array) reader.collect([&] { read_one_dkim(reader, item, keys); });
}

// One [[route]] table: its keys, then what they mean together.
void read_route(config_reader& reader, const toml::node& item, std::vector<route>& routes) {
  const toml::table& table = reader.table(item, "route");
  route entry;
  bool bad = false;
  reader.each(table, "route.", {"domain", "host", "tls", "user", "password"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
    bad = true;  // until the value is read
    if (key == "domain") entry.domain = lowercase_ascii(reader.string(node, name));
    else if (key == "host") entry.host = reader.one_endpoint(node, name);
    else if (key == "tls") {
      entry.tls = reader.string(node, name);
      if (entry.tls != "opportunistic" && entry.tls != "required" && entry.tls != "none") {
        reader.fail(node, name, "expected \"opportunistic\", \"required\" or \"none\"");
      }
    } else if (key == "user") entry.user = reader.string(node, name);
    else if (key == "password") entry.password = reader.string(node, name);
    bad = false;
  });
  if (!table.contains("domain") || !table.contains("host")) {
    reader.fail(item, "route", "needs both 'domain' and 'host'");
  }
  if (entry.user.empty() != entry.password.empty()) {
    reader.fail(item, "route", "'user' and 'password' go together");
  }
  if (!bad) routes.push_back(std::move(entry));
}

void read_routes(config_reader& reader, const toml::node& node, std::vector<route>& routes) {
  const toml::array* array = node.as_array();
  if (!array) reader.fail(node, "route", "expected [[route]] tables");
  for (const auto& item : *array) reader.collect([&] { read_route(reader, item, routes); });
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
  reader.each(root, "", {"hostname", "data_dir", "domains", "run_as", "smtp", "pop3", "tls",
                         "queue", "store", "dns", "metrics", "route", "dkim", "checks", "srs"},
              [&](std::string_view key, const std::string& name, const toml::node& node) {
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
    else if (key == "checks") read_checks(reader, reader.table(node, name), config.checks);
    else if (key == "srs") read_srs(reader, reader.table(node, name), config.srs);
  });
  if (!config.srs.domain.empty() && !config.is_local_domain(config.srs.domain)) {
    reader.collect([&] {
      reader.fail(*root.get("srs")->as_table()->get("domain"), "srs.domain",
                  "expected one of the local domains (bounces to SRS addresses come back there)");
    });
  }
  if (!reader.problems().empty()) throw config_error(reader.problems());
  config.source = config_source{file.string(), reader.take_lines()};
  return config;
}

}  // namespace missive
