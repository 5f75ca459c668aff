// import_set_based.cpp: the multi-row statements of an import batch.
#include "pg/import_set_based.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "core/batch_plan.h"
#include "core/identity_error.h"
#include "core/write_rules.h"
#include "pg/apply.h"
#include "pg/bulk_insert.h"
#include "pg/log_batch.h"
#include "pg/pg_boundary.h"
#include "pg/lookup.h"
#include "pg/profile_compare.h"
#include "pg/request.h"
#include "pg/spi.h"
#include "pg/upsert.h"

namespace pgshell {
namespace {

using identity::Decision;
using identity::PlannedRow;
using identity::Request;
using identity::RowPlan;
using OptText = std::optional<std::string>;
using OptId = std::optional<int64_t>;
using identity::KeyId;

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

// What a planned create or update writes to its contact row.
struct ContactWrite {
  size_t row = 0;
  int64_t id = 0;
  OptText external_id, email, phone;
  bool gets_keys = false;
};

// Whether the attributes parse as JSON. A row whose attributes do not
// fails alone, as the cast in a row-by-row write would make it fail,
// instead of sending the whole batch row by row.
bool parses_as_json(const std::string &text, MemoryContext scratch) {
  return pg_call([&]() noexcept {
    MemoryContext old = MemoryContextSwitchTo(scratch);  // the lexer is not freed otherwise
    JsonLexContext *lex = makeJsonLexContextCstringLen(const_cast<char *>(text.c_str()), (int)text.size(),
                                                       GetDatabaseEncoding(), true);
    bool ok = pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch);
    return ok;
  });
}

// The parameters $2..$8 of the contact statements for these writes: id,
// external_id, email, phone, first_name, last_name, attributes.
std::vector<Param> contact_params(const std::vector<const ContactWrite *> &writes, const std::vector<SourceRow> &rows) {
  std::vector<OptId> id;
  std::vector<OptText> ext, email, phone, first, last, attributes;
  for (const ContactWrite *w : writes) {
    const ProfileFields &f = rows[w->row].fields;
    id.push_back(w->id);
    ext.push_back(w->external_id);
    email.push_back(w->email);
    phone.push_back(w->phone);
    first.push_back(f.first_name);
    last.push_back(f.last_name);
    attributes.push_back(f.attributes_json);
  }
  return {int8_array_param(id),    text_array_param(ext),  text_array_param(email),     text_array_param(phone),
          text_array_param(first), text_array_param(last), text_array_param(attributes)};
}

// Statement parameters: the account, then these.
std::vector<Param> with_account(int64_t account_id, std::vector<Param> params) {
  params.insert(params.begin(), int8_param(account_id));
  return params;
}

// The batch's requests, built together; rows that fail on the way get
// their result here.
std::vector<std::optional<Request>> build_all(const std::vector<SourceRow> &rows, std::vector<RowResult> &results,
                                              std::vector<bool> &done, NormalizedAhead *ahead) {
  std::vector<const CallKeys *> calls;
  std::vector<size_t> index;
  MemoryContext scratch = pg_call([]() noexcept {
    return AllocSetContextCreate(CurrentMemoryContext, "contact_identity attributes check", ALLOCSET_SMALL_SIZES);
  });
  for (size_t i = 0; i < rows.size(); i++) {
    if (rows[i].error_code) {
      results[i] = row_failed(rows[i], *rows[i].error_code, rows[i].error_message);
      done[i] = true;
      continue;
    }
    try {
      check_profile_fields(rows[i].fields);
    } catch (const identity::IdentityError &e) {
      results[i] = row_failed(rows[i], e);
      done[i] = true;
      continue;
    }
    if (rows[i].fields.attributes_json && !rows[i].fields.attributes_parse &&
        !parses_as_json(*rows[i].fields.attributes_json, scratch)) {
      results[i] = row_failed(rows[i], "22P02", "invalid input syntax for type json");
      done[i] = true;
      continue;
    }
    calls.push_back(&rows[i].keys);
    index.push_back(i);
  }
  std::vector<BuiltRequest> built = build_requests(calls, ahead);
  std::vector<std::optional<Request>> requests(rows.size());
  for (size_t k = 0; k < built.size(); k++) {
    size_t i = index[k];
    if (built[k].error) {
      results[i] = row_failed(rows[i], *built[k].error);
      done[i] = true;
    } else {  // a row without keys is planned row by row, which reports it
      requests[i] = std::move(built[k].request);
    }
  }
  return requests;
}

// The request's external ID key, if it has one.
const identity::Key *external_id_key(const Request &request) {
  for (const identity::Key &key : request.keys)
    if (key.key_class == identity::KeyClass::kExternalId) return &key;
  return nullptr;
}

// Reads the holders of `keys` (probed in order, for the index's sake) into
// `holders` and the contacts they lead to (with `ids`, not read yet) into
// `rows` and `profiles`, without their permanent identifiers.
void read_holders_and_contacts(int64_t account_id, std::vector<KeyId> keys, std::set<int64_t> ids,
                               identity::BatchSnapshot &snapshot, std::map<int64_t, ContactRow> &rows,
                               std::map<int64_t, ContactProfile> &profiles) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (auto &[key, holder] : read_key_holders(account_id, keys)) {
    if (holder && !rows.count(*holder)) ids.insert(*holder);
    snapshot.keys.emplace(key, holder);
  }
  for (auto &[id, row] : read_contact_rows(account_id, ids, &profiles, false)) rows.emplace(id, std::move(row));
}

