// write_rules.cpp: a write's primary values and limit check (write_rules.h).
#include "core/write_rules.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace identity {

std::optional<std::string> key_value(const Request &request, const std::string &type) {
  for (const Key &key : request.keys)
    if (key.type == type) return key.value;
  return std::nullopt;
}

std::optional<std::string> primary_after(const std::string &type, const Request &request,
                                         const ContactState *winner,
                                         const std::optional<std::string> &winner_primary) {
  const std::optional<std::string> held = winner ? winner_primary : std::nullopt;
  const std::optional<std::string> sent = key_value(request, type);
  if (!sent) return request.clear_types.count(type) ? std::nullopt : held;
  if (held && *held != *sent) {  // one of several values the winner holds: its own stays primary
    auto values = winner->permanent.find(type);
    if (values != winner->permanent.end() && values->second.count(*sent)) return held;
  }
  return sent;
}

bool may_pass_limits(const Request &request, const Decision &d) {
  if (!d.merged.empty() || !d.moved.empty()) return true;
  std::map<std::string, int> gained;  // changeable type -> identifiers attached
  for (size_t i : d.attached)
    if (request.keys[i].key_class == KeyClass::kChangeable) gained[request.keys[i].type]++;
  if (gained.empty()) return false;
  if (!d.create) return true;
  return std::any_of(gained.begin(), gained.end(), [](const auto &g) { return g.second > 1; });
}

std::vector<size_t> over_limit(const std::vector<HeldIdentifier> &held, const std::map<std::string, int32_t> &caps) {
  std::map<std::pair<int64_t, std::string>, std::vector<size_t>> groups;  // (contact, type) -> identifiers
  for (size_t i = 0; i < held.size(); i++)
    if (caps.count(held[i].type)) groups[{held[i].contact, held[i].type}].push_back(i);
  std::vector<size_t> over;
  for (auto &[group, members] : groups) {
    const size_t cap = static_cast<size_t>(std::max<int32_t>(caps.at(group.second), 0));
    if (members.size() <= cap) continue;
    std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {  // the ones kept first
      return std::tie(held[a].first_seen, held[a].value) > std::tie(held[b].first_seen, held[b].value);
    });
    over.insert(over.end(), members.begin() + static_cast<std::ptrdiff_t>(cap), members.end());
  }
  std::sort(over.begin(), over.end(), [&](size_t a, size_t b) {
    return std::tie(held[a].contact, held[a].type, held[a].value) < std::tie(held[b].contact, held[b].type, held[b].value);
  });
  return over;
}

}  // namespace identity
