// lookup.cpp: claiming keys, holder lookups and contact state.
//
// Concurrency (docs/identity-rules.md, rule 7) rests on row locks, which,
// unlike advisory locks, cost no lock-table entry however many calls one
// transaction makes:
//  - a key nobody has seen is claimed by inserting its identifiers row with
//    no holder; a second writer of the same key waits on that uncommitted
//    row in the unique index until the first commits;
//  - a key seen without a holder (a remembered cookie) is locked as a row;
//  - a key with a holder is protected by the holder's contacts row, which a
//    writer locks before it reads; every change of an identifier's holder
//    happens under the old holder's row lock, so holders read again after
//    locking are final;
//  - a request none of whose keys has a row may insert them with their new
//    holder at once (writer.h, create_with_keys): the same unique index makes
//    a second writer wait.
#include "pg/lookup.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/identity_error.h"
#include "pg/bulk_insert.h"
#include "pg/config_cache.h"
#include "pg/index_probe.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

#define KEYS "ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]))"
// One primary-key probe per key. OFFSET 0 keeps the subquery from being
// flattened into a join: a kept plan made while the table was small would
// otherwise hash-join a scan of the whole account, every call.
#define PROBE_KEY(extra)                                                                      \
  " CROSS JOIN LATERAL (SELECT i.contact_id FROM contact_identity.identifiers i"             \
  "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) k.type" \
  "  AND i.value OPERATOR(pg_catalog.=) k.value" extra " OFFSET 0) i"

Statement holders_statement{
    "SELECT k.ord, i.contact_id FROM " KEYS " WITH ORDINALITY AS k(type, value, ord)" PROBE_KEY(""),
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID}};

// The state a decision needs, unlocked, in one statement: each key's holder
// (rows with an ord; a NULL contact_id is a key without a holder) with that
// contact's row; with `permanent` also the permanent identifiers ($2: their
// types) of those contacts (rows without an ord); with `fields` whether the
// request's first_name, last_name, attributes and clear_nulls ($3..$6)
// would change each contact. The keys follow: with `plain_keys` (1 to 4)
// that many (type, value) pairs probed each by a plain index scan, which
// starts several times faster than the array form ($7, $8: types and
// values) used for more. One statement per shape, so that a login pays for
// the start of no more plan than it runs (a branch never executed still
// costs its start).
constexpr int kMostPlainKeys = 4;

std::string state_sql(int plain_keys, bool permanent, bool fields) {
  std::string holders;
  if (plain_keys == 0) {
    holders = "SELECT k.ord, i.contact_id FROM ROWS FROM (pg_catalog.unnest($7::pg_catalog.text[]),"
              " pg_catalog.unnest($8::pg_catalog.text[])) WITH ORDINALITY AS k(type, value, ord)"
              " CROSS JOIN LATERAL (SELECT i.contact_id FROM contact_identity.identifiers i"
              "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) k.type"
              "  AND i.value OPERATOR(pg_catalog.=) k.value OFFSET 0) i";
  }
  for (int k = 0; k < plain_keys; k++) {
    const std::string type = "$" + std::to_string(7 + 2 * k), value = "$" + std::to_string(8 + 2 * k);
    holders += std::string(k ? " UNION ALL " : "") + "SELECT " + std::to_string(k + 1) +
               "::pg_catalog.int8 AS ord, i.contact_id FROM contact_identity.identifiers i"
               " WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.type OPERATOR(pg_catalog.=) " + type +
               " AND i.value OPERATOR(pg_catalog.=) " + value;
  }
  const std::string change =
      fields ? "c.first_name IS DISTINCT FROM CASE WHEN $6 THEN $3 ELSE COALESCE($3, c.first_name) END"
               " OR c.last_name IS DISTINCT FROM CASE WHEN $6 THEN $4 ELSE COALESCE($4, c.last_name) END"
               " OR c.attributes IS DISTINCT FROM contact_identity.merge_attributes(c.attributes, $5)"
             : "false";
  std::string sql = "WITH h AS MATERIALIZED (" + holders + ")"
      " SELECT h.ord, h.contact_id, c.external_id, c.deleted_at IS NOT NULL, c.merged_into, c.email, c.phone, " +
      change + ", NULL::pg_catalog.text, NULL::pg_catalog.text FROM h"
      " LEFT JOIN LATERAL (SELECT c.external_id, c.deleted_at, c.merged_into, c.email, c.phone, c.first_name,"
      "   c.last_name, c.attributes FROM contact_identity.contacts c WHERE c.account_id OPERATOR(pg_catalog.=) $1"
      "   AND c.contact_id OPERATOR(pg_catalog.=) h.contact_id OFFSET 0) c ON true";
  if (permanent)
    sql += " UNION ALL SELECT NULL, p.contact_id, NULL, NULL, NULL, NULL, NULL, NULL, p.type, p.value"
           " FROM (SELECT DISTINCT h.contact_id FROM h WHERE h.contact_id IS NOT NULL) d"
           " CROSS JOIN LATERAL (SELECT p.contact_id, p.type, p.value FROM contact_identity.identifiers p"
           "   WHERE p.account_id OPERATOR(pg_catalog.=) $1 AND p.contact_id OPERATOR(pg_catalog.=) d.contact_id"
           "   AND p.type OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[]) OFFSET 0) p";
  return sql;
}

