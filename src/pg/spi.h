// spi.h: running the extension's SQL through SPI, with each statement
// prepared once per backend as a generic plan and kept (SPI_keepplan).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/postgres_headers.h"

namespace pgshell {

// One SQL statement of the extension and its kept plan.
struct Statement {
  const char *sql;
  std::vector<Oid> argtypes;
  SPIPlanPtr plan = nullptr;
  // On a Citus node: which of the extension's tables it names (looked at
  // once), and its plans for the shard groups it ran on
  // (account_shards.h), each with the shards' names in it.
  enum class Names { kUnknown, kNone, kReferenceOnly, kAccountTables } names = Names::kUnknown;
  std::vector<std::pair<int64_t, SPIPlanPtr>> shard_plans{};
  // On a Citus node, for a call without local shards (the coordinator's
  // run_import): the plan Citus routes, planned with each call's values.
  SPIPlanPtr routed_plan = nullptr;
  // On a Citus node, for a statement of reference tables only and no call
  // account: the plan with this node's copies named.
  SPIPlanPtr local_copy_plan = nullptr;
};

// A parameter for Statement: a Datum or SQL NULL.
struct Param {
  Datum value = (Datum)0;
  bool is_null = true;
};

Param null_param();
Param bool_param(bool v);
Param int4_param(int32_t v);
Param int8_param(int64_t v);
Param int8_param(const std::optional<int64_t> &v);
Param text_param(const std::optional<std::string> &v);
Param text_array_param(const std::vector<std::string> &values);
// Elements that are nullopt become NULL elements.
Param text_array_param(const std::vector<std::optional<std::string>> &values);
// Elements that are nullopt become NULL elements.
Param int8_array_param(const std::vector<std::optional<int64_t>> &values);
Param bool_array_param(const std::vector<bool> &values);
Param int4_array_param(const std::vector<int32_t> &values);
Param jsonb_param(const std::optional<std::string> &json_text);
// A jsonb Datum from JSON text, in the current memory context (a result).
Datum jsonb_datum(const std::string &json_text);

// Connects to SPI for the current call; pair with spi_finish().
void spi_connect();
void spi_finish();

// Runs the statement (preparing it the first time) and returns the number
// of rows; they stay in SPI_tuptable until the next execute.
uint64_t execute(Statement &statement, const std::vector<Param> &params, bool read_only);

// Runs a read-only statement without parameters with a new snapshot that
// sees every commit so far, whatever the transaction's isolation level: for
// caches kept across transactions (config_cache.cpp).
uint64_t execute_latest(Statement &statement);

// Reading row `row`, column `col` (1-based) of SPI_tuptable.
std::optional<int64_t> result_int8(uint64_t row, int col);
std::optional<std::string> result_text(uint64_t row, int col);
bool result_bool(uint64_t row, int col);

}  // namespace pgshell
