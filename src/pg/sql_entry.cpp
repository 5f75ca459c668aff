// sql_entry.cpp: opening and closing an entry point's SPI connection.
#include "pg/sql_entry.h"

#include "core/identity_error.h"
#include "pg/spi.h"

namespace pgshell {

int64_t EntryCall::open(int64_t account_id) {
  if (!entry_.level)
    throw identity::IdentityError(identity::sqlstate::kInternalError,
                                  std::string(entry_.name) + " is not declared as a function of one account");
  spi_connect();
  open_ = true;  // set before the check: a call sent to the worker closes it there
  require_account(account_id, *entry_.level);
  return account_id;
}

void EntryCall::connect() {
  spi_connect();
  open_ = true;
}

void EntryCall::close() {
  open_ = false;
  spi_finish();
}

}  // namespace pgshell
