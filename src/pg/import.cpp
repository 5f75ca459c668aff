// import.cpp: import_contacts, the bulk path for ETL jobs. Each source row
// becomes the request upsert_contact would get (with the import's
// dedupe_on), applied in source order; a bad row is reported in the result,
// never fatal.
//
// Rows run in batches (import_batch.h).
#include "core/identity_error.h"
#include "pg/access.h"
#include "pg/arguments.h"
#include "pg/account_shards.h"
#include "pg/heap_reuse.h"
#include "pg/import_batch.h"
#include "pg/import_forward.h"
#include "pg/import_source.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/result_set.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_import_contacts);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// Rows per subtransaction.
constexpr long kBatchRows = 10000;

void put_result(const ResultSet &set, const RowResult &r) {
  const std::optional<std::string> *texts[4] = {&r.action, &r.matched_by, &r.error_code, &r.error_message};
  Datum values[6];
  bool nulls[6];
  values[0] = Int64GetDatum(r.row_number);
  nulls[0] = false;
  nulls[1] = !r.contact_id;
  values[1] = r.contact_id ? Int64GetDatum(*r.contact_id) : (Datum)0;
  for (int i = 0; i < 4; i++) {
    const std::optional<std::string> &t = *texts[i];
    nulls[i + 2] = !t;
    values[i + 2] = t ? PointerGetDatum(pg_call([&]() noexcept {
                          return cstring_to_text_with_len(t->data(), (int)t->size());
                        }))
                      : (Datum)0;
  }
  put_row(set, values, nulls);
}

// Appends a batch's result rows. Their text datums are made in `scratch`,
// reset once the tuplestore has copied them: made in the function's own
// context, they would stay until the end of the call, about 20 bytes per
// source row.
void put_results(const ResultSet &set, const std::vector<RowResult> &batch, MemoryContext scratch,
                 ImportProgress &progress) {
  {
    InMemoryContext in_scratch(scratch);
    for (const RowResult &r : batch) {
      put_result(set, r);
      progress.count(r);
    }
  }
  pg_call([&]() noexcept { MemoryContextReset(scratch); });
}

// The keys of the rows that have a request to build.
std::vector<const CallKeys *> keys_of(const std::vector<SourceRow> &rows) {
  std::vector<const CallKeys *> keys;
  for (const SourceRow &row : rows)
    if (!row.error_code) keys.push_back(&row.keys);
  return keys;
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// import_contacts(source, dedupe_on, restore_deleted, clear_nulls,
// account_id): one result row per source row, in one transaction.
extern "C" Datum ci_import_contacts(PG_FUNCTION_ARGS) {
  // The account's grant is checked here, not by sql_entry: on a Citus
  // coordinator the rows are read here and sent to the account's worker.
  return sql_entry(fcinfo, EntryPoint::plain("import_contacts", Writes::kYes), [&](EntryCall &) -> Datum {
    if (PG_ARGISNULL(0)) throw null_argument("source");
    Oid source = PG_GETARG_OID(0);
    ImportOptions options;
    options.dedupe_on = required_text_arg(fcinfo, 1, "dedupe_on");
    options.restore_deleted = required_bool_arg(fcinfo, 2, "restore_deleted");
    options.clear_nulls = required_bool_arg(fcinfo, 3, "clear_nulls");
    options.account_id = account_arg(fcinfo, 4);
    ResultSet results = open_result_set(fcinfo, "import_contacts");

    // One SPI connection per batch: SPI_finish frees what the batch
    // allocated, so memory is bounded by the batch, not by the source. The
    // source's cursor lives on between connections.
    spi_connect();
    // On a Citus coordinator, for an account on a worker: the rows go there.
    const bool forwarded = account_is_elsewhere(options.account_id);
    options.keep_source_json = forwarded;
    if (forwarded) {
      require_grant(options.account_id, Level::kWriter);
    } else {
      require_account(options.account_id, Level::kWriter);
      region_for(options.account_id);  // a refused setting ends the import here, instead of failing every row
    }
    require_select(source);
    SourceReader reader(source, options);
    ForwardedSource forward;
    if (forwarded) forward = forwarded_source(source, reader);
    reader.open_cursor();
    spi_finish();
    ImportProgress progress("import_contacts");
    MemoryContext scratch = pg_call([]() noexcept {
      return AllocSetContextCreate(CurrentMemoryContext, "import_contacts results", ALLOCSET_DEFAULT_SIZES);
    });
    KeepFreedMemory keep;  // goes last: after the rows and the threads
    // Each batch's rows are read before the previous batch is written, and
    // their identifiers normalized on another thread meanwhile. The rows
    // are declared before what normalizes them, so that an error's unwinding
    // joins the thread before the rows go.
    std::vector<SourceRow> rows, next;
    NormalizedAhead ahead, next_ahead;
    bool assume_new_keys = true;  // until a batch finds otherwise (run_batch)
    spi_connect();
    rows = reader.next(kBatchRows);
    if (rows.empty()) reader.close_cursor();
    spi_finish();
    while (!rows.empty()) {
      spi_connect();
      next = reader.next(kBatchRows);
      if (!forwarded) next_ahead.start(keys_of(next));
      std::vector<RowResult> batch =
          forwarded ? forward_rows(forward, rows, options) : run_batch(rows, &ahead, &assume_new_keys);
      if (next.empty()) reader.close_cursor();
      spi_finish();
      put_results(results, batch, scratch, progress);
      ahead.wait();  // done with these rows before they go
      // next_ahead may still be at work: moving the vector keeps the rows
      // where it sees them, and the next batch's build_requests waits.
      rows = std::move(next);
      next.clear();
      ahead.swap(next_ahead);
    }
    return (Datum)0;
  });
}