// A text column of the row a probe is on, or nullopt for NULL.
std::optional<std::string> text_column(IndexProbe &probe, int attnum) {
  bool is_null = true;
  Datum d = probe.column(attnum, &is_null);
  if (is_null) return std::nullopt;
  const char *s = pg_call([&]() noexcept { return text_to_cstring(DatumGetTextPP(d)); });
  std::string copy(s);
  pg_call([&]() noexcept { pfree(const_cast<char *>(s)); });
  return copy;
}

// Where read_contact_columns finds its columns in a probe of contacts:
// looked up once per probe, not per row.
struct ContactColumns {
  int at[5];
  explicit ContactColumns(const IndexProbe &contacts) {
    static const char *const names[] = {"external_id", "deleted_at", "merged_into", "email", "phone"};
    for (int c = 0; c < 5; c++) at[c] = contacts.attnum(names[c]);
  }
};

// A contact's row as a probe of contacts found it.
void read_contact_columns(IndexProbe &contacts, const ContactColumns &columns, ContactRow &row) {
  const int *at = columns.at;
  row.state.external_id = text_column(contacts, at[0]);
  bool is_null = true;
  contacts.column(at[1], &is_null);
  row.state.deleted = !is_null;
  Datum merged = contacts.column(at[2], &is_null);
  row.merged_into = is_null ? std::nullopt : std::optional<int64_t>(DatumGetInt64(merged));
  row.email = text_column(contacts, at[3]);
  row.phone = text_column(contacts, at[4]);
}

// read_state's read by index probes, for a request with no fields to
// compare: starting an executor costs a login more than its two probes.
// The keys' holders, their contacts and, with `permanent`, their permanent
// identifiers, all as of one snapshot.
void read_state_by_probes(int64_t account_id, const identity::Request &request, bool for_write, bool permanent,
                          StateRead &state) {
  LookupResult &result = state.result;
  ReadSnapshot snapshot(for_write);
  IndexProbe keys("identifiers", "identifiers_pkey", 3, snapshot);
  const int holder_at = keys.attnum("contact_id");
  std::vector<int64_t> holders;
  for (size_t i = 0; i < request.keys.size(); i++) {
    const Datum values[3] = {Int64GetDatum(account_id), text_param(request.keys[i].type).value,
                             text_param(request.keys[i].value).value};
    keys.probe(values);
    if (!keys.next()) continue;
    state.keys.present[i] = true;
    bool is_null = true;
    Datum h = keys.column(holder_at, &is_null);
    if (is_null) continue;  // known, without a holder
    const int64_t holder = DatumGetInt64(h);
    state.keys.holder[i] = holder;
    result.matches.holder[i] = holder;
    if (result.rows.count(holder)) continue;
    ContactRow row;
    row.state.id = holder;
    result.rows.emplace(holder, std::move(row));
    holders.push_back(holder);
  }
  keys.finish();
  if (!holders.empty()) {
    IndexProbe contacts("contacts", "contacts_pkey", 2, snapshot);
    const ContactColumns columns(contacts);
    for (int64_t holder : holders) {
      const Datum key[2] = {Int64GetDatum(account_id), Int64GetDatum(holder)};
      contacts.probe(key);
      if (contacts.next()) read_contact_columns(contacts, columns, result.rows.at(holder));
    }
    contacts.finish();
  }
  if (permanent && !holders.empty()) {
    std::vector<std::string> names = permanent_type_names(*identifier_types());
    std::set<std::string> types(names.begin(), names.end());
    IndexProbe held("identifiers", "identifiers_contact_idx", 2, snapshot);
    const int type_at = held.attnum("type"), value_at = held.attnum("value");
    for (int64_t holder : holders) {
      const Datum key[2] = {Int64GetDatum(account_id), Int64GetDatum(holder)};
      held.probe(key);
      while (held.next()) {
        std::optional<std::string> type = text_column(held, type_at);
        if (type && types.count(*type))
          result.rows.at(holder).state.permanent[*type].insert(text_column(held, value_at).value_or(""));
      }
    }
    held.finish();
  }
  snapshot.release();
}

