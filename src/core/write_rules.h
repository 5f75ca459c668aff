// write_rules.h: what a decided write leaves on its contact, beyond the
// decision itself: its primary email and phone, and whether it may pass a
// type's max_per_contact. Pure data; every writer (upsert_contact, the
// set-based import) asks these.
#pragma once

#include <optional>
#include <string>

#include "core/decision.h"

namespace identity {

// Value of the request's first key of this type, if it has one.
std::optional<std::string> key_value(const Request &request, const std::string &type);

// The primary email or phone (`type` "email" or "phone") a write leaves on
// its winner, merges aside: the value the request sends, unless the winner
// already holds it besides its own primary (`winner_primary`; after a merge
// it holds several); with none sent, the winner's, unless the request
// clears the type. `winner` is null for a new contact; its permanent
// identifiers must have been read when the request sends a value of `type`
// other than winner_primary.
std::optional<std::string> primary_after(const std::string &type, const Request &request,
                                         const ContactState *winner,
                                         const std::optional<std::string> &winner_primary);

// Whether a write may leave its contact past a type's limit: it merges,
// moves keys, or gains changeable identifiers (for a new contact, more
// than one of a type, since every limit is 1 or more).
bool may_pass_limits(const Request &request, const Decision &decision);

}  // namespace identity
