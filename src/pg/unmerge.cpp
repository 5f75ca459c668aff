// unmerge.cpp: unmerge_contact, the exact reverse of one merge, automatic or
// explicit, read from the "merged" row of identity_log. The loser gets back
// what it brought: the identifiers the winner still holds or that are free
// again (with their old times), its events and its primary values; the
// winner gives up the gaps the loser filled, unless it changed them since,
// and gets back its own tokens the merge's limit pushed out. Whatever the
// winner gained after the merge stays with it. The rules are in
// docs/identity-rules.md ("Unmerge").
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/access.h"
#include "pg/apply.h"
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
using KeyList = std::vector<std::pair<std::string, std::string>>;

#define ACCOUNT_IS(alias) alias ".account_id OPERATOR(pg_catalog.=) $1"

// The latest merge of $2 into $3, and whether its detail says enough to be
// reversed (merges logged before 0.3.0 do not).
Statement merge_log_statement{
    "SELECT l.log_id, l.detail::pg_catalog.text,"
    "  COALESCE(l.detail OPERATOR(pg_catalog.?&) ARRAY['identifiers', 'event_ids', 'filled'], false)"
    " FROM contact_identity.identity_log l"
    " WHERE " ACCOUNT_IS("l") " AND l.other_contact_id OPERATOR(pg_catalog.=) $2"
    "  AND l.contact_id OPERATOR(pg_catalog.=) $3 AND l.action OPERATOR(pg_catalog.=) 'merged'"
    " ORDER BY l.log_id DESC LIMIT 1",
    {INT8OID, INT8OID, INT8OID}};

// The identifiers the loser ($2) brought ($4, the merge's detail) that the
// winner ($3) still holds go back, with the time the loser attached them.
// Returns every identifier it brought, its recorded times (JSON text), and
// where it is: 'returned', 'free' (detached since, or remembered without a
// holder) or 'held' by another contact (the last column).
Statement return_identifiers_statement{
    "WITH brought AS (SELECT x.type, x.value, x.first_seen_at, x.attached_at"
    "   FROM pg_catalog.jsonb_to_recordset($4 OPERATOR(pg_catalog.->) 'identifiers')"
    "   AS x(type pg_catalog.text, value pg_catalog.text, first_seen_at pg_catalog.text, attached_at pg_catalog.text)),"
    " returned AS (UPDATE contact_identity.identifiers i SET contact_id = $2,"
    "   attached_at = b.attached_at::pg_catalog.timestamptz"
    "   FROM brought b WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) b.type"
    "   AND i.value OPERATOR(pg_catalog.=) b.value AND i.contact_id OPERATOR(pg_catalog.=) $3"
    "   RETURNING i.type, i.value)"
    " SELECT b.type, b.value, b.first_seen_at, b.attached_at,"
    "  CASE WHEN r.type IS NOT NULL THEN 'returned' WHEN h.contact_id IS NULL THEN 'free' ELSE 'held' END,"
    "  h.contact_id"
    " FROM brought b"
    " LEFT JOIN returned r ON r.type OPERATOR(pg_catalog.=) b.type AND r.value OPERATOR(pg_catalog.=) b.value"
    " LEFT JOIN LATERAL (SELECT i.contact_id FROM contact_identity.identifiers i WHERE " ACCOUNT_IS("i")
    "   AND i.type OPERATOR(pg_catalog.=) b.type AND i.value OPERATOR(pg_catalog.=) b.value) h ON true"
    " ORDER BY b.type, b.value",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};

// The loser's events, by ID, from the winner back to the loser.
Statement return_events_statement{
    "UPDATE contact_identity.events e SET contact_id = $2"
    " WHERE " ACCOUNT_IS("e") " AND e.contact_id OPERATOR(pg_catalog.=) $3"
    "  AND e.event_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT x.id::pg_catalog.int8"
    "   FROM pg_catalog.jsonb_array_elements_text($4 OPERATOR(pg_catalog.->) 'event_ids') AS x(id)))",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};

// The oldest identifier of a type a contact holds after the return: the
// primary value when the one it had went back.
#define OLDEST_HELD(contact, type)                                                                        \
  "(SELECT i.value FROM contact_identity.identifiers i WHERE " ACCOUNT_IS("i")                           \
  " AND i.contact_id OPERATOR(pg_catalog.=) " contact " AND i.type OPERATOR(pg_catalog.=) '" type "'" \
  " ORDER BY i.attached_at, i.value LIMIT 1)"
#define HELD(contact, type, value)                                                                         \
  "EXISTS (SELECT FROM contact_identity.identifiers i WHERE " ACCOUNT_IS("i")                            \
  " AND i.type OPERATOR(pg_catalog.=) '" type "' AND i.value OPERATOR(pg_catalog.=) " value              \
  " AND i.contact_id OPERATOR(pg_catalog.=) " contact ")"

