// apply.cpp: the writes of upsert_contact and assign_external_id.
#include "pg/apply.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "pg/events.h"
#include "pg/log_batch.h"
#include "pg/request.h"
#include "pg/spi.h"

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

// A new contact and all of its keys in one statement, for a request none
// of whose keys has a row yet. The keys go in first, in (type, value) order
// like every claim: one a concurrent call inserted meanwhile is waited for
// and skipped. The contact, from the sequence, then gets the primary values
// only when every key went in; otherwise it is a bare row that only keeps
// the foreign key of the keys that did (undo_create removes both).
Statement create_with_keys_statement{
    "WITH new AS MATERIALIZED (SELECT pg_catalog.nextval('contact_identity.contacts_contact_id_seq'::pg_catalog.regclass) AS id),"
    " k AS (INSERT INTO contact_identity.identifiers AS i (account_id, type, value, contact_id, attached_at)"
    "  SELECT $1, k.type, k.value, new.id, pg_catalog.now() FROM new,"
    "   ROWS FROM (pg_catalog.unnest($8::pg_catalog.text[]), pg_catalog.unnest($9::pg_catalog.text[])) AS k(type, value)"
    "  ORDER BY k.type, k.value"
    "  ON CONFLICT (account_id, type, value) DO NOTHING RETURNING 1),"
    " whole AS MATERIALIZED (SELECT (SELECT pg_catalog.count(*) FROM k)"
    "   OPERATOR(pg_catalog.=) pg_catalog.cardinality($8::pg_catalog.text[]) AS ok),"
    " c AS (INSERT INTO contact_identity.contacts"
    "  (account_id, contact_id, external_id, email, phone, first_name, last_name, attributes)"
    "  SELECT $1, new.id, CASE WHEN whole.ok THEN $2 END, CASE WHEN whole.ok THEN $3 END,"
    "   CASE WHEN whole.ok THEN $4 END, $5, $6, contact_identity.merge_attributes('{}'::pg_catalog.jsonb, $7)"
    "  FROM new, whole RETURNING 1)"
    " SELECT new.id, whole.ok, (SELECT pg_catalog.count(*) FROM c) FROM new, whole",
    {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTARRAYOID, TEXTARRAYOID}};

