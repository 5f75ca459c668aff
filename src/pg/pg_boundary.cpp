// pg_boundary.cpp: converting errors between PostgreSQL and C++.
#include "pg/pg_boundary.h"

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

namespace {

void copy_text(char *to, size_t size, const char *from) {
  strncpy(to, from, size - 1);
  to[size - 1] = '\0';
}

void set_pending(PendingError &p, const char *sqlstate, const char *message, const char *detail,
                 const char *hint) {
  p.has_error = true;
  copy_text(p.sqlstate, sizeof p.sqlstate, sqlstate);
  copy_text(p.message, sizeof p.message, message);
  copy_text(p.detail, sizeof p.detail, detail);
  copy_text(p.hint, sizeof p.hint, hint);
}

}  // namespace

void capture_current_exception(PendingError &pending) noexcept {
  try {
    throw;
  } catch (const PgError &e) {
    pending.has_error = true;
    pending.pg_error = e.data();
  } catch (const identity::IdentityError &e) {
    set_pending(pending, e.sqlstate().c_str(), e.what(), e.detail().c_str(), e.hint().c_str());
  } catch (const std::bad_alloc &) {
    set_pending(pending, "53200", "out of memory", "", "");
  } catch (const std::exception &e) {
    set_pending(pending, "XX000", e.what(), "", "");
  } catch (...) {
    set_pending(pending, "XX000", "unexpected C++ exception in contact_identity", "", "");
  }
}

void raise_pending(const PendingError &p) {
  if (!p.has_error) return;
  if (p.pg_error) ReThrowError(p.pg_error);
  const char *s = p.sqlstate;
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])), errmsg_internal("%s", p.message),
                  p.detail[0] ? errdetail_internal("%s", p.detail) : 0,
                  p.hint[0] ? errhint("%s", p.hint) : 0));
}

}  // namespace pgshell
