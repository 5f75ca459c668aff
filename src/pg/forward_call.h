// forward_call.h: a per-account call that reaches a Citus node without the
// account's shards is made again, alone, so that Citus delegates it.
//
// Citus delegates a call of a distributed function only when it is a
// statement of its own (SELECT * FROM f(..., account_id => 7)). A call in
// an expression, a join, a DO block or a PL/pgSQL loop runs where it was
// made: on the coordinator, which holds no shard. There, once the call
// has found its account elsewhere (set_call_account), the entry point
// drops what it started and runs `SELECT * FROM f($1, ..., $n)` with its
// own arguments through SPI, planned with the values: Citus sends that to
// the account's worker, in the caller's transaction, and the rows come
// back as the call's result. The call made again may not be forwarded a
// second time: if Citus did not delegate it, it fails with 0A000.
#pragma once

#include <exception>

#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"

namespace pgshell {

// Thrown by set_call_account() where forwarding is allowed.
class ForwardToWorker : public std::exception {
 public:
  const char *what() const noexcept override { return "contact_identity: the call goes to the account's worker"; }
};

// Whether the current entry point may be forwarded (account_entry's, and
// not the forwarded call's own).
bool forwarding_allowed();

// Sets whether it may and returns what was set: every entry point starts
// with false (CallAccountScope), so that a nested one is not forwarded.
bool exchange_forwarding(bool allow);

class AllowForwarding {
 public:
  AllowForwarding();
  ~AllowForwarding();
  AllowForwarding(const AllowForwarding &) = delete;
  AllowForwarding &operator=(const AllowForwarding &) = delete;

 private:
  bool saved_;
};

// Makes the call again as a statement of its own and returns its result
// (the rows of a set-returning function go to its result set). Closes the
// SPI connection the entry point left open when it was told to forward.
Datum forward_call(FunctionCallInfo fcinfo);

// guarded() for an entry point that works on one account (after
// spi_connect, it calls require_account): forwarded as above when the
// account is on another node.
template <typename Fn>
Datum account_entry(FunctionCallInfo fcinfo, Fn &&body) {
  return guarded([&]() -> Datum {
    {
      AllowForwarding allow;
      try {
        return body();
      } catch (const ForwardToWorker &) {
      }
    }
    return forward_call(fcinfo);
  });
}

}  // namespace pgshell