Statement &state_statement(int plain_keys, bool permanent, bool fields) {
  struct Shape {
    std::string sql;
    Statement statement;
  };
  static Shape shapes[kMostPlainKeys + 1][2][2];
  Shape &shape = shapes[plain_keys][permanent][fields];
  if (shape.sql.empty()) {
    shape.sql = state_sql(plain_keys, permanent, fields);
    std::vector<Oid> types{INT8OID, TEXTARRAYOID, TEXTOID, TEXTOID, JSONBOID, BOOLOID};
    if (plain_keys == 0) types.insert(types.end(), {TEXTARRAYOID, TEXTARRAYOID});
    for (int k = 0; k < plain_keys; k++) types.insert(types.end(), {TEXTOID, TEXTOID});
    shape.statement = Statement{shape.sql.c_str(), types};
  }
  return shape.statement;
}

// The holder of one key, for the re-reads of a one-key request.
Statement key_holder_statement{
    "SELECT i.contact_id FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    " AND i.type OPERATOR(pg_catalog.=) $2 AND i.value OPERATOR(pg_catalog.=) $3",
    {INT8OID, TEXTOID, TEXTOID}};

// Inserts a holder-less row for each key not yet known, in (type, value)
// order so that writers claiming overlapping keys wait in one order.
Statement claim_statement{
    "INSERT INTO contact_identity.identifiers AS i (account_id, type, value)"
    " SELECT $1, k.type, k.value FROM " KEYS " AS k(type, value) ORDER BY k.type, k.value"
    " ON CONFLICT (account_id, type, value) DO NOTHING RETURNING i.type, i.value",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID}};

// Locks, in (type, value) order, the keys that have no holder; one claimed
// meanwhile drops out.
Statement lock_unheld_statement{
    "SELECT i.contact_id FROM (SELECT * FROM " KEYS " AS k(type, value) ORDER BY 1, 2) k"
    PROBE_KEY(" AND i.contact_id IS NULL FOR NO KEY UPDATE"),
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID}};

Statement release_statement{
    "DELETE FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) $1"
    " AND i.type OPERATOR(pg_catalog.=) $2 AND i.value OPERATOR(pg_catalog.=) $3 AND i.contact_id IS NULL",
    {INT8OID, TEXTOID, TEXTOID}};

Statement contact_statement{
    "SELECT c.contact_id, c.merged_into FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

// A contact's permanent identifiers ($n: the permanent type names), one
// probe of the contact index per contact.
#define PERMANENT_OF(contact, types)                                                                    \
  "(SELECT i.type, i.value FROM contact_identity.identifiers i"                                         \
  "  WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) " contact      \
  "  AND i.type OPERATOR(pg_catalog.=) ANY (" types "::pg_catalog.text[]) OFFSET 0)"

// Locked in contact ID order. What the locks protect is read by the next
// statement, whose snapshot is taken after they are granted.
Statement contacts_locked_statement{
    "SELECT c.contact_id, c.external_id, c.deleted_at IS NOT NULL, c.merged_into, c.email, c.phone"
    " FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    " ORDER BY c.contact_id FOR NO KEY UPDATE",
    {INT8OID, INT8ARRAYOID}};

// After the locks: the holder of each key ($2, $3; rows with an ord) and
// the permanent identifiers of the locked contacts ($4, $5; ord NULL).
Statement after_lock_statement{
    "SELECT k.ord, i.contact_id, NULL::pg_catalog.text, NULL::pg_catalog.text"
    " FROM " KEYS " WITH ORDINALITY AS k(type, value, ord)" PROBE_KEY("")
    " UNION ALL"
    " SELECT NULL, c.id, p.type, p.value FROM pg_catalog.unnest($4::pg_catalog.int8[]) AS c(id)"
    " CROSS JOIN LATERAL " PERMANENT_OF("c.id", "$5") " p",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID}};