// The contacts whose permanent identifiers a row's plan can depend on. A
// row whose keys one contact holds all of, that clears nothing, and whose
// email and phone are that contact's primary ones, is planned alike
// whatever else the contact holds: decide() has no other holder to merge
// or refuse and no value the contact lacks, so nothing is detached, and
// primary_after() keeps the primaries. The import of known people reads no
// identifiers. Any other row needs those of every contact it involves.
std::set<int64_t> needing_permanent(const std::vector<std::optional<Request>> &requests,
                                    const identity::BatchSnapshot &snapshot,
                                    const std::map<int64_t, ContactRow> &rows) {
  std::set<int64_t> ids;
  std::vector<int64_t> involved;
  for (const auto &request : requests) {
    if (!request) continue;
    involved.clear();
    bool one_holder = request->clear_types.empty();
    for (const identity::Key &key : request->keys) {
      auto held = snapshot.keys.find({key.type, key.value});
      if (held == snapshot.keys.end() || !held->second) {
        one_holder = false;
        continue;
      }
      if (!involved.empty() && involved.front() != *held->second) one_holder = false;
      involved.push_back(*held->second);
    }
    if (request->contact_id) {
      if (!involved.empty() && involved.front() != *request->contact_id) one_holder = false;
      involved.push_back(*request->contact_id);
    }
    if (one_holder && !involved.empty()) {
      auto row = rows.find(involved.front());
      for (const identity::Key &key : request->keys) {
        if (row == rows.end()) break;
        const std::optional<std::string> *primary = primary_column(row->second, key.type);
        if (primary && *primary != key.value) one_holder = false;
      }
      if (row == rows.end()) one_holder = false;
    }
    if (!one_holder) ids.insert(involved.begin(), involved.end());
  }
  return ids;
}

