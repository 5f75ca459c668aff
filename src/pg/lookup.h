// lookup.h: what the database holds for a request's keys, read under the
// row locks that make a write's decision safe against concurrent calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/decision.h"

namespace pgshell {

// A contact as loaded: the decision's view plus its primary columns.
struct ContactRow {
  identity::ContactState state;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<int64_t> merged_into;
};

// Everything decide() and apply need about the current state.
struct LookupResult {
  identity::Matches matches;
  std::map<int64_t, ContactRow> rows;
  std::vector<bool> fresh;  // per key: first seen by this call
};

// The keys of a request as read, before any claim or lock: which have a
// row, and who holds each (nullopt: no row, or no holder).
struct KeyRead {
  std::vector<bool> present;
  std::vector<std::optional<int64_t>> holder;
  bool none_present() const;
};

// Reads the keys with a new snapshot (the latest commits and our writes).
KeyRead read_keys(int64_t account_id, const identity::Request &request);

// For a request of one key that a contact holds (a login): that contact
// locked in the statement that finds it, and the key read again after the
// lock. nullopt when the key has no row or no holder, or moved on before
// the lock: claim_and_lock() then does the rest. A key seen without a
// holder is left in `unheld`, as read_keys() would have read it.
std::optional<LookupResult> lock_sole_holder(int64_t account_id, const identity::Request &request,
                                             std::optional<KeyRead> &unheld);

// The contact a contact ID leads to: itself or, for a merged tombstone, the
// contact it was merged into. Throws P0002 when there is no such contact.
int64_t follow_contact(int64_t account_id, int64_t contact_id, bool read_only);

// Reads the holders of every key and the state of each contact involved,
// without locking anything (resolve_contact).
LookupResult read_unlocked(int64_t account_id, const identity::Request &request);

// For a write: claims keys nobody has seen, locks what decides the outcome
// and reads it; request.contact_id may be moved on to a merge winner.
// `read` is a read_keys() of this request, when the caller has one.
LookupResult claim_and_lock(int64_t account_id, identity::Request &request);
LookupResult claim_and_lock(int64_t account_id, identity::Request &request, KeyRead read);

// For an import batch, without locks but each with a new snapshot (the
// latest commits and the batch's own writes): the holder of each key that has a row
// (nullopt: a row without a holder); keys without a row are left out.
std::map<std::pair<std::string, std::string>, std::optional<int64_t>> read_key_holders(
    int64_t account_id, const std::vector<std::pair<std::string, std::string>> &keys);

// Contacts by ID with their permanent identifiers, without locks, with a
// new snapshot.
std::map<int64_t, ContactRow> read_contact_rows(int64_t account_id, const std::set<int64_t> &ids);

// The same, locked FOR NO KEY UPDATE in contact ID order.
std::map<int64_t, ContactRow> lock_contact_rows(int64_t account_id, const std::set<int64_t> &ids);

// Undoes the claims of a request that failed after claim_and_lock: deletes
// the holder-less rows it inserted, so a failed import row leaves nothing.
void release_claims(int64_t account_id, const identity::Request &request, const LookupResult &claimed);

}  // namespace pgshell