// The winner ($3) gives up the gaps the loser filled ($4->'filled') that it
// has not changed since, and primary values it no longer holds.
#define UNFILLED_NAME(column)                                                                               \
  "CASE WHEN $4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.?) '" column "' AND w." column      \
  " OPERATOR(pg_catalog.=) ($4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.->>) '" column "')" \
  " THEN NULL ELSE w." column " END"
#define KEPT_PRIMARY(column)                                                                          \
  "CASE WHEN w." column " IS NULL OR " HELD("$3", column, "w." column) " THEN w." column " ELSE " \
  OLDEST_HELD("$3", column) " END"
Statement winner_statement{
    "UPDATE contact_identity.contacts w SET"
    " first_name = " UNFILLED_NAME("first_name") ", last_name = " UNFILLED_NAME("last_name") ","
    " attributes = w.attributes OPERATOR(pg_catalog.-) ARRAY(SELECT a.key FROM pg_catalog.jsonb_each("
    "   $4 OPERATOR(pg_catalog.->) 'filled' OPERATOR(pg_catalog.->) 'attributes') AS a"
    "   WHERE w.attributes OPERATOR(pg_catalog.->) a.key OPERATOR(pg_catalog.=) a.value),"
    " external_id = CASE WHEN " HELD("$3", "external_id", "w.external_id") " THEN w.external_id END,"
    " email = " KEPT_PRIMARY("email") ", phone = " KEPT_PRIMARY("phone") ","
    " updated_at = pg_catalog.now()"
    " WHERE " ACCOUNT_IS("w") " AND w.contact_id OPERATOR(pg_catalog.=) $3",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};
#undef UNFILLED_NAME
#undef KEPT_PRIMARY

// The loser ($2) lives again with the primary values it had ($4), those it
// got back; its names and attributes stayed on the tombstone.
#define RETURNED_PRIMARY(column)                                                                 \
  "COALESCE(CASE WHEN " HELD("$2", column, "($4 OPERATOR(pg_catalog.->>) '" column "')") " THEN" \
  " $4 OPERATOR(pg_catalog.->>) '" column "' END, " OLDEST_HELD("$2", column) ")"
Statement loser_statement{
    "UPDATE contact_identity.contacts l SET merged_into = NULL,"
    " external_id = CASE WHEN " HELD("$2", "external_id", "($4 OPERATOR(pg_catalog.->>) 'external_id')")
    " THEN $4 OPERATOR(pg_catalog.->>) 'external_id' END,"
    " email = " RETURNED_PRIMARY("email") ", phone = " RETURNED_PRIMARY("phone") ","
    " updated_at = pg_catalog.now()"
    " WHERE " ACCOUNT_IS("l") " AND l.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID, INT8OID, JSONBOID}};
#undef RETURNED_PRIMARY
#undef HELD
#undef OLDEST_HELD

// The tokens the merge's limit detached from the winner ($3): logged after
// the merge ($4) and naming the loser ($2) among the merges that pushed them
// out. The last column: whether the loser was the only one.
Statement pushed_out_statement{
    "SELECT l.identifier_type, l.identifier_value,"
    "  l.detail OPERATOR(pg_catalog.->>) 'first_seen_at', l.detail OPERATOR(pg_catalog.->>) 'attached_at',"
    "  l.detail OPERATOR(pg_catalog.->) 'after_merge_of' OPERATOR(pg_catalog.=) pg_catalog.jsonb_build_array($2)"
    " FROM contact_identity.identity_log l"
    " WHERE " ACCOUNT_IS("l") " AND l.contact_id OPERATOR(pg_catalog.=) $3"
    "  AND l.log_id OPERATOR(pg_catalog.>) $4 AND l.action OPERATOR(pg_catalog.=) 'identifier_detached'"
    "  AND l.detail OPERATOR(pg_catalog.->) 'after_merge_of' OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($2)"
    " ORDER BY l.log_id",
    {INT8OID, INT8OID, INT8OID, INT8OID}};

// Gives an identifier ($3, $4) back to contact $2 if it is free: no row
// (inserted with its old times $5 and $6, ISO 8601 text), or a row without a
// holder that no concurrent call is claiming. Returns 'inserted' or
// 'remembered', or no row.
Statement give_back_statement{
    "WITH free AS (SELECT i.type, i.value FROM contact_identity.identifiers i"
    "   WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) $3 AND i.value OPERATOR(pg_catalog.=) $4"
    "   AND i.contact_id IS NULL FOR NO KEY UPDATE SKIP LOCKED),"
    " taken AS (UPDATE contact_identity.identifiers i SET contact_id = $2, attached_at = $6::pg_catalog.timestamptz,"
    "   first_seen_at = LEAST(i.first_seen_at, $5::pg_catalog.timestamptz) FROM free f"
    "   WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) f.type AND i.value OPERATOR(pg_catalog.=) f.value"
    "   RETURNING 'remembered'::pg_catalog.text AS how),"
    " added AS (INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id, first_seen_at,"
    "   attached_at) SELECT $1, $3, $4, $2, COALESCE($5::pg_catalog.timestamptz, pg_catalog.now()),"
    "   $6::pg_catalog.timestamptz WHERE NOT EXISTS (SELECT FROM contact_identity.identifiers i"
    "   WHERE " ACCOUNT_IS("i") " AND i.type OPERATOR(pg_catalog.=) $3 AND i.value OPERATOR(pg_catalog.=) $4)"
    "   ON CONFLICT DO NOTHING RETURNING 'inserted'::pg_catalog.text AS how)"
    " SELECT how FROM taken UNION ALL SELECT how FROM added",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}};

