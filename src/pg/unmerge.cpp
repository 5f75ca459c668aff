// unmerge.cpp: unmerge_contact, the exact reverse of one merge, automatic or
// explicit, read from the "merged" row of identity_log. The loser gets back
// what it brought: the identifiers the winner still holds or that are free
// again (with their old times), its events and its primary values; the
// winner gives up the gaps the loser filled, unless it changed them since,
// and gets back its own tokens the merge's limit pushed out. Whatever the
// winner gained after the merge stays with it. The rules are in
// docs/identity-rules.md ("Unmerge").
#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/identity_error.h"
#include "core/unmerge_rules.h"
#include "pg/access.h"
#include "pg/writer.h"
#include "pg/events.h"
#include "pg/log_batch.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_unmerge_contact);
}

namespace pgshell {
namespace {

using identity::IdentityError;
using identity::contact_name;
namespace sqlstate = identity::sqlstate;

#define ACCOUNT_IS(alias) alias ".account_id OPERATOR(pg_catalog.=) $1"

// The latest merge of $2 into $3, and whether its detail says enough to be
// reversed (merges logged before 0.3.0 do not): the merged_into row of the
// loser, or (logged before 0.5.0) the merged row of the winner.
Statement merge_log_statement{
    "SELECT l.log_id, l.detail::pg_catalog.text,"
    "  COALESCE(l.detail OPERATOR(pg_catalog.?&) ARRAY['identifiers', 'event_ids', 'filled'], false)"
    " FROM contact_identity.identity_log l"
    " WHERE " ACCOUNT_IS("l")
    "  AND ((l.action OPERATOR(pg_catalog.=) 'merged_into' AND l.contact_id OPERATOR(pg_catalog.=) $2"
    "        AND l.other_contact_id OPERATOR(pg_catalog.=) $3)"
    "    OR (l.action OPERATOR(pg_catalog.=) 'merged' AND l.contact_id OPERATOR(pg_catalog.=) $3"
    "        AND l.other_contact_id OPERATOR(pg_catalog.=) $2))"
    " ORDER BY l.log_id DESC LIMIT 1",
    {INT8OID, INT8OID, INT8OID}};

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

// Every identifier the loser brought, its recorded times (JSON text), and
// who holds it now (NULL: detached since, or remembered without a holder).
Statement brought_statement{
    "SELECT b.type, b.value, b.first_seen_at, b.attached_at, h.contact_id, h.contact_id IS NOT NULL FROM" BROUGHT
    " LEFT JOIN LATERAL (SELECT i.contact_id FROM contact_identity.identifiers i WHERE " ACCOUNT_IS("i")
    "   AND i.type OPERATOR(pg_catalog.=) b.type AND i.value OPERATOR(pg_catalog.=) b.value) h ON true"
    " ORDER BY b.type, b.value",
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

// The tokens the merge's limit detached from the winner ($3): logged after
// the merge ($4) and naming the loser ($2) among the merges that pushed them
// out, in rows of one step (before 0.5.0) or in a decision row's detached
// list. The last column: whether the loser was the only one.
Statement pushed_out_statement{
    "SELECT d.type, d.value, d.e OPERATOR(pg_catalog.->>) 'first_seen_at', d.e OPERATOR(pg_catalog.->>) 'attached_at',"
    "  d.e OPERATOR(pg_catalog.->) 'after_merge_of' OPERATOR(pg_catalog.=) pg_catalog.jsonb_build_array($2)"
    " FROM (SELECT l.log_id, 0::pg_catalog.int8 AS ord, l.identifier_type AS type, l.identifier_value AS value,"
    "         l.detail AS e"
    "       FROM contact_identity.identity_log l"
    "       WHERE " ACCOUNT_IS("l") " AND l.contact_id OPERATOR(pg_catalog.=) $3"
    "         AND l.log_id OPERATOR(pg_catalog.>) $4 AND l.action OPERATOR(pg_catalog.=) 'identifier_detached'"
    "       UNION ALL"
    "       SELECT l.log_id, x.ord, x.e OPERATOR(pg_catalog.->>) 'type', x.e OPERATOR(pg_catalog.->>) 'value', x.e"
    "       FROM contact_identity.identity_log l"
    "       CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'detached')"
    "         WITH ORDINALITY AS x(e, ord)"
    "       WHERE " ACCOUNT_IS("l") " AND l.contact_id OPERATOR(pg_catalog.=) $3"
    "         AND l.log_id OPERATOR(pg_catalog.>) $4 AND l.action OPERATOR(pg_catalog.<>) 'identifier_detached'"
    "         AND pg_catalog.jsonb_typeof(l.detail OPERATOR(pg_catalog.->) 'detached') OPERATOR(pg_catalog.=) 'array'"
    "     ) d"
    " WHERE d.e OPERATOR(pg_catalog.->) 'after_merge_of' OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($2)"
    " ORDER BY d.log_id, d.ord",
    {INT8OID, INT8OID, INT8OID, INT8OID}};

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

// Locks the loser and the contact it was merged into, in contact ID order;
// returns the winner and its row.
std::pair<int64_t, ContactRow> lock_pair(int64_t account_id, int64_t loser) {
  for (int attempt = 0; attempt < 10; attempt++) {
    std::map<int64_t, ContactRow> seen = read_contact_rows(account_id, {loser});
    auto l = seen.find(loser);
    if (l == seen.end())
      throw IdentityError(sqlstate::kNoDataFound, contact_name(loser) + " does not exist",
                          "Account " + std::to_string(account_id) + " has no " + contact_name(loser) + ".",
                          "Check loser and account_id.");
    if (!l->second.merged_into)
      throw IdentityError(sqlstate::kObjectNotInPrerequisiteState, contact_name(loser) + " is not merged",
                          "It is a live contact, not the tombstone of a merge.",
                          "Pass the contact that was merged away: the merged_into of its row points at the winner.");
    int64_t winner = *l->second.merged_into;
    std::map<int64_t, ContactRow> locked = lock_contact_rows(account_id, {loser, winner});
    // Unmerged, or unmerged and merged elsewhere, while we waited: look again.
    if (locked.count(loser) == 0 || locked.at(loser).merged_into != winner) continue;
    const ContactRow &w = locked.at(winner);
    if (w.merged_into)
      throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                          "contact " + std::to_string(winner) + ", which " + contact_name(loser) +
                              " was merged into, was merged into contact " + std::to_string(*w.merged_into),
                          "What " + contact_name(loser) + " brought is held by " + contact_name(*w.merged_into) +
                              " now.",
                          "Unmerge contact " + std::to_string(winner) + " first.");
    return {winner, w};
  }
  throw IdentityError("40001", "could not serialize access to " + contact_name(loser),
                      "It was merged and unmerged again and again while this call waited.", "Retry the transaction.");
}

// The primary values of both contacts after the unmerge
// (identity::unmerge_primaries), from what they hold once the identifiers
// went back.
identity::UnmergePrimaries primaries_after(int64_t account_id, int64_t loser, int64_t winner, const ContactRow &w,
                                           const std::string &merge_detail) {
  uint64_t n = execute(primaries_held_statement, {int8_param(account_id), int8_param(loser), int8_param(winner)},
                       false);
  identity::HeldValues winner_holds, loser_holds;  // longest held first
  for (uint64_t r = 0; r < n; r++)
    (result_int8(r, 1) == winner ? winner_holds : loser_holds)[result_text(r, 2).value_or("")].push_back(
        result_text(r, 3).value_or(""));
  return identity::unmerge_primaries({w.state.external_id, w.email, w.phone},
                                     identity::recorded_primaries(merge_detail), winner_holds, loser_holds);
}

// An identifier to give back where it is free, with its recorded times.
using Token = identity::BroughtKeyNow;

// What an unmerge gives back, and the log rows and JSON that say so.
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
    log_.add(to, "identifier_attached", std::nullopt, t.type, t.value, std::nullopt,
             "{\"reason\": \"given back by unmerge_contact\"}");
    if (remembered)
      if (std::optional<identity::LogStep> events = attach_anonymous_events(account_id_, to, {{t.type, t.value}}))
        log_.add({std::move(*events)});
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

// The winner's own tokens that the merge's limit pushed out go back to it
// where still free, when this loser was the one merge that pushed them (with
// several, a token may have been another loser's). The loser's own are
// among what it brought.
void give_back_pushed_out(int64_t account_id, int64_t loser, int64_t winner, int64_t merge_log_id,
                          const std::set<std::pair<std::string, std::string>> &brought, GiveBack &give_back) {
  uint64_t n = execute(
      pushed_out_statement,
      {int8_param(account_id), int8_param(loser), int8_param(winner), int8_param(merge_log_id)}, false);
  std::vector<Token> tokens;
  for (uint64_t r = 0; r < n; r++)
    if (result_bool(r, 5) && !brought.count({result_text(r, 1).value_or(""), result_text(r, 2).value_or("")}))
      tokens.push_back({result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3),
                        result_text(r, 4), false, false, std::nullopt});
  for (const Token &t : tokens) give_back.give(t, winner);
}

// Reverses the merge of `loser`; returns the "unmerged" log row's detail.
std::string unmerge(int64_t account_id, int64_t loser) {
  const auto [winner, winner_row] = lock_pair(account_id, loser);
  if (execute(merge_log_statement, {int8_param(account_id), int8_param(loser), int8_param(winner)}, false) != 1 ||
      !result_bool(0, 3))
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        "merge of " + contact_name(loser) + " into contact " + std::to_string(winner) +
                            " cannot be reversed",
                        "Its identity_log row does not record which identifiers, events and values " +
                            contact_name(loser) + " brought: merges logged before version 0.3.0 do not.",
                        "Move what belongs to " + contact_name(loser) +
                            " by hand; explain_contact shows what the merge moved.");
  int64_t merge_log_id = result_int8(0, 1).value_or(0);
  std::string merge_detail = result_text(0, 2).value_or("{}");
  std::vector<Param> args{int8_param(account_id), int8_param(loser), int8_param(winner), jsonb_param(merge_detail)};

