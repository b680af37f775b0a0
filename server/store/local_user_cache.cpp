// Remembered answers about local recipients: see local_user_cache.hpp.
#include "local_user_cache.hpp"

#include "ascii.hpp"

namespace missive {

local_user_cache::local_user_cache(std::chrono::seconds lifetime, std::size_t capacity)
    : lifetime_(lifetime), capacity_(capacity) {}

void local_user_cache::catch_up(std::uint64_t generation) {
  if (generation == generation_) return;
  if (generation > generation_) {
    entries_.clear();
    generation_ = generation;
  }
}

std::optional<local_user_cache::answer> local_user_cache::find(std::string_view address,
                                                               std::uint64_t generation,
                                                               clock::time_point now) {
  std::lock_guard lock(mutex_);
  catch_up(generation);
  if (generation != generation_) return std::nullopt;  // older than what is remembered
  auto it = entries_.find(lowercase_ascii(address));
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.found;
}

void local_user_cache::remember(std::string_view address, answer found,
                                std::uint64_t generation, clock::time_point now) {
  std::lock_guard lock(mutex_);
  catch_up(generation);
  if (generation != generation_) return;
  // Many different addresses (a dictionary attack on RCPT) cost a bounded amount: start over.
  if (entries_.size() >= capacity_) entries_.clear();
  entries_.insert_or_assign(lowercase_ascii(address), entry{std::move(found), now + lifetime_});
}

}  // namespace missive