#undef ACCOUNT_IS

// Locks the loser and the contact it was merged into, in contact ID order;
// returns the winner.
int64_t lock_pair(int64_t account_id, int64_t loser) {
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
    return winner;
  }
  throw IdentityError("40001", "could not serialize access to " + contact_name(loser),
                      "It was merged and unmerged again and again while this call waited.", "Retry the transaction.");
}

// An identifier to give back where it is free, with its recorded times.
struct Token {
  std::string type, value;
  std::optional<std::string> first_seen_at, attached_at;  // ISO 8601
};

// What an unmerge gives back, and the log rows and JSON that say so.
class GiveBack {
 public:
  explicit GiveBack(int64_t account_id) : account_id_(account_id) {}

  // Gives `token` to `to` if it is free; false when another call has it.
  bool give(const Token &t, int64_t to) {
    if (execute(give_back_statement,
                {int8_param(account_id_), int8_param(to), text_param(t.type), text_param(t.value),
                 text_param(t.first_seen_at), text_param(t.attached_at)},
                false) == 0)
      return false;
    bool remembered = result_text(0, 1) == std::optional<std::string>("remembered");
    log_.add(to, "identifier_attached", std::nullopt, t.type, t.value, std::nullopt,
             "{\"reason\": \"given back by unmerge_contact\"}");
    if (remembered) attach_anonymous_events(account_id_, to, {{t.type, t.value}}, log_);
    to_.insert(to);
    json_ += std::string(json_.empty() ? "" : ", ") + entry(t.type, t.value, to);
    return true;
  }

  // The contacts given something are checked against the limits; then
  // the log rows are written.
  void finish() {
    if (!to_.empty()) enforce_limits(account_id_, std::vector<int64_t>(to_.begin(), to_.end()), std::nullopt, log_);
    log_.flush(account_id_);
  }

  const std::string &json() const { return json_; }

  static std::string entry(const std::string &type, const std::string &value, std::optional<int64_t> contact) {
    return "{\"type\": " + identity::json_quote(type) + ", \"value\": " + identity::json_quote(value) +
           ", \"contact_id\": " + (contact ? std::to_string(*contact) : "null") + "}";
  }

 private:
  int64_t account_id_;
  LogBatch log_;
  std::set<int64_t> to_;
  std::string json_;
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
                        result_text(r, 4)});
  for (const Token &t : tokens) give_back.give(t, winner);
}

// Reverses the merge of `loser`; returns the "unmerged" log row's detail.
std::string unmerge(int64_t account_id, int64_t loser) {
  int64_t winner = lock_pair(account_id, loser);
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
  KeyList returned;
  std::vector<Token> free;
  std::vector<std::pair<Token, std::optional<int64_t>>> held;  // by another contact
  std::set<std::pair<std::string, std::string>> brought;
  for (uint64_t r = 0; r < n; r++) {
    Token t{result_text(r, 1).value_or(""), result_text(r, 2).value_or(""), result_text(r, 3), result_text(r, 4)};
    brought.emplace(t.type, t.value);
    std::string where = result_text(r, 5).value_or("");
    if (where == "returned")
      returned.emplace_back(t.type, t.value);
    else if (where == "free")
      free.push_back(t);
    else
      held.emplace_back(t, result_int8(r, 6));
  }
  uint64_t events = execute(return_events_statement, args, false);

  // Detached from the winner since (replaced, or past a limit) and free:
  // the loser would still hold it had the merge never happened.
  GiveBack give_back(account_id);
  for (const Token &t : free)
    if (!give_back.give(t, loser)) held.emplace_back(t, std::nullopt);  // a concurrent call is claiming it
  give_back_pushed_out(account_id, loser, winner, merge_log_id, brought, give_back);

  // The winner first: it may give up the external ID the loser takes back.
  execute(winner_statement, args, false);
  execute(loser_statement, args, false);

  std::string stayed;
  for (const auto &[t, holder] : held)
    stayed += std::string(stayed.empty() ? "" : ", ") + GiveBack::entry(t.type, t.value, holder);
  std::string detail = "{\"merge_log_id\": " + std::to_string(merge_log_id) +
                       ", \"identifiers\": " + identity::json_identifier_list(returned) +
                       ", \"given_back\": [" + give_back.json() + "], \"stayed\": [" + stayed +
                       "], \"events\": " + std::to_string(events) + "}";
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
