// writer.cpp: carrying out one write plan (writer.h): the statements of
// upsert_contact, the import's row path and merge_contacts.
#include "pg/writer.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/write_rules.h"
#include "pg/config_cache.h"
#include "pg/events.h"
#include "pg/log_batch.h"
#include "pg/new_rows.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/namespace.h"
Datum ci_merge_attributes(PG_FUNCTION_ARGS);
}

namespace pgshell {
namespace {

Statement insert_contact_statement{
    "INSERT INTO contact_identity.contacts"
    " (account_id, contact_id, external_id, email, phone, first_name, last_name, attributes)"
    " VALUES ($1, pg_catalog.nextval('contact_identity.contacts_contact_id_seq'::pg_catalog.regclass), $2, $3, $4, $5, $6, contact_identity.merge_attributes('{}'::pg_catalog.jsonb, $7))"
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

// The identifiers of contacts $2 of the types that have a max_per_contact
// ($3), with when each was first seen (microseconds since 1970, and as
// JSON) and attached (JSON): identity::over_limit() says which go. A probe
// of the contact index per contact; those that go are then detached one by
// one, by primary key.
Statement capped_identifiers_statement{
    "SELECT i.contact_id, i.type, i.value,"
    "  (EXTRACT(EPOCH FROM i.first_seen_at) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8,"
    "  pg_catalog.to_jsonb(i.first_seen_at)::pg_catalog.text, pg_catalog.to_jsonb(i.attached_at)::pg_catalog.text"
    " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS c(id)"
    " CROSS JOIN LATERAL (SELECT i.contact_id, i.type, i.value, i.first_seen_at, i.attached_at"
    "   FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    "   AND i.contact_id OPERATOR(pg_catalog.=) c.id OFFSET 0) i"
    " WHERE i.type OPERATOR(pg_catalog.=) ANY ($3)",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID}};

using identity::Request;
using identity::WritePlan;
using OptText = std::optional<std::string>;
using OptId = std::optional<int64_t>;

// Runs a per-key statement ($1 account, $2 contact, $3 type, $4 value);
// returns the rows it changed.
uint64_t for_key(Statement &statement, int64_t account_id, int64_t contact_id, const std::string &type,
                 const std::string &value) {
  return execute(statement, {int8_param(account_id), int8_param(contact_id), text_param(type), text_param(value)},
                 false);
}

// Merges `loser` into `winner`, both locked by the caller: every identifier
// and event moves, the loser fills the winner's empty names and missing
// attributes and is left a tombstone. Returns the detail of the "merged"
// step, with what unmerge_contact needs to reverse it and the members of
// `extra` (a JSON object).
std::string merge_into(int64_t account_id, int64_t loser, int64_t winner, const std::string &extra) {
  const std::vector<Param> pair{int8_param(account_id), int8_param(loser), int8_param(winner)};
  if (execute(merge_read_statement, pair, false) != 1)
    throw std::runtime_error("contact_identity: could not merge contact " + std::to_string(loser) +
                             " into contact " + std::to_string(winner));
  const OptText first_name = result_text(0, 1), last_name = result_text(0, 2), attributes = result_text(0, 3);
  const std::string filled = result_text(0, 4).value_or("{}"), primaries = result_text(0, 5).value_or("{}");

  uint64_t n = execute(merge_identifiers_statement, pair, false);
  std::vector<identity::BroughtKey> brought(n);
  for (uint64_t r = 0; r < n; r++)
    brought[r] = {result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3).value_or("null"),
                  result_text(r, 4).value_or("null")};
  n = execute(merge_events_statement, pair, false);
  std::vector<int64_t> events;
  for (uint64_t r = 0; r < n; r++) events.push_back(result_int8(r, 1).value_or(0));
  execute(merge_contacts_statement,
          {pair[0], pair[1], pair[2], text_param(first_name), text_param(last_name), jsonb_param(attributes)}, false);
  return identity::merge_detail(std::move(brought), std::move(events), filled, primaries, extra);
}

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

std::optional<int64_t> create_with_keys(int64_t account_id, const Request &request, const WritePlan &plan,
                                        const ProfileFields &fields) {
  const int64_t id = next_contact_id();
  // In (type, value) order like every claim; one a concurrent call has
  // stops the writing.
  std::vector<std::pair<KeyId, int64_t>> keys;
  for (const identity::Key &key : request.keys) keys.push_back({{key.type, key.value}, id});
  std::sort(keys.begin(), keys.end());
  std::optional<size_t> inserted = insert_key_rows(account_id, keys, true);
  if (!inserted) {
    std::vector<std::string> types, values;
    for (const auto &[key, holder] : keys) {
      types.push_back(key.first);
      values.push_back(key.second);
    }
    inserted = execute(insert_keys_statement,
                       {int8_param(account_id), text_array_param(types), text_array_param(values), int8_param(id)},
                       false);
  }
  if (*inserted != keys.size()) {  // a concurrent call has one of them: its ID stays unused
    execute(undo_keys_statement, {int8_param(account_id), int8_param(id)}, false);
    return std::nullopt;
  }
  if (!insert_new_contacts(account_id, {{id, &plan.after, &fields}}))
    execute(insert_contact_with_id_statement,
            {int8_param(account_id), int8_param(id), text_param(plan.after.external_id), text_param(plan.after.email),
             text_param(plan.after.phone), text_param(fields.first_name), text_param(fields.last_name),
             jsonb_param(fields.attributes_json)},
            false);
  return id;
}

