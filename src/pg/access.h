// access.h: who may use which account. Every entry point checks the calling
// role before it reads anything; the functions themselves run as the
// extension's owner (SECURITY DEFINER), so the check is theirs to make.
#pragma once

#include <cstdint>

#include "pg/postgres_headers.h"

namespace pgshell {

// What a grant in contact_identity.account_grants allows, each level
// including the ones before it.
enum class Level { kReader, kWriter, kAdmin };

// The role the call is made for: the current role outside every SECURITY
// DEFINER function (after SET ROLE, that role), not the owner the
// function runs as.
Oid calling_role();

// The start of an entry point's work on an account: makes it the call's
// account (account_shards.h: on a Citus node, its local shards), then
// require_grant. Needs SPI.
void require_account(int64_t account_id, Level level);

// Throws 42501 unless the calling role is a superuser or a member of a role
// granted `level` (or more) on the account. Needs SPI.
void require_grant(int64_t account_id, Level level);

// Throws 42501 unless the calling role may SELECT from the relation (an
// import's source). A temporary table the extension's owner made in this
// session (import_contacts_json's) passes.
void require_select(Oid relation);

// The owner of the function being called: whom run_import, a procedure that
// commits and so cannot be SECURITY DEFINER, works as.
Oid function_owner(FunctionCallInfo fcinfo);

// Runs as `role` while it lives, then as before. Never alive across a
// commit: a transaction must start and end as the calling role.
class RunAs {
 public:
  explicit RunAs(Oid role);
  ~RunAs();
  RunAs(const RunAs &) = delete;
  RunAs &operator=(const RunAs &) = delete;

 private:
  Oid saved_user_;
  int saved_context_;
};

}  // namespace pgshell
