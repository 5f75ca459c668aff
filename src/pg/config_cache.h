// config_cache.h: the extension's configuration tables (identifier_types,
// blocked_values, and the accounts' regions in account_settings), read once
// per backend and kept until they change. Every
// call needs them and they change rarely: reading them through SPI on every
// call was a fifth of a login's cost. A statement trigger on each table
// (config_changed) sends a relcache invalidation, as a catalog change does;
// every backend drops its copy when that message arrives, and the next call
// reads the committed state again. A transaction that changes them sees its
// own change from its next statement on; an abort drops that copy too.
// account_settings has row-level security: it is read only by calls that run
// as the extension's owner (every function that reads or writes contacts),
// so the copy holds every account whoever called.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ascii_regex.h"
#include "core/decision.h"

namespace pgshell {

// An identifier type as contact_identity.identifier_types defines it.
struct TypeInfo {
  identity::KeyClass key_class = identity::KeyClass::kChangeable;
  int priority = 0;
  std::string normalizer;
  bool creates_contact = true;
  std::optional<int32_t> max_per_contact;  // changeable types only; none: no limit
};
using TypeMap = std::map<std::string, TypeInfo>;

// account_settings.default_region by account.
using AccountRegions = std::unordered_map<int64_t, std::string>;

// A row of contact_identity.blocked_values.
struct BlockedValue {
  int64_t blocked_id = 0;
  std::optional<std::string> identifier_type;  // nullopt: every type
  std::string value;                           // as stored; a pattern for is_pattern
  std::string lowered;                         // lower(value), by the database's rules
  bool is_pattern = false;
  std::string reason;
  // A pattern of the subset matched without the database (core/ascii_regex.h).
  std::optional<identity::AsciiRegex> ascii_pattern;
};
// Every blocked value, indexed for the check of a key.
struct BlockedValues {
  std::vector<BlockedValue> rows;                               // by blocked_id
  std::unordered_map<std::string, std::vector<size_t>> exact;  // lowered value -> its rows, in order
  std::vector<size_t> patterns;                                 // the rows that are patterns, in order
  // Whether the database's lower() turns A-Z into a-z (not so in a Turkish
  // locale, where I becomes a dotless i).
  bool ascii_lower = false;
};

// Every identifier type, external_id included, by name. Needs SPI. The
// pointer stays valid however the cache changes meanwhile.
std::shared_ptr<const TypeMap> identifier_types();

// Every blocked value, by blocked_id. Needs SPI.
std::shared_ptr<const BlockedValues> blocked_values();

// The region of an account's phones written without a country code: its
// row of account_settings, else contact_identity.default_region ("" when
// neither). Needs SPI.
std::string region_for(int64_t account_id);

// Whether the extension's SQL script is older than 0.5.0 (the library was
// updated, ALTER EXTENSION UPDATE not run yet): identity_log then takes one
// row per step, and the tables keep their foreign keys. Needs SPI.
bool legacy_schema();

// The names of the permanent types (email, phone, ...), for the statements
// that read a contact's permanent identifiers.
std::vector<std::string> permanent_type_names(const TypeMap &types);

// Registers the invalidation callback; from _PG_init.
void register_config_cache();

}  // namespace pgshell