// The holders of the batch's keys and the contacts they lead to. A row
// with an external ID reads the contact that has it first, by
// contacts_external_id_key: the contact with that external ID is the one
// holding the key and the other way round (verify(), "external_id_not_held"
// and "external_id_not_set"), and one probe gives both. The row's email and
// phone are then not looked up when that contact has them as its primary
// email and phone, which a contact always holds ("email_not_held"): a batch
// of known people reads one key per row. (A holder-less external ID row,
// which no write leaves behind, would be missed here; inserting the key
// again then fails, and the batch runs row by row.) With
// `assume_new_keys`, the other keys of a row whose external ID nobody has
// are not read at all (import_set_based.h); `assumed` then says which rows
// have a key neither read nor known. Permanent identifiers are read last,
// for the contacts that need them (needing_permanent).
identity::BatchSnapshot read_snapshot(int64_t account_id, const std::vector<std::optional<Request>> &requests,
                                      std::map<int64_t, ContactRow> &rows,
                                      std::map<int64_t, ContactProfile> &profiles, bool assume_new_keys,
                                      std::vector<bool> &assumed) {
  std::unordered_set<KeyId, identity::KeyIdHash> first_keys;
  std::vector<std::string> external_ids;
  std::set<int64_t> ids;
  first_keys.reserve(requests.size());
  for (const auto &request : requests) {
    if (!request) continue;
    if (const identity::Key *ext = external_id_key(*request)) {
      if (first_keys.emplace(ext->type, ext->value).second) external_ids.push_back(ext->value);
    } else {
      for (const identity::Key &key : request->keys) first_keys.emplace(key.type, key.value);
    }
    if (request->contact_id) ids.insert(*request->contact_id);
  }
  identity::BatchSnapshot snapshot;
  snapshot.keys.reserve(requests.size() * 3);
  std::sort(external_ids.begin(), external_ids.end());  // in index order
  for (const auto &[external_id, id] : read_contacts_by_external_id(account_id, external_ids, rows, &profiles, false))
    snapshot.keys.emplace(KeyId(identity::kExternalIdType, external_id), id);
  std::vector<KeyId> other_keys;
  for (const KeyId &key : first_keys)
    if (key.first != identity::kExternalIdType) other_keys.push_back(key);
  read_holders_and_contacts(account_id, std::move(other_keys), ids, snapshot, rows, profiles);

  std::vector<KeyId> more_keys;
  std::vector<size_t> not_read;  // rows whose other keys are taken to be new
  for (size_t r = 0; r < requests.size(); r++) {
    const auto &request = requests[r];
    const identity::Key *ext = request ? external_id_key(*request) : nullptr;
    if (!ext) continue;
    auto held = snapshot.keys.find({ext->type, ext->value});
    if (held == snapshot.keys.end() && assume_new_keys) {
      not_read.push_back(r);
      continue;
    }
    const ContactRow *holder = nullptr;
    if (held != snapshot.keys.end() && held->second) {
      auto row = rows.find(*held->second);
      if (row != rows.end()) holder = &row->second;
    }
    for (const identity::Key &key : request->keys) {
      if (key.key_class == identity::KeyClass::kExternalId) continue;  // read already
      KeyId id{key.type, key.value};
      if (first_keys.count(id) || snapshot.keys.count(id)) continue;  // read already
      const std::optional<std::string> *primary = holder ? primary_column(*holder, key.type) : nullptr;
      if (primary && *primary == key.value)
        snapshot.keys.emplace(std::move(id), holder->state.id);
      else
        more_keys.push_back(std::move(id));
    }
  }
  assumed.assign(requests.size(), false);
  if (!not_read.empty()) {
    std::unordered_set<KeyId, identity::KeyIdHash> read(more_keys.begin(), more_keys.end());
    for (size_t r : not_read)
      for (const identity::Key &key : requests[r]->keys) {
        KeyId id{key.type, key.value};
        if (key.key_class != identity::KeyClass::kExternalId && !first_keys.count(id) && !read.count(id))
          assumed[r] = true;
      }
  }
  if (!more_keys.empty()) read_holders_and_contacts(account_id, std::move(more_keys), {}, snapshot, rows, profiles);
  read_permanent_identifiers(account_id, needing_permanent(requests, snapshot, rows), rows);
  for (const auto &[id, row] : rows) {
    if (row.merged_into)
      snapshot.merged_into[id] = follow_contact(account_id, id, false);
    else
      snapshot.contacts[id] = row.state;
  }
  return snapshot;
}

// Whether a contact is still what the plan saw; its permanent identifiers
// count when the plan read them (`b` was read the same way).
bool same_identity(const ContactRow &a, const ContactRow &b) {
  return a.state.external_id == b.state.external_id && a.state.deleted == b.state.deleted &&
         (!a.permanent_read || a.state.permanent == b.state.permanent) && a.merged_into == b.merged_into &&
         a.email == b.email && a.phone == b.phone;
}

// Whether `key` is the external ID, primary email or primary phone of
// `contact` as read, and the plan saw `contact` hold it.
bool is_own_column(const ContactRow &contact, const identity::Key &key, const identity::BatchSnapshot &snapshot) {
  const std::optional<std::string> *column =
      key.key_class == identity::KeyClass::kExternalId ? &contact.state.external_id : primary_column(contact, key.type);
  if (!column || *column != key.value) return false;
  auto held = snapshot.keys.find({key.type, key.value});
  return held != snapshot.keys.end() && held->second == contact.state.id;
}

