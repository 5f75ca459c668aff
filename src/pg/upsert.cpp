// upsert.cpp: one request from arguments to written rows.
#include "pg/upsert.h"

#include "core/decision.h"
#include "core/identity_error.h"
#include "core/write_plan.h"
#include "pg/config_cache.h"
#include "pg/lookup.h"

namespace pgshell {
namespace {

using identity::Decision;
using identity::IdentityError;

// The plan of a decision on the contacts as read or locked.
identity::WritePlan plan_of(const identity::Request &request, const LookupResult &snapshot, const Decision &d) {
  identity::WriteContext context;
  if (d.winner) {
    const ContactRow &winner = snapshot.rows.at(*d.winner);
    context.winner = &winner.state;
    context.winner_primaries = {winner.state.external_id, winner.email, winner.phone};
  }
  for (int64_t loser : d.merged) {
    const ContactRow &row = snapshot.rows.at(loser);
    context.merged_primaries.push_back({row.state.external_id, row.email, row.phone});
  }
  context.holder = &snapshot.matches.holder;
  context.fresh = &snapshot.fresh;
  return identity::plan_write(request, d, context);
}

void require_identifier(const identity::Request &request, const char *function) {
  if (!request.keys.empty() || request.contact_id) return;
  throw IdentityError(identity::sqlstate::kInvalidParameterValue, std::string(function) + " needs an identifier",
                      "The call carries no usable external ID, email, phone, identifier or contact ID.",
                      "Pass at least one of external_id, email, phone, identifiers or contact_id.");
}

// The outcome of a request that changes nothing, answered from what was
// read without a lock (docs/identity-rules.md, rule 7, says why that is
// safe): a login whose keys all lead to one contact that already is what
// the request says, or cookies known already without a holder. nullopt
// when the request may change something: it then goes under the locks.
std::optional<Outcome> unchanged(const identity::Request &request, StateRead &read, const ProfileFields &fields) {
  // Every key held by one contact: that contact holds each permanent value
  // the request sends, which is all a decision on it reads of them.
  std::optional<int64_t> holder;
  bool held = true, unheld = true;
  for (size_t i = 0; i < request.keys.size(); i++) {
    const std::optional<int64_t> &h = read.keys.holder[i];
    held = held && h && (!holder || *holder == *h);
    unheld = unheld && read.keys.present[i] && !h;
    if (h) holder = h;
  }
  if (request.keys.empty() || (!held && !unheld) || !request.clear_types.empty()) return std::nullopt;
  if (held) {
    identity::ContactState &state = read.result.matches.contacts.at(*holder);
    state.permanent.clear();
    for (const identity::Key &key : request.keys)
      if (key.key_class == identity::KeyClass::kPermanent) state.permanent[key.type].insert(key.value);
    read.result.rows.at(*holder).state.permanent = state.permanent;
  }
  Decision d;
  try {
    d = identity::decide(request, read.result.matches);
  } catch (const IdentityError &) {  // decided again under the locks: what refused it may be changing
    return std::nullopt;
  }
  Outcome out;
  out.action = d.action();
  if (!d.matched_by.empty()) out.matched_by = d.matched_by;
  if (d.remember_only) {  // known already, without a holder: nothing to remember
    if (fields.any()) return std::nullopt;
    for (size_t i : d.attached)
      if (!read.keys.present[i]) return std::nullopt;
    return out;
  }
  if (!d.winner) return std::nullopt;
  const ContactRow &winner = read.result.rows.at(*d.winner);
  out.contact_id = d.winner;
  out.external_id = winner.state.external_id;
  if (d.skipped_deleted) return out;
  if (winner.fields_change || d.create || d.restore || winner.merged_into || !d.merged.empty() || !d.moved.empty() ||
      !d.attached.empty() || !d.detached.empty() || d.assign_external_id)
    return std::nullopt;
  if (plan_of(request, read.result, d).columns_change()) return std::nullopt;  // a new primary email or phone
  return out;
}

}  // namespace

void check_profile_fields(const ProfileFields &fields) {
  if (fields.attributes_json && (fields.attributes_json->empty() || (*fields.attributes_json)[0] != '{'))
    throw IdentityError(identity::sqlstate::kInvalidParameterValue, "attributes must be a JSON object", "",
                        "Pass attributes such as '{\"city\": \"Kyiv\"}'.");
}

Outcome upsert(const CallKeys &keys, const ProfileFields &fields, const char *function) {
  check_profile_fields(fields);
  return upsert_request(keys.account_id, build_request(keys), fields, function);
}

Outcome upsert_request(int64_t account_id, identity::Request request, const ProfileFields &fields,
                       const char *function) {
  require_identifier(request, function);
  if (request.contact_id) request.contact_id = follow_contact(account_id, *request.contact_id, false);
  StateRead read = read_state(account_id, request, true, &fields);
  if (!request.contact_id && read.keys.none_present() && !legacy_schema()) {
    // Nobody has seen any key: the decision cannot depend on anything
    // else, so the new contact and its keys go in at once (a signup).
    LookupResult unseen;
    unseen.matches.holder.assign(request.keys.size(), std::nullopt);
    unseen.fresh.assign(request.keys.size(), true);
    Decision decision = identity::decide(request, unseen.matches);
    if (decision.create) {
      identity::WritePlan plan = plan_of(request, unseen, decision);
      if (std::optional<int64_t> id = create_with_keys(account_id, request, plan, fields))
        return write_plan(account_id, plan, fields, id);
      read = read_state(account_id, request, true);  // lost a race: the long way, from a new read
    }
  } else if (!request.contact_id) {
    if (std::optional<Outcome> out = unchanged(request, read, fields)) return *out;  // no lock needed
  }
  LookupResult locked = claim_and_lock(account_id, request, std::move(read.keys));
  Decision decision;
  try {
    decision = identity::decide(request, locked.matches);
  } catch (const IdentityError &) {
    release_claims(account_id, request, locked);
    throw;
  }
  // A deleted match left alone changes nothing: not even the keys claimed.
  if (decision.skipped_deleted) release_claims(account_id, request, locked);
  return write_plan(account_id, plan_of(request, locked, decision), fields);
}

}  // namespace pgshell
