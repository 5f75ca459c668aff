// account_shards.h: where the current call's account keeps its rows on this
// node. On one server that is contact_identity's tables themselves. Once
// distribute() has sharded them with Citus, it is the account's shard
// group: one shard of each per-account table, on the worker that Citus
// delegates the account's calls to. There the library reads and writes the
// shards directly, as Citus's own local execution does, so that a call is
// one local transaction with the plans it keeps on one server
// (docs/scale-out.md says why and what it relies on).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pgshell {

// The account the current entry point works on; require_account() sets it
// (after spi_connect). On a Citus node it finds the account's shard group
// here and takes Citus's shard metadata lock on it, which a shard move
// waits for. An account whose shards are on another node: the call is
// forwarded there (ForwardToWorker, forward_call.h) where the entry point
// allows it, else refused with 0A000.
void set_call_account(int64_t account_id);

// Whether the tables are distributed and the account's shards are on
// another node: what import_contacts forwards there (import_forward.h).
// Takes no lock; set_call_account() is still the check.
bool account_is_elsewhere(int64_t account_id);

// Keeps an entry point's call account to itself: a nested entry point
// (an SQL function calling another) leaves the outer one's as it was.
class CallAccountScope {
 public:
  CallAccountScope();
  ~CallAccountScope();
  CallAccountScope(const CallAccountScope &) = delete;
  CallAccountScope &operator=(const CallAccountScope &) = delete;

 private:
  bool had_ = false;
  int64_t account_ = 0;
  int64_t group_ = 0;
  bool forwarding_ = false;  // forward_call.h
};

// The shard group the current call's statements run on: 0 for the tables
// themselves (no Citus, or no call account), else an ID of the group.
int64_t call_shard_group();

// Whether the tables are distributed with Citus (read once per backend).
bool tables_distributed();

// Whether `sql` names no per-account table (only reference tables, or none).
bool names_only_reference_tables(const char *sql);

// `sql` with each reference table named by its copy on this node, for a
// statement of no account (the grants read for row-level security, inside
// a query Citus runs on a shard, where it refuses a distributed query);
// nullopt when this node holds no copy.
std::optional<std::string> sql_for_local_copies(const char *sql);

// Whether `sql` names one of the distributed tables (contact_identity.contacts, ...)
// or of the reference tables (contact_identity.identifier_types, ...).
bool names_distributed_table(const char *sql);

// `sql` with each distributed table it names replaced by its shard in
// `group` (from call_shard_group(), not 0), and each reference table by
// its copy on this node.
std::string sql_for_shard_group(const char *sql, int64_t group);

// The relation, in schema contact_identity, that holds the call's rows of
// `table`, and its index named `index` there: the names themselves, or
// their shards. Throws when the table is distributed and the call has no
// account: reading the coordinator's empty table would be wrong, not slow.
std::string relation_for(const char *table);
std::string index_for(const char *table, const char *index);

// Registers the relcache callback that notices distribute() and shard moves.
void register_account_shards();

}  // namespace pgshell
