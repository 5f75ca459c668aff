// writer_unmerge.cpp: carrying out an unmerge plan (core/unmerge_rules.h):
// the identifiers the winner still holds go back to the loser with the time
// it attached them, the free ones are given back with their old times, the
// events go back by ID, the winner gives up the gaps the loser filled, both
// contacts get their primary values, and the log says so.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/unmerge_rules.h"
#include "pg/events.h"
#include "pg/log_batch.h"
#include "pg/spi.h"
#include "pg/writer.h"

namespace pgshell {
namespace {

#define ACCOUNT_IS(alias) alias ".account_id OPERATOR(pg_catalog.=) $1"
#define BROUGHT                                                                                     \
  " pg_catalog.jsonb_to_recordset($4 OPERATOR(pg_catalog.->) 'identifiers')"                         \
  " AS b(type pg_catalog.text, value pg_catalog.text, first_seen_at pg_catalog.text, attached_at pg_catalog.text)"

// The identifiers the loser ($2) brought ($4, the merge's detail) that the
// winner ($3) still holds go back, with the time the loser attached them.
Statement return_identifiers_statement{
    "UPDATE contact_identity.identifiers i SET contact_id = $2, attached_at = b.attached_at::pg_catalog.timestamptz"
    " FROM" BROUGHT
    " WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) b.type AND i.value OPERATOR(pg_catalog.=) b.value"
    "  AND i.contact_id OPERATOR(pg_catalog.=) $3"
    " RETURNING i.type, i.value",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};

#undef BROUGHT

// The loser's events, by ID, from the winner back to the loser.
Statement return_events_statement{
    "UPDATE contact_identity.events e SET contact_id = $2"
    " WHERE " ACCOUNT_IS("e") " AND e.contact_id OPERATOR(pg_catalog.=) $3"
    "  AND e.event_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT x.id::pg_catalog.int8"
    "   FROM pg_catalog.jsonb_array_elements_text($4 OPERATOR(pg_catalog.->) 'event_ids') AS x(id)))",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};

// The external IDs, emails and phones the two contacts ($2, $3) hold after
// the return, the longest held first: where their primary values come from.
Statement primaries_held_statement{
    "SELECT i.contact_id, i.type, i.value FROM contact_identity.identifiers i"
    " WHERE " ACCOUNT_IS("i") " AND i.contact_id OPERATOR(pg_catalog.=) ANY (ARRAY[$2, $3])"
    "  AND i.type OPERATOR(pg_catalog.=) ANY (ARRAY['external_id', 'email', 'phone'])"
    " ORDER BY i.attached_at, i.value",
    {INT8OID, INT8OID, INT8OID}};

// The winner ($3) gives up the gaps the loser filled ($4->'filled') that it
// has not changed since, and takes the primary values $5, $6, $7.
#define UNFILLED_NAME(column)                                                                               \
  "CASE WHEN $4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.?) '" column "' AND w." column      \
  " OPERATOR(pg_catalog.=) ($4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.->>) '" column "')" \
  " THEN NULL ELSE w." column " END"
Statement winner_statement{
    "UPDATE contact_identity.contacts w SET"
    " first_name = " UNFILLED_NAME("first_name") ", last_name = " UNFILLED_NAME("last_name") ","
    " attributes = w.attributes OPERATOR(pg_catalog.-) ARRAY(SELECT a.key FROM pg_catalog.jsonb_each("
    "   $4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.->) 'attributes') AS a"
    "   WHERE w.attributes OPERATOR(pg_catalog.->) a.key OPERATOR(pg_catalog.=) a.value),"
    " external_id = $5, email = $6, phone = $7, updated_at = pg_catalog.now()"
    " WHERE " ACCOUNT_IS("w") " AND w.contact_id OPERATOR(pg_catalog.=) $3",
    {INT8OID, INT8OID, INT8OID, JSONBOID, TEXTOID, TEXTOID, TEXTOID}};
#undef UNFILLED_NAME

// The loser ($2) lives again with the primary values $3, $4, $5; its names
// and attributes stayed on the tombstone.
Statement loser_statement{
    "UPDATE contact_identity.contacts l SET merged_into = NULL, external_id = $3, email = $4, phone = $5,"
    " updated_at = pg_catalog.now()"
    " WHERE " ACCOUNT_IS("l") " AND l.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID}};

// Giving an identifier ($3, $4) back to contact $2 if it is free. A row
// without a holder that no concurrent call is claiming is locked ...
Statement lock_free_statement{
    "SELECT 1 FROM contact_identity.identifiers i"
    " WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) $2 AND i.value OPERATOR(pg_catalog.=) $3"
    " AND i.contact_id IS NULL FOR NO KEY UPDATE SKIP LOCKED",
    {INT8OID, TEXTOID, TEXTOID}};

// ... and taken, keeping the older first_seen_at ($5) and the time the
// contact had attached it ($6, ISO 8601 text) ...
Statement take_free_statement{
    "UPDATE contact_identity.identifiers i SET contact_id = $2, attached_at = $6::pg_catalog.timestamptz,"
    " first_seen_at = LEAST(i.first_seen_at, $5::pg_catalog.timestamptz)"
    " WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) $3 AND i.value OPERATOR(pg_catalog.=) $4",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}};

// ... or, with no row, inserted with its old times.
Statement insert_free_statement{
    "INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id, first_seen_at, attached_at)"
    " VALUES ($1, $3, $4, $2, COALESCE($5::pg_catalog.timestamptz, pg_catalog.now()), $6::pg_catalog.timestamptz)"
    " ON CONFLICT DO NOTHING",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}};

#undef ACCOUNT_IS

using Token = identity::BroughtKeyNow;

// What an unmerge gives back where it is free, and the log steps and the
// list that say so.
class GiveBack {
 public:
  explicit GiveBack(int64_t account_id) : account_id_(account_id) {}

