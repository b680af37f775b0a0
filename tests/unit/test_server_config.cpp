// Unit tests for the relay's configuration loader, durations and IP networks.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "duration.hpp"
#include "ip_network.hpp"
#include "server_config.hpp"

using namespace missive;

namespace {

// Writes `text` to a fresh temporary file and returns its path.
std::filesystem::path write_config(const std::string& text) {
  static int counter = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("missive-config-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter++) + ".toml");
  std::ofstream(path) << text;
  return path;
}

// The message of the config_error that loading `text` throws, or "" when it loads.
std::string load_error(const std::string& text) {
  auto path = write_config(text);
  try {
    load_server_config(path);
  } catch (const config_error& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "";
}

}  // namespace

TEST_CASE("durations parse with their units and refuse anything else") {
  CHECK(parse_duration("30s") == std::chrono::seconds(30));
  CHECK(parse_duration("5m") == std::chrono::seconds(300));
  CHECK(parse_duration("1h") == std::chrono::seconds(3600));
  CHECK(parse_duration("5d") == std::chrono::seconds(432000));
  for (const char* bad : {"", "s", "5", "5x", "-5s", "5 s", "1.5h", "99999999999999999999d"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
  CHECK(format_duration(std::chrono::seconds(300)) == "5m");
  CHECK(format_duration(std::chrono::seconds(90)) == "90s");
}

TEST_CASE("IP networks match addresses of their own family only within the prefix") {
  auto loopback = parse_ip_network("127.0.0.0/8");
  REQUIRE(loopback);
  CHECK(loopback->contains(*parse_ip_address("127.1.2.3")));
  CHECK_FALSE(loopback->contains(*parse_ip_address("128.0.0.1")));
  CHECK_FALSE(loopback->contains(*parse_ip_address("::1")));
  auto v6 = parse_ip_network("2001:db8::/32");
  REQUIRE(v6);
  CHECK(v6->contains(*parse_ip_address("2001:db8:1::5")));
  CHECK_FALSE(v6->contains(*parse_ip_address("2001:db9::5")));
  auto odd = parse_ip_network("10.0.0.0/9");
  REQUIRE(odd);
  CHECK(odd->contains(*parse_ip_address("10.127.255.255")));
  CHECK_FALSE(odd->contains(*parse_ip_address("10.128.0.0")));
  CHECK(parse_ip_network("192.0.2.7")->contains(*parse_ip_address("192.0.2.7")));
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "x/8"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_ip_network(bad).has_value());
  }
}

TEST_CASE("defaults are the documented embedded ones") {
  auto config = default_server_config();
  CHECK(config.data_dir == "./missive-data");
  REQUIRE(config.smtp.listen.size() == 1);
  CHECK(config.smtp.listen[0].str() == "127.0.0.1:2525");
  REQUIRE(config.pop3.listen.size() == 1);
  CHECK(config.pop3.listen[0].str() == "127.0.0.1:2110");
  CHECK(config.domains == std::vector<std::string>{"localhost"});
  CHECK(config.smtp.max_message_size == 26214400);
  CHECK(config.smtp.max_recipients == 100);
  CHECK(config.database_path() == std::filesystem::path("./missive-data/missive.db"));
}

TEST_CASE("a full configuration file loads") {
  auto path = write_config(R"(
hostname = "mx.example.test"
data_dir = "/var/lib/missive"
domains  = ["Example.TEST", "other.test"]

[smtp]
listen           = ["127.0.0.1:2525", "[::1]:2526"]
trusted_networks = ["10.0.0.0/8"]
max_message_size = 1000
max_recipients   = 3
command_timeout  = "2s"
data_timeout     = "1m"
max_connections  = 7

[pop3]
listen = ["127.0.0.1:0"]
idle_timeout = "30s"

[queue]
retry_initial = "1s"
retry_max = "10s"
max_lifetime = "1h"

[[route]]
domain = "b.test"
host = "127.0.0.1:2600"
)");
  auto config = load_server_config(path);
  std::filesystem::remove(path);
  CHECK(config.hostname == "mx.example.test");
  CHECK(config.domains == std::vector<std::string>{"example.test", "other.test"});
  CHECK(config.is_local_domain("EXAMPLE.test"));
  CHECK_FALSE(config.is_local_domain("example.org"));
  REQUIRE(config.smtp.listen.size() == 2);
  CHECK(config.smtp.listen[1].host == "::1");
  CHECK(config.smtp.listen[1].port == 2526);
  CHECK(config.smtp.max_message_size == 1000);
  CHECK(config.smtp.max_recipients == 3);
  CHECK(config.smtp.command_timeout == std::chrono::seconds(2));
  CHECK(config.smtp.data_timeout == std::chrono::seconds(60));
  CHECK(config.smtp.max_connections == 7);
  REQUIRE(config.smtp.trusted_networks.size() == 1);
  CHECK(config.pop3.idle_timeout == std::chrono::seconds(30));
  CHECK(config.queue.retry_max == std::chrono::seconds(10));
  REQUIRE(config.routes.size() == 1);
  CHECK(config.routes[0].host.port == 2600);
}

TEST_CASE("configuration errors name the file, the line and the key") {
  std::string error = load_error("hostname = \"a\"\n\n[smtp]\nlisten = [\"127.0.0.1:2525\"]\nbogus = 1\n");
  CHECK(error.find(".toml:5:") != std::string::npos);
  CHECK(error.find("unknown key 'smtp.bogus'") != std::string::npos);

  error = load_error("[smtp]\nmax_recipients = \"many\"\n");
  CHECK(error.find(".toml:2:") != std::string::npos);
  CHECK(error.find("smtp.max_recipients") != std::string::npos);

  error = load_error("[queue]\nretry_initial = \"soon\"\n");
  CHECK(error.find(".toml:2:") != std::string::npos);
  CHECK(error.find("queue.retry_initial") != std::string::npos);

  error = load_error("[smtp]\nlisten = [\"localhost:25\"]\n");
  CHECK(error.find("smtp.listen") != std::string::npos);

  error = load_error("domains = [\"a.test\"\n");
  CHECK(error.find(".toml:") != std::string::npos);

  CHECK(load_error("[smtp]\nmax_recipients = 5\n").empty());
}

TEST_CASE("plaintext_auth: one policy for SMTP AUTH and POP3, an enum once loaded") {
  for (auto [text, policy] : {std::pair{"never", plaintext_auth_policy::never},
                              std::pair{"loopback", plaintext_auth_policy::loopback},
                              std::pair{"always", plaintext_auth_policy::always}}) {
    auto path = write_config(fmt::format("[smtp]\nplaintext_auth = \"{}\"\n", text));
    CHECK(load_server_config(path).smtp.plaintext_auth == policy);
    std::filesystem::remove(path);
  }
  CHECK(load_error("[smtp]\nplaintext_auth = \"sometimes\"\n").find("plaintext_auth") !=
        std::string::npos);
  using enum plaintext_auth_policy;
  // policy, encrypted, loopback -> may a password cross?
  CHECK(password_may_cross(never, true, false));
  CHECK_FALSE(password_may_cross(never, false, true));
  CHECK(password_may_cross(loopback, false, true));
  CHECK_FALSE(password_may_cross(loopback, false, false));
  CHECK(password_may_cross(always, false, false));
}

TEST_CASE("every problem of a file is reported at once, each with its line and key") {
  auto path = write_config(
      "bogus = 1\n"                       // 1
      "[smtp]\n"                          // 2
      "command_timeout = \"5 weeks\"\n"   // 3
      "listen = [\"localhost:25\"]\n"     // 4
      "[[route]]\n"                       // 5
      "domain = \"a.test\"\n"             // 6
      "host = \"127.0.0.1:2526\"\n"       // 7
      "tls = \"sometimes\"\n");           // 8
  std::vector<std::string> problems;
  try {
    load_server_config(path);
  } catch (const config_error& e) {
    problems = e.problems();
  }
  std::filesystem::remove(path);
  REQUIRE(problems.size() == 4);
  CHECK(problems[0] == fmt::format("{}:1: unknown key 'bogus'", path.string()));
  CHECK(problems[1].starts_with(fmt::format("{}:3: smtp.command_timeout: expected a duration", path.string())));
  CHECK(problems[2].starts_with(fmt::format("{}:4: smtp.listen: 'localhost:25' is not", path.string())));
  CHECK(problems[3].starts_with(fmt::format("{}:8: route.tls: expected", path.string())));
}

TEST_CASE("a loaded configuration remembers the line of each key") {
  auto path = write_config("hostname = \"mx.test\"\n\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
  server_config config = load_server_config(path);
  std::filesystem::remove(path);
  CHECK(config.source.where("tls.key") == fmt::format("{}:5: tls.key", path.string()));
  CHECK(config.source.where("hostname") == fmt::format("{}:1: hostname", path.string()));
  CHECK(config.source.where("smtp.listen") == "smtp.listen");
  CHECK(default_server_config().source.where("tls.cert") == "tls.cert");
}

TEST_CASE("[metrics] listen: off when absent, one address, errors with file, line and key") {
  CHECK_FALSE(default_server_config().metrics.listen.has_value());
  auto path = write_config("[metrics]\nlisten = \"[::1]:9187\"\n");
  auto config = load_server_config(path);
  std::filesystem::remove(path);
  REQUIRE(config.metrics.listen.has_value());
  CHECK(config.metrics.listen->str() == "[::1]:9187");
  for (const char* bad : {"[metrics]\nlisten = \"localhost:9187\"\n",
                          "[metrics]\nlisten = \"127.0.0.1\"\n",
                          "[metrics]\nlisten = [\"127.0.0.1:9187\"]\n"}) {
    CAPTURE(bad);
    std::string error = load_error(bad);
    CHECK(error.find(".toml:2: metrics.listen") != std::string::npos);
  }
  CHECK(load_error("[metrics]\nlisten = \"127.0.0.1:9187\"\npath = \"/m\"\n").find(
            ".toml:3: unknown key 'metrics.path'") != std::string::npos);
}

TEST_CASE("[queue] delay_warning: a duration, \"0\" for never, 4h by default") {
  CHECK(default_server_config().queue.delay_warning == std::chrono::hours(4));
  auto load = [](const std::string& value) {
    auto path = write_config("[queue]\ndelay_warning = " + value + "\n");
    auto config = load_server_config(path);
    std::filesystem::remove(path);
    return config.queue.delay_warning;
  };
  CHECK(load("\"0\"") == std::chrono::seconds(0));
  CHECK(load("\"0s\"") == std::chrono::seconds(0));
  CHECK(load("\"30s\"") == std::chrono::seconds(30));
  CHECK(load("\"2h\"") == std::chrono::hours(2));
  std::string error = load_error("[queue]\ndelay_warning = \"later\"\n");
  CHECK(error.find(".toml:2:") != std::string::npos);
  CHECK(error.find("queue.delay_warning") != std::string::npos);
  CHECK(load_error("[queue]\ndelay_warning = 0\n").find("queue.delay_warning") != std::string::npos);
}

TEST_CASE("[checks]: spf and dmarc may enforce, dkim only annotate; bad modes name line and key") {
  auto defaults = default_server_config();
  CHECK(defaults.checks.spf == "off");
  CHECK(defaults.checks.dmarc == "off");
  CHECK_FALSE(defaults.checks.any());
  auto path = write_config("[checks]\nspf = \"enforce\"\ndkim = \"annotate\"\ndmarc = \"annotate\"\n");
  auto config = load_server_config(path);
  std::filesystem::remove(path);
  CHECK(config.checks.spf == "enforce");
  CHECK(config.checks.dkim == "annotate");
  CHECK(config.checks.dmarc == "annotate");
  CHECK(config.checks.any());
  CHECK(load_error("[checks]\ndkim = \"enforce\"\n").find(".toml:2: checks.dkim") != std::string::npos);
  CHECK(load_error("[checks]\nspf = \"on\"\n").find(".toml:2: checks.spf") != std::string::npos);
  CHECK(load_error("[checks]\n\ndmarc = true\n").find(".toml:3: checks.dmarc") != std::string::npos);
  CHECK(load_error("[checks]\narc = \"off\"\n").find("unknown key 'checks.arc'") != std::string::npos);
}
