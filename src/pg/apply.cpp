// apply.cpp: the writes of upsert_contact and assign_external_id.
#include "pg/apply.h"

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <tuple>

#include "core/json_text.h"
#include "core/write_rules.h"
#include "pg/config_cache.h"
#include "pg/events.h"
#include "pg/log_batch.h"
#include "pg/request.h"
#include "pg/bulk_insert.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/namespace.h"
Datum ci_merge_attributes(PG_FUNCTION_ARGS);
}

namespace pgshell {
namespace {

using identity::Decision;
using identity::Key;
using identity::Request;

Statement insert_contact_statement{
    "INSERT INTO contact_identity.contacts"
    " (account_id, external_id, email, phone, first_name, last_name, attributes)"
    " VALUES ($1, $2, $3, $4, $5, $6, contact_identity.merge_attributes('{}'::pg_catalog.jsonb, $7))"
    " RETURNING contact_id",
    {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID}};

// A new contact with the ID drawn for it ($2), once its keys are in.
Statement insert_contact_with_id_statement{
    "INSERT INTO contact_identity.contacts"
    " (account_id, contact_id, external_id, email, phone, first_name, last_name, attributes)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, contact_identity.merge_attributes('{}'::pg_catalog.jsonb, $8))",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID}};

// The keys of a new contact ($4), attached at once, in (type, value) order
// like every claim: one a concurrent call inserted meanwhile is waited for
// and skipped, and the caller counts what went in.
Statement insert_keys_statement{
    "INSERT INTO contact_identity.identifiers AS i (account_id, type, value, contact_id, attached_at)"
    " SELECT $1, k.type, k.value, $4, pg_catalog.now()"
    " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) AS k(type, value)"
    " ORDER BY k.type, k.value"
    " ON CONFLICT (account_id, type, value) DO NOTHING",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8OID}};

// Removes the keys a create_with_keys that lost a race inserted.
Statement undo_keys_statement{
    "DELETE FROM contact_identity.identifiers i"
    " WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

// Writes only when something differs, so an unchanged profile costs no row
// version; IS DISTINCT FROM resolves = in pg_catalog (search_path is pinned).
// $9 (clear_nulls): the names are set as given, NULL included.
#define NEW_FIRST_NAME "CASE WHEN $9 THEN $6 ELSE COALESCE($6, c.first_name) END"
#define NEW_LAST_NAME "CASE WHEN $9 THEN $7 ELSE COALESCE($7, c.last_name) END"
Statement update_contact_statement{
    "UPDATE contact_identity.contacts c SET external_id = $3, email = $4, phone = $5,"
    " first_name = " NEW_FIRST_NAME ", last_name = " NEW_LAST_NAME ","
    " attributes = contact_identity.merge_attributes(c.attributes, $8),"
    " deleted_at = NULL, updated_at = pg_catalog.now()"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2"
    " AND (c.external_id IS DISTINCT FROM $3 OR c.email IS DISTINCT FROM $4 OR c.phone IS DISTINCT FROM $5"
    "  OR c.first_name IS DISTINCT FROM " NEW_FIRST_NAME " OR c.last_name IS DISTINCT FROM " NEW_LAST_NAME
    "  OR c.attributes IS DISTINCT FROM contact_identity.merge_attributes(c.attributes, $8)"
    "  OR c.deleted_at IS NOT NULL)"
    " RETURNING c.contact_id",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, BOOLOID}};
#undef NEW_FIRST_NAME
#undef NEW_LAST_NAME