#undef PERMANENT_OF
#undef PROBE_KEY
#undef KEYS

// How often what we read may change under us before we give up with 40001.
constexpr int kMaxRereads = 5;

// $1 account, $2 types, $3 values: of every key, or of the keys at `only`.
std::vector<Param> key_params(int64_t account_id, const identity::Request &request,
                              const std::vector<size_t> *only = nullptr) {
  std::vector<std::string> types, values;
  for (size_t i = 0; i < request.keys.size(); i++) {
    if (only && std::find(only->begin(), only->end(), i) == only->end()) continue;
    types.push_back(request.keys[i].type);
    values.push_back(request.keys[i].value);
  }
  return {int8_param(account_id), text_array_param(types), text_array_param(values)};
}

// $1 account, $2 type, $3 value of one key, for the one-key statements.
std::vector<Param> one_key_params(int64_t account_id, const identity::Key &key) {
  return {int8_param(account_id), text_param(key.type), text_param(key.value)};
}

Param permanent_types_param() { return text_array_param(permanent_type_names(*identifier_types())); }

Param id_array_param(const std::set<int64_t> &ids) {
  return int8_array_param(std::vector<std::optional<int64_t>>(ids.begin(), ids.end()));
}

// A contact from the columns contact_id, external_id, deleted, merged_into,
// email, phone of row r, from column `first` on.
ContactRow contact_row(uint64_t r, int first = 1) {
  ContactRow row;
  row.state.id = result_int8(r, first).value_or(0);
  row.state.external_id = result_text(r, first + 1);
  row.state.deleted = result_bool(r, first + 2);
  row.merged_into = result_int8(r, first + 3);
  row.email = result_text(r, first + 4);
  row.phone = result_text(r, first + 5);
  return row;
}

// Runs after_lock_statement: returns the holders of the request's keys
// (request null: no keys) and adds the permanent identifiers of `ids` to
// their rows.
KeyRead read_holders_and_permanent(int64_t account_id, const identity::Request *request,
                                   const std::set<int64_t> &ids, std::map<int64_t, ContactRow> &rows,
                                   bool read_only) {
  const size_t key_count = request ? request->keys.size() : 0;
  std::vector<Param> keys = key_params(account_id, request ? *request : identity::Request{});
  uint64_t n = execute(after_lock_statement, {keys[0], keys[1], keys[2], id_array_param(ids), permanent_types_param()},
                       read_only);
  KeyRead holders;
  holders.present.assign(key_count, false);
  holders.holder.assign(key_count, std::nullopt);
  for (uint64_t r = 0; r < n; r++) {
    if (std::optional<int64_t> ord = result_int8(r, 1)) {
      holders.present.at(static_cast<size_t>(*ord) - 1) = true;
      holders.holder.at(static_cast<size_t>(*ord) - 1) = result_int8(r, 2);
      continue;
    }
    auto it = rows.find(result_int8(r, 2).value_or(0));
    if (it != rows.end())
      it->second.state.permanent[result_text(r, 3).value_or("")].insert(result_text(r, 4).value_or(""));
  }
  return holders;
}

