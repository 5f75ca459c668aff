// events.cpp: track_event, and attaching anonymous history when one of its
// identifiers is linked to a contact.
//
// An event is anonymous when its identifiers find nobody. Its identifiers are
// then claimed like any write's (src/pg/lookup.cpp): each has an identifiers
// row, holder-less until a contact takes it, and track_event holds the row
// locks while it decides. A write linking one of those identifiers locks the
// same row, so it either waits for the anonymous event to commit and then
// finds it in event_keys, or links first and track_event then finds the
// contact: no event is left behind.
#include "pg/events.h"
#include "pg/sql_entry.h"

#include "core/decision.h"
#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/access.h"
#include "pg/writer.h"
#include "pg/log_batch.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"
#include "pg/arguments.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_track_event);
}

namespace pgshell {
namespace {

using identity::IdentityError;
namespace sqlstate = identity::sqlstate;

// The IDs of this and the other inserts into tables with an identity column
// are drawn explicitly: a Citus shard has the column without its default.
Statement insert_event_statement{
    "INSERT INTO contact_identity.events (account_id, event_id, event_type, payload, occurred_at, contact_id)"
    " OVERRIDING SYSTEM VALUE"
    " VALUES ($1, pg_catalog.nextval('contact_identity.events_event_id_seq'::pg_catalog.regclass), $2, $3, $4, $5) RETURNING event_id",
    {INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT8OID}};

Statement insert_event_keys_statement{
    "INSERT INTO contact_identity.event_keys (account_id, type, value, event_id)"
    " SELECT $1, k.type, k.value, $4 FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
    " pg_catalog.unnest($3::pg_catalog.text[])) AS k(type, value)",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8OID}};

// The anonymous events carrying any of the keys ($2 types, $3 values).
Statement anonymous_events_statement{
    "SELECT DISTINCT ek.event_id FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
    "   pg_catalog.unnest($3::pg_catalog.text[])) AS k(type, value)"
    " CROSS JOIN LATERAL (SELECT ek.event_id FROM contact_identity.event_keys ek"
    "   WHERE ek.account_id OPERATOR(pg_catalog.=) $1 AND ek.type OPERATOR(pg_catalog.=) k.type"
    "   AND ek.value OPERATOR(pg_catalog.=) k.value OFFSET 0) ek",
    {INT8OID, TEXTARRAYOID, TEXTARRAYOID}};

// Those events ($3) go to contact $2...
Statement attach_events_statement{
    "UPDATE contact_identity.events e SET contact_id = $2"
    " WHERE e.account_id OPERATOR(pg_catalog.=) $1 AND e.event_id OPERATOR(pg_catalog.=) ANY ($3)"
    " AND e.contact_id IS NULL",
    {INT8OID, INT8OID, INT8ARRAYOID}};

// ... and stop being looked up by their keys.
Statement forget_event_keys_statement{
    "DELETE FROM contact_identity.event_keys ek"
    " WHERE ek.account_id OPERATOR(pg_catalog.=) $1 AND ek.event_id OPERATOR(pg_catalog.=) ANY ($2)",
    {INT8OID, INT8ARRAYOID}};

struct EventArgs {
  std::string event_type;
  std::optional<std::string> payload_json;
  Datum occurred_at;
};

// Records the event; returns its ID.
int64_t track(const CallKeys &keys, const EventArgs &event) {
  identity::Request request = build_request(keys);
  if (request.keys.empty())
    throw IdentityError(sqlstate::kInvalidParameterValue, "track_event needs an identifier",
                        "The call carries no usable external ID, email, phone or identifier, so the event could "
                        "never be attached to anyone.",
                        "Pass at least one of external_id, email, phone or identifiers.");
  // Claimed and locked as a write would: that is what keeps a concurrent
  // link from missing the event. Found a contact: the claims are not needed.
  LookupResult locked = claim_and_lock(keys.account_id, request);
  identity::SearchResult found = identity::search(request, locked.matches);
  if (found.contact) release_claims(keys.account_id, request, locked);

  Param when{event.occurred_at, false};
  execute(insert_event_statement,
          {int8_param(keys.account_id), text_param(event.event_type), jsonb_param(event.payload_json), when,
           int8_param(found.contact)},
          false);
  int64_t event_id = result_int8(0, 1).value_or(0);
  if (found.contact) {
    // An event carrying the external ID is activity of that contact.
    if (keys.external_id && found.matched_by == identity::kExternalIdType)
      touch_contacts(keys.account_id, {*found.contact});
    return event_id;
  }
  // Anonymous: kept under its identifiers, which stay claimed (remembered).
  std::vector<std::string> types, values;
  LogBatch log;
  for (size_t i = 0; i < request.keys.size(); i++) {
    const identity::Key &key = request.keys[i];
    types.push_back(key.type);
    values.push_back(key.value);
    if (locked.fresh[i])
      log.add(identity::identifier_step(std::nullopt, "identifier_remembered", key.type, key.value));
  }
  execute(insert_event_keys_statement,
          {int8_param(keys.account_id), text_array_param(types), text_array_param(values), int8_param(event_id)},
          false);
  log.flush(keys.account_id);
  return event_id;
}

}  // namespace

