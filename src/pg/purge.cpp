// purge.cpp: purge_contact, the right to be forgotten. The person is the
// contact and every contact merged into it. Their identifiers (free again),
// events, anonymous events under their identifiers and failed import rows
// naming them are deleted with the contacts. identity_log keeps its rows,
// with an HMAC-SHA256 under the database's key (contact_identity.secrets) in
// place of each of their values, so the history still counts and connects
// but names nobody.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "core/normalize.h"
#include "core/log_rows.h"
#include "pg/account_shards.h"
#include "pg/config_cache.h"
#include "pg/account_operations.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

extern "C" {
#include "common/hmac.h"
#include "common/sha2.h"
}

namespace pgshell {
namespace {

using identity::IdentityError;
namespace sqlstate = identity::sqlstate;

// The contact and, transitively, every contact merged into it.
Statement person_statement{
    "WITH RECURSIVE person AS (SELECT $2::pg_catalog.int8 AS id"
    "  UNION SELECT c.contact_id FROM person p CROSS JOIN LATERAL (SELECT c.contact_id"
    "    FROM contact_identity.contacts c WHERE c.account_id OPERATOR(pg_catalog.=) $1"
    "    AND c.merged_into OPERATOR(pg_catalog.=) p.id OFFSET 0) c)"
    " SELECT id FROM person",
    {INT8OID, INT8OID}};

// Every identifying value of the person: their identifiers, their
// contacts' external IDs, emails and phones, and the identifiers their log
// rows mention (an email they had before, a token that moved away): in the
// rows of 0.5.0 on, every "value", "external_id", "email" and "phone" of
// the detail. Names and attributes go with the contacts rows.
Statement values_statement{
    "SELECT i.value FROM contact_identity.identifiers i"
    "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    " UNION SELECT v FROM contact_identity.contacts c,"
    "  LATERAL (VALUES (c.external_id), (c.email), (c.phone)) AS x(v)"
    "  WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) ANY ($2) AND v IS NOT NULL"
    " UNION SELECT l.identifier_value FROM contact_identity.identity_log l"
    "  WHERE l.account_id OPERATOR(pg_catalog.=) $1 AND l.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    "  AND l.identifier_value IS NOT NULL"
    " UNION SELECT v.value OPERATOR(pg_catalog.#>>) '{}' FROM contact_identity.identity_log l"
    "  CROSS JOIN LATERAL pg_catalog.unnest(ARRAY['lax $.**.value', 'lax $.**.external_id', 'lax $.**.email',"
    "   'lax $.**.phone']::pg_catalog.jsonpath[]) AS p(path)"
    "  CROSS JOIN LATERAL pg_catalog.jsonb_path_query(l.detail, p.path, '{}', true) AS v(value)"
    "  WHERE l.account_id OPERATOR(pg_catalog.=) $1 AND l.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    "  AND pg_catalog.jsonb_typeof(v.value) OPERATOR(pg_catalog.=) 'string'",
    {INT8OID, INT8ARRAYOID}};

// The database's key, made on first use.
Statement make_key_statement{
    "INSERT INTO contact_identity.secrets (hmac_key) VALUES ($1) ON CONFLICT (singleton) DO NOTHING", {BYTEAOID}};
Statement key_statement{"SELECT s.hmac_key FROM contact_identity.secrets s", {}};

// The erasing, one table at a time. $2 the person's contacts, $3 their
// values. Anonymous events carrying one of the values:
Statement anonymous_events_statement{
    "SELECT DISTINCT ek.event_id FROM contact_identity.event_keys ek"
    " WHERE ek.account_id OPERATOR(pg_catalog.=) $1 AND ek.value OPERATOR(pg_catalog.=) ANY ($2)",
    {INT8OID, TEXTARRAYOID}};

// The person's events and those ($3); returns their IDs.
Statement erase_events_statement{
    "DELETE FROM contact_identity.events e WHERE e.account_id OPERATOR(pg_catalog.=) $1"
    " AND (e.contact_id OPERATOR(pg_catalog.=) ANY ($2) OR e.event_id OPERATOR(pg_catalog.=) ANY ($3))"
    " RETURNING e.event_id",
    {INT8OID, INT8ARRAYOID, INT8ARRAYOID}};

Statement erase_event_keys_statement{
    "DELETE FROM contact_identity.event_keys ek"
    " WHERE ek.account_id OPERATOR(pg_catalog.=) $1 AND ek.event_id OPERATOR(pg_catalog.=) ANY ($2)",
    {INT8OID, INT8ARRAYOID}};

Statement erase_identifiers_statement{
    "DELETE FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    " AND (i.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    "      OR (i.contact_id IS NULL AND i.value OPERATOR(pg_catalog.=) ANY ($3)))",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID}};

// Failed import rows with a field equal to one of the values ($2, trimmed
// and lower-cased).
Statement erase_import_rows_statement{
    "DELETE FROM contact_identity.import_errors r WHERE r.account_id OPERATOR(pg_catalog.=) $1"
    " AND EXISTS (SELECT FROM pg_catalog.jsonb_each_text(r.row_data) AS f(k, v)"
    "             WHERE pg_catalog.lower(pg_catalog.btrim(f.v)) OPERATOR(pg_catalog.=) ANY ($2))",
    {INT8OID, TEXTARRAYOID}};

Statement erase_contacts_statement{
    "DELETE FROM contact_identity.contacts c WHERE c.account_id OPERATOR(pg_catalog.=) $1"
    " AND c.contact_id OPERATOR(pg_catalog.=) ANY ($2)",
    {INT8OID, INT8ARRAYOID}};

// The log rows to hash: the person's (as the contact or the other side),
// and any naming one of their values ($3), in its column or its detail.
Statement log_rows_statement{
    "SELECT l.log_id, l.action, l.other_contact_id, l.identifier_value, l.detail::pg_catalog.text,"
    "  l.contact_id OPERATOR(pg_catalog.=) ANY ($2) OR l.other_contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    " FROM contact_identity.identity_log l"
    " WHERE l.account_id OPERATOR(pg_catalog.=) $1"
    "   AND (l.contact_id OPERATOR(pg_catalog.=) ANY ($2) OR l.other_contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    "        OR l.identifier_value OPERATOR(pg_catalog.=) ANY ($3)"
    "        OR pg_catalog.jsonb_path_exists(l.detail, '$.** ? (@ == $v[*])',"
    "                                        pg_catalog.jsonb_build_object('v', $3), true))",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID}};

// Those rows with their values hashed ($2 log IDs, $3 identifier values,
// $4 details).
Statement hash_log_statement{
    "UPDATE contact_identity.identity_log l SET identifier_value = u.value, detail = CAST(u.detail AS pg_catalog.jsonb)"
    " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.text[]),"
    "   pg_catalog.unnest($4::pg_catalog.text[])) AS u(log_id, value, detail)"
    " WHERE l.account_id OPERATOR(pg_catalog.=) $1 AND l.log_id OPERATOR(pg_catalog.=) u.log_id",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID}};

