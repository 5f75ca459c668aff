// apply.h: carrying out an identity decision in the tables, with its log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/decision.h"
#include "pg/lookup.h"
#include "pg/spi.h"

namespace pgshell {

// What the call returns: the upsert_result row.
struct Outcome {
  std::optional<int64_t> contact_id;
  std::optional<std::string> external_id;
  std::string action;
  std::optional<std::string> matched_by;
};

class LogBatch;

// identity::primary_after (core/write_rules.h) for a contact as loaded.
std::optional<std::string> primary_after(const std::string &type, const identity::Request &request,
                                         const ContactRow *winner);

// Merges `loser` into `winner`, both locked by the caller: every identifier
// and event moves, the loser fills the winner's empty names and missing
// attributes and is left a tombstone; logged as "merged" with what
// unmerge_contact needs to reverse it. `extra_detail`, a JSON object, adds
// members to the log row's detail.
void merge_into(int64_t account_id, const ContactRow &loser, int64_t winner, const std::optional<std::string> &matched_by,
                LogBatch &log, const std::string &extra_detail = "{}");

// Detaches, for each of these contacts, the oldest identifiers of every type
// past its max_per_contact, logging each as identifier_detached with when it
// was first seen and attached and the contacts `merged` into it by this
// call (unmerge_contact gives such tokens back); the caller holds the
// contacts' locks. Needs SPI.
void enforce_limits(int64_t account_id, const std::vector<int64_t> &contacts,
                    const std::optional<std::string> &matched_by, LogBatch &log,
                    const std::vector<int64_t> &merged = {});

// Sets updated_at of these contacts, whose identifiers changed while their
// profile did not: export_changes finds them. The caller holds their locks.
void touch_contacts(int64_t account_id, const std::vector<int64_t> &contacts);


// A new contact ID from the contacts' identity sequence, without a
// statement: new keys go in with their holder before the contact.
int64_t next_contact_id();

// merge_attributes(current, changes) on two jsonb datums, the C function
// of the SQL one.
Datum merged_attributes(Datum current, Datum changes);

// A new contact: its ID, primary values and fields.
struct NewContact {
  int64_t id = 0;
  std::optional<std::string> external_id, email, phone;
  const ProfileFields *fields = nullptr;
};

// Writes new contacts through the table access method (bulk_insert.h).
// False, writing nothing, when the table cannot take them that way.
bool insert_new_contacts(int64_t account_id, const std::vector<NewContact> &rows);

// For a decision to create whose keys had no row when read: writes the
// contact and all of its keys (attached) in one statement, the fast path of
// a signup. nullopt when a concurrent call inserted one of the keys
// meanwhile; what was written is removed again, and the caller takes the
// claim-and-lock path.
std::optional<int64_t> create_with_keys(int64_t account_id, const identity::Request &request,
                                        const identity::Decision &decision, const ProfileFields &fields);

// Writes the decision: creates or updates the winner, merges, moves,
// detaches and attaches identifiers, and logs each step. A profile that
// does not change is not written. `created`: the contact create_with_keys
// wrote for this decision, its keys attached already.
Outcome apply_decision(int64_t account_id, const identity::Request &request, const LookupResult &snapshot,
                       const identity::Decision &decision, const ProfileFields &fields,
                       std::optional<int64_t> created = std::nullopt);

}  // namespace pgshell