// A merge, statement by statement, each on one table. The loser is $2, the
// winner $3. Read before anything moves: the loser's names and attributes,
// the gaps of the winner they fill (JSON), and the loser's primary values
// (JSON); the "merged" log row records the last two for unmerge_contact.
Statement merge_read_statement{
    "SELECT l.first_name, l.last_name, l.attributes::pg_catalog.text,"
    " (pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
    "   'first_name', CASE WHEN w.first_name IS NULL THEN l.first_name END,"
    "   'last_name', CASE WHEN w.last_name IS NULL THEN l.last_name END))"
    " OPERATOR(pg_catalog.||) COALESCE((SELECT pg_catalog.jsonb_build_object('attributes',"
    "     pg_catalog.jsonb_object_agg(a.key, a.value))"
    "   FROM pg_catalog.jsonb_each(l.attributes) a"
    "   WHERE NOT w.attributes OPERATOR(pg_catalog.?) a.key HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0),"
    "   '{}'::pg_catalog.jsonb))::pg_catalog.text,"
    " pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
    "   'external_id', l.external_id, 'email', l.email, 'phone', l.phone))::pg_catalog.text"
    " FROM contact_identity.contacts w, contact_identity.contacts l"
    " WHERE w.account_id OPERATOR(pg_catalog.=) $1 AND w.contact_id OPERATOR(pg_catalog.=) $3"
    "   AND l.account_id OPERATOR(pg_catalog.=) $1 AND l.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID, INT8OID}};

// Every identifier of the loser to the winner, returning when each was
// first seen and when the loser got it (JSON values).
Statement merge_identifiers_statement{
    "UPDATE contact_identity.identifiers i SET contact_id = $3, attached_at = pg_catalog.now()"
    " FROM contact_identity.identifiers o"
    " WHERE o.account_id OPERATOR(pg_catalog.=) $1 AND o.contact_id OPERATOR(pg_catalog.=) $2"
    "   AND i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) o.type"
    "   AND i.value OPERATOR(pg_catalog.=) o.value"
    " RETURNING i.type, i.value, pg_catalog.to_jsonb(o.first_seen_at)::pg_catalog.text,"
    "   pg_catalog.to_jsonb(o.attached_at)::pg_catalog.text",
    {INT8OID, INT8OID, INT8OID}};

Statement merge_events_statement{
    "UPDATE contact_identity.events e SET contact_id = $3"
    " WHERE e.account_id OPERATOR(pg_catalog.=) $1 AND e.contact_id OPERATOR(pg_catalog.=) $2"
    " RETURNING e.event_id",
    {INT8OID, INT8OID, INT8OID}};

// The loser fills the winner's empty names and missing attributes ($4, $5,
// $6: the loser's), and is left a tombstone.
Statement merge_contacts_statement{
    "UPDATE contact_identity.contacts c"
    " SET first_name = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3 THEN COALESCE(c.first_name, $4)"
    "       ELSE c.first_name END,"
    "     last_name = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3 THEN COALESCE(c.last_name, $5)"
    "       ELSE c.last_name END,"
    "     attributes = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3"
    "       THEN $6 OPERATOR(pg_catalog.||) c.attributes ELSE c.attributes END,"
    "     merged_into = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $2 THEN $3 END,"
    "     external_id = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3 THEN c.external_id END,"
    "     email = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3 THEN c.email END,"
    "     phone = CASE WHEN c.contact_id OPERATOR(pg_catalog.=) $3 THEN c.phone END,"
    "     updated_at = pg_catalog.now()"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) ANY (ARRAY[$2, $3])",
    {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, JSONBOID}};

// updated_at moves on every change of a contact's identifiers too, so that
// export_changes finds it; the profile itself is left as it is.
Statement touch_statement{
    "UPDATE contact_identity.contacts c SET updated_at = pg_catalog.now()"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) ANY ($2)",
    {INT8OID, INT8ARRAYOID}};

// Identifier statements work one key at a time: a primary-key probe is the
// one plan a kept statement can never get wrong as the table grows.
#define KEY_IS "i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) $3 AND i.value OPERATOR(pg_catalog.=) $4"

// Gives the key to contact $2 from whoever holds it.
Statement move_statement{
    "UPDATE contact_identity.identifiers i SET contact_id = $2, attached_at = pg_catalog.now() WHERE " KEY_IS,
    {INT8OID, INT8OID, TEXTOID, TEXTOID}};