void touch_contacts(int64_t account_id, const std::vector<int64_t> &contacts) {
  if (contacts.empty()) return;
  execute(touch_statement,
          {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end()))}, false);
}

std::vector<identity::LogStep> enforce_limits(int64_t account_id, const std::vector<int64_t> &contacts,
                                              const std::optional<std::string> &matched_by,
                                              const std::vector<int64_t> &merged) {
  std::vector<identity::LogStep> steps;
  if (contacts.empty()) return steps;
  std::map<std::string, int32_t> caps;  // type -> max_per_contact
  for (const auto &[name, info] : *identifier_types())
    if (info.max_per_contact) caps.emplace(name, *info.max_per_contact);
  if (caps.empty()) return steps;
  std::vector<std::string> capped;
  for (const auto &cap : caps) capped.push_back(cap.first);
  uint64_t n = execute(capped_identifiers_statement,
                       {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end())),
                        text_array_param(capped)},
                       false);
  std::vector<identity::HeldIdentifier> held(n);
  std::vector<std::pair<std::string, std::string>> times(n);  // first seen, attached (JSON)
  for (uint64_t r = 0; r < n; r++) {
    held[r] = {result_int8(r, 1).value_or(0), result_text(r, 2).value_or(""), result_text(r, 3).value_or(""),
               result_int8(r, 4).value_or(0)};
    times[r] = {result_text(r, 5).value_or("null"), result_text(r, 6).value_or("null")};
  }
  for (size_t i : identity::over_limit(held, caps))
    steps.push_back(identity::limit_detach_step(held[i].contact, held[i].type, held[i].value, caps.at(held[i].type),
                                                times[i].first, times[i].second, matched_by, merged));
  for (const identity::LogStep &s : steps) for_key(detach_statement, account_id, *s.contact_id, *s.type, *s.value);
  return steps;
}

Outcome write_plan(int64_t account_id, const WritePlan &plan, const ProfileFields &fields,
                   std::optional<int64_t> created) {
  LogBatch log;
  Outcome out;
  out.action = plan.action;
  out.matched_by = plan.matched_by;
  if (plan.skipped) {  // left as it is
    out.contact_id = plan.contact;
    out.external_id = plan.before.external_id;
    return out;
  }
  if (plan.remember_only) {  // the claimed rows are the memory
    log.add(identity::plan_log(plan, {}));
    log.flush(account_id);
    return out;
  }
  identity::WriteResult result;
  if (plan.contact) {
    result.contact = *plan.contact;
  } else if (created) {
    result.contact = *created;
  } else {
    execute(insert_contact_statement,
            {int8_param(account_id), text_param(plan.after.external_id), text_param(plan.after.email),
             text_param(plan.after.phone), text_param(fields.first_name), text_param(fields.last_name),
             jsonb_param(fields.attributes_json)},
            false);
    result.contact = result_int8(0, 1).value_or(0);
  }
  const int64_t id = result.contact;
  out.contact_id = id;
  out.external_id = plan.after.external_id;

  for (int64_t loser : plan.merged) result.merge_details.push_back(merge_into(account_id, loser, id, plan.merge_extra));
  for (const WritePlan::Move &m : plan.moved) for_key(move_statement, account_id, id, m.type, m.value);
  touch_contacts(account_id, plan.gave_keys());
  for (const auto &[type, value] : plan.detached) for_key(detach_statement, account_id, id, type, value);
  std::vector<KeyId> remembered;  // known before, without a holder
  for (const WritePlan::Attach &a : plan.attached) {
    // We hold this row (claimed or locked while holder-less): it must change.
    if (!created && for_key(attach_statement, account_id, id, a.type, a.value) != 1)
      throw std::runtime_error("contact_identity: could not attach " + a.type + " to contact " + std::to_string(id));
    if (a.known_before) remembered.emplace_back(a.type, a.value);
  }
  // Only a key seen before can carry anonymous history.
  if (std::optional<identity::LogStep> events = attach_anonymous_events(account_id, id, remembered))
    result.events.push_back(std::move(*events));
  if (plan.check_limits) result.limits = enforce_limits(account_id, {id}, plan.matched_by, plan.merged);

  // A profile the call leaves as it is needs no UPDATE at all (a login).
  if (plan.contact) {
    if (fields.any() || plan.columns_change())
      result.profile_changed =
          execute(update_contact_statement,
                  {int8_param(account_id), int8_param(id), text_param(plan.after.external_id),
                   text_param(plan.after.email), text_param(plan.after.phone), text_param(fields.first_name),
                   text_param(fields.last_name), jsonb_param(fields.attributes_json), bool_param(fields.clear_nulls)},
                  false) > 0;
    if (!result.profile_changed && plan.identifiers_change()) touch_contacts(account_id, {id});
  }
  log.add(identity::plan_log(plan, result));
  log.flush(account_id);
  return out;
}

}  // namespace pgshell
