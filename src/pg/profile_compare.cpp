// profile_compare.cpp: an import batch's planned updates that change
// nothing are found here and left out of the statement that locks the
// contacts that change, which costs a lateral probe and two
// merge_attributes calls per row.
#include "pg/profile_compare.h"

#include "pg/writer.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
#include "utils/jsonb.h"
}

namespace pgshell {
namespace {

using OptText = std::optional<std::string>;

// What a write leaves in a name column: NEW_FIRST_NAME / NEW_LAST_NAME of
// import_set_based.cpp.
const OptText &name_after(const OptText &sent, const OptText &stored, bool clear_nulls) {
  return clear_nulls || sent ? sent : stored;
}

// merge_attributes(stored, sent) = stored, compared as jsonb.
bool attributes_unchanged(const std::string &stored, const std::string &sent, ScratchContext &scratch) {
  InMemoryContext in_scratch(scratch.get(1000));
  Datum current = pg_call([&]() noexcept {
    void *copy = palloc(stored.size());
    memcpy(copy, stored.data(), stored.size());
    return PointerGetDatum(copy);
  });
  Datum merged = merged_attributes(current, jsonb_datum(sent));
  return pg_call([&]() noexcept { return DatumGetBool(DirectFunctionCall2(jsonb_eq, merged, current)); });
}

}  // namespace

bool profile_unchanged(const ContactProfile &stored, const ProfileFields &fields, bool clear_nulls,
                       ScratchContext &scratch) {
  if (name_after(fields.first_name, stored.first_name, clear_nulls) != stored.first_name) return false;
  if (name_after(fields.last_name, stored.last_name, clear_nulls) != stored.last_name) return false;
  if (!fields.attributes_json) return true;  // merge_attributes(a, NULL) = a
  if (!stored.attributes) return false;      // merging into NULL gives at least '{}'
  return attributes_unchanged(*stored.attributes, *fields.attributes_json, scratch);
}

}  // namespace pgshell
