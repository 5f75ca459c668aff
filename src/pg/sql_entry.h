// sql_entry.h: the one skeleton of every SQL-callable function.
//
// A call: C++ errors come out as PostgreSQL errors (guarded), a function
// that writes is refused up front in a read-only transaction, the
// arguments are read, SPI is opened and the calling role's grant on the
// account checked, the work runs, SPI is closed and the result made. On a
// Citus node without the account's shards, a per-account call is made again
// where they are (forward_call.h). Entry points say only what differs:
//
//   return sql_entry(fcinfo, EntryPoint::on_account("purge_contact", Level::kAdmin, Writes::kYes),
//                    [&](EntryCall &call) -> Datum {
//     int64_t contact_id = required_int8_arg(fcinfo, 0, "contact_id");
//     int64_t account_id = call.open(account_arg(fcinfo, 1));
//     std::string summary = purge(account_id, contact_id);
//     call.close();  // the result below must outlive SPI's memory
//     return jsonb_datum(summary);  // or, the two together: call.jsonb_result(summary)
//   });
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
  // Closes SPI and returns the JSON text as a jsonb result.
  Datum jsonb_result(const std::string &json_text);

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
