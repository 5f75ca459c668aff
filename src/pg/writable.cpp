// writable.cpp: the read-only check of every write function, and
// contact_identity.require_writable(), the same check for the PL/pgSQL ones.
#include "pg/writable.h"

#include <string>

#include "core/identity_error.h"
#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"

extern "C" {
#include "access/xlog.h"
PG_FUNCTION_INFO_V1(ci_require_writable);
}

namespace pgshell {

void require_writable(const char *function) {
  if (!XactReadOnly) return;  // a standby's transactions are all read-only too
  bool standby = pg_call([]() noexcept { return RecoveryInProgress(); });
  std::string name = std::string("contact_identity.") + function;
  throw identity::IdentityError(
      identity::sqlstate::kReadOnlySqlTransaction, "cannot run " + name + " in a read-only transaction",
      standby ? "The server is a standby (pg_is_in_recovery() is true): it replays the primary's changes and "
                "accepts no writes."
              : "The transaction is READ ONLY (BEGIN READ ONLY, SET TRANSACTION READ ONLY or "
                "default_transaction_read_only).",
      standby ? "Run " + name + " on the primary." : "Run " + name + " in a read-write transaction.");
}

}  // namespace pgshell

using namespace pgshell;

// require_writable(function_name text): raises 25006 naming the function
// when the transaction cannot write; the first statement of every PL/pgSQL
// function that writes. The error carries no CONTEXT: the caller's own
// statement (SELECT contact_identity.require_writable(...)) and its line
// would tell the reader nothing the message does not.
extern "C" Datum ci_require_writable(PG_FUNCTION_ARGS) {
  PendingError pending;
  try {
    const char *function =
        PG_ARGISNULL(0) ? "?" : pg_call([&]() noexcept { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    require_writable(function);
  } catch (...) {
    capture_current_exception(pending);
  }
  if (pending.has_error) error_context_stack = nullptr;  // PG_TRY frames and the top level restore it
  raise_pending(pending);
  PG_RETURN_VOID();
}
