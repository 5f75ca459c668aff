// profile_compare.h: whether a write's fields would change a contact,
// decided from the row as read instead of by a statement.
#pragma once

#include "pg/bulk_insert.h"
#include "pg/lookup.h"

namespace pgshell {

// True when writing `fields` (names, then attributes merged as
// merge_attributes merges them) leaves `stored` exactly as it is: the
// update statements' IS DISTINCT FROM guard, evaluated in C++. clear_nulls
// is the batch's; the attributes are compared in `scratch`. Errors of the
// attributes' conversion propagate as the statement's would.
bool profile_unchanged(const ContactProfile &stored, const ProfileFields &fields, bool clear_nulls,
                       ScratchContext &scratch);

}  // namespace pgshell
