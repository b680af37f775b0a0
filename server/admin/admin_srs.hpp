// `missived srs keygen`: the key of SRS addresses (srs_address.hpp), written into the data
// directory where the relay reads it when [srs] secret is not set (srs_secret.hpp).
#pragma once

namespace missive {

struct server_config;

// Writes a new random key to DATA_DIR/srs.secret (mode 0600, never over an existing one:
// exit 73) and prints where it is; exit status.
int run_srs_keygen(const server_config& config);

}  // namespace missive
