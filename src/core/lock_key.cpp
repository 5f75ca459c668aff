// lock_key.cpp: FNV-1a over account, type and value.
#include "core/lock_key.h"

namespace identity {
namespace {

constexpr uint64_t kOffset = 14695981039346656037ULL;
constexpr uint64_t kPrime = 1099511628211ULL;

uint64_t mix(uint64_t h, unsigned char byte) { return (h ^ byte) * kPrime; }

}  // namespace

int64_t lock_key(int64_t account_id, std::string_view type, std::string_view value) {
  uint64_t h = kOffset;
  uint64_t account = static_cast<uint64_t>(account_id);
  for (int i = 0; i < 8; i++) h = mix(h, static_cast<unsigned char>(account >> (8 * i)));
  for (char c : type) h = mix(h, static_cast<unsigned char>(c));
  h = mix(h, 0);  // separator: ("ab","c") and ("a","bc") differ
  for (char c : value) h = mix(h, static_cast<unsigned char>(c));
  return static_cast<int64_t>(h);
}

}  // namespace identity
