// pg_boundary.h: the one crossing between C++ and PostgreSQL error handling.
//
// PostgreSQL reports errors with longjmp; C++ with exceptions. Neither may
// cross a frame of the other kind. So:
//  - every call into PostgreSQL from C++ goes through pg_call(), which turns
//    an ereport(ERROR) into a PgError exception;
//  - every SQL-callable function body runs inside guarded(), which catches
//    every C++ exception and raises the PostgreSQL error only after the C++
//    scope has closed, so destructors have run.
#pragma once

#include <exception>
#include <string>
#include <type_traits>

#include "pg/account_shards.h"
#include "pg/postgres_headers.h"

namespace pgshell {

// A PostgreSQL error caught by pg_call, on its way to the entry point.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData *data) : data_(data) {}
  ErrorData *data() const { return data_; }
  const char *what() const noexcept override;

 private:
  ErrorData *data_;  // palloc'd by CopyErrorData in the caller's context
};

[[noreturn]] void throw_pg_error(MemoryContext context);

// Runs fn, which calls into PostgreSQL, turning an ereport(ERROR) into
// PgError. fn must neither throw nor own objects with destructors: a
// longjmp out of it would skip them.
template <typename Fn>
auto pg_call(Fn &&fn) -> decltype(fn()) {
  static_assert(noexcept(fn()), "pg_call bodies must be noexcept: nothing may be thrown out of PG_TRY");
  using Result = decltype(fn());
  if constexpr (std::is_void_v<Result>) {
    MemoryContext context = CurrentMemoryContext;
    volatile bool failed = false;
    PG_TRY();
    { fn(); }
    PG_CATCH();
    { failed = true; }
    PG_END_TRY();
    if (failed) throw_pg_error(context);
  } else {
    // result lives in this frame, which has no setjmp: a local assigned
    // inside PG_TRY might be clobbered by the longjmp (-Wclobbered).
    Result result{};
    pg_call([&]() noexcept { result = fn(); });
    return result;
  }
}

// What the error being handled says, whichever side raised it: a
// PostgreSQL error (PgError, also kept whole in `pg`), an IdentityError, or
// any other C++ exception (53200 for bad_alloc, else XX000). The one
// reading of a caught error: entry points, import rows and run_import's
// record of why it stopped all use it. Call only in a catch.
struct CaughtError {
  std::string sqlstate, message, detail, hint;
  ErrorData *pg = nullptr;
};
CaughtError caught_error();

// An error waiting to be raised once no C++ object is left on the stack.
// Plain data only: it lives in the frame ereport jumps out of. The texts
// are malloc'd (the size of a message has no limit) and freed by
// raise_pending, which copies them into the error.
struct PendingError {
  ErrorData *pg_error = nullptr;
  bool has_error = false;
  char sqlstate[6] = {0};  // five characters
  char *message = nullptr, *detail = nullptr, *hint = nullptr;
};

// Records the exception being handled into pending; call only in a catch.
void capture_current_exception(PendingError &pending) noexcept;

// Raises pending as a PostgreSQL error, if there is one.
void raise_pending(PendingError &pending);

// Runs the body of an SQL-callable function: C++ exceptions end here and
// come out as PostgreSQL errors.
template <typename Fn>
Datum guarded(Fn &&body) {
  PendingError pending;
  Datum result = (Datum)0;
  try {
    CallAccountScope account;  // the call's own account (account_shards.h)
    result = body();
  } catch (...) {
    capture_current_exception(pending);
  }
  raise_pending(pending);
  return result;
}

// Makes CurrentMemoryContext `context` while it lives (a plain assignment,
// which cannot fail), so that the datums made meanwhile go there.
class InMemoryContext {
 public:
  explicit InMemoryContext(MemoryContext context) : previous_(CurrentMemoryContext) { CurrentMemoryContext = context; }
  ~InMemoryContext() { CurrentMemoryContext = previous_; }
  InMemoryContext(const InMemoryContext &) = delete;
  InMemoryContext &operator=(const InMemoryContext &) = delete;

 private:
  MemoryContext previous_;
};

}  // namespace pgshell
