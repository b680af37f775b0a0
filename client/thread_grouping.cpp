// Thread grouping: see thread_grouping.hpp.
#include "thread_grouping.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include "ascii.hpp"

namespace missive::client {

namespace {

// Union-find over message indexes, with path halving.
struct disjoint_sets {
  std::vector<std::size_t> parent;
  explicit disjoint_sets(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::size_t find(std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(std::size_t a, std::size_t b) { parent[find(a)] = find(b); }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The length of a reply or forward prefix at the start of `s` ("re:", "fwd:", "re[2]:"),
// 0 when there is none.
std::size_t prefix_length(std::string_view s) {
  for (std::string_view word : {"re", "fwd", "fw", "aw", "sv"}) {
    if (s.size() <= word.size() || !iequals(s.substr(0, word.size()), word)) continue;
    std::size_t i = word.size();
    if (s[i] == '[') {
      auto close = s.find(']', i);
      if (close == std::string_view::npos) continue;
      i = close + 1;
    }
    if (i < s.size() && s[i] == ':') return i + 1;
  }
  return 0;
}

}  // namespace

std::string base_subject(std::string_view subject) {
  std::string_view s = trim(subject);
  // Each round removes one prefix: bounded by the subject's length.
  while (auto n = prefix_length(s)) s = trim(s.substr(n));
  std::string out(s);
  for (auto& c : out) c = to_lower_ascii(c);
  return out;
}

std::vector<std::vector<std::size_t>> group_threads(const std::vector<thread_member>& messages) {
  disjoint_sets sets(messages.size());
  // Each msg-id seen (own, referenced, replied to) belongs to the first message naming it:
  // two messages naming one id are in one conversation, even when that message is absent.
  std::map<std::string, std::size_t> by_id;
  auto link = [&](const std::string& id, std::size_t i) {
    auto [it, fresh] = by_id.emplace(id, i);
    if (!fresh) sets.join(i, it->second);
  };
  std::map<std::string, std::size_t> by_subject;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.message_id.empty()) link(m.message_id, i);
    for (const auto& id : m.in_reply_to) link(id, i);
    for (const auto& id : m.references) link(id, i);
    auto subject = base_subject(m.subject);
    if (!subject.empty()) by_subject.emplace(subject, i);
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.in_reply_to.empty() || !m.references.empty()) continue;
    auto subject = base_subject(m.subject);
    if (subject.empty()) continue;
    if (auto it = by_subject.find(subject); it != by_subject.end()) sets.join(i, it->second);
  }
  std::map<std::size_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < messages.size(); ++i) groups[sets.find(i)].push_back(i);
  auto older = [&](std::size_t a, std::size_t b) {
    const auto& x = messages[a];
    const auto& y = messages[b];
    return x.date_unix != y.date_unix ? x.date_unix < y.date_unix : x.id < y.id;
  };
  std::vector<std::vector<std::size_t>> threads;
  for (auto& [root, members] : groups) {
    std::sort(members.begin(), members.end(), older);
    threads.push_back(std::move(members));
  }
  std::sort(threads.begin(), threads.end(), [&](const auto& a, const auto& b) {
    return older(b.back(), a.back());  // newest last message first
  });
  return threads;
}

}  // namespace missive::client