// Locks the contacts the planned updates write and checks that what the
// plan was made on still holds; returns the locked ones.
std::set<int64_t> lock_updates(int64_t account_id, const std::vector<ContactWrite> &updates,
                               const std::vector<SourceRow> &rows, const std::vector<std::optional<Request>> &requests,
                               const identity::BatchSnapshot &snapshot, const std::map<int64_t, ContactRow> &before) {
  std::set<int64_t> locked;
  if (updates.empty()) return locked;
  std::vector<const ContactWrite *> writes;
  std::vector<bool> gets_keys;
  for (const ContactWrite &w : updates) {  // sorted by contact ID: locks in one order
    writes.push_back(&w);
    gets_keys.push_back(w.gets_keys);
  }
  std::vector<Param> params = with_account(account_id, contact_params(writes, rows));
  params.push_back(bool_param(rows.front().fields.clear_nulls));
  params.push_back(bool_array_param(gets_keys));
  uint64_t n = execute(lock_updates_statement, params, false);
  std::map<int64_t, ContactRow> now;
  for (uint64_t r = 0; r < n; r++) {
    ContactRow row;
    row.state.id = result_int8(r, 1).value_or(0);
    row.state.external_id = result_text(r, 2);
    row.state.deleted = result_bool(r, 3);
    row.merged_into = result_int8(r, 4);
    row.email = result_text(r, 5);
    row.phone = result_text(r, 6);
    row.permanent_read = false;
    locked.insert(row.state.id);
    now.emplace(row.state.id, std::move(row));
  }
  if (locked.empty()) return locked;

  // Under the locks, the contacts and the holders of their rows' keys must
  // be what the plan saw; otherwise a concurrent writer got in between. A
  // key that is the contact's external ID, primary email or primary phone,
  // and was its key in the plan, needs no second look: a contact holds
  // those (verify(): external_id_not_held, email_not_held, phone_not_held),
  // and same_identity() finds them unchanged.
  std::set<int64_t> with_permanent;  // read the same way as the plan read them
  for (int64_t id : locked) {
    auto was = before.find(id);
    if (was != before.end() && was->second.permanent_read) with_permanent.insert(id);
  }
  read_permanent_identifiers(account_id, with_permanent, now);
  std::set<KeyId> keys;
  for (const ContactWrite &w : updates) {
    if (!locked.count(w.id)) continue;
    auto was = before.find(w.id);
    auto is = now.find(w.id);
    if (was == before.end() || is == now.end() || !same_identity(was->second, is->second))
      throw SetBasedConflict("contact " + std::to_string(w.id) + " changed while the batch was planned");
    for (const identity::Key &key : requests[w.row]->keys)
      if (!is_own_column(was->second, key, snapshot)) keys.emplace(key.type, key.value);
  }
  auto holders = read_key_holders(account_id, std::vector<KeyId>(keys.begin(), keys.end()));
  for (const KeyId &key : keys) {
    auto was = snapshot.keys.find(key);
    auto is = holders.find(key);
    bool had = was != snapshot.keys.end(), has = is != holders.end();
    if (had != has || (had && was->second != is->second))
      throw SetBasedConflict("the holder of a key changed while the batch was planned");
  }
  return locked;
}

// The planned updates that may change their contact: those that get new
// keys and those whose fields differ from the contact as read. The rest
// change nothing and, like a login that changes nothing
// (docs/identity-rules.md, rule 7), take no lock.
std::vector<ContactWrite> that_may_change(const std::vector<ContactWrite> &updates, const std::vector<SourceRow> &rows,
                                          const std::map<int64_t, ContactRow> &contacts,
                                          const std::map<int64_t, ContactProfile> &profiles) {
  std::vector<ContactWrite> may_change;
  ScratchContext scratch;  // the batch's: freed with it
  for (const ContactWrite &w : updates) {
    const ContactRow &c = contacts.at(w.id);
    auto profile = profiles.find(w.id);
    bool unchanged = !w.gets_keys && w.external_id == c.state.external_id && w.email == c.email &&
                     w.phone == c.phone && profile != profiles.end() &&
                     profile_unchanged(profile->second, rows[w.row].fields, rows.front().fields.clear_nulls, scratch);
    if (!unchanged) may_change.push_back(w);
  }
  return may_change;
}

std::vector<OptId> allocate_ids(size_t count) {
  std::vector<OptId> ids;
  for (size_t i = 0; i < count; i++) ids.push_back(next_contact_id());
  return ids;
}

void insert_contacts(int64_t account_id, const std::vector<ContactWrite> &creates, const std::vector<SourceRow> &rows) {
  if (creates.empty()) return;
  std::vector<NewContact> direct;
  for (const ContactWrite &w : creates) {
    const ProfileFields &f = rows[w.row].fields;
    direct.push_back({w.id, w.external_id, w.email, w.phone, &f});
  }
  if (insert_new_contacts(account_id, direct)) return;
  std::vector<const ContactWrite *> writes;
  for (const ContactWrite &w : creates) writes.push_back(&w);
  execute(insert_contacts_statement, with_account(account_id, contact_params(writes, rows)), false);
}

