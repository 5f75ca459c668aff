// forward_call.cpp: making a per-account call again as a statement of its
// own, for Citus to delegate.
#include "pg/forward_call.h"

#include <optional>
#include <string>
#include <vector>

#include "pg/result_set.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_proc.h"
#include "funcapi.h"
#include "utils/syscache.h"
}

namespace pgshell {
namespace {

bool allowed = false;    // the current entry point may be forwarded
bool reissuing = false;  // a forwarded call is being made: never twice

// Marks the forwarded call while it runs; a local (undelegated) run of it
// then fails with 0A000 instead of forwarding again.
class Reissuing {
 public:
  Reissuing() : saved_(reissuing) { reissuing = true; }
  ~Reissuing() { reissuing = saved_; }
  Reissuing(const Reissuing &) = delete;
  Reissuing &operator=(const Reissuing &) = delete;

 private:
  bool saved_;
};

// SELECT * FROM schema.function($1::type, ...) for the called function.
std::string call_sql(Oid function, std::vector<Oid> &argtypes) {
  const char *sql = pg_call([&]() noexcept -> const char * {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "contact_identity: function %u not found", function);
    Form_pg_proc proc = (Form_pg_proc)GETSTRUCT(tuple);
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfo(&buf, "SELECT * FROM %s(",
                     quote_qualified_identifier(get_namespace_name(proc->pronamespace), NameStr(proc->proname)));
    for (int i = 0; i < proc->pronargs; i++) appendStringInfo(&buf, "%s$%d", i ? ", " : "", i + 1);
    appendStringInfoChar(&buf, ')');
    ReleaseSysCache(tuple);
    return buf.data;
  });
  int nargs = pg_call([&]() noexcept { return get_func_nargs(function); });
  Oid *types = nullptr;
  pg_call([&]() noexcept {
    int n = 0;
    (void)get_func_signature(function, &types, &n);
  });
  argtypes.assign(types, types + nargs);
  return sql;
}

}  // namespace

bool forwarding_allowed() { return allowed && !reissuing; }

bool exchange_forwarding(bool allow) {
  bool was = allowed;
  allowed = allow;
  return was;
}

AllowForwarding::AllowForwarding() : saved_(allowed) { allowed = true; }

AllowForwarding::~AllowForwarding() { allowed = saved_; }

Datum forward_call(FunctionCallInfo fcinfo) {
  // The entry point's own connection, left open when it was told to forward.
  pg_call([]() noexcept { SPI_finish(); });
  std::vector<Oid> argtypes;
  std::string sql = call_sql(fcinfo->flinfo->fn_oid, argtypes);
  const int nargs = static_cast<int>(argtypes.size());
  std::vector<Datum> values(nargs);
  std::string nulls(nargs, ' ');
  for (int i = 0; i < nargs && i < fcinfo->nargs; i++) {
    values[i] = fcinfo->args[i].value;
    if (fcinfo->args[i].isnull) nulls[i] = 'n';
  }
  const bool returns_set = fcinfo->flinfo->fn_retset;
  std::optional<ResultSet> results;
  if (returns_set) results = open_result_set(fcinfo, "contact_identity");
  spi_connect();
  Datum result = (Datum)0;
  bool is_null = true;
  {
    Reissuing once;
    pg_call([&]() noexcept {
      // One-shot, planned with the values: the account is a constant, and
      // Citus delegates the call (force_delegation) inside the transaction.
      int rc = SPI_execute_with_args(sql.c_str(), nargs, argtypes.data(), values.data(), nulls.c_str(), false, 0);
      if (rc != SPI_OK_SELECT) elog(ERROR, "contact_identity: forwarding the call failed: %s", SPI_result_code_string(rc));
    });
  }
  pg_call([&]() noexcept {
    TupleDesc desc = SPI_tuptable->tupdesc;
    if (returns_set) {
      for (uint64 r = 0; r < SPI_processed; r++) {
        Datum *row = (Datum *)palloc(sizeof(Datum) * desc->natts);
        bool *row_nulls = (bool *)palloc(sizeof(bool) * desc->natts);
        heap_deform_tuple(SPI_tuptable->vals[r], desc, row, row_nulls);
        tuplestore_putvalues(results->store, results->desc, row, row_nulls);
      }
    } else if (SPI_processed == 1) {
      TupleDesc result_desc;
      if (get_call_result_type(fcinfo, nullptr, &result_desc) == TYPEFUNC_COMPOSITE) {
        // The columns SELECT * spread, made one row of the result type again.
        Datum *row = (Datum *)palloc(sizeof(Datum) * desc->natts);
        bool *row_nulls = (bool *)palloc(sizeof(bool) * desc->natts);
        heap_deform_tuple(SPI_tuptable->vals[0], desc, row, row_nulls);
        bool all_null = true;
        for (int c = 0; c < desc->natts; c++) all_null = all_null && row_nulls[c];
        if (!all_null) {
          HeapTuple tuple = heap_form_tuple(BlessTupleDesc(result_desc), row, row_nulls);
          result = SPI_datumTransfer(HeapTupleGetDatum(tuple), false, -1);
          is_null = false;
        }
      } else {
        result = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &is_null);
        if (!is_null) {
          int16 typlen;
          bool typbyval;
          get_typlenbyval(TupleDescAttr(desc, 0)->atttypid, &typlen, &typbyval);
          result = SPI_datumTransfer(result, typbyval, typlen);
        }
      }
    }
  });
  spi_finish();
  fcinfo->isnull = returns_set ? false : is_null;
  return result;
}

}  // namespace pgshell