// Removes what a create_with_keys that lost a race wrote.
Statement undo_create_statement{
    "WITH keys AS (DELETE FROM contact_identity.identifiers i"
    "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) $2)"
    " DELETE FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2",
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

// Moves every identifier and event of the loser ($2) to the winner ($3),
// lets the loser fill the winner's empty names and missing attributes, and
// leaves the loser as a tombstone. Returns the "merged" log row's detail:
// what unmerge_contact needs to reverse exactly this (the identifiers with
// when they were first seen and when the loser got them, the event IDs, the
// gaps filled), the loser's primary values, and $4's members. Every
// sub-statement sees the state before the merge.
Statement merge_statement{
    "WITH before AS ("
    "  SELECT w.first_name AS w_first, w.last_name AS w_last, w.attributes AS w_attributes,"
    "   l.first_name AS l_first, l.last_name AS l_last, l.attributes AS l_attributes,"
    "   l.external_id AS l_external_id, l.email AS l_email, l.phone AS l_phone"
    "  FROM contact_identity.contacts w, contact_identity.contacts l"
    "  WHERE w.account_id OPERATOR(pg_catalog.=) $1 AND w.contact_id OPERATOR(pg_catalog.=) $3"
    "    AND l.account_id OPERATOR(pg_catalog.=) $1 AND l.contact_id OPERATOR(pg_catalog.=) $2),"
    " held AS (SELECT i.type, i.value, i.first_seen_at, i.attached_at FROM contact_identity.identifiers i"
    "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) $2),"
    " moved AS ("
    "  UPDATE contact_identity.identifiers i SET contact_id = $3, attached_at = pg_catalog.now() FROM held h"
    "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) h.type"
    "    AND i.value OPERATOR(pg_catalog.=) h.value"
    "  RETURNING h.type, h.value, h.first_seen_at, h.attached_at),"
    " moved_events AS ("
    "  UPDATE contact_identity.events e SET contact_id = $3"
    "  WHERE e.account_id OPERATOR(pg_catalog.=) $1 AND e.contact_id OPERATOR(pg_catalog.=) $2"
    "  RETURNING e.event_id),"
    " filled AS ("
    "  UPDATE contact_identity.contacts w"
    "  SET first_name = COALESCE(w.first_name, l.first_name),"
    "      last_name = COALESCE(w.last_name, l.last_name),"
    "      attributes = l.attributes OPERATOR(pg_catalog.||) w.attributes, updated_at = pg_catalog.now()"
    "  FROM contact_identity.contacts l"
    "  WHERE w.account_id OPERATOR(pg_catalog.=) $1 AND w.contact_id OPERATOR(pg_catalog.=) $3"
    "    AND l.account_id OPERATOR(pg_catalog.=) $1 AND l.contact_id OPERATOR(pg_catalog.=) $2),"
    " tombstone AS ("
    "  UPDATE contact_identity.contacts c"
    "  SET merged_into = $3, external_id = NULL, email = NULL, phone = NULL, updated_at = pg_catalog.now()"
    "  WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2)"
    " SELECT (pg_catalog.jsonb_build_object("
    "   'identifiers', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
    "       'type', m.type, 'value', m.value, 'first_seen_at', m.first_seen_at, 'attached_at', m.attached_at)"
    "     ORDER BY m.type, m.value)"
    "     FROM moved m), '[]'::pg_catalog.jsonb),"
    "   'events', (SELECT pg_catalog.count(*) FROM moved_events),"
    "   'event_ids', COALESCE((SELECT pg_catalog.jsonb_agg(e.event_id ORDER BY e.event_id) FROM moved_events e),"
    "     '[]'::pg_catalog.jsonb),"
    "   'filled', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
    "       'first_name', CASE WHEN b.w_first IS NULL THEN b.l_first END,"
    "       'last_name', CASE WHEN b.w_last IS NULL THEN b.l_last END))"
    "     OPERATOR(pg_catalog.||) COALESCE((SELECT pg_catalog.jsonb_build_object('attributes',"
    "         pg_catalog.jsonb_object_agg(a.key, a.value))"
    "       FROM pg_catalog.jsonb_each(b.l_attributes) a"
    "       WHERE NOT b.w_attributes OPERATOR(pg_catalog.?) a.key HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0),"
    "     '{}'::pg_catalog.jsonb))"
    "  OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
    "   'external_id', b.l_external_id, 'email', b.l_email, 'phone', b.l_phone))"
    "  OPERATOR(pg_catalog.||) $4)::pg_catalog.text"
    " FROM before b",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};

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

// The identifiers of contacts $2 past their type's max_per_contact, the
// longest known first (first_seen_at: a move or a merge does not make an old
// token new). A probe of the contact index per contact: the rows found are
// then detached one by one, by primary key.
Statement over_limit_statement{
    "SELECT r.contact_id, r.type, r.value, r.cap, pg_catalog.to_jsonb(r.first_seen_at)::pg_catalog.text,"
    "  pg_catalog.to_jsonb(r.attached_at)::pg_catalog.text FROM ("
    "  SELECT i.contact_id, i.type, i.value, i.first_seen_at, i.attached_at, t.max_per_contact AS cap,"
    "   pg_catalog.row_number() OVER (PARTITION BY i.contact_id, i.type"
    "     ORDER BY i.first_seen_at DESC, i.value DESC) AS n"
    "   FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS c(id)"
    "   CROSS JOIN LATERAL (SELECT i.contact_id, i.type, i.value, i.first_seen_at, i.attached_at"
    "     FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    "     AND i.contact_id OPERATOR(pg_catalog.=) c.id OFFSET 0) i"
    "   JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type"
    "   WHERE t.max_per_contact IS NOT NULL) r"
    " WHERE r.n OPERATOR(pg_catalog.>) r.cap ORDER BY r.contact_id, r.type, r.value",
    {INT8OID, INT8ARRAYOID}};

