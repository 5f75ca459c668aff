// mutations.h: random damage to a valid JSON document, for the tests that
// feed readers hostile input.
#pragma once

#include <random>
#include <string>

namespace identity {

// doc with one to four random edits: a byte replaced, a few bytes dropped,
// or a JSON-significant character inserted. Never empty.
inline std::string mutate(const std::string &doc, std::mt19937 &rng) {
  static const char kInserts[] = "{}[]\",:\\u0-e'";
  std::string s = doc;
  for (int k = rng() % 4; k >= 0; k--) {
    size_t at = rng() % s.size();
    switch (rng() % 3) {
      case 0: s[at] = static_cast<char>(rng()); break;
      case 1: s.erase(at, 1 + rng() % 3); break;
      default: s.insert(at, 1, kInserts[rng() % (sizeof kInserts - 1)]); break;
    }
    if (s.empty()) s = "{";
  }
  return s;
}

}  // namespace identity