// The new keys through the table access method, each checked by the
// primary key as an INSERT would be: a key a concurrent writer inserted
// meanwhile is a unique violation, which rolls the batch back to the row
// path. False when the table cannot take them that way.
bool insert_keys_directly(int64_t account_id, const std::vector<std::pair<KeyId, int64_t>> &keys) {
  BulkInsert identifiers("identifiers", {"account_id", "type", "value", "contact_id", "first_seen_at", "attached_at"});
  if (!identifiers.usable()) {
    identifiers.finish();
    return false;
  }
  const Param account = int8_param(account_id), now{BulkInsert::now(), false};
  for (const auto &[key, holder] : keys) {
    InMemoryContext in_rows(identifiers.rows_context());
    const Param columns[] = {account, text_param(key.first), text_param(key.second), int8_param(holder), now, now};
    Datum values[6];
    bool nulls[6];
    for (int c = 0; c < 6; c++) {
      values[c] = columns[c].value;
      nulls[c] = columns[c].is_null;
    }
    identifiers.add(values, nulls);
  }
  identifiers.finish();
  return true;
}

// Inserts the new keys in (type, value) order; all of them, or the batch
// runs again row by row.
void insert_identifiers(int64_t account_id, std::vector<std::pair<KeyId, int64_t>> keys) {
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  if (insert_keys_directly(account_id, keys)) return;
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

std::set<int64_t> update_contacts(int64_t account_id, const std::vector<ContactWrite> &updates,
                                  const std::set<int64_t> &locked, const std::vector<SourceRow> &rows) {
  std::set<int64_t> changed;
  std::vector<const ContactWrite *> writes;
  for (const ContactWrite &w : updates)
    if (locked.count(w.id)) writes.push_back(&w);
  if (writes.empty()) return changed;
  std::vector<Param> params = with_account(account_id, contact_params(writes, rows));
  params.push_back(bool_param(rows.front().fields.clear_nulls));
  uint64_t n = execute(update_contacts_statement, params, false);
  for (uint64_t r = 0; r < n; r++) changed.insert(result_int8(r, 1).value_or(0));
  return changed;
}

}  // namespace

