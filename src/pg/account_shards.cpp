// account_shards.cpp: the account's shard group on a Citus node.
//
// Citus keeps its metadata in tables (pg_dist_partition, pg_dist_shard,
// pg_dist_placement, pg_dist_local_group) and invalidates the relcache of
// a distributed table whenever its rows there change. The layout read
// from them is kept per backend until such an invalidation; on a server
// without Citus it is the one fact "not distributed", which costs a call
// one flag test.
#include "pg/account_shards.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/identity_error.h"
#include "core/table_names.h"
#include "pg/arguments.h"
#include "pg/forward_call.h"
#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
PG_FUNCTION_INFO_V1(ci_local_sql);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// The per-account tables distribute() shards (contact_identity.distributed_tables()).
constexpr const char *kTables[] = {"contacts",     "identifiers", "events",       "event_keys",
                                   "identity_log", "imports",     "import_errors"};
constexpr int kTableCount = sizeof(kTables) / sizeof(kTables[0]);
// The reference tables (contact_identity.reference_tables()): one shard,
// with a copy on every node; a statement of the call reads the local copy.
constexpr const char *kReferenceTables[] = {"identifier_types", "blocked_values", "account_settings",
                                            "account_grants",   "secrets",        "segments"};

int table_index(const char *table) {
  for (int t = 0; t < kTableCount; t++)
    if (strcmp(kTables[t], table) == 0) return t;
  return -1;
}

// One shard group: a hash range of account IDs, one shard of each table.
struct ShardGroup {
  int32_t min_hash = 0, max_hash = 0;
  int32_t node_group = -1;  // where the contacts shard is placed
  int64_t shard[kTableCount] = {};
};

struct Layout {
  bool known = false;
  bool distributed = false;
  int32_t local_group = -1;
  std::vector<ShardGroup> groups;  // by min_hash
  std::map<std::string, int64_t> reference_shards;  // table -> its shard
  std::vector<Oid> watched;        // relations whose invalidation makes it stale
};
Layout layout;
// Counts the invalidations, so that one arriving while the layout is read
// (at any lock SPI takes) is not lost.
uint64_t invalidations = 0;

// The current call: its account and, on a Citus node, its shard group
// (the contacts shard's ID; 0 on one server).
struct CallAccount {
  bool set = false;
  int64_t account = 0;
  int64_t group = 0;
};
CallAccount call;

void layout_invalidated(Datum, Oid relation) {
  if (relation == InvalidOid ||
      std::find(layout.watched.begin(), layout.watched.end(), relation) != layout.watched.end()) {
    layout.known = false;
    invalidations++;
  }
}

// Hash-distributed tables: a row per shard with its hash range and node
// group; reference tables ('n'): their one shard, the range NULL.
const char *kLayoutSql =
    "SELECT c.relname::pg_catalog.text, s.shardid, s.shardminvalue::pg_catalog.int8, s.shardmaxvalue::pg_catalog.int8,"
    // A reference table's shard: its placement on this node, if it has one.
    " (SELECT pl.groupid::pg_catalog.int8 FROM pg_catalog.pg_dist_placement pl"
    "   WHERE pl.shardid OPERATOR(pg_catalog.=) s.shardid"
    "   ORDER BY pl.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g) DESC,"
    "   pl.placementid LIMIT 1),"
    " (SELECT g.groupid::pg_catalog.int8 FROM pg_catalog.pg_dist_local_group g), p.partmethod OPERATOR(pg_catalog.=) 'n'"
    " FROM pg_catalog.pg_dist_partition p"
    " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid"
    " JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid"
    " WHERE c.relnamespace OPERATOR(pg_catalog.=) $1 AND p.partmethod OPERATOR(pg_catalog.=) ANY ('{h,n}')"
    " ORDER BY 3, 1";

