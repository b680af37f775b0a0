// The relay's data directory: made ready before anything listens, so a missing or
// read-only directory stops start-up with one clear sentence instead of answering 451 to
// every message; and its free space, checked before a message is accepted.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace missive {

// The data directory cannot be created or written (exit status 73, EX_CANTCREAT).
class data_directory_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Creates `dir` if it is missing (its parent must exist: a mistyped path is not
// silently built) and proves it writable by creating and removing a file in it.
// Throws data_directory_error with a sentence naming the directory and the reason.
void prepare_data_directory(const std::filesystem::path& dir);

// Bytes available to this process on the filesystem holding `dir`; nullopt if unknown.
std::optional<std::uint64_t> free_space(const std::filesystem::path& dir);

// free_space() for the check before each message. A reading far above what is needed
// (by more than `headroom`) is used again for up to `fresh_for`: no disk fills that fast
// between two messages, and a statvfs() per MAIL is saved. Near the limit every
// question reads the filesystem again.
class free_space_gauge {
 public:
  static constexpr std::uint64_t headroom = 1ull << 30;  // 1 GiB
  static constexpr std::chrono::milliseconds fresh_for{1000};

  // At least `needed` bytes are available when the answer is >= needed (nullopt: unknown).
  std::optional<std::uint64_t> available(const std::filesystem::path& dir, std::uint64_t needed);

 private:
  std::optional<std::uint64_t> last_;
  std::chrono::steady_clock::time_point read_at_{};
};

}  // namespace missive
