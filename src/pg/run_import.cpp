// run_import.cpp: CALL run_import, the import that commits after every
// batch. Its progress is the imports row, updated in the same transaction
// as the batch's writes: after a crash, a cancel or a lost connection,
// CALL run_import(..., import_id => N) resumes after the last committed
// batch and never applies a row twice. An error that is no row's (a
// timeout, a cancel, ...) rolls back the batch it happens in, is recorded
// in the imports row, and fails the call. The session holds the import's
// lock (import_lock.h) from start to end.
#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/access.h"
#include "pg/arguments.h"
#include "pg/account_shards.h"
#include "pg/heap_reuse.h"
#include "pg/import_batch.h"
#include "pg/import_forward.h"
#include "pg/import_lock.h"
#include "pg/import_source.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

extern "C" {
#include "catalog/namespace.h"
#include "utils/varlena.h"
PG_FUNCTION_INFO_V1(ci_run_import);
}

namespace pgshell {
namespace {

using identity::IdentityError;

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
    " (account_id, import_id, source, dedupe_on, batch_size, restore_deleted, clear_nulls, rows_total)"
    " OVERRIDING SYSTEM VALUE"
    " VALUES ($1, pg_catalog.nextval('contact_identity.imports_import_id_seq'::pg_catalog.regclass), $2, $3, $4, $5, $6, $7) RETURNING import_id",
    {INT8OID, TEXTOID, TEXTOID, INT4OID, BOOLOID, BOOLOID, INT8OID}};

// The source is looked up by name here, not in the statement: on a Citus
// coordinator the statement runs on the worker, which has no such table.
Statement load_import_statement{
    "SELECT NULL::pg_catalog.int8, i.dedupe_on, i.batch_size,"
    " i.restore_deleted, i.clear_nulls, i.status, i.rows_done,"
    " i.last_row_number, i.last_ctid, i.source"
    " FROM contact_identity.imports i"
    " WHERE i.import_id OPERATOR(pg_catalog.=) $1 AND i.account_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

Statement progress_statement{
    "UPDATE contact_identity.imports SET rows_done = rows_done OPERATOR(pg_catalog.+) $2,"
    " created = created OPERATOR(pg_catalog.+) $3, updated = updated OPERATOR(pg_catalog.+) $4,"
    " restored = restored OPERATOR(pg_catalog.+) $5, merged = merged OPERATOR(pg_catalog.+) $6,"
    " skipped = skipped OPERATOR(pg_catalog.+) $7, failed = failed OPERATOR(pg_catalog.+) $8,"
    " last_row_number = $9, last_ctid = $10,"
    " status = CASE WHEN $11 THEN 'done' ELSE status END,"
    // The time as a parameter: Citus allows no function but an immutable
    // one in a CASE of a statement it routes.
    " finished_at = CASE WHEN $11 THEN $13 END"
    " WHERE account_id OPERATOR(pg_catalog.=) $12 AND import_id OPERATOR(pg_catalog.=) $1",
    {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID, INT8OID,
     TIMESTAMPTZOID}};

Statement error_statement{
    "INSERT INTO contact_identity.import_errors (import_id, row_number, account_id, sqlstate, message, row_data)"
    " VALUES ($1, $2, $3, $4, $5, CAST($6 AS pg_catalog.jsonb))",
    {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID}};

// Why a batch failed, once it has rolled back.
Statement last_error_statement{
    "UPDATE contact_identity.imports SET last_error_sqlstate = $3, last_error_message = $4,"
    " last_error_at = pg_catalog.clock_timestamp()"
    " WHERE account_id OPERATOR(pg_catalog.=) $2 AND import_id OPERATOR(pg_catalog.=) $1",
    {INT8OID, INT8OID, TEXTOID, TEXTOID}};

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

// The table a stored name (format('%I.%I')) names now, as to_regclass.
std::optional<Oid> relation_named(const std::string &name) {
  Oid relation = pg_call([&]() noexcept {
#if PG_VERSION_NUM >= 160000
    List *names = stringToQualifiedNameList(name.c_str(), nullptr);  // no soft errors: it raises, as before 16
#else
    List *names = stringToQualifiedNameList(name.c_str());
#endif
    return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
  });
  if (!OidIsValid(relation)) return std::nullopt;
  return relation;
}

// Loads an import to resume; its stored options win over the call's. A
// cancelled import is refused.
ImportRun load_import(int64_t import_id, int64_t account_id) {
  if (execute(load_import_statement, {int8_param(import_id), int8_param(account_id)}, false) == 0)
    throw IdentityError(identity::sqlstate::kNoDataFound, "import " + std::to_string(import_id) + " does not exist",
                        "Account " + std::to_string(account_id) + " has no import " + std::to_string(import_id) + ".",
                        "Call run_import without import_id to start a new one.");
  ImportRun run;
  run.import_id = import_id;
  std::optional<std::string> source_name = result_text(0, 10);
  std::optional<Oid> source = source_name ? relation_named(*source_name) : std::nullopt;
  std::optional<std::string> status = result_text(0, 6);
  if (status == "cancelled")
    throw IdentityError(identity::sqlstate::kObjectNotInPrerequisiteState,
                        "import " + std::to_string(import_id) + " was cancelled",
                        "cancel_import ended it; the batches it committed stay.",
                        "Start a new import: CALL contact_identity.run_import without import_id.");
  run.done = status == "done";
  if (!source && !run.done)
    throw IdentityError(identity::sqlstate::kUndefinedTable, "source " + identity::quoted(result_text(0, 10).value_or("")) + " of import " +
                                     std::to_string(import_id) + " no longer exists",
                        "", "Restore the source table to resume the import.");
  run.source = source.value_or(InvalidOid);
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
           bool_param(finished), int8_param(run.options.account_id),
           Param{TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false}},
          false);
}

