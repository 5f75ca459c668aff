// new_rows.cpp: new contacts and identifiers through the table access
// method (new_rows.h).
#include "pg/new_rows.h"

#include "pg/bulk_insert.h"
#include "pg/pg_boundary.h"
#include "pg/writer.h"

namespace pgshell {
namespace {

// A new contact's attributes, as merge_attributes('{}', given) makes them:
// `given` itself when it is an object without a key set to JSON null (the
// usual import row), otherwise what the merge makes of it, errors included.
Datum new_contact_attributes(const std::string &given_json) {
  Datum given = jsonb_datum(given_json);
  bool as_given = pg_call([&]() noexcept {
    Jsonb *jb = DatumGetJsonbP(given);
    if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb)) return false;
    JsonbIterator *it = JsonbIteratorInit(&jb->root);
    JsonbValue value;
    JsonbIteratorToken token;
    while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
      if (token == WJB_VALUE && value.type == jbvNull) return false;
    return true;
  });
  return as_given ? given : merged_attributes(jsonb_datum("{}"), given);
}

}  // namespace

bool insert_new_contacts(int64_t account_id, const std::vector<NewContact> &rows) {
  BulkInsert contacts("contacts", {"account_id", "contact_id", "external_id", "email", "phone", "first_name",
                                   "last_name", "attributes", "created_at", "updated_at", "deleted_at", "merged_into"});
  if (!contacts.usable()) {
    contacts.finish();
    return false;
  }
  const Param account = int8_param(account_id), now{BulkInsert::now(), false};
  for (const NewContact &r : rows) {
    InMemoryContext in_rows(contacts.rows_context());
    Param attributes{r.fields->attributes_json ? new_contact_attributes(*r.fields->attributes_json)
                                               : jsonb_datum("{}"),
                     false};
    const Param columns[] = {account, int8_param(r.id), text_param(r.columns->external_id),
                             text_param(r.columns->email), text_param(r.columns->phone),
                             text_param(r.fields->first_name), text_param(r.fields->last_name),
                             attributes, now, now, null_param(), null_param()};
    const RowOf<12> row(columns);
    contacts.add(row.values, row.nulls);
  }
  contacts.finish();
  return true;
}

std::optional<size_t> insert_key_rows(int64_t account_id, const std::vector<std::pair<KeyId, int64_t>> &keys,
                                      bool stop_at_conflict) {
  BulkInsert identifiers("identifiers", {"account_id", "type", "value", "contact_id", "first_seen_at", "attached_at"});
  if (!identifiers.usable()) {
    identifiers.finish();
    return std::nullopt;
  }
  const Param account = int8_param(account_id), now{BulkInsert::now(), false};
  size_t inserted = 0;
  for (const auto &[key, holder] : keys) {
    InMemoryContext in_rows(identifiers.rows_context());
    const Param columns[] = {account, text_param(key.first), text_param(key.second), int8_param(holder), now, now};
    const RowOf<6> row(columns);
    if (!stop_at_conflict) {
      identifiers.add(row.values, row.nulls);
    } else if (!identifiers.insert_unless_conflict(row.values, row.nulls)) {
      break;
    }
    inserted++;
  }
  identifiers.finish();
  return inserted;
}

}  // namespace pgshell
