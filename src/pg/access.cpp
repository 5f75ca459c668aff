// access.cpp: the account grants, checked at every entry point, and the
// role switch of run_import.
#include "pg/access.h"

#include <string>
#include <vector>

#include "core/identity_error.h"
#include "pg/account_shards.h"
#include "pg/pg_boundary.h"
#include "pg/arguments.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/syscache.h"
PG_FUNCTION_INFO_V1(ci_require_account);
PG_FUNCTION_INFO_V1(ci_calling_role);
PG_FUNCTION_INFO_V1(ci_readable_accounts);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// A grant of the role (or one it is a member of) on the account, at one of
// the levels ($3) that allow what is asked.
Statement granted_statement{
    "SELECT EXISTS (SELECT FROM contact_identity.account_grants g"
    " JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) g.role"
    " WHERE g.account_id OPERATOR(pg_catalog.=) $1 AND g.level OPERATOR(pg_catalog.=) ANY ($3)"
    " AND pg_catalog.pg_has_role($2, r.oid, 'MEMBER'))",
    {INT8OID, OIDOID, TEXTARRAYOID}};

// The accounts a role ($1) has any grant on, through its memberships.
Statement readable_statement{
    "SELECT DISTINCT g.account_id FROM contact_identity.account_grants g"
    " JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) g.role"
    " WHERE pg_catalog.pg_has_role($1, r.oid, 'MEMBER') ORDER BY 1",
    {OIDOID}};

// readable_accounts() of the last statement: the policies call it for
// every row on a Citus node (without the InitPlan Citus refuses), so one
// statement reads the grants once. A grant made since is seen by the next
// statement (its command ID differs).
struct Readable {
  LocalTransactionId transaction = InvalidLocalTransactionId;
  CommandId command = InvalidCommandId;
  Oid role = InvalidOid;
  std::vector<int64_t> accounts;
};
Readable readable;

const char *level_name(Level level) {
  return level == Level::kReader ? "reader" : level == Level::kWriter ? "writer" : "admin";
}

// The levels that allow `level`.
std::vector<std::string> levels_allowing(Level level) {
  if (level == Level::kReader) return {"reader", "writer", "admin"};
  if (level == Level::kWriter) return {"writer", "admin"};
  return {"admin"};
}

std::string role_name(Oid role) {
  const char *name = pg_call([&]() noexcept { return GetUserNameFromId(role, true); });
  return name ? name : "role " + std::to_string(role);
}

Level level_arg(FunctionCallInfo fcinfo, int n) {
  std::optional<std::string> level = text_arg(fcinfo, n);
  if (level == std::optional<std::string>("reader")) return Level::kReader;
  if (level == std::optional<std::string>("writer")) return Level::kWriter;
  if (level == std::optional<std::string>("admin")) return Level::kAdmin;
  throw IdentityError(identity::sqlstate::kInvalidParameterValue,
                      "invalid level " + (level ? identity::quoted(*level) : std::string("NULL")), "",
                      "A level is reader, writer or admin.");
}

}  // namespace

Oid calling_role() { return pg_call([]() noexcept { return GetOuterUserId(); }); }

void require_account(int64_t account_id, Level level) {
  set_call_account(account_id);
  require_grant(account_id, level);
}

void require_grant(int64_t account_id, Level level) {
  Oid role = calling_role();
  if (pg_call([&]() noexcept { return superuser_arg(role); })) return;
  std::vector<std::string> levels = levels_allowing(level);
  execute(granted_statement,
          {int8_param(account_id), Param{ObjectIdGetDatum(role), false}, text_array_param(levels)}, true);
  if (result_bool(0, 1)) return;
  std::string name = role_name(role), account = std::to_string(account_id);
  std::string literal = "'";  // the role name as an SQL literal, for the hint
  for (char c : name) literal += c == '\'' ? std::string("''") : std::string(1, c);
  literal += "'";
  throw IdentityError(identity::sqlstate::kInsufficientPrivilege, "permission denied for account " + account,
                      "Role " + identity::quoted(name) + " has no " + level_name(level) + " grant on account " +
                          account + ".",
                      "A superuser or an admin of account " + account + " grants it: SELECT " +
                          "contact_identity.grant_account(" + literal + ", " + account + ", '" +
                          level_name(level) + "').");
}