// Reads the layout from Citus's metadata, or finds there is none. Runs
// with SPI connected and nothing of the caller's in SPI_tuptable.
void load_layout() {
  uint64_t seen = invalidations;
  Layout fresh;
  Oid nsp = pg_call([]() noexcept { return get_namespace_oid("contact_identity", true); });
  if (OidIsValid(nsp)) {
    for (const char *t : kTables) {
      Oid rel = pg_call([&]() noexcept { return get_relname_relid(t, nsp); });
      if (OidIsValid(rel)) fresh.watched.push_back(rel);
    }
  }
  bool citus = OidIsValid(nsp) && pg_call([]() noexcept {
                 return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
               });
  if (citus) {
    struct Row {
      std::string table;
      int64_t shard;
      int32_t min, max, node_group, local_group;
      bool reference;
    };
    pg_call([&]() noexcept {
      Oid argtypes[1] = {OIDOID};
      Datum values[1] = {ObjectIdGetDatum(nsp)};
      if (SPI_execute_with_args(kLayoutSql, 1, argtypes, values, nullptr, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "contact_identity: reading Citus's shard metadata failed");
    });
    std::vector<Row> rows;
    for (uint64_t r = 0; r < SPI_processed; r++) {
      std::optional<std::string> table = result_text(r, 1);
      std::optional<int64_t> shard = result_int8(r, 2), min = result_int8(r, 3), max = result_int8(r, 4),
                             node_group = result_int8(r, 5), local_group = result_int8(r, 6);
      bool reference = result_bool(r, 7);
      if (!table || !shard || !local_group || (!reference && (!min || !max)) || !node_group) continue;
      rows.push_back(Row{*table, *shard, static_cast<int32_t>(min.value_or(0)), static_cast<int32_t>(max.value_or(0)),
                         static_cast<int32_t>(node_group.value_or(-1)), static_cast<int32_t>(*local_group), reference});
    }
    pg_call([]() noexcept { SPI_freetuptable(SPI_tuptable); });
    std::map<int32_t, ShardGroup> by_min;
    bool has_contacts = false;
    for (const Row &row : rows) {
      if (row.reference) {
        if (row.node_group == row.local_group) fresh.reference_shards[row.table] = row.shard;
        continue;
      }
      int t = table_index(row.table.c_str());
      if (t < 0) continue;
      ShardGroup &g = by_min[row.min];
      g.min_hash = row.min;
      g.max_hash = row.max;
      g.shard[t] = row.shard;
      if (t == 0) {
        g.node_group = row.node_group;
        has_contacts = true;
      }
      fresh.local_group = row.local_group;
    }
    if (has_contacts) {
      fresh.distributed = true;
      for (auto &[min, g] : by_min) fresh.groups.push_back(g);
      for (const ShardGroup &g : fresh.groups)
        for (int t = 0; t < kTableCount; t++)
          if (g.shard[t] == 0)
            throw IdentityError(identity::sqlstate::kObjectNotInPrerequisiteState, "contact_identity's tables are distributed only in part",
                                "Table " + std::string(kTables[t]) + " is not co-located with contacts.",
                                "Run SELECT contact_identity.distribute() on the coordinator.");
    }
  }
  // Relations created meanwhile (an install) are not watched yet; an
  // invalidation of those that are makes the next call read again.
  fresh.known = invalidations == seen;
  layout = std::move(fresh);
}

// Citus's lock on a shard's metadata (its resource_lock.h): writers take it
// in share mode, a shard move or split in exclusive mode before it
// switches the shard to its new place.
void lock_shard_metadata(int64_t shard) {
  pg_call([&]() noexcept {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32)(shard >> 32), (uint32)shard, 4);
    (void)LockAcquire(&tag, ShareLock, false, false);
  });
}

const ShardGroup *group_of_hash(int32_t hash) {
  for (const ShardGroup &g : layout.groups)
    if (hash >= g.min_hash && hash <= g.max_hash) return &g;
  return nullptr;
}

const ShardGroup &group_by_id(int64_t id) {
  for (const ShardGroup &g : layout.groups)
    if (g.shard[0] == id) return g;
  throw IdentityError(identity::sqlstate::kInternalError, "contact_identity: shard group " + std::to_string(id) +
                                                              " is no longer known");
}

std::string shard_name(const char *name, int64_t shard) { return std::string(name) + "_" + std::to_string(shard); }

// Whether sql names contact_identity.<table> (the whole name: not
// contacts_export for contacts).
bool names_table(const char *sql, const char *table) {
  std::string qualified = std::string("contact_identity.") + table;
  for (const char *at = strstr(sql, qualified.c_str()); at; at = strstr(at + 1, qualified.c_str())) {
    char next = at[qualified.size()];
    if (!(isalnum((unsigned char)next) || next == '_')) return true;
  }
  return false;
}

int32_t account_hash(int64_t account_id) {
  return pg_call([&]() noexcept { return DatumGetInt32(DirectFunctionCall1(hashint8, Int64GetDatum(account_id))); });
}

}  // namespace

bool account_is_elsewhere(int64_t account_id) {
  if (!layout.known) load_layout();
  if (!layout.distributed) return false;
  const ShardGroup *g = group_of_hash(account_hash(account_id));
  return g != nullptr && g->node_group != layout.local_group;
}

