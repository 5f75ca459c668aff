// run_import.cpp: CALL run_import, the import that commits after every
// batch. Its progress is the imports row, updated in the same transaction
// as the batch's writes: after a crash, a cancel or a lost connection,
// CALL run_import(..., import_id => N) resumes after the last committed
// batch and never applies a row twice.
#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/access.h"
#include "pg/heap_reuse.h"
#include "pg/import_batch.h"
#include "pg/import_source.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_run_import);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// Advisory-lock class of a running import: one session per import.
constexpr int32_t kImportLockClass = 0x43494d50;  // "CIMP"

// What the functions get from their SET clauses, which a procedure that
// commits cannot have: a pinned search_path, plans that probe indexes, and
// no JIT (see docs/performance.md). Local settings: set again in every
// transaction.
Statement pin_settings_statement{
    "SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true),"
    " pg_catalog.set_config('enable_seqscan', 'off', true), pg_catalog.set_config('jit', 'off', true)",
    {}};

Statement source_name_statement{
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
    " WHERE c.oid OPERATOR(pg_catalog.=) $1",
    {OIDOID}};

Statement create_import_statement{
    "INSERT INTO contact_identity.imports"
    " (account_id, source, dedupe_on, batch_size, restore_deleted, clear_nulls, rows_total)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING import_id",
    {INT8OID, TEXTOID, TEXTOID, INT4OID, BOOLOID, BOOLOID, INT8OID}};