void require_select(Oid relation) {
  Oid role = calling_role();
  bool allowed = pg_call([&]() noexcept {
    if (pg_class_aclcheck(relation, role, ACL_SELECT) == ACLCHECK_OK) return true;
    Oid nsp = get_rel_namespace(relation);
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relation));
    if (!HeapTupleIsValid(tuple)) return false;
    Oid owner = ((Form_pg_class)GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return isTempNamespace(nsp) && owner == GetUserId();
  });
  if (allowed) return;
  const char *rel = pg_call([&]() noexcept { return get_rel_name(relation); });
  throw IdentityError(identity::sqlstate::kInsufficientPrivilege, "permission denied for table " + std::string(rel ? rel : "?"),
                      "Role " + identity::quoted(role_name(role)) + " may not read the import's source.",
                      "Grant it SELECT on the source table.");
}

Oid function_owner(FunctionCallInfo fcinfo) {
  Oid fn = fcinfo->flinfo->fn_oid;
  return pg_call([&]() noexcept {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "contact_identity: function %u not found", fn);
    Oid owner = ((Form_pg_proc)GETSTRUCT(tuple))->proowner;
    ReleaseSysCache(tuple);
    return owner;
  });
}

RunAs::RunAs(Oid role) {
  pg_call([&]() noexcept {
    GetUserIdAndSecContext(&saved_user_, &saved_context_);
    SetUserIdAndSecContext(role, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
  });
}

RunAs::~RunAs() { SetUserIdAndSecContext(saved_user_, saved_context_); }

}  // namespace pgshell

using namespace pgshell;

// require_account(account_id, level): nothing, or 42501 (for the SQL and
// PL/pgSQL functions, which check as the C ones do).
extern "C" Datum ci_require_account(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("require_account"), [&](EntryCall &call) -> Datum {
    int64_t account_id = account_arg(fcinfo, 0);
    Level level = level_arg(fcinfo, 1);
    call.connect();
    require_grant(account_id, level);
    PG_RETURN_VOID();
  });
}

// readable_accounts(): the accounts the calling role has any grant on;
// what row-level security lets it read. SECURITY DEFINER: it reads the
// grants, which the role may not.
extern "C" Datum ci_readable_accounts(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("readable_accounts"), [&](EntryCall &call) -> Datum {
    Oid role = calling_role();
#if PG_VERSION_NUM >= 170000
    LocalTransactionId transaction = MyProc->vxid.lxid;  // moved into vxid in 17
#else
    LocalTransactionId transaction = MyProc->lxid;
#endif
    CommandId command = pg_call([]() noexcept { return GetCurrentCommandId(false); });
    if (readable.transaction != transaction || readable.command != command || readable.role != role) {
      readable.transaction = InvalidLocalTransactionId;
      std::vector<int64_t> accounts;
      call.connect();
      uint64_t n = execute(readable_statement, {pgshell::Param{ObjectIdGetDatum(role), false}}, true);
      for (uint64_t r = 0; r < n; r++) accounts.push_back(result_int8(r, 1).value_or(0));
      call.close();
      readable.accounts = std::move(accounts);
      readable.transaction = transaction;
      readable.command = command;
      readable.role = role;
    }
    const std::vector<int64_t> &accounts = readable.accounts;
    return pg_call([&]() noexcept {
      int n = (int)accounts.size();
      Datum *elems = (Datum *)palloc(sizeof(Datum) * (n > 0 ? n : 1));
      for (int i = 0; i < n; i++) elems[i] = Int64GetDatum(accounts[i]);
      return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
  });
}

// calling_role(): the role the call is made for (see calling_role()).
extern "C" Datum ci_calling_role(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("calling_role"),
                   [&](EntryCall &) -> Datum { return ObjectIdGetDatum(calling_role()); });
}