void set_call_account(int64_t account_id) {
  call.set = true;
  call.account = account_id;
  call.group = 0;
  // A shard move ends by changing the metadata under the lock taken here;
  // once it is held, the invalidations it sent are read and the layout
  // read again, so the group found is where the rows are now.
  for (int attempt = 0; attempt < 3; attempt++) {
    if (!layout.known) load_layout();
    if (!layout.distributed) return;
    int32_t hash = account_hash(account_id);
    const ShardGroup *g = group_of_hash(hash);
    if (g == nullptr)
      throw IdentityError(identity::sqlstate::kObjectNotInPrerequisiteState, "account " + std::to_string(account_id) + " has no shard",
                          "No shard of contact_identity.contacts covers hash value " + std::to_string(hash) + ".",
                          "Check Citus's metadata (pg_dist_shard).");
    int64_t contacts_shard = g->shard[0];
    int32_t node_group = g->node_group, local_group = layout.local_group;
    if (node_group != local_group && forwarding_allowed()) throw ForwardToWorker();
    if (node_group != local_group)
      throw IdentityError(identity::sqlstate::kFeatureNotSupported, "account " + std::to_string(account_id) + " is not on this node",
                          "contact_identity's tables are distributed with Citus; the account's shard " +
                              std::to_string(contacts_shard) + " is on node group " + std::to_string(node_group) +
                              ", and this is node group " + std::to_string(local_group) + ".",
                          "Call the function alone, as SELECT ... FROM contact_identity.<function>(..., account_id => "
                          "<a constant>), so that Citus delegates it to that node; docs/scale-out.md lists what Citus "
                          "cannot delegate and what to use instead.");
    lock_shard_metadata(contacts_shard);
    pg_call([]() noexcept { AcceptInvalidationMessages(); });
    if (layout.known) {
      call.group = contacts_shard;
      return;
    }
  }
  throw IdentityError(identity::sqlstate::kSerializationFailure, "the shards of account " + std::to_string(account_id) + " kept moving",
                      "Citus's shard metadata changed three times while the call looked for them.",
                      "Retry the call.");
}

CallAccountScope::CallAccountScope()
    : had_(call.set), account_(call.account), group_(call.group), forwarding_(exchange_forwarding(false)) {
  call.set = false;
}

CallAccountScope::~CallAccountScope() {
  call.set = had_;
  call.account = account_;
  call.group = group_;
  exchange_forwarding(forwarding_);
}

int64_t call_shard_group() { return call.set ? call.group : 0; }

bool names_only_reference_tables(const char *sql) {
  for (const char *t : kTables)
    if (names_table(sql, t)) return false;
  return true;
}

std::optional<std::string> sql_for_local_copies(const char *sql) {
  if (!layout.known) load_layout();
  std::map<std::string, std::string> copies;
  for (const char *t : kReferenceTables) {
    auto shard = layout.reference_shards.find(t);
    if (shard == layout.reference_shards.end()) return std::nullopt;  // no copy on this node
    copies[t] = shard_name(t, shard->second);
  }
  return identity::rename_tables(sql, "contact_identity", copies);
}

bool tables_distributed() {
  if (!layout.known) load_layout();
  return layout.distributed;
}

bool names_distributed_table(const char *sql) {
  for (const char *t : kTables)
    if (names_table(sql, t)) return true;
  for (const char *t : kReferenceTables)
    if (names_table(sql, t)) return true;
  return false;
}

std::string sql_for_shard_group(const char *sql, int64_t group) {
  const ShardGroup &g = group_by_id(group);
  std::map<std::string, std::string> shards;
  for (int t = 0; t < kTableCount; t++) shards[kTables[t]] = shard_name(kTables[t], g.shard[t]);
  for (const auto &[table, shard] : layout.reference_shards) shards[table] = shard_name(table.c_str(), shard);
  return identity::rename_tables(sql, "contact_identity", shards);
}

std::string relation_for(const char *table) {
  int t = table_index(table);
  if (t < 0) return table;
  if (!layout.known) load_layout();
  if (!layout.distributed) return table;
  if (!call.set || call.group == 0)
    throw IdentityError(identity::sqlstate::kInternalError,
                        "contact_identity: table " + std::string(table) + " read without an account",
                        "The table is distributed; only an account's shard holds its rows.");
  return shard_name(table, group_by_id(call.group).shard[t]);
}

std::string index_for(const char *table, const char *index) {
  int t = table_index(table);
  if (t < 0) return index;
  std::string relation = relation_for(table);
  if (relation == table) return index;
  return shard_name(index, group_by_id(call.group).shard[t]);
}

void register_account_shards() { CacheRegisterRelcacheCallback(layout_invalidated, (Datum)0); }

}  // namespace pgshell

using namespace pgshell;

// local_sql(sql, account_id): the statement text the SQL and PL/pgSQL
// functions that read an account (verify, possible_duplicates_of, ...)
// run with EXECUTE: itself on one server or for a NULL account, else with
// the account's local shards named (0A000 on a node that does not hold
// them), after Citus's shard lock is taken as for a C function's call.
extern "C" Datum ci_local_sql(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("local_sql"), [&](EntryCall &call) -> Datum {
    std::string sql = required_text_arg(fcinfo, 0, "sql");
    if (!PG_ARGISNULL(1)) {
      call.connect();
      set_call_account(PG_GETARG_INT64(1));
      if (int64_t group = call_shard_group()) sql = sql_for_shard_group(sql.c_str(), group);
      call.close();
    }
    return PointerGetDatum(pg_call([&]() noexcept { return cstring_to_text_with_len(sql.data(), (int)sql.size()); }));
  });
}
