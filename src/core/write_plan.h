// write_plan.h: a decision turned into the writes that carry it out and
// the log that records them. Every writer (upsert_contact, the import's
// row path and its set-based batches, merge_contacts) plans here and logs
// what plan_log() says, so the order of writes and log steps, the primary
// values a contact is left with and the preconditions of a merge live in
// one place. The shell (src/pg/writer.h) runs the statements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/decision.h"
#include "core/log_rows.h"

namespace identity {

// A contact's primary values: the identifying columns of its row.
struct Primaries {
  std::optional<std::string> external_id, email, phone;
  bool operator==(const Primaries &o) const {
    return external_id == o.external_id && email == o.email && phone == o.phone;
  }
  bool operator!=(const Primaries &o) const { return !(*this == o); }
};

// What the plan needs of the contacts a decision names, as read.
struct WriteContext {
  const ContactState *winner = nullptr;  // null for a new contact
  Primaries winner_primaries;
  std::vector<Primaries> merged_primaries;     // one per Decision::merged, in its order
  // Per request key, when given: who held it when read (for moves), and
  // whether this write saw it first (a key seen before may carry events).
  const std::vector<std::optional<int64_t>> *holder = nullptr;
  const std::vector<bool> *fresh = nullptr;
};

// The writes of one decision, in the order a writer carries them out:
// the contact row when new, the merges, the moves, the detaches, the
// attaches, the limits, then the contact row when it exists.
struct WritePlan {
  std::string action;  // Decision::action()
  bool skipped = false;        // a deleted match left alone: nothing is written
  bool remember_only = false;  // cookies nobody holds: no contact, only the key rows
  std::optional<int64_t> contact;  // the winner; nullopt: a new contact
  bool restore = false;
  std::optional<std::string> matched_by;
  Primaries before;  // the winner's columns as read (none for a new contact)
  Primaries after;   // its columns after the write

  std::vector<int64_t> merged;       // merged into the contact, in order
  std::string merge_extra = "{}";    // JSON object: members added to each merge's log detail

  struct Move {
    std::string type, value;
    std::optional<int64_t> from;  // its holder when read
  };
  std::vector<Move> moved;
  std::vector<std::pair<std::string, std::string>> detached;  // (type, value), replaced by the request
  struct Attach {
    std::string type, value;
    bool external_id = false;   // logged as external_id_assigned, not identifier_attached
    bool known_before = false;  // had a row before this write: may carry anonymous events
  };
  std::vector<Attach> attached;

  bool check_limits = false;  // may pass a type's max_per_contact (may_pass_limits)
  std::optional<std::string> assign_external_id;
  std::optional<int64_t> external_id_from;  // the merged contact it came from

  // The contacts that gave up a moved key: their updated_at moves.
  std::vector<int64_t> gave_keys() const;
  bool identifiers_change() const { return !moved.empty() || !detached.empty() || !attached.empty(); }
  // The contact's identifying columns, or its being deleted, change.
  bool columns_change() const { return !contact || restore || before != after; }
};

// The plan of a decision on this request. `context` describes the
// decision's contacts as read (the winner, and each merged one for a
// primary value the winner lacks).
WritePlan plan_write(const Request &request, const Decision &decision, const WriteContext &context);

// The plan of merge_contacts(winner, loser, force): the loser's
// identifiers and events go to the winner, which keeps its primary values
// and takes the loser's where it has none. Both must have passed
// check_merge().
WritePlan plan_merge(const ContactState &winner, const Primaries &winner_primaries, const ContactState &loser,
                     const Primaries &loser_primaries, bool force);

// A contact taking part in merge_contacts, as locked.
struct MergeParty {
  int64_t id = 0;
  std::optional<std::string> external_id;
  bool deleted = false;
  std::optional<int64_t> merged_into;
};

// Refuses (IdentityError) a merge_contacts the rules do not allow: a
// merged or deleted party, or two external IDs without force.
void check_merge(const MergeParty &winner, const MergeParty &loser, bool force);

// Refuses merging a contact into itself; `winner` is where `winner_arg`
// leads after merges.
void check_not_self(int64_t winner_arg, int64_t winner, int64_t loser);

// What carrying out a plan found in the tables, for its log.
struct WriteResult {
  int64_t contact = 0;                     // the contact written (new or the winner)
  std::vector<std::string> merge_details;  // per merged contact: the detail of its "merged" step
  std::vector<LogStep> events;             // anonymous events attached
  std::vector<LogStep> limits;             // identifiers detached past a limit
  bool profile_changed = false;            // the contact's row was updated
};

// The log steps of a written plan, in the one order every writer logs:
// created, merged, moved, detached, attached, events, limits,
// restored/updated, external_id_assigned. For remember_only, the keys
// first seen.
std::vector<LogStep> plan_log(const WritePlan &plan, const WriteResult &result);

// An identifier a merge moved, with its times as JSON values.
struct BroughtKey {
  std::string type, value, first_seen_at, attached_at;
};

// The detail of a "merged" step: what unmerge_contact needs to reverse the
// merge. `filled` (the winner's gaps the loser filled) and `primaries` (the
// loser's primary values) are JSON objects; `extra` adds its members.
std::string merge_detail(std::vector<BroughtKey> brought, std::vector<int64_t> events, const std::string &filled,
                         const std::string &primaries, const std::string &extra);

// The step of an identifier detached because its contact passed the
// type's limit `cap`; `merged`: the contacts merged by the same write
// (unmerge_contact gives the token back when it undoes them).
LogStep limit_detach_step(int64_t contact, const std::string &type, const std::string &value, int64_t cap,
                          const std::string &first_seen_at, const std::string &attached_at,
                          const std::optional<std::string> &matched_by, const std::vector<int64_t> &merged);

}  // namespace identity