// Which keys have a row and who holds each. read_only: with the snapshot of
// the calling statement; otherwise with a new one, which sees the latest
// commits and our own writes.
KeyRead read_holders(int64_t account_id, const identity::Request &request, bool read_only) {
  const size_t count = request.keys.size();
  KeyRead read;
  read.present.assign(count, false);
  read.holder.assign(count, std::nullopt);
  if (count == 1) {
    if (execute(key_holder_statement, one_key_params(account_id, request.keys[0]), read_only) > 0) {
      read.present[0] = true;
      read.holder[0] = result_int8(0, 1);
    }
    return read;
  }
  uint64_t n = execute(holders_statement, key_params(account_id, request), read_only);
  for (uint64_t r = 0; r < n; r++) {
    size_t ord = static_cast<size_t>(result_int8(r, 1).value_or(0));
    read.present.at(ord - 1) = true;
    read.holder.at(ord - 1) = result_int8(r, 2);  // NULL: nobody holds it yet
  }
  return read;
}

// Locks the contacts, then reads, with a snapshot taken after the locks,
// the holders of the request's keys (request: null for none) and,
// with_permanent, the contacts' permanent identifiers.
std::map<int64_t, ContactRow> lock_contacts(int64_t account_id, const std::set<int64_t> &ids,
                                            const identity::Request *request, bool with_permanent,
                                            KeyRead *holders) {
  std::map<int64_t, ContactRow> rows;
  uint64_t n = execute(contacts_locked_statement, {int8_param(account_id), id_array_param(ids)}, false);
  for (uint64_t r = 0; r < n; r++) {
    ContactRow row = contact_row(r);
    rows.emplace(row.state.id, std::move(row));
  }
  if (!with_permanent) {
    if (request) *holders = read_holders(account_id, *request, false);
    return rows;
  }
  KeyRead read = read_holders_and_permanent(account_id, request, ids, rows, false);
  if (request) *holders = std::move(read);
  return rows;
}

std::set<int64_t> involved(const KeyRead &read, const identity::Request &request) {
  std::set<int64_t> ids;
  for (const auto &holder : read.holder)
    if (holder) ids.insert(*holder);
  if (request.contact_id) ids.insert(*request.contact_id);
  return ids;
}

void fill_states(LookupResult &result) {
  result.matches.contacts.clear();
  for (const auto &[id, row] : result.rows) result.matches.contacts[id] = row.state;
}

}  // namespace

int64_t follow_contact(int64_t account_id, int64_t contact_id, bool read_only) {
  int64_t current = contact_id;
  for (int hops = 0; hops < 1000; hops++) {
    if (execute(contact_statement, {int8_param(account_id), int8_param(current)}, read_only) == 0)
      throw identity::IdentityError(identity::sqlstate::kNoDataFound,
                                    "contact " + std::to_string(contact_id) + " does not exist",
                                    "Account " + std::to_string(account_id) + " has no contact " +
                                        std::to_string(current) + ".",
                                    "Check contact_id and account_id.");
    std::optional<int64_t> merged_into = result_int8(0, 2);
    if (!merged_into) return current;
    current = *merged_into;
  }
  throw std::runtime_error("contact_identity: merged_into chain of contact " + std::to_string(contact_id) +
                           " does not end");
}

bool KeyRead::none_present() const { return std::find(present.begin(), present.end(), true) == present.end(); }

