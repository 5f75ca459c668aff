// import_lock.cpp: the advisory lock of a running import (import_lock.h),
// and contact_identity.import_session_pid().
#include "pg/import_lock.h"

#include "core/identity_error.h"
#include "pg/pg_boundary.h"
#include "pg/arguments.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_import_session_pid);
}

namespace pgshell {
namespace {

// The first key: "CIMP".
constexpr int32_t kImportLockClass = 0x43494d50;

// The second key of an import.
int32_t import_key(int64_t import_id) { return static_cast<int32_t>(import_id % 2147483648LL); }

// The backend holding the lock of the key ($3) in this database ($1).
Statement holder_statement{
    "SELECT l.pid::pg_catalog.int8 FROM pg_catalog.pg_locks l"
    " WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.database OPERATOR(pg_catalog.=) $1"
    " AND l.classid OPERATOR(pg_catalog.=) $2 AND l.objid OPERATOR(pg_catalog.=) $3"
    " AND l.objsubid OPERATOR(pg_catalog.=) 2 AND l.granted LIMIT 1",
    {OIDOID, OIDOID, OIDOID}};

// Calls one of pg_try_advisory_lock(int4, int4) and its kin on the import's keys.
bool try_lock(PGFunction fn, int64_t import_id) {
  return pg_call([&]() noexcept {
    return DatumGetBool(DirectFunctionCall2(fn, Int32GetDatum(kImportLockClass), Int32GetDatum(import_key(import_id))));
  });
}

// 55006: another session runs the import.
[[noreturn]] void refuse_running(int64_t import_id, const std::string &then) {
  std::optional<int32_t> pid = import_session_pid(import_id);
  std::string name = "import " + std::to_string(import_id);
  std::string backend = pid ? std::to_string(*pid) : "PID";
  throw identity::IdentityError(
      identity::sqlstate::kObjectInUse, name + " is running in another session",
      pid ? "Backend " + backend + " runs it (CALL contact_identity.run_import)."
          : "Another session held its lock a moment ago.",
      "Wait for that call to end, or stop it with SELECT pg_catalog.pg_cancel_backend(" + backend + "), then " +
          then + ".");
}

}  // namespace

ImportSession::~ImportSession() {
  if (!held_) return;
  try {
    try_lock(pg_advisory_unlock_int4, *held_);
  } catch (...) {  // the end of the session releases it anyway
  }
}

void ImportSession::take(int64_t import_id, const std::string &then) {
  if (held_ == import_id) return;
  if (!try_lock(pg_try_advisory_lock_int4, import_id)) refuse_running(import_id, then);
  held_ = import_id;
}

void lock_import_for_transaction(int64_t import_id, const std::string &then) {
  if (!try_lock(pg_try_advisory_xact_lock_int4, import_id)) refuse_running(import_id, then);
}

std::optional<int32_t> import_session_pid(int64_t import_id) {
  Param database{ObjectIdGetDatum(MyDatabaseId), false};
  Param classid{ObjectIdGetDatum(static_cast<Oid>(kImportLockClass)), false};
  Param objid{ObjectIdGetDatum(static_cast<Oid>(import_key(import_id))), false};
  if (execute(holder_statement, {database, classid, objid}, true) == 0) return std::nullopt;
  return static_cast<int32_t>(result_int8(0, 1).value_or(0));
}

}  // namespace pgshell

using namespace pgshell;

// import_session_pid(import_id): the backend running the import, or NULL.
extern "C" Datum ci_import_session_pid(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("import_session_pid"), [&](EntryCall &call) -> Datum {
    int64_t import_id = required_int8_arg(fcinfo, 0, "import_id");
    call.connect();
    std::optional<int32_t> pid = import_session_pid(import_id);
    call.close();
    if (!pid) fcinfo->isnull = true;
    return Int32GetDatum(pid.value_or(0));
  });
}
