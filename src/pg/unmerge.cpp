// unmerge.cpp: unmerge_contact, the exact reverse of one merge, automatic or
// explicit, read from the "merged" row of identity_log. The loser gets back
// what it brought: the identifiers the winner still holds or that are free
// again (with their old times), its events and its primary values; the
// winner gives up the gaps the loser filled, unless it changed them since,
// and gets back its own tokens the merge's limit pushed out. Whatever the
// winner gained after the merge stays with it. The rules are in
// docs/identity-rules.md ("Unmerge"): this file reads under the locks of
// both contacts, core/unmerge_rules.cpp plans, writer_unmerge.cpp writes.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "core/unmerge_rules.h"
#include "pg/account_operations.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"
#include "pg/writer.h"

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

// Every identifier the loser brought, its recorded times (JSON text), and
// who holds it now (NULL: detached since, or remembered without a holder).
// The winner's, locked, cannot change holder until the unmerge is written.
Statement brought_statement{
    "SELECT b.type, b.value, b.first_seen_at, b.attached_at, h.contact_id, h.contact_id IS NOT NULL FROM" BROUGHT
    " LEFT JOIN LATERAL (SELECT i.contact_id FROM contact_identity.identifiers i WHERE " ACCOUNT_IS("i")
    "   AND i.type OPERATOR(pg_catalog.=) b.type AND i.value OPERATOR(pg_catalog.=) b.value) h ON true"
    " ORDER BY b.type, b.value",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};
#undef BROUGHT

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
  throw IdentityError(sqlstate::kSerializationFailure, "could not serialize access to " + contact_name(loser),
                      "It was merged and unmerged again and again while this call waited.", "Retry the transaction.");
}

// Reads what the merge brought and where it is now, and the tokens its
// limit pushed out of the winner; plans the unmerge.
identity::UnmergePlan plan(int64_t account_id, int64_t loser, int64_t winner, const ContactRow &winner_row) {
  if (execute(merge_log_statement, {int8_param(account_id), int8_param(loser), int8_param(winner)}, false) != 1 ||
      !result_bool(0, 3))
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        "merge of " + contact_name(loser) + " into contact " + std::to_string(winner) +
                            " cannot be reversed",
                        "Its identity_log row does not record which identifiers, events and values " +
                            contact_name(loser) + " brought: merges logged before version 0.3.0 do not.",
                        "Move what belongs to " + contact_name(loser) +
                            " by hand; explain_contact shows what the merge moved.");
  const int64_t merge_log_id = result_int8(0, 1).value_or(0);
  const std::string merge_detail = result_text(0, 2).value_or("{}");
  const std::vector<Param> args{int8_param(account_id), int8_param(loser), int8_param(winner),
                                jsonb_param(merge_detail)};
  uint64_t n = execute(brought_statement, args, false);
  std::vector<identity::BroughtKeyNow> brought(n);
  for (uint64_t r = 0; r < n; r++)
    brought[r] = {result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3),
                  result_text(r, 4), result_int8(r, 5)};
  n = execute(pushed_out_statement, {args[0], args[1], args[2], int8_param(merge_log_id)}, false);
  std::vector<identity::PushedOut> pushed_out(n);
  for (uint64_t r = 0; r < n; r++)
    pushed_out[r] = {result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3),
                     result_text(r, 4), result_bool(r, 5)};
  return identity::plan_unmerge(loser, winner, merge_log_id, merge_detail, brought, pushed_out,
                                {winner_row.state.external_id, winner_row.email, winner_row.phone});
}

}  // namespace

// Reverses the merge of `loser`; returns what went back.
Jsonb unmerge_contact(int64_t account_id, int64_t loser) {
  const auto [winner, winner_row] = lock_pair(account_id, loser);
  std::string detail = write_unmerge(account_id, plan(account_id, loser, winner, winner_row));
  return {identity::JsonObject().field("contact_id", loser).field("winner", winner).members_of(detail).str()};
}

}  // namespace pgshell
