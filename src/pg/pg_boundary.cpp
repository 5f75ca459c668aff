// pg_boundary.cpp: converting errors between PostgreSQL and C++.
#include "pg/pg_boundary.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/identity_error.h"

namespace pgshell {

const char *PgError::what() const noexcept {
  return data_ && data_->message ? data_->message : "PostgreSQL error";
}

// Called right after PG_CATCH: copy the error out of ErrorContext, reset the
// error state, and continue as a C++ exception.
void throw_pg_error(MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData *data = CopyErrorData();
  FlushErrorState();
  throw PgError(data);
}

CaughtError caught_error() {
  try {
    throw;
  } catch (const PgError &e) {
    ErrorData *d = e.data();
    return {unpack_sql_state(d->sqlerrcode), d->message ? d->message : "", d->detail ? d->detail : "",
            d->hint ? d->hint : "", d};
  } catch (const identity::IdentityError &e) {
    return {e.sqlstate(), e.what(), e.detail(), e.hint(), nullptr};
  } catch (const std::bad_alloc &) {
    return {identity::sqlstate::kOutOfMemory, "out of memory", "", "", nullptr};
  } catch (const std::exception &e) {
    return {identity::sqlstate::kInternalError, e.what(), "", "", nullptr};
  } catch (...) {
    return {identity::sqlstate::kInternalError, "unexpected C++ exception in contact_identity", "", "", nullptr};
  }
}

namespace {

// A malloc'd copy of text, or nullptr when out of memory.
char *malloc_copy(const std::string &text) {
  char *copy = static_cast<char *>(std::malloc(text.size() + 1));
  if (copy) std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

// The palloc'd copy of a malloc_copy, which is freed.
char *palloc_copy(char *&text) {
  char *copy = text ? pstrdup(text) : nullptr;
  std::free(text);
  text = nullptr;
  return copy;
}

}  // namespace

void capture_current_exception(PendingError &pending) noexcept {
  pending.has_error = true;
  try {
    CaughtError e = caught_error();
    if (e.pg) {
      pending.pg_error = e.pg;
      return;
    }
    std::memcpy(pending.sqlstate, e.sqlstate.c_str(), std::min<size_t>(e.sqlstate.size(), 5));
    pending.message = malloc_copy(e.message);
    pending.detail = malloc_copy(e.detail);
    pending.hint = malloc_copy(e.hint);
  } catch (...) {  // no memory left for the texts
    std::memcpy(pending.sqlstate, identity::sqlstate::kOutOfMemory, 5);
  }
}

void raise_pending(PendingError &p) {
  if (!p.has_error) return;
  if (p.pg_error) ReThrowError(p.pg_error);
  const char *s = p.sqlstate;
  char *message = palloc_copy(p.message), *detail = palloc_copy(p.detail), *hint = palloc_copy(p.hint);
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
                  errmsg_internal("%s", message ? message : "out of memory"),
                  detail && *detail ? errdetail_internal("%s", detail) : 0, hint && *hint ? errhint("%s", hint) : 0));
}

}  // namespace pgshell
