// import_cancel.cpp: cancel_import, the end of a run_import import whose
// session is gone (import_lock.h): it is marked cancelled and can no
// longer be resumed; the batches it committed stay.
#include "core/identity_error.h"
#include "pg/account_operations.h"
#include "pg/import_lock.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::IdentityError;

Statement status_statement{
    "SELECT i.status FROM contact_identity.imports i"
    " WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.import_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

Statement cancel_statement{
    "UPDATE contact_identity.imports i SET status = 'cancelled', finished_at = pg_catalog.now()"
    " WHERE i.account_id OPERATOR(pg_catalog.=) $1 AND i.import_id OPERATOR(pg_catalog.=) $2"
    " AND i.status OPERATOR(pg_catalog.=) 'running'",
    {INT8OID, INT8OID}};

// The import's status; P0002 when the account has no such import, 55000
// when it is done.
std::string status_of(int64_t account_id, int64_t import_id) {
  const std::string name = "import " + std::to_string(import_id);
  if (execute(status_statement, {int8_param(account_id), int8_param(import_id)}, false) == 0)
    throw IdentityError(identity::sqlstate::kNoDataFound, name + " does not exist",
                        "Account " + std::to_string(account_id) + " has no " + name + ".",
                        "contact_identity.import_progress lists the imports.");
  std::string status = result_text(0, 1).value_or("");
  if (status == "done")
    throw IdentityError(identity::sqlstate::kObjectNotInPrerequisiteState, name + " is done",
                        "Every row of its source was applied or reported; nothing is left to cancel.", "");
  return status;
}

}  // namespace

// Cancels a running import. Its status is read before the lock, so that
// the lock (keyed by the import ID alone) says nothing about another
// account's import.
bool cancel_import(int64_t account_id, int64_t import_id) {
  if (status_of(account_id, import_id) != "running") return false;
  // Held until commit: a run_import resuming the import meanwhile fails
  // with 55006, one after the commit finds the import cancelled.
  lock_import_for_transaction(import_id, "cancel it");
  bool cancelled_now = execute(cancel_statement, {int8_param(account_id), int8_param(import_id)}, false) == 1;
  if (!cancelled_now) status_of(account_id, import_id);  // it ended meanwhile: done, or cancelled by another call
  return cancelled_now;
}

}  // namespace pgshell