Statement log_purged_statement{
    "INSERT INTO contact_identity.identity_log (account_id, log_id, contact_id, action, detail) OVERRIDING SYSTEM VALUE"
    " VALUES ($1, pg_catalog.nextval('contact_identity.identity_log_log_id_seq'::pg_catalog.regclass), $2, 'purged', $3)",
    {INT8OID, INT8OID, JSONBOID}};

// "hmac:" and the hex HMAC-SHA256 of the value under the database's key.
std::string keyed_hash(const std::string &key, const std::string &value) {
  uint8 digest[PG_SHA256_DIGEST_LENGTH];
  bool ok = pg_call([&]() noexcept {
    pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
    bool done = ctx != nullptr && pg_hmac_init(ctx, reinterpret_cast<const uint8 *>(key.data()), key.size()) == 0 &&
                pg_hmac_update(ctx, reinterpret_cast<const uint8 *>(value.data()), value.size()) == 0 &&
                pg_hmac_final(ctx, digest, sizeof digest) == 0;
    pg_hmac_free(ctx);
    return done;
  });
  if (!ok) throw std::runtime_error("contact_identity: HMAC-SHA256 failed");
  static const char hex[] = "0123456789abcdef";
  std::string out = "hmac:";
  for (uint8 b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string database_key() {
  // Read first: the key is made once, by the first purge (on a Citus
  // cluster by distribute(): written from a worker, secrets being a
  // reference table, it would be a write to every node; on a worker the
  // statements read the node's copy, so none is written there).
  uint64_t keys = execute(key_statement, {}, false);
  if (keys != 1 && call_shard_group() == 0) {
    Datum fresh = pg_call([]() noexcept {
      bytea *b = (bytea *)palloc(VARHDRSZ + 32);
      SET_VARSIZE(b, VARHDRSZ + 32);
      if (!pg_strong_random(VARDATA(b), 32)) elog(ERROR, "contact_identity: could not generate random bytes");
      return PointerGetDatum(b);
    });
    execute(make_key_statement, {Param{fresh, false}}, false);
    keys = execute(key_statement, {}, false);
  }
  if (keys != 1)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState, "contact_identity.secrets has no key",
                        "purge_contact hashes the purged values with the key in contact_identity.secrets.",
                        "Restore the row from a backup, or insert 32 random bytes as hmac_key.");
  // The string is made outside pg_call: its body must not throw.
  bytea *key = pg_call([]() noexcept {
    bool is_null = true;
    return DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
  });
  return std::string(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
}

// Whether a log row lists its steps in its detail (0.5.0 on): the SQL
// function log_row_is_decision, and merged_into rows.
bool lists_steps(const std::string &action, bool has_other, bool has_detail) {
  if (action == "merged_into") return true;
  if (!has_detail) return false;
  static const char *const decisions[] = {"created", "updated", "restored", "identifiers_changed", "remembered",
                                          "unmerged"};
  for (const char *d : decisions)
    if (action == d) return true;
  return action == "merged" && !has_other;
}

// Hashes the person's values in every log row of the person or naming one
// of them; returns how many rows changed. A row of one step (before 0.5.0)
// keeps the hash in identifier_value and, on the person's rows, only
// {"purged": true} as its detail; a row of 0.5.0 on keeps its detail with
// each value hashed (log_rows.h, purge_detail).
uint64_t hash_log_rows(int64_t account_id, const Param &ids, const std::vector<std::string> &values,
                       const std::map<std::string, std::string> &hashes) {
  uint64_t n = execute(log_rows_statement, {int8_param(account_id), ids, text_array_param(values)}, false);
  struct Row {
    std::optional<int64_t> log_id;
    std::string action;
    bool has_other, person;
    std::optional<std::string> value, detail;
  };
  std::vector<Row> rows;
  for (uint64_t r = 0; r < n; r++)
    rows.push_back({result_int8(r, 1), result_text(r, 2).value_or(""), result_int8(r, 3).has_value(),
                    result_bool(r, 6), result_text(r, 4), result_text(r, 5)});
  std::vector<std::optional<int64_t>> log_ids;
  std::vector<std::optional<std::string>> new_values, new_details;
  const bool legacy = legacy_schema();
  for (Row &row : rows) {
    if (row.value) {
      auto it = hashes.find(*row.value);
      if (it != hashes.end()) row.value = it->second;
    }
    if (row.detail) {
      if (!legacy && lists_steps(row.action, row.has_other, true))
        row.detail = identity::purge_detail(*row.detail, hashes, row.person);
      else if (row.person)
        row.detail = identity::JsonObject().field("purged", true).str();
    }
    log_ids.push_back(row.log_id);
    new_values.push_back(row.value);
    new_details.push_back(row.detail);
  }
  if (!log_ids.empty())
    execute(hash_log_statement,
            {int8_param(account_id), int8_array_param(log_ids), text_array_param(new_values),
             text_array_param(new_details)},
            false);
  return log_ids.size();
}

}  // namespace

// Erases the person; returns what was erased.
Jsonb purge_contact(int64_t account_id, int64_t contact_id) {
  std::map<int64_t, ContactRow> target = lock_contact_rows(account_id, {contact_id});
  auto it = target.find(contact_id);
  if (it == target.end())
    throw IdentityError(sqlstate::kNoDataFound, "contact " + std::to_string(contact_id) + " does not exist",
                        "Account " + std::to_string(account_id) + " has no contact " + std::to_string(contact_id) + ".",
                        "Check contact_id and account_id.");
  if (it->second.merged_into)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        "contact " + std::to_string(contact_id) + " was merged into contact " +
                            std::to_string(*it->second.merged_into),
                        "The person's data is held by contact " + std::to_string(*it->second.merged_into) + ".",
                        "Purge contact " + std::to_string(*it->second.merged_into) + ".");

  std::vector<std::optional<int64_t>> person;
  uint64_t n = execute(person_statement, {int8_param(account_id), int8_param(contact_id)}, false);
  for (uint64_t r = 0; r < n; r++) person.push_back(result_int8(r, 1));
  Param ids = int8_array_param(person);

  std::vector<std::string> values, lowered;
  std::map<std::string, std::string> hashes;
  n = execute(values_statement, {int8_param(account_id), ids}, false);
  for (uint64_t r = 0; r < n; r++) values.push_back(result_text(r, 1).value_or(""));
  const std::string key = database_key();
  for (const std::string &v : values) {
    hashes.emplace(v, keyed_hash(key, v));
    lowered.push_back(identity::ascii_lower(v));
  }
  const uint64_t logged = hash_log_rows(account_id, ids, values, hashes);

  const Param account = int8_param(account_id);
  std::vector<std::optional<int64_t>> anonymous;
  n = execute(anonymous_events_statement, {account, text_array_param(values)}, false);
  for (uint64_t r = 0; r < n; r++) anonymous.push_back(result_int8(r, 1));
  std::vector<std::optional<int64_t>> events;
  n = execute(erase_events_statement, {account, ids, int8_array_param(anonymous)}, false);
  for (uint64_t r = 0; r < n; r++) events.push_back(result_int8(r, 1));
  execute(erase_event_keys_statement, {account, int8_array_param(events)}, false);
  uint64_t identifiers = execute(erase_identifiers_statement, {account, ids, text_array_param(values)}, false);
  uint64_t import_rows = execute(erase_import_rows_statement, {account, text_array_param(lowered)}, false);
  uint64_t contacts = execute(erase_contacts_statement, {account, ids}, false);
  std::string summary = identity::JsonObject()
                            .field("contacts", contacts)
                            .field("identifiers", identifiers)
                            .field("events", events.size())
                            .field("import_errors", import_rows)
                            .field("log_rows_hashed", logged)
                            .str();
  execute(log_purged_statement, {int8_param(account_id), int8_param(contact_id), jsonb_param(summary)}, false);
  return {summary};
}

}  // namespace pgshell