Statement load_import_statement{
    "SELECT pg_catalog.to_regclass(i.source)::pg_catalog.oid::pg_catalog.int8, i.dedupe_on, i.batch_size,"
    " i.restore_deleted, i.clear_nulls, i.status OPERATOR(pg_catalog.=) 'done', i.rows_done,"
    " i.last_row_number, i.last_ctid, i.source"
    " FROM contact_identity.imports i"
    " WHERE i.import_id OPERATOR(pg_catalog.=) $1 AND i.account_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

// Taken by every batch's transaction, so two sessions never run one import
// at once and nothing is held after an error.
Statement lock_import_statement{"SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", {INT4OID, INT4OID}};

Statement progress_statement{
    "UPDATE contact_identity.imports SET rows_done = rows_done OPERATOR(pg_catalog.+) $2,"
    " created = created OPERATOR(pg_catalog.+) $3, updated = updated OPERATOR(pg_catalog.+) $4,"
    " restored = restored OPERATOR(pg_catalog.+) $5, merged = merged OPERATOR(pg_catalog.+) $6,"
    " skipped = skipped OPERATOR(pg_catalog.+) $7, failed = failed OPERATOR(pg_catalog.+) $8,"
    " last_row_number = $9, last_ctid = $10,"
    " status = CASE WHEN $11 THEN 'done' ELSE status END,"
    " finished_at = CASE WHEN $11 THEN pg_catalog.now() END"
    " WHERE account_id OPERATOR(pg_catalog.=) $12 AND import_id OPERATOR(pg_catalog.=) $1",
    {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID, INT8OID}};

Statement error_statement{
    "INSERT INTO contact_identity.import_errors (import_id, row_number, account_id, sqlstate, message, row_data)"
    " VALUES ($1, $2, $3, $4, $5, CAST($6 AS pg_catalog.jsonb))",
    {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID}};

// The import as it stands.
struct ImportRun {
  int64_t import_id = 0;
  Oid source = InvalidOid;
  ImportOptions options;
  int batch_size = 10000;
  SourcePosition position;
  bool done = false;
};

void pin_settings() { execute(pin_settings_statement, {}, false); }

void commit() {
  pg_call([]() noexcept {
    SPI_commit();
#if PG_VERSION_NUM < 150000
    SPI_start_transaction();
#endif
  });
}

// Records a new import; the caller commits it before the first batch.
ImportRun create_import(Oid source, const ImportOptions &options, int batch_size) {
  ImportRun run;
  run.source = source;
  run.options = options;
  run.batch_size = batch_size;
  execute(source_name_statement, {Param{ObjectIdGetDatum(source), false}}, false);
  std::string name = result_text(0, 1).value_or("");
  std::string count_sql = "SELECT pg_catalog.count(*) FROM " + name;
  int64_t rows_total = pg_call([&]() noexcept {
    if (SPI_execute(count_sql.c_str(), true, 0) != SPI_OK_SELECT) elog(ERROR, "contact_identity: counting the source failed");
    bool is_null;
    return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
  });
  execute(create_import_statement,
          {int8_param(options.account_id), text_param(name), text_param(options.dedupe_on),
           pgshell::Param{Int32GetDatum(batch_size), false}, bool_param(options.restore_deleted),
           bool_param(options.clear_nulls), int8_param(rows_total)},
          false);
  run.import_id = result_int8(0, 1).value_or(0);
  return run;
}

// Loads an import to resume; its stored options win over the call's.
ImportRun load_import(int64_t import_id, int64_t account_id) {
  if (execute(load_import_statement, {int8_param(import_id), int8_param(account_id)}, false) == 0)
    throw IdentityError(identity::sqlstate::kNoDataFound, "import " + std::to_string(import_id) + " does not exist",
                        "Account " + std::to_string(account_id) + " has no import " + std::to_string(import_id) + ".",
                        "Call run_import without import_id to start a new one.");
  ImportRun run;
  run.import_id = import_id;
  std::optional<int64_t> source = result_int8(0, 1);
  run.done = result_bool(0, 6);
  if (!source && !run.done)
    throw IdentityError("42P01", "source " + identity::quoted(result_text(0, 10).value_or("")) + " of import " +
                                     std::to_string(import_id) + " no longer exists",
                        "", "Restore the source table to resume the import.");
  run.source = source ? static_cast<Oid>(*source) : InvalidOid;
  run.options.account_id = account_id;
  run.options.dedupe_on = result_text(0, 2).value_or("external_id");
  run.batch_size = static_cast<int>(result_int8(0, 3).value_or(10000));
  run.options.restore_deleted = result_bool(0, 4);
  run.options.clear_nulls = result_bool(0, 5);
  run.position.rows_read = result_int8(0, 7).value_or(0);
  run.position.row_number = result_text(0, 8);
  run.position.ctid = result_text(0, 9);
  return run;
}

// Writes a batch's counts, position and failed rows (in the batch's transaction).
void record_batch(const ImportRun &run, const std::vector<SourceRow> &rows, const std::vector<RowResult> &results,
                  bool finished) {
  int64_t counts[6] = {0, 0, 0, 0, 0, 0};  // created updated restored merged skipped failed
  for (size_t i = 0; i < results.size(); i++) {
    const RowResult &r = results[i];
    if (r.error_code) {
      counts[5]++;
      execute(error_statement,
              {int8_param(run.import_id), int8_param(r.row_number), int8_param(run.options.account_id),
               text_param(r.error_code), text_param(r.error_message), text_param(rows[i].row_json)},
              false);
    } else if (r.action == "created") counts[0]++;
    else if (r.action == "updated") counts[1]++;
    else if (r.action == "restored") counts[2]++;
    else if (r.action == "merged") counts[3]++;
    else counts[4]++;  // skipped_deleted, remembered: no profile changed
  }
  execute(progress_statement,
          {int8_param(run.import_id), int8_param(static_cast<int64_t>(results.size())), int8_param(counts[0]),
           int8_param(counts[1]), int8_param(counts[2]), int8_param(counts[3]), int8_param(counts[4]),
           int8_param(counts[5]), text_param(run.position.row_number), text_param(run.position.ctid),
           bool_param(finished), int8_param(run.options.account_id)},
          false);
}

Datum import_id_result(FunctionCallInfo fcinfo, int64_t import_id) {
  return pg_call([&]() noexcept {
    TupleDesc desc = CreateTemplateTupleDesc(1);
    TupleDescInitEntry(desc, (AttrNumber)1, "import_id", INT8OID, -1, 0);
    desc = BlessTupleDesc(desc);
    Datum values[1] = {Int64GetDatum(import_id)};
    bool nulls[1] = {false};
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// CALL run_import(source, dedupe_on, batch_size, restore_deleted,
// clear_nulls, account_id, INOUT import_id).
extern "C" Datum ci_run_import(PG_FUNCTION_ARGS) {
  return guarded([&]() -> Datum {
    CallContext *call = (CallContext *)fcinfo->context;
    if (call == nullptr || !IsA(call, CallContext) || call->atomic)
      throw IdentityError("2D000", "run_import cannot run inside a transaction block",
                          "It commits after every batch.",
                          "CALL it on its own, or use import_contacts for one transaction.");
    int64_t account_id = account_arg(fcinfo, 5);
    std::optional<int64_t> resume = int8_arg(fcinfo, 6);
    if (!resume && PG_ARGISNULL(0)) throw IdentityError("22004", "source must not be null", "", "");
    for (int i = 1; i <= 4; i++)
      if (PG_ARGISNULL(i)) {
        static const char *names[] = {"", "dedupe_on", "batch_size", "restore_deleted", "clear_nulls"};
        throw IdentityError("22004", std::string(names[i]) + " must not be null", "", "");
      }
    int batch_size = PG_GETARG_INT32(2);
    if (batch_size <= 0)
      throw IdentityError(identity::sqlstate::kInvalidParameterValue, "invalid batch_size " + std::to_string(batch_size),
                          "A batch holds at least one row.", "");

    pg_call([]() noexcept {
      if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT) elog(ERROR, "contact_identity: SPI_connect failed");
    });
    // A procedure that commits cannot be SECURITY DEFINER: it checks the
    // caller itself, then works as the owner between commits (RunAs).
    const Oid owner = function_owner(fcinfo);
    ImportRun run;
    ImportOptions options;
    std::optional<SourceReader> reader;
    {
      RunAs as_owner(owner);
      pin_settings();
      require_account(account_id, Level::kWriter);
      region_for(account_id);  // a refused setting ends the import here, instead of failing every row
      if (resume) {
        run = load_import(*resume, account_id);
        options = run.options;
      } else {
        options.dedupe_on = *text_arg(fcinfo, 1);
        options.restore_deleted = PG_GETARG_BOOL(3);
        options.clear_nulls = PG_GETARG_BOOL(4);
        options.account_id = account_id;
      }
      options.keep_row_json = true;
      if (!run.done) {
        Oid source = resume ? run.source : PG_GETARG_OID(0);
        require_select(source);
        reader.emplace(source, options);  // a bad source is refused before anything is recorded
        if (!resume) run = create_import(source, options, batch_size);
      }
    }
    if (run.done) {  // nothing left to do
      pg_call([]() noexcept { SPI_finish(); });
      return import_id_result(fcinfo, run.import_id);
    }
    commit();  // the imports row is visible before the first batch

    pgshell::Param lock_class{Int32GetDatum(kImportLockClass), false};
    pgshell::Param lock_key{Int32GetDatum(static_cast<int32_t>(run.import_id)), false};
    ImportProgress progress("run_import " + std::to_string(run.import_id), run.position.rows_read);
    KeepFreedMemory keep;
    bool assume_new_keys = true;  // until a batch finds otherwise (run_batch)
    while (!run.done) {
      {
        RunAs as_owner(owner);
        spi_connect();  // per batch: SPI_finish frees what the batch allocated
        pin_settings();
        execute(lock_import_statement, {lock_class, lock_key}, false);
        if (!result_bool(0, 1))
          throw IdentityError("55006", "import " + std::to_string(run.import_id) + " is running in another session",
                              "", "Wait for it to end, or resume it once that session has ended.");
        // Where the import stands, as committed (another session may have
        // moved it on since we last looked).
        run = load_import(run.import_id, account_id);
        if (!run.done) {
          std::vector<SourceRow> rows = reader->page(run.position, run.batch_size);
          std::vector<RowResult> results = run_batch(rows, nullptr, &assume_new_keys);
          record_batch(run, rows, results, rows.empty());
          for (const RowResult &r : results) progress.count(r);
        }
        spi_finish();
      }
      commit();
    }
    pg_call([]() noexcept { SPI_finish(); });
    return import_id_result(fcinfo, run.import_id);
  });
}