  uint64_t n = execute(return_identifiers_statement, args, false);
  std::set<std::pair<std::string, std::string>> returned_keys;
  for (uint64_t r = 0; r < n; r++) returned_keys.emplace(result_text(r, 1).value_or(""), result_text(r, 2).value_or(""));
  n = execute(brought_statement, args, false);
  std::vector<identity::BroughtKeyNow> now(n);
  std::set<std::pair<std::string, std::string>> brought;
  for (uint64_t r = 0; r < n; r++) {
    now[r] = {result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3), result_text(r, 4),
              false, result_bool(r, 6), result_int8(r, 5)};
    now[r].returned = returned_keys.count({now[r].type, now[r].value}) > 0;
    brought.emplace(now[r].type, now[r].value);
  }
  identity::BroughtSplit split = identity::split_brought(now);
  std::vector<identity::UnmergedKey> stayed;  // with their holder
  for (const Token &t : split.held) stayed.push_back({t.type, t.value, t.holder});
  uint64_t events = execute(return_events_statement, args, false);

  // Detached from the winner since (replaced, or past a limit) and free:
  // the loser would still hold it had the merge never happened.
  GiveBack give_back(account_id);
  for (const Token &t : split.free)
    if (!give_back.give(t, loser)) stayed.push_back({t.type, t.value, std::nullopt});  // a concurrent call claims it
  give_back_pushed_out(account_id, loser, winner, merge_log_id, brought, give_back);

  // The winner first: it may give up the external ID the loser takes back.
  identity::UnmergePrimaries values = primaries_after(account_id, loser, winner, winner_row, merge_detail);
  execute(winner_statement,
          {args[0], args[1], args[2], args[3], text_param(values.winner.external_id), text_param(values.winner.email),
           text_param(values.winner.phone)},
          false);
  execute(loser_statement,
          {args[0], args[1], text_param(values.loser.external_id), text_param(values.loser.email),
           text_param(values.loser.phone)},
          false);

  std::string detail = identity::unmerge_detail(merge_log_id, split.returned, give_back.given(), stayed, events);
  LogBatch log;  // the unmerge first, then what it gave back
  log.add(loser, "unmerged", std::nullopt, std::nullopt, std::nullopt, winner, detail);
  log.flush(account_id);
  give_back.finish();
  return "{\"contact_id\": " + std::to_string(loser) + ", \"winner\": " + std::to_string(winner) + ", " +
         detail.substr(1);
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// unmerge_contact(loser, account_id): what went back, as jsonb.
extern "C" Datum ci_unmerge_contact(PG_FUNCTION_ARGS) {
  return guarded([&]() -> Datum {
    int64_t loser = required_int8_arg(fcinfo, 0, "loser");
    int64_t account_id = account_arg(fcinfo, 1);
    spi_connect();
    require_account(account_id, Level::kAdmin);
    std::string summary = unmerge(account_id, loser);
    spi_finish();
    return jsonb_datum(summary);
  });
}