Statement detach_statement{
    "DELETE FROM contact_identity.identifiers i WHERE " KEY_IS " AND i.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID, TEXTOID, TEXTOID}};

// Gives a claimed, holder-less key to contact $2.
Statement attach_statement{
    "UPDATE contact_identity.identifiers i SET contact_id = $2, attached_at = pg_catalog.now()"
    " WHERE " KEY_IS " AND i.contact_id IS NULL",
    {INT8OID, INT8OID, TEXTOID, TEXTOID}};

#undef KEY_IS

// The identifiers of contacts $2 past their type's max_per_contact ($3
// types, $4 their caps), the longest known first (first_seen_at: a move or
// a merge does not make an old token new). A probe of the contact index per
// contact: the rows found are then detached one by one, by primary key.
Statement over_limit_statement{
    "SELECT r.contact_id, r.type, r.value, r.cap::pg_catalog.int8, pg_catalog.to_jsonb(r.first_seen_at)::pg_catalog.text,"
    "  pg_catalog.to_jsonb(r.attached_at)::pg_catalog.text FROM ("
    "  SELECT i.contact_id, i.type, i.value, i.first_seen_at, i.attached_at, t.cap,"
    "   pg_catalog.row_number() OVER (PARTITION BY i.contact_id, i.type"
    "     ORDER BY i.first_seen_at DESC, i.value DESC) AS n"
    "   FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS c(id)"
    "   CROSS JOIN LATERAL (SELECT i.contact_id, i.type, i.value, i.first_seen_at, i.attached_at"
    "     FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    "     AND i.contact_id OPERATOR(pg_catalog.=) c.id OFFSET 0) i"
    "   JOIN ROWS FROM (pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.int4[]))"
    "     AS t(name, cap) ON t.name OPERATOR(pg_catalog.=) i.type) r"
    " WHERE r.n OPERATOR(pg_catalog.>) r.cap ORDER BY r.contact_id, r.type, r.value",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, INT4ARRAYOID}};

using OptText = LogBatch::OptText;

}  // namespace

Datum merged_attributes(Datum current, Datum changes) {
  return pg_call([&]() noexcept { return DirectFunctionCall2(ci_merge_attributes, current, changes); });
}

int64_t next_contact_id() {
  return pg_call([]() noexcept {
    Oid sequence = get_relname_relid("contacts_contact_id_seq", get_namespace_oid("contact_identity", false));
    if (!OidIsValid(sequence)) elog(ERROR, "contact_identity: sequence contacts_contact_id_seq is missing");
    return DatumGetInt64(DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(sequence)));
  });
}

namespace {
using OptId = LogBatch::OptId;

// Runs a per-key statement ($1 account, $2 contact, $3 type, $4 value);
// returns the rows it changed.
uint64_t for_key(Statement &statement, int64_t account_id, int64_t contact_id, const std::string &type,
                 const std::string &value) {
  return execute(statement, {int8_param(account_id), int8_param(contact_id), text_param(type), text_param(value)},
                 false);
}

// The primary email or phone after the call: primary_after(), else the
// first merged contact's.
OptText primary(const std::string &type, const Request &request, const ContactRow *winner, const LookupResult &snap,
                const Decision &d) {
  OptText value = primary_after(type, request, winner);
  if (value || request.clear_types.count(type)) return value;
  for (int64_t loser : d.merged) {
    const ContactRow &row = snap.rows.at(loser);
    const OptText *held = primary_column(row, type);
    if (held && *held) return *held;
  }
  return std::nullopt;
}

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
    const Param columns[] = {account, int8_param(r.id), text_param(r.external_id), text_param(r.email),
                             text_param(r.phone), text_param(r.fields->first_name), text_param(r.fields->last_name),
                             attributes, now, now, null_param(), null_param()};
    Datum values[12];
    bool nulls[12];
    for (int c = 0; c < 12; c++) {
      values[c] = columns[c].value;
      nulls[c] = columns[c].is_null;
    }
    contacts.add(values, nulls);
  }
  contacts.finish();
  return true;
}

