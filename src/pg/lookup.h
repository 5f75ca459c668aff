// lookup.h: what the database holds for a request's keys, read under the
// locks that make the decision safe against concurrent calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decision.h"

namespace pgshell {

// A contact as loaded: the decision's view plus its primary columns.
struct ContactRow {
  identity::ContactState state;
  std::optional<std::string> email;
  std::optional<std::string> phone;
};

// Everything decide() and apply need about the current state.
struct LookupResult {
  identity::Matches matches;
  std::map<int64_t, ContactRow> rows;
};

// Takes a transaction-level advisory lock on every key, in a fixed order, so
// calls sharing a key run one after the other.
void lock_keys(int64_t account_id, const identity::Request &request);

// The contact a contact ID leads to: itself or, for a merged tombstone, the
// contact it was merged into. Throws P0002 when there is no such contact.
int64_t follow_contact(int64_t account_id, int64_t contact_id, bool read_only);

// Reads the holders of every key and the state of each contact involved.
// With lock set (a write), the contacts' rows are locked FOR UPDATE and the
// holders are read again until they are stable.
LookupResult read_snapshot(int64_t account_id, const identity::Request &request, bool lock);

}  // namespace pgshell
