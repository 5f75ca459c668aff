// lookup.cpp: advisory locks, holder lookups and contact state.
#include "pg/lookup.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/identity_error.h"
#include "core/lock_key.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::KeyClass;

Statement holders_statement{
    "SELECT k.ord, i.contact_id FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]))"
    " WITH ORDINALITY AS k(type, value, ord)"
    " JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) $1"
    "  AND i.type OPERATOR(pg_catalog.=) k.type AND i.value OPERATOR(pg_catalog.=) k.value",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID}};

Statement external_id_statement{
    "SELECT c.contact_id FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.external_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, TEXTOID}};

Statement contact_statement{
    "SELECT c.contact_id, c.merged_into FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

#define SELECT_CONTACTS                                                                       \
  "SELECT c.contact_id, c.external_id, c.deleted_at IS NOT NULL, c.merged_into, c.email, c.phone" \
  " FROM contact_identity.contacts c"                                                            \
  " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) ANY ($2)" \
  " ORDER BY c.contact_id"
Statement contacts_statement{SELECT_CONTACTS, {INT8OID, INT8ARRAYOID}};
Statement contacts_locked_statement{SELECT_CONTACTS " FOR UPDATE", {INT8OID, INT8ARRAYOID}};
#undef SELECT_CONTACTS

Statement permanent_statement{
    "SELECT i.contact_id, i.type, i.value FROM contact_identity.identifiers i"
    " JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type"
    " WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.contact_id OPERATOR(pg_catalog.=) ANY ($2)"
    "   AND t.class OPERATOR(pg_catalog.=) 'permanent'",
    {INT8OID, INT8ARRAYOID}};

// How often holders may change under us before we give up with 40001.
constexpr int kMaxRereads = 5;

std::vector<std::optional<int64_t>> read_holders(int64_t account_id, const identity::Request &request, bool read_only) {
  std::vector<std::optional<int64_t>> holders(request.keys.size());
  std::vector<std::string> types, values;
  std::vector<size_t> positions;
  for (size_t i = 0; i < request.keys.size(); i++) {
    const identity::Key &key = request.keys[i];
    if (key.key_class == KeyClass::kExternalId) {
      if (execute(external_id_statement, {int8_param(account_id), text_param(key.value)}, read_only) > 0)
        holders[i] = result_int8(0, 1);
      continue;
    }
    types.push_back(key.type);
    values.push_back(key.value);
    positions.push_back(i);
  }
  if (types.empty()) return holders;
  uint64_t n = execute(holders_statement, {int8_param(account_id), text_array_param(types), text_array_param(values)},
                       read_only);
  for (uint64_t r = 0; r < n; r++) {
    size_t ord = static_cast<size_t>(result_int8(r, 1).value_or(0));
    holders.at(positions.at(ord - 1)) = result_int8(r, 2);  // NULL: remembered, nobody holds it
  }
  return holders;
}

std::map<int64_t, ContactRow> read_contacts(int64_t account_id, const std::set<int64_t> &ids, bool lock) {
  std::map<int64_t, ContactRow> rows;
  if (ids.empty()) return rows;
  std::vector<std::optional<int64_t>> id_list(ids.begin(), ids.end());
  Param id_array = int8_array_param(id_list);
  uint64_t n = execute(lock ? contacts_locked_statement : contacts_statement, {int8_param(account_id), id_array}, !lock);
  for (uint64_t r = 0; r < n; r++) {
    ContactRow row;
    row.state.id = result_int8(r, 1).value_or(0);
    row.state.external_id = result_text(r, 2);
    row.state.deleted = result_bool(r, 3);
    row.email = result_text(r, 5);
    row.phone = result_text(r, 6);
    rows.emplace(row.state.id, std::move(row));
  }
  n = execute(permanent_statement, {int8_param(account_id), id_array}, !lock);
  for (uint64_t r = 0; r < n; r++) {
    int64_t id = result_int8(r, 1).value_or(0);
    auto it = rows.find(id);
    if (it != rows.end())
      it->second.state.permanent[result_text(r, 2).value_or("")].insert(result_text(r, 3).value_or(""));
  }
  return rows;
}

}  // namespace

void lock_keys(int64_t account_id, const identity::Request &request) {
  std::vector<int64_t> keys;
  for (const identity::Key &key : request.keys) keys.push_back(identity::lock_key(account_id, key.type, key.value));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (int64_t key : keys)
    pg_call([&]() noexcept { DirectFunctionCall1(pg_advisory_xact_lock_int8, Int64GetDatum(key)); });
}

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

LookupResult read_snapshot(int64_t account_id, const identity::Request &request, bool lock) {
  LookupResult snap;
  snap.matches.holder = read_holders(account_id, request, !lock);
  for (int attempt = 0;; attempt++) {
    std::set<int64_t> ids;
    for (const auto &holder : snap.matches.holder)
      if (holder) ids.insert(*holder);
    if (request.contact_id) ids.insert(*request.contact_id);
    snap.rows = read_contacts(account_id, ids, lock);
    if (!lock) break;
    // Another call may have merged or moved what we read before we got the
    // row locks; once the holders read under the locks agree, they stay so.
    std::vector<std::optional<int64_t>> again = read_holders(account_id, request, false);
    if (again == snap.matches.holder) break;
    if (attempt + 1 >= kMaxRereads)
      throw identity::IdentityError("40001", "could not serialize access to the contacts of this request",
                                    "Their identifiers kept changing under concurrent calls.",
                                    "Retry the transaction.");
    snap.matches.holder = std::move(again);
  }
  snap.matches.contacts.clear();
  for (const auto &[id, row] : snap.rows) snap.matches.contacts[id] = row.state;
  return snap;
}

}  // namespace pgshell
