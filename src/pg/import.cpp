// import.cpp: import_contacts, the bulk path for ETL jobs. Each source row
// becomes the request upsert_contact would get (with the import's
// dedupe_on), applied in source order; a bad row is reported in the result,
// never fatal.
//
// Rows run in batches, one subtransaction per batch (a subtransaction per
// row would hold one lock per row until commit). Errors the rules raise are
// found before a row writes anything and cost nothing; an unexpected
// PostgreSQL error rolls the batch back, and the batch runs again with the
// failing row set aside.
#include <map>
#include <set>

#include "core/identity_error.h"
#include "pg/import_source.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"
#include "pg/subtransaction.h"
#include "pg/upsert.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_import_contacts);
}

namespace pgshell {
namespace {

using identity::IdentityError;

// Rows per subtransaction.
constexpr long kBatchRows = 10000;

// One line of import_contacts' result.
struct RowResult {
  int64_t row_number = 0;
  std::optional<int64_t> contact_id;
  std::optional<std::string> action, matched_by, error_code, error_message;
};

RowResult failed(const SourceRow &row, const std::string &code, const std::string &message) {
  RowResult r;
  r.row_number = row.row_number;
  r.error_code = code;
  r.error_message = message;
  return r;
}

std::string message_of(const IdentityError &e) {
  return e.detail().empty() ? std::string(e.what()) : std::string(e.what()) + ": " + e.detail();
}

// Applies one row. Errors of the rules come back as the row's result; any
// other error propagates (the row may have written part of itself).
RowResult apply_row(const SourceRow &row) {
  if (row.error_code) return failed(row, *row.error_code, row.error_message);
  try {
    Outcome out = upsert(row.keys, row.fields, "import_contacts");
    RowResult r;
    r.row_number = row.row_number;
    r.contact_id = out.contact_id;
    r.action = out.action;
    r.matched_by = out.matched_by;
    return r;
  } catch (const IdentityError &e) {
    if (e.sqlstate() == "40001") throw;  // raised after claiming: undo by rollback
    return failed(row, e.sqlstate(), message_of(e));
  }
}

// The error of a failed attempt, for the row that raised it.
RowResult failed_current(const SourceRow &row) {
  try {
    throw;
  } catch (const PgError &e) {
    return failed(row, unpack_sql_state(e.data()->sqlerrcode), e.data()->message ? e.data()->message : "error");
  } catch (const IdentityError &e) {
    return failed(row, e.sqlstate(), message_of(e));
  } catch (const std::exception &e) {
    return failed(row, "XX000", e.what());
  }
}

// Runs a batch in one subtransaction; on an unexpected error, again and
// again without the rows that failed, each attempt in its own subtransaction.
std::vector<RowResult> run_batch(const std::vector<SourceRow> &rows) {
  std::map<size_t, RowResult> set_aside;
  for (;;) {
    std::vector<RowResult> results;
    size_t current = 0;
    try {
      in_subtransaction([&] {
        for (current = 0; current < rows.size(); current++) {
          auto it = set_aside.find(current);
          results.push_back(it != set_aside.end() ? it->second : apply_row(rows[current]));
        }
      });
      return results;
    } catch (...) {
      if (current >= rows.size()) throw;  // the batch itself failed to commit
      set_aside.emplace(current, failed_current(rows[current]));
    }
  }
}

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
    int64_t read = 0, errors = 0, next_notice = import_progress_rows();
    for (;;) {
      spi_connect();
      std::vector<SourceRow> rows = reader.next(kBatchRows);
      std::vector<RowResult> batch = run_batch(rows);
      spi_finish();
      if (rows.empty()) break;
      for (const RowResult &r : batch) {
        put_result(results, r);
        read++;
        if (r.error_code) errors++;
        if (next_notice > 0 && read == next_notice) {
          std::string message = "import_contacts: " + std::to_string(read) + " rows done, " +
                                std::to_string(errors) + " failed";
          pg_call([&]() noexcept { ereport(NOTICE, (errmsg_internal("%s", message.c_str()))); });
          next_notice += import_progress_rows();
        }
      }
    }
    return (Datum)0;
  });
}
