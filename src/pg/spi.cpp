// spi.cpp: SPI calls, each wrapped by pg_call.
#include "pg/spi.h"

#include <cstring>
#include <stdexcept>

#include "pg/account_shards.h"
#include "pg/pg_boundary.h"

namespace pgshell {

Param null_param() { return Param{}; }

Param bool_param(bool v) { return Param{BoolGetDatum(v), false}; }

Param int4_param(int32_t v) { return Param{Int32GetDatum(v), false}; }

Param int8_param(int64_t v) { return Param{Int64GetDatum(v), false}; }

Param int8_param(const std::optional<int64_t> &v) { return v ? int8_param(*v) : null_param(); }

Param text_param(const std::optional<std::string> &v) {
  if (!v) return null_param();
  const std::string &s = *v;
  Datum d = pg_call([&]() noexcept { return PointerGetDatum(cstring_to_text_with_len(s.data(), (int)s.size())); });
  return Param{d, false};
}

Param text_array_param(const std::vector<std::optional<std::string>> &values) {
  Datum d = pg_call([&]() noexcept {
    int n = (int)values.size();
    int dims[1] = {n};
    int lbs[1] = {1};
    Datum *elems = (Datum *)palloc(sizeof(Datum) * (n > 0 ? n : 1));
    bool *nulls = (bool *)palloc(sizeof(bool) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
      nulls[i] = !values[i].has_value();
      elems[i] = nulls[i] ? (Datum)0
                          : PointerGetDatum(cstring_to_text_with_len(values[i]->data(), (int)values[i]->size()));
    }
    if (n == 0) return PointerGetDatum(construct_empty_array(TEXTOID));
    return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
  });
  return Param{d, false};
}

Param text_array_param(const std::vector<std::string> &values) {
  return text_array_param(std::vector<std::optional<std::string>>(values.begin(), values.end()));
}

Param int8_array_param(const std::vector<std::optional<int64_t>> &values) {
  Datum d = pg_call([&]() noexcept {
    int n = (int)values.size();
    int dims[1] = {n};
    int lbs[1] = {1};
    Datum *elems = (Datum *)palloc(sizeof(Datum) * (n > 0 ? n : 1));
    bool *nulls = (bool *)palloc(sizeof(bool) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
      nulls[i] = !values[i].has_value();
      elems[i] = nulls[i] ? (Datum)0 : Int64GetDatum(*values[i]);
    }
    if (n == 0) return PointerGetDatum(construct_empty_array(INT8OID));
    return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  return Param{d, false};
}

Param bool_array_param(const std::vector<bool> &values) {
  Datum d = pg_call([&]() noexcept {
    int n = (int)values.size();
    if (n == 0) return PointerGetDatum(construct_empty_array(BOOLOID));
    Datum *elems = (Datum *)palloc(sizeof(Datum) * n);
    for (int i = 0; i < n; i++) elems[i] = BoolGetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, BOOLOID, 1, true, TYPALIGN_CHAR));
  });
  return Param{d, false};
}

Param int4_array_param(const std::vector<int32_t> &values) {
  Datum d = pg_call([&]() noexcept {
    int n = (int)values.size();
    if (n == 0) return PointerGetDatum(construct_empty_array(INT4OID));
    Datum *elems = (Datum *)palloc(sizeof(Datum) * n);
    for (int i = 0; i < n; i++) elems[i] = Int32GetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
  });
  return Param{d, false};
}

Datum jsonb_datum(const std::string &json_text) {
  return pg_call([&]() noexcept { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json_text.c_str())); });
}

Param jsonb_param(const std::optional<std::string> &json_text) {
  if (!json_text) return null_param();
  return Param{jsonb_datum(*json_text), false};
}

void spi_connect() {
  pg_call([]() noexcept {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "contact_identity: SPI_connect failed");
  });
}

void spi_finish() {
  pg_call([]() noexcept {
    if (SPI_finish() != SPI_OK_FINISH) elog(ERROR, "contact_identity: SPI_finish failed");
  });
}

