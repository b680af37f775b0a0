// The one translation unit that compiles Asio's implementation (ASIO_SEPARATE_COMPILATION),
// its TLS part included.
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
