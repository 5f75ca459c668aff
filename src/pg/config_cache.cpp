// config_cache.cpp: identifier_types, blocked_values and the accounts'
// regions, kept per backend.
#include "pg/config_cache.h"

#include <cstring>

#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
PG_FUNCTION_INFO_V1(ci_config_changed);
}

namespace pgshell {
namespace {

using identity::KeyClass;

Statement types_statement{
    "SELECT t.name, t.class, t.priority, t.normalizer, t.creates_contact,"
    // max_per_contact came with 0.2.0: read so that an older script works too.
    " (pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.->>) 'max_per_contact')::pg_catalog.int8"
    " FROM contact_identity.identifier_types t",
    {}};

Statement blocked_statement{
    "SELECT b.blocked_id, b.identifier_type, b.value, pg_catalog.lower(b.value), b.is_pattern,"
    " COALESCE(b.reason, 'blocked') FROM contact_identity.blocked_values b ORDER BY b.blocked_id",
    {}};

// A-Z through the database's lower(): the exact blocked values are compared
// after it, and an ASCII key is lowered without the database only when
// this gives a-z.
Statement ascii_lower_statement{"SELECT pg_catalog.lower('ABCDEFGHIJKLMNOPQRSTUVWXYZ'::pg_catalog.text)", {}};

// Whether the table's config_changed trigger is there and always fires
// (0.4.0 on): with an older SQL script under this library, or the trigger
// disabled, a copy is used for one call only.
Statement watched_statement{
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) $1"
    " AND g.tgname OPERATOR(pg_catalog.=) $2 AND g.tgenabled OPERATOR(pg_catalog.=) 'A')",
    {OIDOID, NAMEOID}};

// Whether the SQL script is 0.5.0 or later: the trigger it puts on
// identifier_types is there (enabled or not). Its creation invalidates the
// copy of identifier_types, so an ALTER EXTENSION UPDATE is seen at once.
Statement schema_statement{
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) $1"
    " AND g.tgname OPERATOR(pg_catalog.=) 'identifier_types_in_use')",
    {OIDOID}};

// account_settings came with 0.5.2.
Statement regions_statement{
    "SELECT s.account_id, s.default_region FROM contact_identity.account_settings s", {}};

// The cached copies and the tables they came from. An invalidation only
// clears a flag: it may arrive in the middle of a call (at any lock), and
// whoever holds a copy keeps it.
struct Cached {
  Oid types_relation = InvalidOid;
  Oid blocked_relation = InvalidOid;
  bool types_valid = false;
  bool blocked_valid = false;
  std::shared_ptr<const TypeMap> types;
  std::shared_ptr<const BlockedValues> blocked;
  bool legacy = false;  // read with the types
  Oid regions_relation = InvalidOid;
  bool regions_valid = false;
  std::shared_ptr<const AccountRegions> regions;
};
Cached cached;

// Relcache callback: InvalidOid means every relation (a cache reset).
void config_invalidated(Datum, Oid relation) {
  if (relation == InvalidOid || relation == cached.types_relation) cached.types_valid = false;
  if (relation == InvalidOid || relation == cached.blocked_relation) cached.blocked_valid = false;
  if (relation == InvalidOid || relation == cached.regions_relation) cached.regions_valid = false;
}

Oid relation_oid(const char *name) {
  return pg_call([&]() noexcept {
    Oid nsp = get_namespace_oid("contact_identity", true);
    return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
  });
}

std::shared_ptr<const TypeMap> load_types() {
  execute(schema_statement, {Param{ObjectIdGetDatum(cached.types_relation), false}}, true);
  cached.legacy = !result_bool(0, 1);
  auto types = std::make_shared<TypeMap>();
  uint64_t n = execute_latest(types_statement);
  for (uint64_t r = 0; r < n; r++) {
    TypeInfo t;
    std::string key_class = result_text(r, 2).value_or("");
    t.key_class = key_class == "external"    ? KeyClass::kExternalId
                  : key_class == "permanent" ? KeyClass::kPermanent
                                             : KeyClass::kChangeable;
    t.priority = static_cast<int>(result_int8(r, 3).value_or(0));
    t.normalizer = result_text(r, 4).value_or("text");
    t.creates_contact = result_bool(r, 5);
    if (std::optional<int64_t> cap = result_int8(r, 6)) t.max_per_contact = static_cast<int32_t>(*cap);
    types->emplace(result_text(r, 1).value_or(""), std::move(t));
  }
  return types;
}

