// The relay's SRS key: see srs_secret.hpp.
#include "srs_secret.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "server_config.hpp"

namespace missive {

std::filesystem::path srs_secret_file(const std::filesystem::path& data_dir) {
  return data_dir / "srs.secret";
}

std::string load_srs_secret(const server_config& config) {
  if (!config.srs.secret.empty()) return config.srs.secret;
  auto file = srs_secret_file(config.data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  std::ifstream in(file);
  std::string secret;
  if (!in || !std::getline(in, secret)) {
    throw config_error(fmt::format("srs: cannot read {}: {}", file.string(), std::strerror(errno)));
  }
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.size() < srs_settings::min_secret_length) {
    throw config_error(fmt::format("srs: {} holds fewer than {} characters (`missived srs keygen` "
                                   "writes a new one)", file.string(), srs_settings::min_secret_length));
  }
  return secret;
}

}  // namespace missive