StateRead read_state(int64_t account_id, const identity::Request &request, bool for_write,
                     const ProfileFields *fields) {
  StateRead state;
  LookupResult &result = state.result;
  const size_t count = request.keys.size();
  result.matches.holder.assign(count, std::nullopt);
  result.fresh.assign(count, false);
  state.keys.present.assign(count, false);
  state.keys.holder.assign(count, std::nullopt);
  if (count == 0) return state;
  // A search may need the permanent identifiers of the contacts it meets. A
  // write reads them under its locks; without, it only needs to know
  // whether it changes anything, which is never so when its keys lead to
  // more than one contact (see upsert.cpp, unchanged).
  bool permanent = !for_write && identity::reads_permanent(request, count, false);
  const bool compare = fields && fields->any();
  if (!compare) {
    read_state_by_probes(account_id, request, for_write, permanent, state);
    fill_states(result);
    return state;
  }
  std::vector<Param> params{int8_param(account_id), permanent ? permanent_types_param() : null_param(),
                            text_param(compare ? fields->first_name : std::nullopt),
                            text_param(compare ? fields->last_name : std::nullopt),
                            jsonb_param(compare ? fields->attributes_json : std::nullopt),
                            bool_param(compare && fields->clear_nulls)};
  const int plain_keys = count <= static_cast<size_t>(kMostPlainKeys) ? static_cast<int>(count) : 0;
  if (plain_keys == 0) {
    std::vector<Param> keys = key_params(account_id, request);
    params.push_back(keys[1]);
    params.push_back(keys[2]);
  }
  for (int k = 0; k < plain_keys; k++) {
    params.push_back(text_param(request.keys[k].type));
    params.push_back(text_param(request.keys[k].value));
  }
  uint64_t n = execute(state_statement(plain_keys, permanent, compare), params, !for_write);
  for (uint64_t r = 0; r < n; r++) {
    std::optional<int64_t> ord = result_int8(r, 1);
    std::optional<int64_t> holder = result_int8(r, 2);
    if (!ord) continue;  // a permanent identifier of a holder: below
    size_t i = static_cast<size_t>(*ord) - 1;
    state.keys.present.at(i) = true;
    state.keys.holder.at(i) = holder;
    result.matches.holder.at(i) = holder;
    if (holder && !result.rows.count(*holder)) {
      ContactRow row = contact_row(r, 2);
      row.fields_change = result_bool(r, 8);
      result.rows.emplace(*holder, std::move(row));
    }
  }
  // The permanent identifiers, once every holder has its row.
  if (permanent) {
    for (uint64_t r = 0; r < n; r++) {
      if (result_int8(r, 1)) continue;
      auto it = result.rows.find(result_int8(r, 2).value_or(0));
      if (it != result.rows.end())
        it->second.state.permanent[result_text(r, 9).value_or("")].insert(result_text(r, 10).value_or(""));
    }
  }
  fill_states(result);
  return state;
}

LookupResult claim_and_lock(int64_t account_id, identity::Request &request) {
  return claim_and_lock(account_id, request, read_holders(account_id, request, false));
}

LookupResult claim_and_lock(int64_t account_id, identity::Request &request, KeyRead read) {
  LookupResult result;
  const size_t count = request.keys.size();
  result.fresh.assign(count, false);
  // An error the rules raise after claiming (40001 below, or a target that
  // vanished) must leave nothing, like one from decide().
  bool read_is_current = true;  // `read` needs no new read before use
  try {
    for (int attempt = 0;; attempt++) {
      if (attempt >= kMaxRereads)
        throw identity::IdentityError(identity::sqlstate::kSerializationFailure, "could not serialize access to the contacts of this request",
                                      "Their identifiers kept changing under concurrent calls.",
                                      "Retry the transaction.");
      if (!read_is_current) read = read_holders(account_id, request, false);
      read_is_current = false;
      // Claim the keys without a row, lock those without a holder: a key
      // claimed or locked is ours until commit. One another call claimed,
      // gave a holder or removed meanwhile means reading again.
      std::vector<size_t> absent, unheld;
      for (size_t i = 0; i < count; i++) {
        if (!read.present[i]) absent.push_back(i);
        else if (!read.holder[i] && !result.fresh[i]) unheld.push_back(i);
      }
      if (!absent.empty()) {
        uint64_t n = execute(claim_statement, key_params(account_id, request, &absent), false);
        std::set<std::pair<std::string, std::string>> claimed;
        for (uint64_t r = 0; r < n; r++)
          claimed.emplace(result_text(r, 1).value_or(""), result_text(r, 2).value_or(""));
        for (size_t i : absent)
          if (claimed.count({request.keys[i].type, request.keys[i].value})) result.fresh[i] = true;
        if (n < absent.size()) continue;
      }
      if (!unheld.empty() && execute(lock_unheld_statement, key_params(account_id, request, &unheld), false) <
                                 unheld.size())
        continue;
      std::set<int64_t> ids = involved(read, request);
      result.matches.holder = read.holder;
      if (ids.empty()) break;  // every key is ours (claimed or locked): nothing can move
      // A holder may have changed before we got its row lock (a merge moves
      // identifiers under the loser's lock); once read under the locks, the
      // holders stay as they are.
      KeyRead after;
      result.rows = lock_contacts(account_id, ids, &request, identity::reads_permanent(request, ids.size(), true),
                                  &after);
      if (request.contact_id) {
        auto it = result.rows.find(*request.contact_id);
        if (it == result.rows.end() || it->second.merged_into) {
          request.contact_id = follow_contact(account_id, *request.contact_id, false);
          continue;
        }
      }
      if (after.holder == read.holder && after.present == std::vector<bool>(count, true)) break;
      read = std::move(after);  // already a new read: the next attempt starts from it
      read_is_current = true;
    }
  } catch (const identity::IdentityError &) {
    release_claims(account_id, request, result);
    throw;
  }
  fill_states(result);
  return result;
}

