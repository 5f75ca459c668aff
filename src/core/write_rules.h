// write_rules.h: what a decided write leaves on its contact, beyond the
// decision itself: its primary email and phone, whether it may pass a
// type's max_per_contact, and which identifiers then go. Pure data; the
// write plan (write_plan.h) and the writer ask these.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

// An identifier a contact holds, as a type's limit sees it.
struct HeldIdentifier {
  int64_t contact = 0;
  std::string type, value;
  int64_t first_seen = 0;  // when first seen, in microseconds
};

// Which of `held` their contacts give up to keep each type within its
// max_per_contact (`caps`: type -> cap; other types have none): past the
// cap, those first seen longest ago, and of two seen at once the smaller
// value. A move or a merge does not make an old token new. Indexes into
// `held`, by contact, type and value.
std::vector<size_t> over_limit(const std::vector<HeldIdentifier> &held, const std::map<std::string, int32_t> &caps);

}  // namespace identity