// A copy of the error in `context`, which outlives the transaction: the
// original lives in the batch's memory, which a rollback frees. (PostgreSQL
// copies an error only from its error stack: it is put back there and
// caught again.)
ErrorData *copy_error(ErrorData *error, MemoryContext context) {
  InMemoryContext in_context(context);  // pg_call copies an error where it started
  try {
    pg_call([&]() noexcept { ReThrowError(error); });
  } catch (const PgError &e) {
    return e.data();
  }
  return error;  // not reached: ReThrowError always raises
}

// Rolls back the current transaction and starts a new one, as the
// procedure's own connection (the batch's, and any a failed statement left
// open above it, are closed first). False when that cannot be done here.
bool roll_back() {
  try {
    pg_call([]() noexcept {
      while (!SPI_inside_nonatomic_context() && SPI_finish() == SPI_OK_FINISH) {
      }
      if (!SPI_inside_nonatomic_context()) elog(ERROR, "contact_identity: run_import's connection is gone");
      SPI_rollback();
#if PG_VERSION_NUM < 150000
      SPI_start_transaction();
#endif
    });
    return true;
  } catch (...) {
    return false;
  }
}

// Ends the call after an error that is no row's, from inside the catch
// block of the batches: the batch's transaction rolls back (the batches
// committed before it stay), the imports row records why in a transaction
// of its own, and the error goes on to the caller. The import stays
// running, to be resumed (import_progress shows it interrupted once the
// call has ended).
[[noreturn]] void end_on_error(const ImportRun &run, Oid owner, MemoryContext call_context) {
  CaughtError error = caught_error();
  if (error.pg) error.pg = copy_error(error.pg, call_context);
  if (roll_back()) {
    try {
      {
        RunAs as_owner(owner);
        pin_settings();
        execute(last_error_statement,
                {int8_param(run.import_id), int8_param(run.options.account_id), text_param(error.sqlstate),
                 text_param(error.message)},
                false);
      }
      commit();
    } catch (...) {  // the error to report is the batch's
      roll_back();
    }
  }
  if (error.pg) throw PgError(error.pg);
  throw IdentityError(error.sqlstate, error.message, error.detail, error.hint);
}