using OptText = LogBatch::OptText;
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
    const OptText &held = type == "email" ? row.email : row.phone;
    if (held) return held;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> create_with_keys(int64_t account_id, const Request &request, const Decision &d,
                                        const ProfileFields &fields) {
  std::vector<std::string> types, values;
  for (const Key &key : request.keys) {
    types.push_back(key.type);
    values.push_back(key.value);
  }
  execute(create_with_keys_statement,
          {int8_param(account_id), text_param(d.assign_external_id), text_param(primary_after("email", request, nullptr)),
           text_param(primary_after("phone", request, nullptr)), text_param(fields.first_name),
           text_param(fields.last_name), jsonb_param(fields.attributes_json), text_array_param(types),
           text_array_param(values)},
          false);
  int64_t id = result_int8(0, 1).value_or(0);
  if (result_bool(0, 2) && result_int8(0, 3) == std::optional<int64_t>(1)) return id;
  execute(undo_create_statement, {int8_param(account_id), int8_param(id)}, false);
  return std::nullopt;
}

void touch_contacts(int64_t account_id, const std::vector<int64_t> &contacts) {
  if (contacts.empty()) return;
  execute(touch_statement,
          {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end()))}, false);
}

void enforce_limits(int64_t account_id, const std::vector<int64_t> &contacts, const std::optional<std::string> &matched_by,
                    LogBatch &log, const std::vector<int64_t> &merged) {
  if (contacts.empty()) return;
  uint64_t n = execute(over_limit_statement,
                       {int8_param(account_id), int8_array_param(std::vector<OptId>(contacts.begin(), contacts.end()))},
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

bool may_pass_limits(const Request &request, const Decision &d) {
  if (!d.merged.empty() || !d.moved.empty()) return true;
  std::map<std::string, int> gained;  // changeable type -> identifiers attached
  for (size_t i : d.attached)
    if (request.keys[i].key_class == identity::KeyClass::kChangeable) gained[request.keys[i].type]++;
  if (gained.empty()) return false;
  if (!d.create) return true;
  // A new contact holds only the request's keys, and every limit is 1 or more.
  return std::any_of(gained.begin(), gained.end(), [](const auto &g) { return g.second > 1; });
}

std::optional<std::string> primary_after(const std::string &type, const Request &request, const ContactRow *winner) {
  OptText held = !winner ? std::nullopt : type == "email" ? winner->email : winner->phone;
  OptText sent = key_value(request, type);
  if (!sent) return request.clear_types.count(type) ? std::nullopt : held;
  if (held) {  // one of several values the winner holds (after a merge): its own stays primary
    auto values = winner->state.permanent.find(type);
    if (values != winner->state.permanent.end() && values->second.count(*sent)) return held;
  }
  return sent;
}

void merge_into(int64_t account_id, const ContactRow &loser, int64_t winner, const std::optional<std::string> &matched_by,
                LogBatch &log, const std::string &extra_detail) {
  if (execute(merge_statement,
              {int8_param(account_id), int8_param(loser.state.id), int8_param(winner), jsonb_param(extra_detail)},
              false) != 1)
    throw std::runtime_error("contact_identity: could not merge contact " + std::to_string(loser.state.id) +
                             " into contact " + std::to_string(winner));
  log.add(winner, "merged", matched_by, std::nullopt, std::nullopt, loser.state.id, result_text(0, 1));
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
  if (may_pass_limits(request, d)) enforce_limits(account_id, {id}, out.matched_by, log, d.merged);

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
