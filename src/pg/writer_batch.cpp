// writer_batch.cpp: carrying out a set-based import batch's write plans
// together (writer.h): multi-row statements on arrays of the batch's rows,
// and new rows through the table access method (new_rows.h).
#include "pg/writer.h"

#include <algorithm>
#include <map>
#include <set>

#include "pg/log_batch.h"
#include "pg/new_rows.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

#define UNNEST(n, type) "pg_catalog.unnest($" #n "::pg_catalog." type "[])"

// The batch's new contacts, with the IDs allocated for them.
Statement insert_contacts_statement{
    "INSERT INTO contact_identity.contacts"
    " (account_id, contact_id, external_id, email, phone, first_name, last_name, attributes)"
    " SELECT $1, u.id, u.external_id, u.email, u.phone, u.first_name, u.last_name,"
    " contact_identity.merge_attributes('{}'::pg_catalog.jsonb, CAST(u.attributes AS pg_catalog.jsonb))"
    " FROM ROWS FROM (" UNNEST(2, "int8") ", " UNNEST(3, "text") ", " UNNEST(4, "text") ", " UNNEST(5, "text") ", "
    UNNEST(6, "text") ", " UNNEST(7, "text") ", " UNNEST(8, "text") ")"
    " AS u(id, external_id, email, phone, first_name, last_name, attributes)",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID}};

// New keys, each written once with its holder. A key a concurrent writer
// inserted meanwhile is not counted: the caller gives up on the batch.
Statement insert_identifiers_statement{
    "INSERT INTO contact_identity.identifiers AS i (account_id, type, value, contact_id, attached_at)"
    " SELECT $1, u.type, u.value, u.id, pg_catalog.now()"
    " FROM ROWS FROM (" UNNEST(2, "text") ", " UNNEST(3, "text") ", " UNNEST(4, "int8") ") AS u(type, value, id)"
    " ON CONFLICT (account_id, type, value) DO NOTHING",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID}};

// The contacts of planned updates, as arrays u(...): $2 id, $3 external_id,
// $4 email, $5 phone, $6 first_name, $7 last_name, $8 attributes (JSON
// text), $9 clear_nulls. CHANGED says whether the row would change one.
#define UPDATE_ARRAYS                                                                                \
  UNNEST(2, "int8") ", " UNNEST(3, "text") ", " UNNEST(4, "text") ", " UNNEST(5, "text") ", " UNNEST(6, "text") \
  ", " UNNEST(7, "text") ", " UNNEST(8, "text")
#define UPDATE_COLUMNS "id, external_id, email, phone, first_name, last_name, attributes"
#define NEW_FIRST_NAME "CASE WHEN $9 THEN u.first_name ELSE COALESCE(u.first_name, c.first_name) END"
#define NEW_LAST_NAME "CASE WHEN $9 THEN u.last_name ELSE COALESCE(u.last_name, c.last_name) END"
#define NEW_ATTRIBUTES "contact_identity.merge_attributes(c.attributes, CAST(u.attributes AS pg_catalog.jsonb))"
#define CHANGED                                                                                               \
  "(c.external_id IS DISTINCT FROM u.external_id OR c.email IS DISTINCT FROM u.email"                        \
  " OR c.phone IS DISTINCT FROM u.phone OR c.first_name IS DISTINCT FROM " NEW_FIRST_NAME                    \
  " OR c.last_name IS DISTINCT FROM " NEW_LAST_NAME " OR c.attributes IS DISTINCT FROM " NEW_ATTRIBUTES ")"
#define UPDATE_TYPES \
  {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLOID}

// Locks, in contact ID order, the contacts a planned update will write:
// those that change, and ($10) those that get new keys. A contact the row
// leaves as it is stays unlocked and unwritten. Returns each locked
// contact's identifying columns as they are now (a lock reads the latest
// version of the row).
Statement lock_updates_statement{
    "SELECT c.contact_id, c.external_id, c.deleted_at IS NOT NULL, c.merged_into, c.email, c.phone"
    " FROM ROWS FROM (" UPDATE_ARRAYS ", " UNNEST(10, "bool") ") AS u(" UPDATE_COLUMNS ", gets_keys),"
    " LATERAL (SELECT c.contact_id, c.external_id, c.deleted_at, c.merged_into, c.email, c.phone"
    "  FROM contact_identity.contacts c"
    "  WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) u.id"
    "  AND (u.gets_keys OR " CHANGED ") FOR NO KEY UPDATE) c",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
     BOOLOID, BOOLARRAYOID}};

Statement update_contacts_statement{
    "UPDATE contact_identity.contacts c SET external_id = u.external_id, email = u.email, phone = u.phone,"
    " first_name = " NEW_FIRST_NAME ", last_name = " NEW_LAST_NAME ", attributes = " NEW_ATTRIBUTES ","
    " updated_at = pg_catalog.now()"
    " FROM ROWS FROM (" UPDATE_ARRAYS ") AS u(" UPDATE_COLUMNS ")"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) u.id AND " CHANGED
    " RETURNING c.contact_id",
    UPDATE_TYPES};

#undef UPDATE_TYPES
#undef CHANGED
#undef NEW_ATTRIBUTES
#undef NEW_LAST_NAME
#undef NEW_FIRST_NAME
#undef UPDATE_COLUMNS
#undef UPDATE_ARRAYS
#undef UNNEST

using identity::WritePlan;
using OptText = std::optional<std::string>;
using OptId = std::optional<int64_t>;

