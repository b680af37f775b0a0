// Where the relay finds its SRS key: [srs] secret in the configuration, else the file
// srs.secret in the data directory that `missived srs keygen` writes (mode 0600), so the key
// need not sit in a configuration file that others may read.
#pragma once

#include <filesystem>
#include <string>

namespace missive {

struct server_config;

// The key file in a data directory.
std::filesystem::path srs_secret_file(const std::filesystem::path& data_dir);

// The SRS key, or "" when none is configured (forwarded mail then keeps its sender). Throws
// config_error, naming the file, when srs.secret exists but cannot be read or is too short.
std::string load_srs_secret(const server_config& config);

}  // namespace missive
