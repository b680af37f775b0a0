// The users' change counter: see user_generation.hpp.
#include "user_generation.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace missive {

namespace {

constexpr std::size_t counter_size = sizeof(std::uint64_t);

}  // namespace

std::filesystem::path user_generation_file(const std::filesystem::path& data_dir) {
  return data_dir / "users.generation";
}

user_generation::user_generation(const std::filesystem::path& file) {
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0) {
    writable_ = true;
  } else {
    fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);  // another user's file: read it only
    if (fd_ < 0) return;
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return;
  // A new file (or one cut short) gets its eight bytes; zeros are counter 0.
  if (static_cast<std::size_t>(st.st_size) < counter_size &&
      (!writable_ || ::ftruncate(fd_, counter_size) != 0)) {
    return;
  }
  int protection = writable_ ? PROT_READ | PROT_WRITE : PROT_READ;
  void* mapped = ::mmap(nullptr, counter_size, protection, MAP_SHARED, fd_, 0);
  if (mapped == MAP_FAILED) return;
  counter_ = static_cast<std::uint64_t*>(mapped);
}

user_generation::~user_generation() {
  if (counter_) ::munmap(counter_, counter_size);
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t user_generation::value() const {
  return counter_ ? __atomic_load_n(counter_, __ATOMIC_ACQUIRE) : 0;
}

bool user_generation::bump() {
  if (!counter_ || !writable_) return false;
  // Atomic on the shared page: two administrators changing users at once both count.
  __atomic_fetch_add(counter_, 1, __ATOMIC_SEQ_CST);
  return true;
}

}  // namespace missive