std::map<std::pair<std::string, std::string>, std::optional<int64_t>> read_key_holders(
    int64_t account_id, const std::vector<std::pair<std::string, std::string>> &keys) {
  std::map<std::pair<std::string, std::string>, std::optional<int64_t>> holders;
  if (keys.empty()) return holders;
  ReadSnapshot snapshot(true);
  IndexProbe probe("identifiers", "identifiers_pkey", 3, snapshot);
  const int holder = probe.attnum("contact_id");
  ScratchContext scratch;
  for (const auto &key : keys) {
    InMemoryContext in_scratch(scratch.get(1000));
    const Datum values[3] = {Int64GetDatum(account_id), text_param(key.first).value, text_param(key.second).value};
    probe.probe(values);
    if (!probe.next()) continue;
    bool is_null = true;
    Datum contact = probe.column(holder, &is_null);
    holders.emplace(key, is_null ? std::nullopt : std::optional<int64_t>(DatumGetInt64(contact)));
  }
  probe.finish();
  snapshot.release();
  return holders;
}

namespace {

// A contact's first and last name and attributes as the probe of
// contacts_pkey found them.
ContactProfile read_profile_columns(IndexProbe &contacts, const int at[3]) {
  ContactProfile profile;
  profile.first_name = text_column(contacts, at[0]);
  profile.last_name = text_column(contacts, at[1]);
  bool is_null = true;
  Datum attributes = contacts.column(at[2], &is_null);
  if (!is_null) {  // detoasted in the caller's scratch context
    const struct varlena *flat = pg_call([&]() noexcept { return PG_DETOAST_DATUM(attributes); });
    profile.attributes.emplace(reinterpret_cast<const char *>(flat), VARSIZE(flat));
  }
  return profile;
}

}  // namespace

namespace {

// Contacts (and, with `permanent`, their permanent identifiers) under one
// new snapshot, found by an equality probe of `index` on (account_id, one
// more column).
class ContactReader {
 public:
  ContactReader(const char *index, bool permanent)
      : snapshot_(true),
        contacts_("contacts", index, 2, snapshot_),
        held_("identifiers", "identifiers_contact_idx", 2, snapshot_),
        type_(held_.attnum("type")),
        value_(held_.attnum("value")),
        contact_id_(contacts_.attnum("contact_id")),
        columns_(contacts_),
        profile_at_{contacts_.attnum("first_name"), contacts_.attnum("last_name"), contacts_.attnum("attributes")},
        with_permanent_(permanent) {
    std::vector<std::string> types = permanent_type_names(*identifier_types());
    permanent_.insert(types.begin(), types.end());
  }

  // The contact whose index columns are (account_id, key), into `rows`
  // (and its fields into `profiles`); its ID, or nullopt when there is none.
  std::optional<int64_t> read(int64_t account_id, int64_t key, std::map<int64_t, ContactRow> &rows,
                              std::map<int64_t, ContactProfile> *profiles) {
    InMemoryContext in_scratch(scratch_.get(1000));
    return read_key(account_id, Int64GetDatum(key), rows, profiles);
  }
  std::optional<int64_t> read(int64_t account_id, const std::string &key, std::map<int64_t, ContactRow> &rows,
                              std::map<int64_t, ContactProfile> *profiles) {
    InMemoryContext in_scratch(scratch_.get(1000));
    return read_key(account_id, text_param(key).value, rows, profiles);
  }

  // The permanent identifiers of contact `id` into `row`.
  void read_permanent(int64_t account_id, int64_t id, ContactRow &row) {
    InMemoryContext in_scratch(scratch_.get(1000));
    permanent_into(account_id, id, row);
  }

