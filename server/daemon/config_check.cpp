// Checks of a loaded configuration: see config_check.hpp.
#include "config_check.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dkim_signer.hpp"
#include "server_config.hpp"
#include "srs_secret.hpp"
#include "tls.hpp"

namespace missive {

namespace {

// "" when `path` can be opened for reading, else why not.
std::string unreadable(const std::filesystem::path& path) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  return fmt::format("cannot read {}: {}", path.string(), std::strerror(errno));
}

void check_tls(const server_config& config, std::vector<std::string>& problems) {
  const auto& source = config.source;
  const auto& tls = config.tls;
  if (tls.cert.empty() && tls.key.empty()) {
    if (!config.smtp.submissions.empty()) {
      problems.push_back(source.where("smtp.submissions") + ": implicit TLS needs [tls] cert and key");
    }
    if (!config.pop3.pop3s.empty()) {
      problems.push_back(source.where("pop3.pop3s") + ": implicit TLS needs [tls] cert and key");
    }
    return;
  }
  if (tls.cert.empty() || tls.key.empty()) {
    std::string_view given = tls.cert.empty() ? "tls.key" : "tls.cert";
    problems.push_back(source.where(given) + ": [tls] needs both cert and key");
    return;
  }
  std::string cert_problem = unreadable(tls.cert);
  std::string key_problem = unreadable(tls.key);
  if (!cert_problem.empty()) problems.push_back(source.where("tls.cert") + ": " + cert_problem);
  if (!key_problem.empty()) problems.push_back(source.where("tls.key") + ": " + key_problem);
  if (!cert_problem.empty() || !key_problem.empty()) return;
  try {
    make_server_tls_context(tls.cert, tls.key);
  } catch (const tls_error& e) {
    problems.push_back(source.where("tls.cert") + ": " + e.what());
  }
}

// A run_as that names no user, or root, is a mistake whoever starts the relay: check it
// before the day it is started as root.
void check_run_as(const server_config& config, std::vector<std::string>& problems) {
  if (!config.run_as) return;
  const passwd* entry = ::getpwnam(config.run_as->c_str());
  if (!entry) {
    problems.push_back(fmt::format("{}: there is no user '{}'", config.source.where("run_as"), *config.run_as));
  } else if (entry->pw_uid == 0) {
    problems.push_back(fmt::format("{}: '{}' is root", config.source.where("run_as"), *config.run_as));
  }
}

// Each [[dkim]] key is read as the relay reads it at start; the problem names its file,
// domain and selector, and the line of the first [[dkim]] table.
void check_dkim(const server_config& config, std::vector<std::string>& problems) {
  for (const auto& settings : config.dkim) {
    try {
      dkim_key key(settings, config.data_dir);
    } catch (const config_error& e) {
      for (const auto& problem : e.problems()) {
        problems.push_back(config.source.where("dkim") + ": " + problem);
      }
    }
  }
}

// The SRS key is read as the relay reads it at start (srs_secret.hpp).
void check_srs(const server_config& config, std::vector<std::string>& problems) {
  try {
    load_srs_secret(config);
  } catch (const config_error& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
  }
}

}  // namespace

std::vector<std::string> check_server_config(const server_config& config) {
  std::vector<std::string> problems;
  check_run_as(config, problems);
  check_tls(config, problems);
  check_dkim(config, problems);
  check_srs(config, problems);
  return problems;
}

void require_usable_config(const server_config& config) {
  auto problems = check_server_config(config);
  if (!problems.empty()) throw config_error(std::move(problems));
}

}  // namespace missive
