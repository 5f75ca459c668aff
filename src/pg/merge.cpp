// merge.cpp: merge_contacts, the merge an admin asks for when two profiles
// are known to be one person. Automatic merges (apply.cpp) and this one
// move identifiers and fill gaps the same way, and log the same "merged"
// row, so that one unmerge can reverse either.
#include <set>

#include "core/identity_error.h"
#include "pg/access.h"
#include "pg/apply.h"
#include "pg/log_batch.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_merge_contacts);
}

namespace pgshell {
namespace {

using identity::IdentityError;
using identity::contact_name;
namespace sqlstate = identity::sqlstate;

// The winner's empty external ID, email and phone taken from the loser,
// after the loser gave them up (the external ID is unique per account).
Statement fill_primary_statement{
    "UPDATE contact_identity.contacts c SET external_id = COALESCE(c.external_id, $3),"
    " email = COALESCE(c.email, $4), phone = COALESCE(c.phone, $5), updated_at = pg_catalog.now()"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID}};

// Refuses a contact that cannot take part in a merge.
void require_live(const ContactRow &row) {
  if (row.merged_into)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        contact_name(row.state.id) + " was already merged into " + contact_name(*row.merged_into),
                        "A merged contact is a tombstone and holds nothing.",
                        "Merge contact " + std::to_string(*row.merged_into) + " instead.");
  if (row.state.deleted)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState, contact_name(row.state.id) + " is deleted", "",
                        "Restore it first: upsert_contact with restore_deleted => true.");
}

// The winner argument's contact: itself, or the contact a merge of it went
// into. Errors name the argument.
int64_t follow_winner(int64_t account_id, int64_t winner_arg, int64_t loser) {
  int64_t winner = 0;
  try {
    winner = follow_contact(account_id, winner_arg, false);
  } catch (const IdentityError &e) {
    if (e.sqlstate() != sqlstate::kNoDataFound) throw;
    throw IdentityError(sqlstate::kNoDataFound, e.what(), e.detail(), "Check winner and account_id.");
  }
  if (winner == loser)
    throw IdentityError(sqlstate::kInvalidParameterValue, "cannot merge " + contact_name(loser) + " into itself",
                        winner == winner_arg
                            ? ""
                            : "Contact " + std::to_string(winner_arg) + " was merged into " + contact_name(loser) + ".",
                        "");
  return winner;
}

// Locks both contacts and merges; returns the winner.
int64_t merge_contacts(int64_t account_id, int64_t winner_arg, int64_t loser, bool force) {
  int64_t winner = follow_winner(account_id, winner_arg, loser);
  std::map<int64_t, ContactRow> rows = lock_contact_rows(account_id, {winner, loser});
  // A merge that committed while we waited for the locks may have moved the
  // winner on: follow it again, under the locks this time.
  for (int hops = 0; rows.count(winner) && rows.at(winner).merged_into && hops < 100; hops++) {
    winner = follow_winner(account_id, winner, loser);
    rows = lock_contact_rows(account_id, {winner, loser});
  }
  auto l = rows.find(loser);
  if (l == rows.end())
    throw IdentityError(sqlstate::kNoDataFound, contact_name(loser) + " does not exist",
                        "Account " + std::to_string(account_id) + " has no " + contact_name(loser) + ".",
                        "Check loser and account_id.");
  auto w = rows.find(winner);
  if (w == rows.end())
    throw IdentityError("40001", "could not serialize access to " + contact_name(winner),
                        "It was removed while this call waited for it.", "Retry the transaction.");
  require_live(w->second);
  require_live(l->second);
  const ContactRow &win = w->second, &lose = l->second;
  if (win.state.external_id && lose.state.external_id && !force)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        contact_name(winner) + " and " + contact_name(loser) + " both have an external ID",
                        "Contact " + std::to_string(winner) + " has external ID " +
                            identity::quoted(*win.state.external_id) + " and " +
                            contact_name(loser) + " has " + identity::quoted(*lose.state.external_id) +
                            "; the application may know them as two people.",
                        "If they are one person, merge with force => true: the winner keeps its external ID, and "
                        "the loser's finds the winner.");

  LogBatch log;
  merge_into(account_id, lose, winner, std::nullopt, log,
             std::string("{\"explicit\": true, \"forced\": ") + (force ? "true}" : "false}"));
  execute(fill_primary_statement,
          {int8_param(account_id), int8_param(winner), text_param(lose.state.external_id), text_param(lose.email),
           text_param(lose.phone)},
          false);
  enforce_limits(account_id, {winner}, std::nullopt, log, {loser});
  if (!win.state.external_id && lose.state.external_id)
    log.add(winner, "external_id_assigned", std::nullopt, identity::kExternalIdType, *lose.state.external_id,
            loser, std::nullopt);
  log.flush(account_id);
  return winner;
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// merge_contacts(winner, loser, force, account_id): the winner's contact ID.
extern "C" Datum ci_merge_contacts(PG_FUNCTION_ARGS) {
  return guarded([&]() -> Datum {
    int64_t winner = required_int8_arg(fcinfo, 0, "winner");
    int64_t loser = required_int8_arg(fcinfo, 1, "loser");
    if (PG_ARGISNULL(2)) throw IdentityError("22004", "force must not be null", "", "Pass true or false.");
    bool force = PG_GETARG_BOOL(2);
    int64_t account_id = account_arg(fcinfo, 3);
    spi_connect();
    require_account(account_id, Level::kAdmin);
    int64_t result = merge_contacts(account_id, winner, loser, force);
    spi_finish();
    return Int64GetDatum(result);
  });
}