  void finish() {
    held_.finish();
    contacts_.finish();
    snapshot_.release();
  }

 private:
  // read_permanent's work, in the scratch context the caller switched to.
  void permanent_into(int64_t account_id, int64_t id, ContactRow &row) {
    const Datum by_id[2] = {Int64GetDatum(account_id), Int64GetDatum(id)};
    row.state.permanent.clear();
    held_.probe(by_id);
    while (held_.next()) {
      std::optional<std::string> t = text_column(held_, type_);
      if (t && permanent_.count(*t)) row.state.permanent[*t].insert(text_column(held_, value_).value_or(""));
    }
    row.permanent_read = true;
  }

  std::optional<int64_t> read_key(int64_t account_id, Datum key, std::map<int64_t, ContactRow> &rows,
                                  std::map<int64_t, ContactProfile> *profiles) {
    const Datum values[2] = {Int64GetDatum(account_id), key};
    contacts_.probe(values);
    if (!contacts_.next()) return std::nullopt;
    bool is_null = true;
    const int64_t id = DatumGetInt64(contacts_.column(contact_id_, &is_null));
    ContactRow row;
    row.state.id = id;
    read_contact_columns(contacts_, columns_, row);
    if (profiles) (*profiles)[id] = read_profile_columns(contacts_, profile_at_);
    if (with_permanent_)
      permanent_into(account_id, id, row);
    else
      row.permanent_read = false;
    rows.emplace(id, std::move(row));
    return id;
  }

  ReadSnapshot snapshot_;
  IndexProbe contacts_, held_;
  const int type_, value_, contact_id_;
  const ContactColumns columns_;
  const int profile_at_[3];
  const bool with_permanent_;
  std::set<std::string> permanent_;
  ScratchContext scratch_;
};

}  // namespace

std::map<int64_t, ContactRow> read_contact_rows(int64_t account_id, const std::set<int64_t> &ids,
                                                std::map<int64_t, ContactProfile> *profiles, bool permanent) {
  std::map<int64_t, ContactRow> rows;
  if (ids.empty()) return rows;
  ContactReader reader("contacts_pkey", permanent);
  for (int64_t id : ids) reader.read(account_id, id, rows, profiles);
  reader.finish();
  return rows;
}

std::map<std::string, int64_t> read_contacts_by_external_id(int64_t account_id,
                                                           const std::vector<std::string> &external_ids,
                                                           std::map<int64_t, ContactRow> &rows,
                                                           std::map<int64_t, ContactProfile> *profiles,
                                                           bool permanent) {
  std::map<std::string, int64_t> found;
  if (external_ids.empty()) return found;
  ContactReader reader("contacts_external_id_key", permanent);
  for (const std::string &external_id : external_ids) {
    std::optional<int64_t> id = reader.read(account_id, external_id, rows, profiles);
    if (id) found.emplace(external_id, *id);
  }
  reader.finish();
  return found;
}

void read_permanent_identifiers(int64_t account_id, const std::set<int64_t> &ids,
                                std::map<int64_t, ContactRow> &rows) {
  std::vector<std::pair<int64_t, ContactRow *>> missing;
  for (int64_t id : ids) {
    auto it = rows.find(id);
    if (it != rows.end() && !it->second.permanent_read) missing.emplace_back(id, &it->second);
  }
  if (missing.empty()) return;
  ContactReader reader("contacts_pkey", true);
  for (auto &[id, row] : missing) reader.read_permanent(account_id, id, *row);
  reader.finish();
}

std::map<int64_t, ContactRow> lock_contact_rows(int64_t account_id, const std::set<int64_t> &ids) {
  if (ids.empty()) return {};
  return lock_contacts(account_id, ids, nullptr, true, nullptr);
}

void release_claims(int64_t account_id, const identity::Request &request, const LookupResult &claimed) {
  for (size_t i = 0; i < request.keys.size(); i++)
    if (claimed.fresh[i])
      execute(release_statement,
              {int8_param(account_id), text_param(request.keys[i].type), text_param(request.keys[i].value)}, false);
}

}  // namespace pgshell
