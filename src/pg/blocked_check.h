// blocked_check.h: whether a key is one of contact_identity.blocked_values.
#pragma once

#include <optional>
#include <string>

#include "pg/config_cache.h"

namespace pgshell {

// What blocked_values says about a key, found without calling into
// PostgreSQL (so on any thread), or undecided when only the database can
// say it with the same answer as blocked_reason.
struct BlockedCheck {
  bool decided = false;
  std::optional<size_t> row;  // decided: the first blocked row the key matches, if any
};

// Decided when the value as sent and as normalized are ASCII, are lowered
// by ASCII's rules in this database (no capital letter, or the database's
// lower() maps A-Z to a-z), and every pattern that could apply is of the
// subset in core/ascii_regex.h; then the answer is blocked_reason's.
BlockedCheck blocked_check_here(const BlockedValues &blocked, const std::string &type, const std::string &raw,
                                const std::string &normalized);

// The reason of the first blocked value (by blocked_id) of the key's type,
// or of every type, that the key matches: its value as sent (spaces trimmed)
// or as normalized equals it ignoring case (the database's lower()), or
// matches it as a case-insensitive pattern (~*). nullopt: not blocked.
// `checked` is blocked_check_here's answer for the key (found on whichever
// thread normalized it); when it is undecided, the database's lower() and
// ~* decide. Needs the backend's thread.
std::optional<std::string> blocked_reason(const BlockedValues &blocked, const std::string &type,
                                          const std::string &raw, const std::string &normalized,
                                          const BlockedCheck &checked);

}  // namespace pgshell
