// `missived dkim …`: see admin_dkim.hpp.
#include "admin_dkim.hpp"

#include <fmt/format.h>

#include <iostream>

#include "ascii.hpp"
#include "dkim_signer.hpp"
#include "exit_codes.hpp"
#include "server_config.hpp"

namespace missive {

int run_dkim_keygen(const server_config& config, const dkim_keygen_command& command) {
  dkim_settings settings;
  settings.domain = lowercase_ascii(command.domain);
  settings.selector = command.selector;
  settings.algorithm = command.algorithm;
  settings.key = std::filesystem::path("dkim") / (settings.domain + "." + settings.selector + ".pem");
  // Where the configuration already expects this key, it goes there.
  for (const auto& configured : config.dkim) {
    if (configured.domain == settings.domain && configured.selector == settings.selector) {
      settings.key = configured.key;
    }
  }
  auto path = settings.key.is_absolute() ? settings.key : config.data_dir / settings.key;
  try {
    generate_dkim_key(settings, path);
  } catch (const std::exception& e) {
    std::cerr << "missived: " << e.what() << "\n";
    return exit_code::cant_create;
  }
  dkim_key key(settings, config.data_dir);
  std::cerr << fmt::format("missived: wrote {}; publish this record, then sign with [[dkim]] "
                           "domain = \"{}\", selector = \"{}\"{}\n",
                           path.string(), settings.domain, settings.selector,
                           settings.algorithm == "ed25519" ? ", algorithm = \"ed25519\"" : "");
  std::cout << key.dns_record() << "\n";
  return exit_code::ok;
}

int run_dkim_show(const server_config& config) {
  if (config.dkim.empty()) std::cerr << "missived: no [[dkim]] key is configured\n";
  for (const auto& settings : config.dkim) {
    dkim_key key(settings, config.data_dir);  // config_error: exit 78, from main
    std::cout << key.dns_record() << "\n";
  }
  return exit_code::ok;
}

}  // namespace missive
