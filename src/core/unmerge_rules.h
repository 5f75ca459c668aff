// unmerge_rules.h: what unmerge_contact gives back, decided from what the
// merge's log row recorded and what the two contacts hold now: the plan of
// an unmerge. Pure data; src/pg/unmerge.cpp reads what it needs under the
// locks of both contacts, src/pg/writer_unmerge.cpp carries the plan out.
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
// (ISO 8601) and the contact that holds it now (none: detached since, or
// remembered without a holder).
struct BroughtKeyNow {
  std::string type, value;
  std::optional<std::string> first_seen_at, attached_at;
  std::optional<int64_t> holder;
};

// The brought identifiers in three lists: those the winner still holds
// (they go back to the loser), the free ones (given back where still
// free), and those another contact holds (they stay).
struct BroughtSplit {
  std::vector<std::pair<std::string, std::string>> returned;
  std::vector<BroughtKeyNow> free, held;
};
BroughtSplit split_brought(const std::vector<BroughtKeyNow> &brought, int64_t winner);

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

// A token the limit pushed out of the winner after the merge, from the
// log: given back to the winner when this loser was the one merge that
// pushed it out (with several, it may have been another loser's).
struct PushedOut {
  std::string type, value;
  std::optional<std::string> first_seen_at, attached_at;
  bool only_this_loser = false;
};

// What unmerge_contact does, planned from what it read under the locks of
// both contacts; src/pg/writer_unmerge.cpp carries it out.
struct UnmergePlan {
  int64_t loser = 0, winner = 0, merge_log_id = 0;
  std::string merge_detail;  // the merge's log detail (JSON): times, event IDs, filled gaps
  std::vector<std::pair<std::string, std::string>> returned;  // from the winner back to the loser
  std::vector<BroughtKeyNow> to_loser, to_winner;             // given back where still free
  std::vector<UnmergedKey> stayed;                            // with the contact that holds them
  Primaries winner_own;  // the winner's columns as locked
  Primaries recorded;    // the loser's, as the merge recorded them
};
UnmergePlan plan_unmerge(int64_t loser, int64_t winner, int64_t merge_log_id, const std::string &merge_detail,
                         const std::vector<BroughtKeyNow> &brought, const std::vector<PushedOut> &pushed_out,
                         const Primaries &winner_own);

// The step that logs an identifier given back to `contact`.
LogStep given_back_step(int64_t contact, const std::string &type, const std::string &value);

}  // namespace identity