namespace {

// A kept plan of sql with the statement's parameters.
SPIPlanPtr kept_plan(const Statement &st, const char *sql, int options = CURSOR_OPT_GENERIC_PLAN) {
  return pg_call([&]() noexcept {
    // Generic plans: the statements are written so that one plan fits
    // every call (probes, never scans), and a plan made for one call's
    // values may be wrong for the next: a custom plan for an account the
    // statistics do not know yet scanned the account once per row.
    SPIPlanPtr plan = SPI_prepare_cursor(sql, (int)st.argtypes.size(), const_cast<Oid *>(st.argtypes.data()),
                                         options);
    if (plan == nullptr) elog(ERROR, "contact_identity: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "contact_identity: SPI_keepplan failed");
    return plan;
  });
}

// The statement's kept plan, prepared on first use. On a Citus node, for
// a statement that names a distributed table: with the call's shard
// group, the plan with its shards' names; without one, a plan Citus
// plans anew for each call's values (it cannot route a generic plan of
// every statement, and Citus 13.2.2 crashes on some: a fast-path UPDATE).
SPIPlanPtr prepared(Statement &st) {
  int64_t group = call_shard_group();
  if (group || tables_distributed()) {
    using Names = Statement::Names;
    if (st.names == Names::kUnknown)
      st.names = !names_distributed_table(st.sql)         ? Names::kNone
                 : names_only_reference_tables(st.sql) ? Names::kReferenceOnly
                                                       : Names::kAccountTables;
    if (st.names != Names::kNone && group) {
      for (const auto &[g, plan] : st.shard_plans)
        if (g == group) return plan;
      std::string sql = sql_for_shard_group(st.sql, group);
      st.shard_plans.emplace_back(group, kept_plan(st, sql.c_str()));
      return st.shard_plans.back().second;
    }
    // Reads only: a write to a reference table goes to every node's copy.
    if (st.names == Names::kReferenceOnly && strncmp(st.sql, "SELECT ", 7) == 0) {
      if (!st.local_copy_plan) {
        if (std::optional<std::string> sql = sql_for_local_copies(st.sql))
          st.local_copy_plan = kept_plan(st, sql->c_str());
      }
      if (st.local_copy_plan) return st.local_copy_plan;
    }
    if (st.names != Names::kNone) {
      if (!st.routed_plan) st.routed_plan = kept_plan(st, st.sql, CURSOR_OPT_CUSTOM_PLAN);
      return st.routed_plan;
    }
  }
  if (!st.plan) st.plan = kept_plan(st, st.sql);
  return st.plan;
}

}  // namespace

uint64_t execute(Statement &st, const std::vector<Param> &params, bool read_only) {
  if (params.size() != st.argtypes.size())
    throw std::logic_error(std::string("contact_identity: wrong parameter count for ") + st.sql);
  SPIPlanPtr plan = prepared(st);
  std::vector<Datum> values(params.size());
  std::string nulls(params.size(), ' ');
  for (size_t i = 0; i < params.size(); i++) {
    values[i] = params[i].value;
    if (params[i].is_null) nulls[i] = 'n';
  }
  return pg_call([&]() noexcept {
    // The previous result is read by now; an import runs millions of these.
    if (SPI_tuptable != nullptr) SPI_freetuptable(SPI_tuptable);
    int rc = SPI_execute_plan(plan, values.data(), nulls.c_str(), read_only, 0);
    if (rc < 0) elog(ERROR, "contact_identity: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
    return (uint64_t)SPI_processed;
  });
}

uint64_t execute_latest(Statement &st) {
  if (!st.argtypes.empty()) throw std::logic_error(std::string("contact_identity: parameters for ") + st.sql);
  SPIPlanPtr plan = prepared(st);
  return pg_call([&]() noexcept {
    if (SPI_tuptable != nullptr) SPI_freetuptable(SPI_tuptable);
    int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, 0);
    if (rc < 0) elog(ERROR, "contact_identity: SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
    return (uint64_t)SPI_processed;
  });
}

std::optional<int64_t> result_int8(uint64_t row, int col) {
  bool is_null = true;
  Datum d = pg_call([&]() noexcept { return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &is_null); });
  if (is_null) return std::nullopt;
  return DatumGetInt64(d);
}

bool result_bool(uint64_t row, int col) {
  bool is_null = true;
  Datum d = pg_call([&]() noexcept { return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &is_null); });
  return !is_null && DatumGetBool(d);
}

std::optional<std::string> result_text(uint64_t row, int col) {
  const char *s = pg_call([&]() noexcept -> const char * {
    bool is_null = true;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &is_null);
    return is_null ? nullptr : text_to_cstring(DatumGetTextPP(d));
  });
  if (!s) return std::nullopt;
  return std::string(s);
}

}  // namespace pgshell
