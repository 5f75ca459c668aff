// subtransaction.h: running C++ work inside a PostgreSQL subtransaction, so
// that an error undoes only that work (an import's batch or row).
#pragma once

#include "pg/pg_boundary.h"

namespace pgshell {

// Runs body in a subtransaction: committed when body returns, rolled back
// when it throws, and the exception goes on.
template <typename Fn>
void in_subtransaction(Fn &&body) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  pg_call([&]() noexcept {
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(context);
  });
  try {
    body();
  } catch (...) {
    pg_call([&]() noexcept {
      RollbackAndReleaseCurrentSubTransaction();
      MemoryContextSwitchTo(context);
      CurrentResourceOwner = owner;
    });
    throw;
  }
  pg_call([&]() noexcept {
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
  });
}

}  // namespace pgshell
