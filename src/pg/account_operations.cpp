// account_operations.cpp: the SQL functions declared by their work's
// signature (typed_entry.h): each reads the arguments the work takes, then
// account_id, and checks the calling role's grant on the account.
#include "pg/account_operations.h"

#include "pg/access.h"
#include "pg/typed_entry.h"

using pgshell::Level;

// merge_contacts(winner, loser, force, account_id): the winner's contact ID.
CI_ACCOUNT_FUNCTION(ci_merge_contacts, Level::kAdmin, pgshell::merge_contacts, "winner", "loser", "force")

// unmerge_contact(loser, account_id): what went back, as jsonb.
CI_ACCOUNT_FUNCTION(ci_unmerge_contact, Level::kAdmin, pgshell::unmerge_contact, "loser")

// purge_contact(contact_id, account_id): what was erased, as jsonb.
CI_ACCOUNT_FUNCTION(ci_purge_contact, Level::kAdmin, pgshell::purge_contact, "contact_id")

// cancel_import(import_id, account_id): true when the import is cancelled
// now, false when it was already.
CI_ACCOUNT_FUNCTION(ci_cancel_import, Level::kWriter, pgshell::cancel_import, "import_id")
