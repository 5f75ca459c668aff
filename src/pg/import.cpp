// import.cpp: import_contacts, the bulk path for ETL jobs. Each source row
// becomes the request upsert_contact would get (with the import's
// dedupe_on), applied in source order; a bad row is reported in the result,
// never fatal.
//
// Rows run in batches (import_batch.h).
#include "core/identity_error.h"
#include "pg/import_batch.h"
#include "pg/import_source.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_import_contacts);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// Rows per subtransaction.
constexpr long kBatchRows = 10000;

// The result set of a materialize-mode function.
struct ResultSet {
  Tuplestorestate *store;
  TupleDesc desc;
};

ResultSet open_result_set(FunctionCallInfo fcinfo) {
  ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
  return pg_call([&]() noexcept {
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("import_contacts must be called in a context that accepts a set")));
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "contact_identity: import_contacts must return a row type");
    Tuplestorestate *store = tuplestore_begin_heap(true, false, work_mem);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = desc;
    MemoryContextSwitchTo(old);
    return ResultSet{store, desc};
  });
}

void put_result(const ResultSet &set, const RowResult &r) {
  const std::optional<std::string> *texts[4] = {&r.action, &r.matched_by, &r.error_code, &r.error_message};
  pg_call([&]() noexcept {
    Datum values[6];
    bool nulls[6];
    values[0] = Int64GetDatum(r.row_number);
    nulls[0] = false;
    nulls[1] = !r.contact_id;
    values[1] = r.contact_id ? Int64GetDatum(*r.contact_id) : (Datum)0;
    for (int i = 0; i < 4; i++) {
      const std::optional<std::string> &t = *texts[i];
      nulls[i + 2] = !t;
      values[i + 2] = t ? PointerGetDatum(cstring_to_text_with_len(t->data(), (int)t->size())) : (Datum)0;
    }
    tuplestore_putvalues(set.store, set.desc, values, nulls);
  });
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// import_contacts(source, dedupe_on, restore_deleted, clear_nulls,
// account_id): one result row per source row, in one transaction.
extern "C" Datum ci_import_contacts(PG_FUNCTION_ARGS) {
  return guarded([&]() -> Datum {
    for (int i = 0; i < 5; i++)
      if (PG_ARGISNULL(i)) {
        static const char *names[] = {"source", "dedupe_on", "restore_deleted", "clear_nulls", "account_id"};
        throw IdentityError("22004", std::string(names[i]) + " must not be null", "", "");
      }
    Oid source = PG_GETARG_OID(0);
    ImportOptions options;
    options.dedupe_on = *text_arg(fcinfo, 1);
    options.restore_deleted = PG_GETARG_BOOL(2);
    options.clear_nulls = PG_GETARG_BOOL(3);
    options.account_id = account_arg(fcinfo, 4);
    ResultSet results = open_result_set(fcinfo);

    // One SPI connection per batch: SPI_finish frees what the batch
    // allocated, so memory is bounded by the batch, not by the source. The
    // source's cursor lives on between connections.
    spi_connect();
    SourceReader reader(source, options);
    reader.open_cursor();
    spi_finish();
    ImportProgress progress("import_contacts");
    for (;;) {
      spi_connect();
      std::vector<SourceRow> rows = reader.next(kBatchRows);
      std::vector<RowResult> batch = run_batch(rows);
      if (rows.empty()) reader.close_cursor();
      spi_finish();
      if (rows.empty()) break;
      for (const RowResult &r : batch) {
        put_result(results, r);
        progress.count(r);
      }
    }
    return (Datum)0;
  });
}