  // Gives `token` to `to` if it is free; false when another call has it.
  bool give(const Token &t, int64_t to) {
    const std::vector<Param> key{int8_param(account_id_), int8_param(to), text_param(t.type), text_param(t.value),
                                 text_param(t.first_seen_at), text_param(t.attached_at)};
    bool remembered = execute(lock_free_statement, {key[0], key[2], key[3]}, false) > 0;
    if (remembered)
      execute(take_free_statement, key, false);
    else if (execute(insert_free_statement, key, false) == 0)
      return false;
    log_.add(identity::given_back_step(to, t.type, t.value));
    if (remembered)
      if (std::optional<identity::LogStep> events = attach_anonymous_events(account_id_, to, {{t.type, t.value}}))
        log_.add(std::move(*events));
    to_.insert(to);
    given_.push_back({t.type, t.value, to});
    return true;
  }

  // The contacts given something are checked against the limits; then
  // the log rows are written.
  void finish() {
    if (!to_.empty()) log_.add(enforce_limits(account_id_, std::vector<int64_t>(to_.begin(), to_.end()), std::nullopt));
    log_.flush(account_id_);
  }

  const std::vector<identity::UnmergedKey> &given() const { return given_; }

 private:
  int64_t account_id_;
  LogBatch log_;
  std::set<int64_t> to_;
  std::vector<identity::UnmergedKey> given_;
};

// The primary values of both contacts after the unmerge
// (identity::unmerge_primaries), from what they hold once the identifiers
// went back.
identity::UnmergePrimaries primaries_after(int64_t account_id, const identity::UnmergePlan &plan) {
  uint64_t n = execute(primaries_held_statement,
                       {int8_param(account_id), int8_param(plan.loser), int8_param(plan.winner)}, false);
  identity::HeldValues winner_holds, loser_holds;  // longest held first
  for (uint64_t r = 0; r < n; r++)
    (result_int8(r, 1) == plan.winner ? winner_holds : loser_holds)[result_text(r, 2).value_or("")].push_back(
        result_text(r, 3).value_or(""));
  return identity::unmerge_primaries(plan.winner_own, plan.recorded, winner_holds, loser_holds);
}

}  // namespace

std::string write_unmerge(int64_t account_id, const identity::UnmergePlan &plan) {
  std::vector<Param> args{int8_param(account_id), int8_param(plan.loser), int8_param(plan.winner),
                          jsonb_param(plan.merge_detail)};
  // What the winner holds of what the loser brought goes back. The plan
  // read it under the winner's lock, which every writer of the winner's
  // identifiers takes; one that went elsewhere all the same (a statement
  // outside the extension) stays where it is.
  uint64_t n = execute(return_identifiers_statement, args, false);
  std::set<std::pair<std::string, std::string>> went_back;
  for (uint64_t r = 0; r < n; r++) went_back.emplace(result_text(r, 1).value_or(""), result_text(r, 2).value_or(""));
  std::vector<std::pair<std::string, std::string>> returned;
  std::vector<identity::UnmergedKey> stayed = plan.stayed;
  for (const auto &key : plan.returned) {
    if (went_back.count(key))
      returned.push_back(key);
    else
      stayed.push_back({key.first, key.second, std::nullopt});
  }
  uint64_t events = execute(return_events_statement, args, false);

  // Detached from the winner since (replaced, or past a limit) and free:
  // the loser would still hold it had the merge never happened.
  GiveBack give_back(account_id);
  for (const Token &t : plan.to_loser)
    if (!give_back.give(t, plan.loser)) stayed.push_back({t.type, t.value, std::nullopt});  // a concurrent call has it
  for (const Token &t : plan.to_winner) give_back.give(t, plan.winner);

  // The winner first: it may give up the external ID the loser takes back.
  identity::UnmergePrimaries values = primaries_after(account_id, plan);
  execute(winner_statement,
          {args[0], args[1], args[2], args[3], text_param(values.winner.external_id), text_param(values.winner.email),
           text_param(values.winner.phone)},
          false);
  execute(loser_statement,
          {args[0], args[1], text_param(values.loser.external_id), text_param(values.loser.email),
           text_param(values.loser.phone)},
          false);

  std::string detail =
      identity::unmerge_detail(plan.merge_log_id, returned, give_back.given(), stayed, events);
  LogBatch log;  // the unmerge first, then what it gave back
  log.add(identity::contact_step(plan.loser, "unmerged", plan.winner, detail));
  log.flush(account_id);
  give_back.finish();
  return detail;
}

}  // namespace pgshell
