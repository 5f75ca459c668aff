// upsert.cpp: one request from arguments to written rows.
#include "pg/upsert.h"

#include "core/decision.h"
#include "core/identity_error.h"
#include "pg/lookup.h"

namespace pgshell {
namespace {

using identity::IdentityError;

void require_identifier(const identity::Request &request, const char *function) {
  if (!request.keys.empty() || request.contact_id) return;
  throw IdentityError(identity::sqlstate::kInvalidParameterValue, std::string(function) + " needs an identifier",
                      "The call carries no usable external ID, email, phone, identifier or contact ID.",
                      "Pass at least one of external_id, email, phone, identifiers or contact_id.");
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
  std::optional<KeyRead> seen;
  std::optional<LookupResult> locked = lock_sole_holder(account_id, request, seen);  // a login
  if (!locked) {
    KeyRead read = seen ? std::move(*seen) : read_keys(account_id, request);
    if (!request.contact_id && read.none_present()) {
      // Nobody has seen any key: the decision cannot depend on anything
      // else, so the new contact and its keys go in at once (a signup).
      LookupResult unseen;
      unseen.matches.holder.assign(request.keys.size(), std::nullopt);
      unseen.fresh.assign(request.keys.size(), true);
      identity::Decision decision = identity::decide(request, unseen.matches);
      if (decision.create) {
        if (std::optional<int64_t> id = create_with_keys(account_id, request, decision, fields))
          return apply_decision(account_id, request, unseen, decision, fields, id);
        read = read_keys(account_id, request);  // lost a race: the long way, from a new read
      }
    }
    locked = claim_and_lock(account_id, request, std::move(read));
  }
  const LookupResult &snapshot = *locked;
  identity::Decision decision;
  try {
    decision = identity::decide(request, snapshot.matches);
  } catch (const IdentityError &) {
    release_claims(account_id, request, snapshot);
    throw;
  }
  // A deleted match left alone changes nothing: not even the keys claimed.
  if (decision.skipped_deleted) release_claims(account_id, request, snapshot);
  return apply_decision(account_id, request, snapshot, decision, fields);
}

}  // namespace pgshell
