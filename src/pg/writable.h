// writable.h: writes refused up front on a standby or in a read-only
// transaction.
//
// Every function that writes calls require_writable() before it does any
// work, so such a call fails with one clear error naming the function
// instead of failing deep inside (a row lock, a temporary table, an insert)
// with the internal SQL as CONTEXT, or, in an import, failing every row.
#pragma once

namespace pgshell {

// Throws 25006 "cannot run contact_identity.<function> in a read-only
// transaction" when the transaction cannot write: DETAIL says whether the
// server is a standby (pg_is_in_recovery()) or the transaction is READ ONLY,
// HINT where to run it instead.
void require_writable(const char *function);

}  // namespace pgshell
