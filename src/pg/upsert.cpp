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

Outcome upsert(const CallKeys &keys, const ProfileFields &fields, const char *function) {
  if (fields.attributes_json && (fields.attributes_json->empty() || (*fields.attributes_json)[0] != '{'))
    throw IdentityError(identity::sqlstate::kInvalidParameterValue, "attributes must be a JSON object", "",
                        "Pass attributes such as '{\"city\": \"Kyiv\"}'.");
  identity::Request request = build_request(keys, false);
  require_identifier(request, function);
  if (request.contact_id) request.contact_id = follow_contact(keys.account_id, *request.contact_id, false);
  LookupResult snapshot = claim_and_lock(keys.account_id, request);
  identity::Decision decision;
  try {
    decision = identity::decide(request, snapshot.matches);
  } catch (const IdentityError &) {
    release_claims(keys.account_id, request, snapshot);
    throw;
  }
  return apply_decision(keys.account_id, request, snapshot, decision, fields);
}

}  // namespace pgshell
