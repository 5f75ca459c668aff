// unmerge_rules.h: what unmerge_contact gives back, decided from what the
// merge's log row recorded and what the two contacts hold now. Pure data;
// the shell (src/pg/unmerge.cpp) reads, writes and logs what these say.
// The rules are in docs/identity-rules.md ("Unmerge").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/write_plan.h"

namespace identity {

// An identifier the merge brought, with the times its log row recorded
// (ISO 8601) and where it is after the unmerge took back what the winner
// still held.
struct BroughtKeyNow {
  std::string type, value;
  std::optional<std::string> first_seen_at, attached_at;
  bool returned = false;          // the winner held it: it went back to the loser
  bool held = false;              // otherwise: someone holds it ...
  std::optional<int64_t> holder;  // ... this contact
};

// The brought identifiers in three lists: back with the loser already,
// free (detached since, or remembered without a holder: given back where
// still free), and held by another contact (they stay).
struct BroughtSplit {
  std::vector<std::pair<std::string, std::string>> returned;
  std::vector<BroughtKeyNow> free, held;
};
BroughtSplit split_brought(const std::vector<BroughtKeyNow> &brought);

// The external ID, email and phone values a contact holds after the
// unmerge, by type, the longest held first.
using HeldValues = std::map<std::string, std::vector<std::string>>;

// The primary values of both contacts after the unmerge. The winner keeps
// those of its own it still holds (an email or phone that went back is
// replaced by the one it has held longest; an external ID it took from the
// loser goes); the loser gets back those the merge recorded that it holds
// again, else its longest-held email or phone.
struct UnmergePrimaries {
  Primaries winner, loser;
};
UnmergePrimaries unmerge_primaries(const Primaries &winner_own, const Primaries &recorded, const HeldValues &winner_holds,
                                   const HeldValues &loser_holds);

// The loser's primary values as the merge's detail recorded them (string
// members external_id, email, phone). Throws IdentityError when the detail
// is not JSON.
Primaries recorded_primaries(const std::string &merge_detail);

// An identifier in the unmerged row's detail, with the contact it went to
// or stayed with (nullopt: none).
struct UnmergedKey {
  std::string type, value;
  std::optional<int64_t> contact;
};

// The detail of the "unmerged" step: the merge's log row, the identifiers
// that went back, those given back where free, those that stayed, and the
// number of events that went back.
std::string unmerge_detail(int64_t merge_log_id, const std::vector<std::pair<std::string, std::string>> &returned,
                           const std::vector<UnmergedKey> &given_back, const std::vector<UnmergedKey> &stayed,
                           uint64_t events);

}  // namespace identity
