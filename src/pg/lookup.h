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

// The non-identifying fields a write may set; NULL leaves a field alone.
struct ProfileFields {
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> attributes_json;  // a JSON object
  bool clear_nulls = false;  // a NULL name clears the stored one
  bool attributes_parse = false;  // attributes_json is known to be valid JSON (made from typed values)

  bool any() const { return first_name || last_name || attributes_json || clear_nulls; }
};

// A contact as loaded: the decision's view plus its primary columns.
struct ContactRow {
  identity::ContactState state;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<int64_t> merged_into;
  // The request's ProfileFields would change the contact (read_state with
  // fields only).
  bool fields_change = false;
  // state.permanent was read. An import batch reads it only for contacts
  // whose rows' decisions can depend on it (read_snapshot).
  bool permanent_read = true;
};

// The contact's primary column for an identifier type: &email for
// "email", &phone for "phone", null for every other type.
inline const std::optional<std::string> *primary_column(const ContactRow &row, const std::string &type) {
  return type == "email" ? &row.email : type == "phone" ? &row.phone : nullptr;
}

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

// What a request's keys lead to, read without locks in one statement: the
// keys (present, holder), the holders' contacts and, when the decision (or
// the search, for_write false) can need them, their permanent identifiers;
// with `fields`, whether they would change each contact. for_write: with a
// new snapshot (the latest commits and our own writes); otherwise with the
// calling statement's (resolve_contact).
struct StateRead {
  LookupResult result;
  KeyRead keys;
};
StateRead read_state(int64_t account_id, const identity::Request &request, bool for_write,
                     const ProfileFields *fields = nullptr);

// The contact a contact ID leads to: itself or, for a merged tombstone, the
// contact it was merged into. Throws P0002 when there is no such contact.
int64_t follow_contact(int64_t account_id, int64_t contact_id, bool read_only);

// For a write: claims keys nobody has seen, locks what decides the outcome
// and reads it; request.contact_id may be moved on to a merge winner.
// `read` is a read of this request's keys, when the caller has one.
LookupResult claim_and_lock(int64_t account_id, identity::Request &request);
LookupResult claim_and_lock(int64_t account_id, identity::Request &request, KeyRead read);

// For an import batch, without locks but each with a new snapshot (the
// latest commits and the batch's own writes): the holder of each key that has a row
// (nullopt: a row without a holder); keys without a row are left out.
std::map<std::pair<std::string, std::string>, std::optional<int64_t>> read_key_holders(
    int64_t account_id, const std::vector<std::pair<std::string, std::string>> &keys);

// A contact's non-identifying fields as stored, for comparing a write with
// them outside a statement (profile_compare.h).
struct ContactProfile {
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> attributes;  // the jsonb value's bytes, with its 4-byte header
};

// Contacts by ID, without locks, with a new snapshot; with `profiles`,
// each contact's fields there too; with `permanent`, their permanent
// identifiers (otherwise permanent_read is false).
std::map<int64_t, ContactRow> read_contact_rows(int64_t account_id, const std::set<int64_t> &ids,
                                                std::map<int64_t, ContactProfile> *profiles = nullptr,
                                                bool permanent = true);

// The same by external ID (contacts_external_id_key), into `rows` (and
// `profiles`); returns the ID of each contact found, by external ID. A
// contact holds its external ID as an identifier too (verify() checks it),
// so this is the holder of each of these external ID keys.
std::map<std::string, int64_t> read_contacts_by_external_id(int64_t account_id,
                                                           const std::vector<std::string> &external_ids,
                                                           std::map<int64_t, ContactRow> &rows,
                                                           std::map<int64_t, ContactProfile> *profiles,
                                                           bool permanent = true);

// Reads the permanent identifiers of the contacts `ids` of `rows` that do
// not have them yet, with a new snapshot.
void read_permanent_identifiers(int64_t account_id, const std::set<int64_t> &ids,
                                std::map<int64_t, ContactRow> &rows);

// The same, locked FOR NO KEY UPDATE in contact ID order.
std::map<int64_t, ContactRow> lock_contact_rows(int64_t account_id, const std::set<int64_t> &ids);

// Undoes the claims of a request that failed after claim_and_lock: deletes
// the holder-less rows it inserted, so a failed import row leaves nothing.
void release_claims(int64_t account_id, const identity::Request &request, const LookupResult &claimed);

}  // namespace pgshell
