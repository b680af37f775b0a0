// Bytes read from a connection and not yet consumed. Unlike growing a std::string, making
// room for the next read does not zero-fill it first: a 64 KiB read that brings a 1 KiB
// message touches one page, not sixteen, and a buffer that served one DATA is reused.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace missive {

class input_buffer {
 public:
  // What is buffered and not yet consumed.
  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }

  // Room for at least `n` more octets after what is buffered; fill it, then commit().
  char* prepare(std::size_t n) {
    if (capacity_ - end_ >= n) return storage_.get() + end_;
    std::size_t size = end_ - begin_;
    if (capacity_ - size >= n) {
      std::memmove(storage_.get(), storage_.get() + begin_, size);
    } else {
      std::size_t grown = std::max(capacity_ * 2, size + n);
      std::unique_ptr<char[]> larger(new char[grown]);  // uninitialized on purpose
      if (size > 0) std::memcpy(larger.get(), storage_.get() + begin_, size);
      storage_ = std::move(larger);
      capacity_ = grown;
    }
    begin_ = 0;
    end_ = size;
    return storage_.get() + end_;
  }
  // Adds `n` octets written into the room prepare() gave.
  void commit(std::size_t n) { end_ += n; }

  // Drops `n` octets from the front. When everything is consumed, a buffer larger than
  // `keep` octets is given back, so an idle session stays small after a large read.
  void consume(std::size_t n, std::size_t keep) {
    begin_ += n;
    if (begin_ != end_) return;
    begin_ = end_ = 0;
    if (capacity_ > keep) {
      storage_.reset();
      capacity_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace missive
