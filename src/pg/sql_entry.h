// sql_entry.h: the one skeleton of every SQL-callable function.
//
// A call: C++ errors come out as PostgreSQL errors (guarded), a function
// that writes is refused up front in a read-only transaction, the
// arguments are read, SPI is opened and the calling role's grant on the
// account checked, the work runs, SPI is closed and the result made. On a
// Citus node without the account's shards, a per-account call is made again
// where they are (forward_call.h). Entry points say only what differs:
//
//   return sql_entry(fcinfo, EntryPoint::on_account("track_event", Level::kWriter, Writes::kYes),
//                    [&](EntryCall &call) -> Datum {
//     EventArgs event = ...;  // the arguments, read with arguments.h
//     CallKeys keys = key_args(fcinfo, 2);
//     keys.account_id = call.open(account_arg(fcinfo, 7));
//     return Int64GetDatum(track(keys, event));
//   });
//
// A result passed by reference is made after call.close(), so that it
// outlives SPI's memory. A function whose arguments are plain values and
// account_id is declared by its work's signature instead (typed_entry.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pg/access.h"
#include "pg/forward_call.h"
#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"
#include "pg/writable.h"

namespace pgshell {

// Whether a function changes data (and so is refused in a read-only
// transaction, 25006).
enum class Writes : bool { kNo, kYes };

// What an entry point declares about itself.
struct EntryPoint {
  const char *name;            // its SQL name, for messages
  Writes writes;
  std::optional<Level> level;  // set: it works on one account, needing this grant

  // A function on one account: its call goes where the account's shards are.
  static constexpr EntryPoint on_account(const char *name, Level level, Writes writes) {
    return EntryPoint{name, writes, level};
  }
  // A function of no one account (pure, or one that checks the caller itself).
  static constexpr EntryPoint plain(const char *name, Writes writes = Writes::kNo) {
    return EntryPoint{name, writes, std::nullopt};
  }
};

// The call in progress, as the body sees it.
class EntryCall {
 public:
  explicit EntryCall(const EntryPoint &entry) : entry_(entry) {}
  EntryCall(const EntryCall &) = delete;
  EntryCall &operator=(const EntryCall &) = delete;

  // Opens SPI and checks the calling role's grant on the account (which, on
  // a Citus node, may send the call to the account's worker). Called once
  // the arguments are read, so that a bad argument is reported before a
  // missing grant. Returns account_id.
  int64_t open(int64_t account_id);
  // Opens SPI for a function of no account.
  void connect();
  // Closes SPI. What is allocated after it outlives the call's SPI memory,
  // as a result passed by reference must; sql_entry closes it otherwise.
  void close();
  bool is_open() const { return open_; }

 private:
  const EntryPoint &entry_;
  bool open_ = false;
};

// Runs body(EntryCall &) as the function `entry` describes; see above.
template <typename Fn>
Datum sql_entry(FunctionCallInfo fcinfo, const EntryPoint &entry, Fn &&body) {
  auto run = [&]() -> Datum {
    if (entry.writes == Writes::kYes) require_writable(entry.name);
    EntryCall call(entry);
    Datum result = body(call);
    if (call.is_open()) call.close();
    return result;
  };
  if (entry.level) return account_entry(fcinfo, run);
  return guarded(run);
}

}  // namespace pgshell
