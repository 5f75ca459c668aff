// merge.cpp: merge_contacts, the merge an admin asks for when two profiles
// are known to be one person. Its plan (identity::plan_merge) goes through
// the writer that carries out automatic merges, so both move identifiers,
// fill gaps and log the "merged" row the same way, and one unmerge
// reverses either.
#include "core/identity_error.h"
#include "core/write_plan.h"
#include "pg/account_operations.h"
#include "pg/writer.h"
#include "pg/lookup.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::IdentityError;
using identity::contact_name;
namespace sqlstate = identity::sqlstate;

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
  identity::check_not_self(winner_arg, winner, loser);
  return winner;
}

}  // namespace

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
    throw IdentityError(sqlstate::kSerializationFailure, "could not serialize access to " + contact_name(winner),
                        "It was removed while this call waited for it.", "Retry the transaction.");
  const ContactRow &win = w->second, &lose = l->second;
  identity::check_merge({winner, win.state.external_id, win.state.deleted, win.merged_into},
                        {loser, lose.state.external_id, lose.state.deleted, lose.merged_into}, force);
  write_plan(account_id,
             identity::plan_merge(win.state, {win.state.external_id, win.email, win.phone}, lose.state,
                                  {lose.state.external_id, lose.email, lose.phone}, force),
             ProfileFields{});
  return winner;
}

}  // namespace pgshell