// The parameters $2..$8 of the batch statements for these writes: id,
// external_id, email, phone, first_name, last_name, attributes.
std::vector<Param> batch_params(int64_t account_id, const std::vector<const BatchWrite *> &writes) {
  std::vector<OptId> id;
  std::vector<OptText> ext, email, phone, first, last, attributes;
  for (const BatchWrite *w : writes) {
    id.push_back(w->contact);
    ext.push_back(w->plan->after.external_id);
    email.push_back(w->plan->after.email);
    phone.push_back(w->plan->after.phone);
    first.push_back(w->fields->first_name);
    last.push_back(w->fields->last_name);
    attributes.push_back(w->fields->attributes_json);
  }
  return {int8_param(account_id),  int8_array_param(id),    text_array_param(ext),  text_array_param(email),
          text_array_param(phone), text_array_param(first), text_array_param(last), text_array_param(attributes)};
}

// The batch's new contacts.
void insert_batch_contacts(int64_t account_id, const std::vector<const BatchWrite *> &creates) {
  if (creates.empty()) return;
  std::vector<NewContact> direct;
  for (const BatchWrite *w : creates) direct.push_back({w->contact, &w->plan->after, w->fields});
  if (insert_new_contacts(account_id, direct)) return;
  execute(insert_contacts_statement, batch_params(account_id, creates), false);
}

// The batch's new keys, in (type, value) order, each checked by the
// primary key as an INSERT would be: a key a concurrent writer inserted
// meanwhile is a unique violation, which rolls the batch back to the row
// path.
void insert_batch_keys(int64_t account_id, std::vector<std::pair<KeyId, int64_t>> keys) {
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  if (insert_key_rows(account_id, keys, false)) return;
  std::vector<std::string> types, values;
  std::vector<OptId> holders;
  for (const auto &[key, holder] : keys) {
    types.push_back(key.first);
    values.push_back(key.second);
    holders.push_back(holder);
  }
  uint64_t n = execute(insert_identifiers_statement,
                       {int8_param(account_id), text_array_param(types), text_array_param(values),
                        int8_array_param(holders)},
                       false);
  if (n != keys.size()) throw SetBasedConflict("a new key of the batch was inserted by a concurrent writer");
}

}  // namespace

std::map<int64_t, ContactRow> lock_batch_updates(int64_t account_id, const std::vector<const BatchWrite *> &updates,
                                                 bool clear_nulls) {
  std::map<int64_t, ContactRow> locked;
  if (updates.empty()) return locked;
  std::vector<bool> gets_keys;
  for (const BatchWrite *w : updates) gets_keys.push_back(!w->plan->attached.empty());
  std::vector<Param> params = batch_params(account_id, updates);
  params.push_back(bool_param(clear_nulls));
  params.push_back(bool_array_param(gets_keys));
  uint64_t n = execute(lock_updates_statement, params, false);
  for (uint64_t r = 0; r < n; r++) {
    ContactRow row;
    row.state.id = result_int8(r, 1).value_or(0);
    row.state.external_id = result_text(r, 2);
    row.state.deleted = result_bool(r, 3);
    row.merged_into = result_int8(r, 4);
    row.email = result_text(r, 5);
    row.phone = result_text(r, 6);
    row.permanent_read = false;
    locked.emplace(row.state.id, std::move(row));
  }
  return locked;
}

void write_batch(int64_t account_id, const std::vector<BatchWrite> &writes, bool clear_nulls) {
  std::vector<const BatchWrite *> creates, updates;
  std::vector<std::pair<KeyId, int64_t>> new_keys;
  for (const BatchWrite &w : writes) {
    if (!w.plan->contact) creates.push_back(&w);
    else if (w.locked) updates.push_back(&w);
    for (const WritePlan::Attach &a : w.plan->attached) new_keys.push_back({{a.type, a.value}, w.contact});
  }
  insert_batch_contacts(account_id, creates);
  insert_batch_keys(account_id, std::move(new_keys));

  std::set<int64_t> changed;
  if (!updates.empty()) {
    std::vector<Param> params = batch_params(account_id, updates);
    params.push_back(bool_param(clear_nulls));
    uint64_t n = execute(update_contacts_statement, params, false);
    for (uint64_t r = 0; r < n; r++) changed.insert(result_int8(r, 1).value_or(0));
  }
  std::vector<int64_t> touched;  // new keys, profile unchanged
  for (const BatchWrite *w : updates)
    if (w->plan->identifiers_change() && !changed.count(w->contact)) touched.push_back(w->contact);
  touch_contacts(account_id, touched);

  // Contacts that got changeable identifiers may pass a type's limit, one
  // statement per key that matched their rows.
  std::map<OptText, std::vector<int64_t>> gained;
  for (const BatchWrite &w : writes)
    if (w.plan->check_limits) gained[w.plan->matched_by].push_back(w.contact);
  std::map<int64_t, std::vector<identity::LogStep>> limits;  // by contact
  for (const auto &[matched_by, ids] : gained)
    for (identity::LogStep &s : enforce_limits(account_id, ids, matched_by))
      limits[*s.contact_id].push_back(std::move(s));

  LogBatch log;
  size_t steps = 0;
  for (const BatchWrite &w : writes) steps += 3 + w.plan->attached.size();
  log.reserve(steps);
  for (const BatchWrite &w : writes) {
    identity::WriteResult result;
    result.contact = w.contact;
    result.profile_changed = changed.count(w.contact) > 0;
    auto over = limits.find(w.contact);
    if (over != limits.end()) result.limits = std::move(over->second);
    log.add(identity::plan_log(*w.plan, result));
  }
  log.flush(account_id);
}

}  // namespace pgshell