// The keys of new contact `id` through the table access method, in (type,
// value) order like every claim, each unless a concurrent call has it
// (BulkInsert::insert_unless_conflict): the number that went in, stopping
// at the first that did not; nullopt when the table cannot take them that
// way.
std::optional<size_t> insert_new_keys(int64_t account_id, const Request &request, int64_t id) {
  BulkInsert identifiers("identifiers", {"account_id", "type", "value", "contact_id", "first_seen_at", "attached_at"});
  if (!identifiers.usable()) {
    identifiers.finish();
    return std::nullopt;
  }
  std::vector<const Key *> keys;
  for (const Key &key : request.keys) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(),
            [](const Key *a, const Key *b) { return std::tie(a->type, a->value) < std::tie(b->type, b->value); });
  const Param account = int8_param(account_id), holder = int8_param(id), now{BulkInsert::now(), false};
  size_t inserted = 0;
  for (const Key *key : keys) {
    InMemoryContext in_rows(identifiers.rows_context());
    const Param columns[] = {account, text_param(key->type), text_param(key->value), holder, now, now};
    Datum values[6];
    bool nulls[6];
    for (int c = 0; c < 6; c++) {
      values[c] = columns[c].value;
      nulls[c] = columns[c].is_null;
    }
    if (!identifiers.insert_unless_conflict(values, nulls)) break;
    inserted++;
  }
  identifiers.finish();
  return inserted;
}

std::optional<int64_t> create_with_keys(int64_t account_id, const Request &request, const Decision &d,
                                        const ProfileFields &fields) {
  const int64_t id = next_contact_id();
  std::optional<size_t> inserted = insert_new_keys(account_id, request, id);
  if (!inserted) {
    std::vector<std::string> types, values;
    for (const Key &key : request.keys) {
      types.push_back(key.type);
      values.push_back(key.value);
    }
    inserted = execute(insert_keys_statement,
                       {int8_param(account_id), text_array_param(types), text_array_param(values), int8_param(id)},
                       false);
  }
  if (*inserted != request.keys.size()) {  // a concurrent call has one of them: its ID stays unused
    execute(undo_keys_statement, {int8_param(account_id), int8_param(id)}, false);
    return std::nullopt;
  }
  const OptText email = primary_after("email", request, nullptr), phone = primary_after("phone", request, nullptr);
  if (!insert_new_contacts(account_id, {{id, d.assign_external_id, email, phone, &fields}}))
    execute(insert_contact_with_id_statement,
            {int8_param(account_id), int8_param(id), text_param(d.assign_external_id), text_param(email),
             text_param(phone), text_param(fields.first_name), text_param(fields.last_name),
             jsonb_param(fields.attributes_json)},
            false);
  return id;
}

void touch_contacts(int64_t account_id, const std::vector<int64_t> &contacts) {
  if (contacts.empty()) return;
  execute(touch_statement,
          {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end()))}, false);
}

void enforce_limits(int64_t account_id, const std::vector<int64_t> &contacts, const std::optional<std::string> &matched_by,
                    LogBatch &log, const std::vector<int64_t> &merged) {
  if (contacts.empty()) return;
  std::vector<std::string> capped;
  std::vector<int32_t> caps;
  for (const auto &[name, info] : *identifier_types())
    if (info.max_per_contact) {
      capped.push_back(name);
      caps.push_back(*info.max_per_contact);
    }
  if (capped.empty()) return;
  uint64_t n = execute(over_limit_statement,
                       {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end())),
                        text_array_param(capped), int4_array_param(caps)},
                       false);
  struct Over {
    int64_t contact;
    std::string type, value;
    int64_t cap;
    std::string first_seen_at, attached_at;  // JSON
  };
  std::vector<Over> over;
  for (uint64_t r = 0; r < n; r++)
    over.push_back({result_int8(r, 1).value_or(0), result_text(r, 2).value_or(""), result_text(r, 3).value_or(""),
                    result_int8(r, 4).value_or(0), result_text(r, 5).value_or("null"),
                    result_text(r, 6).value_or("null")});
  // What unmerge_contact needs to give a token back: when it was first seen
  // and attached, and the merges that pushed it out.
  std::string after_merge;
  for (int64_t id : merged) after_merge += (after_merge.empty() ? "" : ", ") + std::to_string(id);
  if (!merged.empty()) after_merge = ", \"after_merge_of\": [" + after_merge + "]";
  for (const Over &o : over) {
    for_key(detach_statement, account_id, o.contact, o.type, o.value);
    log.add(o.contact, "identifier_detached", matched_by, o.type, o.value, std::nullopt,
            "{\"reason\": \"over max_per_contact (" + std::to_string(o.cap) + ")\", \"first_seen_at\": " +
                o.first_seen_at + ", \"attached_at\": " + o.attached_at + after_merge + "}");
  }
}

