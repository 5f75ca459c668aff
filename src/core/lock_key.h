// lock_key.h: the advisory-lock key of one identifier, so that concurrent
// calls touching the same (account, type, value) run one after the other.
#pragma once

#include <cstdint>
#include <string_view>

namespace identity {

// A stable 64-bit FNV-1a hash of account, type and value. Two different
// identifiers may share a key; that only makes their callers wait in turn.
int64_t lock_key(int64_t account_id, std::string_view type, std::string_view value);

}  // namespace identity