std::shared_ptr<const BlockedValues> load_blocked() {
  auto blocked = std::make_shared<BlockedValues>();
  uint64_t n = execute_latest(blocked_statement);
  for (uint64_t r = 0; r < n; r++) {
    BlockedValue b;
    b.blocked_id = result_int8(r, 1).value_or(0);
    b.identifier_type = result_text(r, 2);
    b.value = result_text(r, 3).value_or("");
    b.lowered = result_text(r, 4).value_or("");
    b.is_pattern = result_bool(r, 5);
    b.reason = result_text(r, 6).value_or("blocked");
    if (b.is_pattern) b.ascii_pattern = identity::AsciiRegex::compile(b.value);
    size_t at = blocked->rows.size();
    if (b.is_pattern)
      blocked->patterns.push_back(at);
    else
      blocked->exact[b.lowered].push_back(at);
    blocked->rows.push_back(std::move(b));
  }
  execute_latest(ascii_lower_statement);
  blocked->ascii_lower = result_text(0, 1) == std::optional<std::string>("abcdefghijklmnopqrstuvwxyz");
  return blocked;
}

// Every account's region; none before 0.5.2's script (the table is missing).
std::shared_ptr<const AccountRegions> load_regions() {
  auto regions = std::make_shared<AccountRegions>();
  if (!OidIsValid(cached.regions_relation)) return regions;
  uint64_t n = execute_latest(regions_statement);
  for (uint64_t r = 0; r < n; r++) regions->emplace(result_int8(r, 1).value_or(0), result_text(r, 2).value_or(""));
  return regions;
}

bool watched(Oid relation, const char *trigger) {
  Datum name = pg_call([&]() noexcept { return DirectFunctionCall1(namein, CStringGetDatum(trigger)); });
  execute(watched_statement, {Param{ObjectIdGetDatum(relation), false}, Param{name, false}}, true);
  return result_bool(0, 1);
}

// Reads a table into *copy unless the copy is valid: valid from the start of
// the read on, so that an invalidation arriving during it clears the flag
// again and the next call reads once more.
template <typename T, typename Load>
std::shared_ptr<const T> refreshed(std::shared_ptr<const T> &copy, bool &valid, Oid &relation, const char *table,
                                   const char *trigger, Load load) {
  if (valid && copy) return copy;
  valid = true;
  try {
    relation = relation_oid(table);
    copy = load();
    if (!OidIsValid(relation) || !watched(relation, trigger)) valid = false;
  } catch (...) {
    valid = false;
    throw;
  }
  return copy;
}

}  // namespace

std::shared_ptr<const TypeMap> identifier_types() {
  return refreshed(cached.types, cached.types_valid, cached.types_relation, "identifier_types",
                   "identifier_types_changed", load_types);
}

std::shared_ptr<const BlockedValues> blocked_values() {
  return refreshed(cached.blocked, cached.blocked_valid, cached.blocked_relation, "blocked_values",
                   "blocked_values_changed", load_blocked);
}

std::string region_for(int64_t account_id) {
  std::shared_ptr<const AccountRegions> regions =
      refreshed(cached.regions, cached.regions_valid, cached.regions_relation, "account_settings",
                "account_settings_changed", load_regions);
  auto it = regions->find(account_id);
  return it != regions->end() ? it->second : default_region();
}

bool legacy_schema() {
  identifier_types();
  return cached.legacy;
}

std::vector<std::string> permanent_type_names(const TypeMap &types) {
  std::vector<std::string> names;
  for (const auto &[name, info] : types)
    if (info.key_class == KeyClass::kPermanent) names.push_back(name);
  return names;
}

void register_config_cache() { CacheRegisterRelcacheCallback(config_invalidated, (Datum)0); }

}  // namespace pgshell

// config_changed(): statement trigger on identifier_types and
// blocked_values; tells every backend to read them again (at commit, or
// in this transaction from its next statement on).
// On a Citus node the trigger fires on the node's copy of the reference
// table, a shard named <table>_<shard ID>: the table the cache watches is
// then <table>. Plain C: no C++ object lives in this frame.
extern "C" Datum ci_config_changed(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "contact_identity: config_changed is a trigger function");
  Relation rel = ((TriggerData *)fcinfo->context)->tg_relation;
  Oid watched = RelationGetRelid(rel);
  const char *name = RelationGetRelationName(rel);
  const char *suffix = strrchr(name, '_');
  if (suffix != nullptr && suffix[1] != '\0' && strspn(suffix + 1, "0123456789") == strlen(suffix + 1)) {
    char *table = pnstrdup(name, suffix - name);
    Oid shell = get_relname_relid(table, RelationGetNamespace(rel));
    if (OidIsValid(shell)) watched = shell;
    pfree(table);
  }
  CacheInvalidateRelcacheByRelid(watched);
  return PointerGetDatum(nullptr);
}
