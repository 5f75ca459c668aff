// import_set_based.cpp: an import batch read, planned and checked at once,
// its plain creates and updates written by the writer's batch path.
#include "pg/import_set_based.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "core/batch_plan.h"
#include "core/identity_error.h"
#include "core/write_plan.h"
#include "pg/pg_boundary.h"
#include "pg/lookup.h"
#include "pg/profile_compare.h"
#include "pg/request.h"
#include "pg/spi.h"
#include "pg/upsert.h"
#include "pg/writer.h"

namespace pgshell {
namespace {

using identity::Decision;
using identity::PlannedRow;
using identity::Request;
using identity::RowPlan;
using OptText = std::optional<std::string>;
using OptId = std::optional<int64_t>;
using identity::KeyId;

// Whether the attributes parse as JSON. A row whose attributes do not
// fails alone, as the cast in a row-by-row write would make it fail,
// instead of sending the whole batch row by row.
bool parses_as_json(const std::string &text, MemoryContext scratch) {
  return pg_call([&]() noexcept {
    MemoryContext old = MemoryContextSwitchTo(scratch);  // the lexer is not freed otherwise
#if PG_VERSION_NUM >= 170000
    // 17 takes the context to fill; nullptr allocates one (in scratch).
    JsonLexContext *lex = makeJsonLexContextCstringLen(nullptr, text.c_str(), text.size(), GetDatabaseEncoding(), true);
#else
    JsonLexContext *lex = makeJsonLexContextCstringLen(const_cast<char *>(text.c_str()), (int)text.size(),
                                                       GetDatabaseEncoding(), true);
#endif
    bool ok = pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch);
    return ok;
  });
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
      results[i] = row_failed(rows[i], identity::sqlstate::kInvalidTextRepresentation, "invalid input syntax for type json");
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

// Locks the contacts of the updates `which` (indexes into `writes`, in
// contact ID order) and checks that what the plan was made on still
// holds; marks the locked ones.
void lock_updates(int64_t account_id, std::vector<BatchWrite> &writes, const std::vector<size_t> &which,
                  const std::vector<size_t> &row_of, const std::vector<std::optional<Request>> &requests,
                  const identity::BatchSnapshot &snapshot, const std::map<int64_t, ContactRow> &before,
                  bool clear_nulls) {
  if (which.empty()) return;
  std::vector<const BatchWrite *> updates;
  for (size_t k : which) updates.push_back(&writes[k]);
  std::map<int64_t, ContactRow> now = lock_batch_updates(account_id, updates, clear_nulls);
  // A contact that was to get keys and was not locked is gone: the keys
  // would have no holder.
  for (const BatchWrite *w : updates)
    if (w->plan->identifiers_change() && !now.count(w->contact))
      throw SetBasedConflict("contact " + std::to_string(w->contact) + " was removed while the batch was planned");
  if (now.empty()) return;

  // Under the locks, the contacts and the holders of their rows' keys must
  // be what the plan saw; otherwise a concurrent writer got in between. A
  // key that is the contact's external ID, primary email or primary phone,
  // and was its key in the plan, needs no second look: a contact holds
  // those (verify(): external_id_not_held, email_not_held, phone_not_held),
  // and same_identity() finds them unchanged.
  std::set<int64_t> with_permanent;  // read the same way as the plan read them
  for (const auto &[id, row] : now) {
    auto was = before.find(id);
    if (was != before.end() && was->second.permanent_read) with_permanent.insert(id);
  }
  read_permanent_identifiers(account_id, with_permanent, now);
  std::set<KeyId> keys;
  for (size_t k : which) {
    BatchWrite &w = writes[k];
    auto is = now.find(w.contact);
    if (is == now.end()) continue;
    auto was = before.find(w.contact);
    if (was == before.end() || !same_identity(was->second, is->second))
      throw SetBasedConflict("contact " + std::to_string(w.contact) + " changed while the batch was planned");
    w.locked = true;
    for (const identity::Key &key : requests[row_of[k]]->keys)
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
}

// The updates (indexes into `writes`) that may change their contact:
// those that give it keys and those whose fields differ from the contact
// as read. The rest change nothing and, like a login that changes nothing
// (docs/identity-rules.md, rule 7), take no lock.
std::vector<size_t> that_may_change(const std::vector<BatchWrite> &writes, const std::vector<size_t> &updates,
                                    const std::map<int64_t, ContactProfile> &profiles, bool clear_nulls) {
  std::vector<size_t> may_change;
  ScratchContext scratch;  // the batch's: freed with it
  for (size_t k : updates) {
    const BatchWrite &w = writes[k];
    auto profile = profiles.find(w.contact);
    bool unchanged = !w.plan->identifiers_change() && !w.plan->columns_change() && profile != profiles.end() &&
                     profile_unchanged(profile->second, *w.fields, clear_nulls, scratch);
    if (!unchanged) may_change.push_back(k);
  }
  return may_change;
}

}  // namespace

std::vector<RowResult> apply_set_based(const std::vector<SourceRow> &rows, const RowByRow &row_by_row,
                                       NormalizedAhead *ahead, bool assume_new_keys) {
  std::vector<RowResult> results(rows.size());
  if (rows.empty()) return results;
  const int64_t account_id = rows.front().keys.account_id;
  const bool clear_nulls = rows.front().fields.clear_nulls;
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

  // Each planned create and update as a write plan, written by the writer.
  std::vector<identity::WritePlan> write_plans;
  std::vector<size_t> row_of;  // per write plan: its row
  write_plans.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const PlannedRow &p = plans[i];
    if (p.plan != RowPlan::kCreate && p.plan != RowPlan::kUpdate) continue;
    const Request &request = *requests[i];
    identity::WriteContext context;
    if (p.plan == RowPlan::kUpdate) {
      const ContactRow &winner = contact_rows.at(*p.decision.winner);
      context.winner = &winner.state;
      context.winner_primaries = {winner.state.external_id, winner.email, winner.phone};
    }
    write_plans.push_back(identity::plan_write(request, p.decision, context));
    row_of.push_back(i);
  }
  std::vector<BatchWrite> writes(write_plans.size());
  std::vector<size_t> updates;  // indexes into writes, by contact ID: locks in one order
  for (size_t k = 0; k < writes.size(); k++) {
    writes[k].plan = &write_plans[k];
    writes[k].fields = &rows[row_of[k]].fields;
    if (write_plans[k].contact) {
      writes[k].contact = *write_plans[k].contact;
      updates.push_back(k);
    }
  }
  std::sort(updates.begin(), updates.end(),
            [&](size_t a, size_t b) { return writes[a].contact < writes[b].contact; });
  lock_updates(account_id, writes, that_may_change(writes, updates, profiles, clear_nulls), row_of, requests,
               snapshot, contact_rows, clear_nulls);
  std::vector<OptId> contact_of_row(rows.size());
  for (size_t k = 0; k < writes.size(); k++) {
    if (!write_plans[k].contact) writes[k].contact = next_contact_id();
    contact_of_row[row_of[k]] = writes[k].contact;
  }
  write_batch(account_id, writes, clear_nulls);

  // The results, in source order.
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
    r.contact_id = p.plan == RowPlan::kSkipped ? d.winner : contact_of_row[i];
  }

  for (size_t i = 0; i < rows.size(); i++)
    if (plans[i].plan == RowPlan::kRowByRow) results[i] = row_by_row(i, *requests[i]);
  return results;
}

}  // namespace pgshell