std::optional<std::string> primary_after(const std::string &type, const Request &request, const ContactRow *winner) {
  if (!winner) return identity::primary_after(type, request, nullptr, std::nullopt);
  const OptText *column = primary_column(*winner, type);
  return identity::primary_after(type, request, &winner->state, column ? *column : std::nullopt);
}

void merge_into(int64_t account_id, const ContactRow &loser, int64_t winner, const std::optional<std::string> &matched_by,
                LogBatch &log, const std::string &extra_detail) {
  const std::vector<Param> pair{int8_param(account_id), int8_param(loser.state.id), int8_param(winner)};
  if (execute(merge_read_statement, pair, false) != 1)
    throw std::runtime_error("contact_identity: could not merge contact " + std::to_string(loser.state.id) +
                             " into contact " + std::to_string(winner));
  const OptText first_name = result_text(0, 1), last_name = result_text(0, 2), attributes = result_text(0, 3);
  const std::string filled = result_text(0, 4).value_or("{}"), primaries = result_text(0, 5).value_or("{}");

  uint64_t n = execute(merge_identifiers_statement, pair, false);
  // (type, value, first_seen_at, attached_at), in (type, value) order.
  std::vector<std::array<std::string, 4>> moved(n);
  for (uint64_t r = 0; r < n; r++)
    moved[r] = {result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3).value_or("null"),
                result_text(r, 4).value_or("null")};
  std::sort(moved.begin(), moved.end());
  std::vector<std::string> brought;
  for (const auto &[type, value, first_seen_at, attached_at] : moved)
    brought.push_back("{\"type\": " + identity::json_quote(type) + ", \"value\": " + identity::json_quote(value) +
                      ", \"first_seen_at\": " + first_seen_at + ", \"attached_at\": " + attached_at + "}");
  n = execute(merge_events_statement, pair, false);
  std::vector<int64_t> events;
  for (uint64_t r = 0; r < n; r++) events.push_back(result_int8(r, 1).value_or(0));
  std::sort(events.begin(), events.end());
  execute(merge_contacts_statement,
          {pair[0], pair[1], pair[2], text_param(first_name), text_param(last_name), jsonb_param(attributes)}, false);

  // What unmerge_contact needs to reverse exactly this: the identifiers with
  // when they were first seen and when the loser got them, the event IDs,
  // the gaps filled; then the loser's primary values and the caller's members.
  std::string detail = "{\"identifiers\": [";
  for (size_t i = 0; i < brought.size(); i++) detail += (i ? ", " : "") + brought[i];
  detail += "], \"events\": " + std::to_string(events.size()) + ", \"event_ids\": [";
  for (size_t i = 0; i < events.size(); i++) detail += (i ? ", " : "") + std::to_string(events[i]);
  detail += "], \"filled\": " + filled;
  for (const std::string &more : {primaries, extra_detail}) {
    size_t open = more.find('{'), close = more.rfind('}');
    std::string inner = open == std::string::npos ? "" : more.substr(open + 1, close - open - 1);
    if (inner.find_first_not_of(' ') != std::string::npos) detail += ", " + inner;
  }
  detail += "}";
  log.add(winner, "merged", matched_by, std::nullopt, std::nullopt, loser.state.id, detail);
}

