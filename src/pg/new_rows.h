// new_rows.h: new contacts and identifiers written through the table
// access method (bulk_insert.h), as COPY FROM writes, for the writer's
// creates. Each returns "not written" when the table cannot take rows that
// way (a trigger or a rule), and the caller writes by statement instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/batch_plan.h"
#include "core/write_plan.h"
#include "pg/lookup.h"

namespace pgshell {

using identity::KeyId;  // a key as (type, value)

// A new contact: its ID, primary values and fields.
struct NewContact {
  int64_t id = 0;
  const identity::Primaries *columns = nullptr;
  const ProfileFields *fields = nullptr;
};

// Writes new contacts; false, writing nothing, when the table cannot take
// them this way.
bool insert_new_contacts(int64_t account_id, const std::vector<NewContact> &rows);

// Writes identifier rows ((type, value), holder). With `stop_at_conflict`,
// a key a concurrent call has is not written and ends the writing
// (BulkInsert::insert_unless_conflict); otherwise it is a unique
// violation, as an INSERT would raise. Returns how many went in; nullopt
// when the table cannot take them this way.
std::optional<size_t> insert_key_rows(int64_t account_id, const std::vector<std::pair<KeyId, int64_t>> &keys,
                                      bool stop_at_conflict);

}  // namespace pgshell
