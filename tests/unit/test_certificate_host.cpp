// Unit tests for valid_certificate_host: what `missived tls selfsigned --host` accepts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tls.hpp"

using missive::valid_certificate_host;

TEST_CASE("valid_certificate_host: addresses and DNS names") {
  const std::vector<std::string> valid = {
      "127.0.0.1", "::1", "2001:db8::25", "mx.example.test", "localhost", "a",
      "*.example.test", "xn--bcher-kva.example", "mx-1.example.test", "1.example.test",
      std::string(63, 'a') + ".test", std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                          std::string(63, 'c') + "." + std::string(61, 'd'),
  };
  for (const auto& host : valid) {
    CAPTURE(host);
    CHECK(valid_certificate_host(host));
  }
}

TEST_CASE("valid_certificate_host: neither an address nor a DNS name") {
  const std::vector<std::string> invalid = {
      "", ".", "example.test.", ".example.test", "mx..example.test", "127.0.0.1:25",
      "[::1]", "-mx.example.test", "mx-.example.test", "mx_1.example.test", "mx example.test",
      "mx.example.test,DNS:evil.test", "*", "mx.*.example.test", "*.*.example.test",
      "a@b.test", std::string(64, 'a') + ".test",
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
          std::string(62, 'd'),
  };
  for (const auto& host : invalid) {
    CAPTURE(host);
    CHECK_FALSE(valid_certificate_host(host));
  }
}
