// log_rows.h: the identity_log rows of one decision (or of an import
// batch's decisions). A write records the steps it takes, one by one, in
// the shape identity_log rows had before 0.5.0 (created,
// identifier_attached, identifier_moved, ...); fold_steps() turns them into
// one row per contact changed, each listing its steps in a JSON detail that
// the SQL function log_steps() expands back (docs/identity-rules.md, "The
// identity log").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace identity {

// One step of a write, as one identity_log row recorded it before 0.5.0.
struct LogStep {
  std::optional<int64_t> contact_id;
  // created, updated, restored, merged, unmerged, external_id_assigned,
  // identifier_attached, identifier_detached, identifier_moved,
  // identifier_remembered, events_attached
  std::string action;
  std::optional<std::string> matched_by;
  std::optional<std::string> type, value;  // the identifier concerned
  std::optional<int64_t> other_contact_id;
  std::optional<std::string> detail;  // a JSON object, as text
};

// A step about a contact (deleted), or about it and another contact
// (unmerged: the winner it left), with the step's detail.
LogStep contact_step(int64_t contact_id, std::string action, std::optional<int64_t> other_contact_id = std::nullopt,
                     std::optional<std::string> detail = std::nullopt);

// A step about an identifier, of a contact or of none yet
// (identifier_remembered: an event's key before the person is known).
LogStep identifier_step(std::optional<int64_t> contact_id, std::string action, std::string type, std::string value);

// One identity_log row of 0.5.0 on.
struct LogRow {
  std::optional<int64_t> contact_id;
  std::string action;  // created, restored, merged, updated, identifiers_changed, merged_into, unmerged, remembered
  std::optional<std::string> matched_by;
  std::optional<int64_t> other_contact_id;
  std::optional<std::string> detail;  // a JSON object, as text
};

// The rows for these steps, in the order they were taken: first a
// merged_into row for each contact merged away and an identifiers_changed
// row for each contact that gave up a token (naming the receiver), then one
// row per other contact, in the order each was first named. Steps of an
// unknown action come out as rows of their own, unchanged.
std::vector<LogRow> fold_steps(const std::vector<LogStep> &steps);

// A decision row's detail (0.5.0 on) after purge_contact: every string
// that is one of the person's values becomes its keyed hash (`hashes`:
// value -> hash). On a row of the person (person_row) the gaps a merge
// filled (names, attributes) go too, and the detail says it was purged.
std::string purge_detail(const std::string &detail, const std::map<std::string, std::string> &hashes,
                         bool person_row);

}  // namespace identity