// run_import's result: one row, (import_id).
Datum import_id_result(int64_t import_id) {
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
  // SPI and the account's grant are handled here, not by sql_entry: the
  // connection is non-atomic (the procedure commits) and the work runs as
  // the function's owner.
  return sql_entry(fcinfo, EntryPoint::plain("run_import", Writes::kYes), [&](EntryCall &) -> Datum {
    CallContext *call = (CallContext *)fcinfo->context;
    if (call == nullptr || !IsA(call, CallContext) || call->atomic)
      throw IdentityError(identity::sqlstate::kInvalidTransactionTermination, "run_import cannot run inside a transaction block",
                          "It commits after every batch.",
                          "CALL it on its own, or use import_contacts for one transaction.");
    int64_t account_id = account_arg(fcinfo, 5);
    std::optional<int64_t> resume = int8_arg(fcinfo, 6);
    if (!resume && PG_ARGISNULL(0)) throw null_argument("source");
    std::string dedupe_on = required_text_arg(fcinfo, 1, "dedupe_on");
    if (PG_ARGISNULL(2)) throw null_argument("batch_size");
    bool restore_deleted = required_bool_arg(fcinfo, 3, "restore_deleted");
    bool clear_nulls = required_bool_arg(fcinfo, 4, "clear_nulls");
    int batch_size = PG_GETARG_INT32(2);
    if (batch_size <= 0)
      throw IdentityError(identity::sqlstate::kInvalidParameterValue, "invalid batch_size " + std::to_string(batch_size),
                          "A batch holds at least one row.", "");

    pg_call([]() noexcept {
      if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT) elog(ERROR, "contact_identity: SPI_connect failed");
    });
    const MemoryContext call_context = CurrentMemoryContext;  // the connection's: lives across commits
    // A procedure that commits cannot be SECURITY DEFINER: it checks the
    // caller itself, then works as the owner between commits (RunAs).
    const Oid owner = function_owner(fcinfo);
    ImportRun run;
    ImportOptions options;
    std::optional<SourceReader> reader;
    ImportSession session;  // the import's lock, from before its first read until the call ends
    // On a Citus coordinator, for an account on a worker: each batch's rows
    // go there (import_forward.h); the imports row is written through Citus.
    bool forwarded = false;
    ForwardedSource forward;
    {
      RunAs as_owner(owner);
      pin_settings();
      forwarded = account_is_elsewhere(account_id);
      if (forwarded) {
        require_grant(account_id, Level::kWriter);
      } else {
        require_account(account_id, Level::kWriter);
        region_for(account_id);  // a refused setting ends the import here, instead of failing every row
      }
      if (resume) {
        session.take(*resume, "resume it");
        run = load_import(*resume, account_id);
        options = run.options;
      } else {
        options.dedupe_on = dedupe_on;
        options.restore_deleted = restore_deleted;
        options.clear_nulls = clear_nulls;
        options.account_id = account_id;
      }
      options.keep_row_json = true;
      options.keep_source_json = forwarded;
      if (!run.done) {
        Oid source = resume ? run.source : PG_GETARG_OID(0);
        require_select(source);
        reader.emplace(source, options);  // a bad source is refused before anything is recorded
        if (forwarded) forward = forwarded_source(source, *reader);
        if (!resume) {
          run = create_import(source, options, batch_size);
          session.take(run.import_id, "resume it");  // before the import is visible
        }
      }
    }
    if (run.done) {  // nothing left to do
      pg_call([]() noexcept { SPI_finish(); });
      return import_id_result(run.import_id);
    }
    commit();  // the imports row is visible before the first batch

    ImportProgress progress("run_import " + std::to_string(run.import_id), run.position.rows_read);
    KeepFreedMemory keep;
    bool assume_new_keys = true;  // until a batch finds otherwise (run_batch)
    try {
      while (!run.done) {
        {
          RunAs as_owner(owner);
          spi_connect();  // per batch: SPI_finish frees what the batch allocated
          pin_settings();
          // Where the import stands, as committed.
          run = load_import(run.import_id, account_id);
          if (!run.done) {
            std::vector<SourceRow> rows = reader->page(run.position, run.batch_size);
            std::vector<RowResult> results =
                forwarded ? forward_rows(forward, rows, options) : run_batch(rows, nullptr, &assume_new_keys);
            record_batch(run, rows, results, rows.empty());
            for (const RowResult &r : results) progress.count(r);
          }
          spi_finish();
        }
        commit();
      }
    } catch (...) {
      end_on_error(run, owner, call_context);
    }
    pg_call([]() noexcept { SPI_finish(); });
    return import_id_result(run.import_id);
  });
}
