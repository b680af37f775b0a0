// A counter in the data directory that `missived user add` and `user del` raise after each
// change it commits. The running relay maps the file and reads the counter (one load from
// shared memory, no system call) before trusting what it remembers about users, so an
// answer it cached is dropped the moment an administrator changes the users, and the
// network thread need not ask the database at every RCPT.
#pragma once

#include <cstdint>
#include <filesystem>

namespace missive {

class user_generation {
 public:
  // Maps `file`, creating it (mode 0600, counter 0) if it is missing. If it cannot be
  // opened or mapped, value() stays 0 and `usable()` is false (the caller must then not
  // rely on it).
  explicit user_generation(const std::filesystem::path& file);
  user_generation(const user_generation&) = delete;
  user_generation& operator=(const user_generation&) = delete;
  ~user_generation();

  bool usable() const { return counter_ != nullptr; }
  // The counter as it is now (acquire: what the changer committed before raising it is
  // visible to a database read made after this load).
  std::uint64_t value() const;
  // Raises the counter by one; false if the file cannot be written.
  bool bump();

 private:
  int fd_ = -1;
  bool writable_ = false;
  std::uint64_t* counter_ = nullptr;
};

// The counter's file in a data directory.
std::filesystem::path user_generation_file(const std::filesystem::path& data_dir);

}  // namespace missive
