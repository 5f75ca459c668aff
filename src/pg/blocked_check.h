// blocked_check.h: whether a key is one of contact_identity.blocked_values.
#pragma once

#include <optional>
#include <string>

#include "pg/config_cache.h"

namespace pgshell {

// The reason of the first blocked value (by blocked_id) of the key's type,
// or of every type, that the key matches: its value as sent (spaces trimmed)
// or as normalized equals it ignoring case (the database's lower()), or
// matches it as a case-insensitive pattern (~*). nullopt: not blocked.
std::optional<std::string> blocked_reason(const BlockedValues &blocked, const std::string &type,
                                          const std::string &raw, const std::string &normalized);

}  // namespace pgshell
