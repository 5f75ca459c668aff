// import_lock.h: which session runs an import.
//
// run_import holds a session-level advisory lock on its import from the
// moment it creates or resumes the import until the call ends, across its
// commits. So another session can tell whether an import's session is
// alive (contact_identity.import_progress shows a running import no session
// holds as interrupted), cancel_import refuses while one is, and two
// sessions never run one import.
//
// The lock has a space of its own: the two-key form, pg_advisory_lock(int4,
// int4), with the first key 'CIMP' (0x43494d50, 1129925968) and the second
// the import ID modulo 2^31. Import IDs are unique across accounts, so the
// account is not part of the key; two imports share one only when their IDs
// are 2^31 apart. In pg_locks: locktype 'advisory', classid 1129925968,
// objid the second key, objsubid 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pgshell {

// This session's hold on an import's lock, released when it goes (or by
// the end of the session).
class ImportSession {
 public:
  ImportSession() = default;
  ~ImportSession();
  ImportSession(const ImportSession &) = delete;
  ImportSession &operator=(const ImportSession &) = delete;

  // Takes the import's lock without waiting; throws 55006 naming the
  // backend that holds it, whose call the hint says to stop before one may
  // `then` ("resume it"). Needs SPI (for the backend's pid).
  void take(int64_t import_id, const std::string &then);

 private:
  std::optional<int64_t> held_;
};

// Takes the import's lock until the transaction ends, without waiting;
// throws 55006 as ImportSession::take does while a session runs the import.
// Needs SPI.
void lock_import_for_transaction(int64_t import_id, const std::string &then);

// The backend running the import (holding its lock), if any. Needs SPI.
std::optional<int32_t> import_session_pid(int64_t import_id);

}  // namespace pgshell
