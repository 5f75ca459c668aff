// account_operations.h: the work of the SQL functions account_operations.cpp
// declares, each taking the account first and then the SQL function's
// other arguments in order (typed_entry.h).
#pragma once

#include <cstdint>

#include "pg/typed_entry.h"

namespace pgshell {

// merge.cpp: merges loser into winner (or into the contact winner went
// into); returns the winner's contact ID.
int64_t merge_contacts(int64_t account_id, int64_t winner, int64_t loser, bool force);

// unmerge.cpp: reverses the merge of loser; returns what went back.
Jsonb unmerge_contact(int64_t account_id, int64_t loser);

// purge.cpp: erases the person contact_id is; returns what was erased.
Jsonb purge_contact(int64_t account_id, int64_t contact_id);

// import_cancel.cpp: cancels a running import; true when cancelled now,
// false when it was already.
bool cancel_import(int64_t account_id, int64_t import_id);

}  // namespace pgshell
