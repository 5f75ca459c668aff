// writer.h: the one writer. It carries out write plans (core/write_plan.h)
// in the tables and logs them as plan_log() says: one plan at a time for
// upsert_contact, the import's row path and merge_contacts (writer.cpp), a
// batch of plain creates and updates for the set-based import
// (writer_batch.cpp), and the plan of an unmerge (writer_unmerge.cpp).
// Every statement touches one table, filtered by account_id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/log_rows.h"
#include "core/unmerge_rules.h"
#include "core/write_plan.h"
#include "pg/lookup.h"
#include "pg/spi.h"

namespace pgshell {

// A batch's writes found that a concurrent writer changed what the batch
// was planned on: the caller runs it again row by row (import_set_based.h).
struct SetBasedConflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What the call returns: the upsert_result row.
struct Outcome {
  std::optional<int64_t> contact_id;
  std::optional<std::string> external_id;
  std::string action;
  std::optional<std::string> matched_by;
};

// Carries out one plan and writes its log. The caller holds the locks of
// every contact it names and the claims of its keys (claim_and_lock).
// `created`: the contact create_with_keys wrote for this plan, its keys
// attached already. A profile that does not change is not written.
Outcome write_plan(int64_t account_id, const identity::WritePlan &plan, const ProfileFields &fields,
                   std::optional<int64_t> created = std::nullopt);

// For a plan to create whose keys had no row when read: writes the
// contact and all of its keys (attached), the fast path of a signup.
// nullopt when a concurrent call inserted one of the keys meanwhile; what
// was written is removed again, and the caller takes the claim-and-lock
// path.
std::optional<int64_t> create_with_keys(int64_t account_id, const identity::Request &request,
                                        const identity::WritePlan &plan, const ProfileFields &fields);

// One plain create or update of a set-based import batch: its keys that
// are attached have no row yet, nothing is merged, moved or detached.
struct BatchWrite {
  const identity::WritePlan *plan = nullptr;
  const ProfileFields *fields = nullptr;
  int64_t contact = 0;  // the winner, or the ID drawn for a new contact
  bool locked = false;  // an update whose contact lock_batch_updates locked
};

// Locks, in the order given (by contact ID), the contacts of these
// updates that they would change or give keys to, and returns each one's
// identifying columns as they are now. A contact an update leaves as it is
// stays unlocked.
std::map<int64_t, ContactRow> lock_batch_updates(int64_t account_id, const std::vector<const BatchWrite *> &updates,
                                                 bool clear_nulls);

// Carries out a batch's writes (in source order) and logs them in that
// order: new contacts and new keys through the table access method, the
// locked updates by one UPDATE. A new key that a concurrent writer
// inserted meanwhile is a unique violation (SetBasedConflict when the
// table is written by statements): the caller runs the batch row by row.
void write_batch(int64_t account_id, const std::vector<BatchWrite> &writes, bool clear_nulls);

// Carries out an unmerge plan (core/unmerge_rules.h); the caller holds the
// locks of both contacts. Returns the detail of the "unmerged" log row.
std::string write_unmerge(int64_t account_id, const identity::UnmergePlan &plan);

// A new contact ID from the contacts' identity sequence, without a
// statement: new keys go in with their holder before the contact.
int64_t next_contact_id();

// merge_attributes(current, changes) on two jsonb datums, the C function
// of the SQL one.
Datum merged_attributes(Datum current, Datum changes);

// Detaches, for each of these contacts, the oldest identifiers of every type
// past its max_per_contact; returns the steps that log each, with when it
// was first seen and attached and the contacts `merged` into it by this
// write (unmerge_contact gives such tokens back). The caller holds the
// contacts' locks. Needs SPI.
std::vector<identity::LogStep> enforce_limits(int64_t account_id, const std::vector<int64_t> &contacts,
                                              const std::optional<std::string> &matched_by,
                                              const std::vector<int64_t> &merged = {});

// Sets updated_at of these contacts, whose identifiers changed while their
// profile did not: export_changes finds them. The caller holds their locks.
void touch_contacts(int64_t account_id, const std::vector<int64_t> &contacts);

}  // namespace pgshell