Outcome apply_decision(int64_t account_id, const Request &request, const LookupResult &snap, const Decision &d,
                       const ProfileFields &fields, std::optional<int64_t> created) {
  LogBatch log;
  Outcome out;
  out.action = d.action();
  if (!d.matched_by.empty()) out.matched_by = d.matched_by;
  if (d.skipped_deleted) {  // left as it is
    out.contact_id = d.winner;
    out.external_id = snap.rows.at(*d.winner).state.external_id;
    return out;
  }

  if (d.remember_only) {  // the claimed rows are the memory
    for (size_t i : d.attached)
      if (snap.fresh[i])
        log.add(std::nullopt, "identifier_remembered", std::nullopt, request.keys[i].type, request.keys[i].value,
                std::nullopt, std::nullopt);
    log.flush(account_id);
    return out;
  }

  const ContactRow *winner = d.winner ? &snap.rows.at(*d.winner) : nullptr;
  OptText external_id = winner ? winner->state.external_id : std::nullopt;
  if (!external_id) external_id = d.assign_external_id;
  OptText email = primary("email", request, winner, snap, d);
  OptText phone = primary("phone", request, winner, snap, d);
  out.external_id = external_id;

  int64_t id;
  if (!d.create) {
    id = *d.winner;
  } else if (created) {
    id = *created;
  } else {
    execute(insert_contact_statement,
            {int8_param(account_id), text_param(external_id), text_param(email), text_param(phone),
             text_param(fields.first_name), text_param(fields.last_name), jsonb_param(fields.attributes_json)},
            false);
    id = result_int8(0, 1).value_or(0);
  }
  if (d.create) log.add(id, "created", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt);
  out.contact_id = id;

  for (int64_t loser : d.merged) merge_into(account_id, snap.rows.at(loser), id, out.matched_by, log);

  std::vector<int64_t> gave_keys;  // the previous holders of moved keys
  for (size_t i : d.moved) {
    const Key &key = request.keys[i];
    for_key(move_statement, account_id, id, key.type, key.value);
    log.add(id, "identifier_moved", out.matched_by, key.type, key.value, snap.matches.holder[i], std::nullopt);
    if (snap.matches.holder[i]) gave_keys.push_back(*snap.matches.holder[i]);
  }
  touch_contacts(account_id, gave_keys);

  for (const auto &[type, value] : d.detached) {
    for_key(detach_statement, account_id, id, type, value);
    log.add(id, "identifier_detached", out.matched_by, type, value, std::nullopt,
            "{\"reason\": \"replaced by the request's " + type + "\"}");
  }

  std::vector<std::pair<std::string, std::string>> remembered;  // known before, without a holder
  for (size_t i : d.attached) {
    const Key &key = request.keys[i];
    // We hold this row (claimed or locked while holder-less): it must change.
    if (!created && for_key(attach_statement, account_id, id, key.type, key.value) != 1)
      throw std::runtime_error("contact_identity: could not attach " + key.type + " to contact " + std::to_string(id));
    if (key.key_class != identity::KeyClass::kExternalId)  // logged as external_id_assigned
      log.add(id, "identifier_attached", out.matched_by, key.type, key.value, std::nullopt, std::nullopt);
    if (!snap.fresh[i]) remembered.emplace_back(key.type, key.value);
  }
  // Only a key seen before can carry anonymous history.
  attach_anonymous_events(account_id, id, remembered, log);
  // New changeable identifiers, or a merged whole, may pass a type's limit.
  if (identity::may_pass_limits(request, d)) enforce_limits(account_id, {id}, out.matched_by, log, d.merged);

  // A profile the call leaves as it is needs no UPDATE at all (a login).
  bool may_change = fields.first_name || fields.last_name || fields.attributes_json || fields.clear_nulls ||
                    d.restore || !winner || external_id != winner->state.external_id || email != winner->email ||
                    phone != winner->phone;
  if (!d.create && !may_change && (!d.attached.empty() || !d.moved.empty() || !d.detached.empty()))
    touch_contacts(account_id, {id});
  if (!d.create && may_change) {
    uint64_t changed = execute(update_contact_statement,
                               {int8_param(account_id), int8_param(id), text_param(external_id), text_param(email),
                                text_param(phone), text_param(fields.first_name), text_param(fields.last_name),
                                jsonb_param(fields.attributes_json), bool_param(fields.clear_nulls)},
                               false);
    if (changed > 0 || d.restore)
      log.add(id, d.restore ? "restored" : "updated", out.matched_by, std::nullopt, std::nullopt, std::nullopt,
              std::nullopt);
    else if (!d.attached.empty() || !d.moved.empty() || !d.detached.empty())
      touch_contacts(account_id, {id});
  }
  if (d.assign_external_id)
    log.add(id, "external_id_assigned", out.matched_by, identity::kExternalIdType, *d.assign_external_id,
            std::nullopt, std::nullopt);
  log.flush(account_id);
  return out;
}

}  // namespace pgshell