std::optional<identity::LogStep> attach_anonymous_events(
    int64_t account_id, int64_t contact, const std::vector<std::pair<std::string, std::string>> &keys) {
  if (keys.empty()) return std::nullopt;
  std::vector<std::string> types, values;
  for (const auto &[type, value] : keys) {
    types.push_back(type);
    values.push_back(value);
  }
  uint64_t n = execute(anonymous_events_statement,
                       {int8_param(account_id), text_array_param(types), text_array_param(values)}, false);
  if (n == 0) return std::nullopt;
  std::vector<std::optional<int64_t>> events;
  for (uint64_t r = 0; r < n; r++) events.push_back(result_int8(r, 1));
  Param ids = int8_array_param(events);
  int64_t attached = static_cast<int64_t>(
      execute(attach_events_statement, {int8_param(account_id), int8_param(contact), ids}, false));
  execute(forget_event_keys_statement, {int8_param(account_id), ids}, false);
  if (attached == 0) return std::nullopt;
  return identity::LogStep{contact, "events_attached", std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                           identity::JsonObject()
                               .field("events", attached)
                               .raw("identifiers", identity::json_identifier_list(keys))
                               .str()};
}

}  // namespace pgshell

using namespace pgshell;

// track_event(event_type, payload, external_id, email, phone, identifiers,
// occurred_at, account_id): the event's ID.
extern "C" Datum ci_track_event(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::on_account("track_event", Level::kWriter, Writes::kYes),
                   [&](EntryCall &call) -> Datum {
    EventArgs event;
    std::optional<std::string> type = text_arg(fcinfo, 0);
    if (!type) throw null_argument("event_type");
    if (type->empty())
      throw IdentityError(sqlstate::kInvalidParameterValue, "event_type must not be empty", "",
                          "Name the event, such as 'order' or 'page_view'.");
    event.event_type = *type;
    event.payload_json = jsonb_arg(fcinfo, 1);
    if (!event.payload_json) event.payload_json = "{}";
    if ((*event.payload_json)[0] != '{')
      throw IdentityError(sqlstate::kInvalidParameterValue, "payload must be a JSON object", "",
                          "Pass a payload such as '{\"total\": 42}'.");
    if (PG_ARGISNULL(6)) throw null_argument("occurred_at", "Leave it out for now().");
    event.occurred_at = PG_GETARG_DATUM(6);
    CallKeys keys = key_args(fcinfo, 2);
    keys.account_id = call.open(account_arg(fcinfo, 7));
    return Int64GetDatum(track(keys, event));
  });
}