std::vector<RowResult> apply_set_based(const std::vector<SourceRow> &rows, const RowByRow &row_by_row,
                                       NormalizedAhead *ahead, bool assume_new_keys) {
  std::vector<RowResult> results(rows.size());
  if (rows.empty()) return results;
  const int64_t account_id = rows.front().keys.account_id;
  std::vector<bool> done(rows.size(), false);
  std::vector<std::optional<Request>> requests = build_all(rows, results, done, ahead);

  std::map<int64_t, ContactRow> contact_rows;
  std::map<int64_t, ContactProfile> profiles;
  std::vector<bool> assumed;
  identity::BatchSnapshot snapshot =
      read_snapshot(account_id, requests, contact_rows, profiles, assume_new_keys, assumed);
  std::vector<const Request *> pointers;
  for (const auto &request : requests) pointers.push_back(request ? &*request : nullptr);
  std::vector<PlannedRow> plans = identity::plan_batch(pointers, snapshot);
  // A key taken to be new is checked by its insertion. A row refused or
  // skipped on its other keys inserts nothing, and might have been decided
  // otherwise on a read of all of them: the batch is tried again reading
  // them (run_batch).
  for (size_t i = 0; i < plans.size(); i++)
    if (assumed[i] && (plans[i].plan == RowPlan::kFailed || plans[i].plan == RowPlan::kSkipped))
      throw SetBasedConflict("row " + std::to_string(rows[i].row_number) +
                             " was decided without reading keys taken to be new");

  // What each planned create and update writes.
  std::vector<ContactWrite> creates, updates;
  for (size_t i = 0; i < rows.size(); i++) {
    const PlannedRow &p = plans[i];
    if (p.plan != RowPlan::kCreate && p.plan != RowPlan::kUpdate) continue;
    const Request &request = *requests[i];
    const ContactRow *winner = p.plan == RowPlan::kUpdate ? &contact_rows.at(*p.decision.winner) : nullptr;
    ContactWrite w;
    w.row = i;
    w.id = winner ? *p.decision.winner : 0;
    w.external_id = winner ? winner->state.external_id : std::nullopt;
    if (!w.external_id) w.external_id = p.decision.assign_external_id;
    w.email = primary_after("email", request, winner);
    w.phone = primary_after("phone", request, winner);
    w.gets_keys = !p.decision.attached.empty();
    (winner ? updates : creates).push_back(std::move(w));
  }
  std::sort(updates.begin(), updates.end(), [](const ContactWrite &a, const ContactWrite &b) { return a.id < b.id; });
  std::set<int64_t> locked =
      lock_updates(account_id, that_may_change(updates, rows, contact_rows, profiles), rows, requests, snapshot,
                   contact_rows);

  std::vector<OptId> new_ids = allocate_ids(creates.size());
  std::vector<OptId> contact_of_row(rows.size());  // by row: the contact a planned row writes
  for (size_t k = 0; k < creates.size(); k++) creates[k].id = new_ids.at(k).value_or(0);
  for (const ContactWrite &w : creates) contact_of_row[w.row] = w.id;
  for (const ContactWrite &w : updates) contact_of_row[w.row] = w.id;
  insert_contacts(account_id, creates, rows);

  std::vector<std::pair<KeyId, int64_t>> new_keys;
  for (size_t row = 0; row < rows.size(); row++)
    if (contact_of_row[row])
      for (size_t k : plans[row].decision.attached) {
        const identity::Key &key = requests[row]->keys[k];
        new_keys.push_back({{key.type, key.value}, *contact_of_row[row]});
      }
  insert_identifiers(account_id, std::move(new_keys));
  std::set<int64_t> changed = update_contacts(account_id, updates, locked, rows);
  std::vector<int64_t> touched;  // new keys, profile unchanged
  for (const ContactWrite &w : updates)
    if (w.gets_keys && locked.count(w.id) && !changed.count(w.id)) touched.push_back(w.id);
  touch_contacts(account_id, touched);

  // Results and the log, in source order, as apply_decision writes them.
  LogBatch log;
  size_t steps = 0;
  for (size_t row = 0; row < rows.size(); row++)
    if (contact_of_row[row]) steps += 3 + plans[row].decision.attached.size();
  log.reserve(steps);
  for (size_t i = 0; i < rows.size(); i++) {
    const PlannedRow &p = plans[i];
    if (done[i] || p.plan == RowPlan::kRowByRow || p.plan == RowPlan::kNone) continue;
    RowResult &r = results[i];
    if (p.plan == RowPlan::kFailed) {
      r = row_failed(rows[i], *p.error);
      r.set_based = true;
      continue;
    }
    const Decision &d = p.decision;
    r.set_based = true;
    r.row_number = rows[i].row_number;
    r.action = d.action();
    if (!d.matched_by.empty()) r.matched_by = d.matched_by;
    if (p.plan == RowPlan::kSkipped) {
      r.contact_id = d.winner;
      continue;
    }
    int64_t id = contact_of_row[i].value();
    r.contact_id = id;
    if (p.plan == RowPlan::kCreate) log.add(id, "created", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt);
    for (size_t k : d.attached) {
      const identity::Key &key = requests[i]->keys[k];
      if (key.key_class != identity::KeyClass::kExternalId)
        log.add(id, "identifier_attached", r.matched_by, key.type, key.value, std::nullopt, std::nullopt);
    }
    if (p.plan == RowPlan::kUpdate && changed.count(id))
      log.add(id, "updated", r.matched_by, std::nullopt, std::nullopt, std::nullopt, std::nullopt);
    if (d.assign_external_id)
      log.add(id, "external_id_assigned", r.matched_by, identity::kExternalIdType, *d.assign_external_id,
              std::nullopt, std::nullopt);
  }
  // Contacts that got changeable identifiers may pass a type's limit; as row
  // by row, each detach is logged with the key that matched the row, in the
  // row of its contact.
  std::map<OptText, std::vector<int64_t>> gained;
  for (size_t row = 0; row < rows.size(); row++) {
    const Decision &d = plans[row].decision;
    if (contact_of_row[row] && identity::may_pass_limits(*requests[row], d))
      gained[d.matched_by.empty() ? OptText() : OptText(d.matched_by)].push_back(*contact_of_row[row]);
  }
  for (const auto &[matched_by, ids] : gained) enforce_limits(account_id, ids, matched_by, log);
  log.flush(account_id);

  for (size_t i = 0; i < rows.size(); i++)
    if (plans[i].plan == RowPlan::kRowByRow) results[i] = row_by_row(i, *requests[i]);
  return results;
}

}  // namespace pgshell
