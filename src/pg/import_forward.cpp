// import_forward.cpp: import_contacts from the coordinator, batch by batch
// through the delegated import_forwarded().
#include "pg/import_forward.h"

#include <string>
#include <vector>

#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

// Rows per delegated call: a few megabytes of JSON.
constexpr long kForwardRows = 10000;

// The call Citus delegates to the account's worker (a function in FROM,
// its account a constant once the one-shot plan has the values).
const char *kForwardSql =
    "SELECT r.row_number, r.contact_id, r.action, r.matched_by, r.error_code, r.error_message"
    " FROM contact_identity.import_forwarded($1, $2, $3, $4, $5, $6, $7) AS r";

Statement columns_statement{
    "SELECT a.attname::pg_catalog.text, a.atttypid::pg_catalog.regtype::pg_catalog.text"
    " FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) $1"
    " AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped ORDER BY a.attnum",
    {OIDOID}};

// The source's columns, names and types, in order.
void source_columns(Oid source, std::vector<std::string> &names, std::vector<std::string> &types) {
  uint64_t n = execute(columns_statement, {Param{ObjectIdGetDatum(source), false}}, true);
  for (uint64_t r = 0; r < n; r++) {
    names.push_back(result_text(r, 1).value_or(""));
    types.push_back(result_text(r, 2).value_or("text"));
  }
}

// A cursor over the source in import order, each row as JSON text with
// its row number (the source's own row_number column, else its ordinal).
Portal open_source(Oid source, const SourceReader &reader) {
  const char *relation = pg_call([&]() noexcept {
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)), get_rel_name(source));
  });
  std::string order = reader.order_key();
  std::string row = reader.has_row_number()
                        ? "pg_catalog.to_jsonb(s)"
                        : "pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('row_number',"
                          " pg_catalog.row_number() OVER (ORDER BY " + order + "))";
  std::string sql = "SELECT (" + row + ")::pg_catalog.text FROM " + relation + " AS s ORDER BY " + order;
  return pg_call([&]() noexcept -> Portal {
    SPIPlanPtr plan = SPI_prepare(sql.c_str(), 0, nullptr);
    if (plan == nullptr) elog(ERROR, "contact_identity: could not prepare the source query: %s", sql.c_str());
    return SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
  });
}

// The next batch of rows as one JSON array; empty at the end.
std::string next_batch(Portal portal) {
  std::vector<std::string> rows;
  pg_call([&]() noexcept {
    if (SPI_tuptable != nullptr) SPI_freetuptable(SPI_tuptable);
    SPI_cursor_fetch(portal, true, kForwardRows);
  });
  for (uint64_t r = 0; r < SPI_processed; r++) rows.push_back(result_text(r, 1).value_or("null"));
  if (rows.empty()) return "";
  std::string json = "[";
  for (size_t i = 0; i < rows.size(); i++) json += (i ? "," : "") + rows[i];
  return json + "]";
}

// Sends one batch; its result rows go to `results`.
void import_batch_there(const std::string &json, const std::vector<std::string> &names,
                        const std::vector<std::string> &types, const ImportOptions &options,
                        const ResultSet &results) {
  std::vector<Param> params = {jsonb_param(json),
                               text_array_param(names),
                               text_array_param(types),
                               text_param(options.dedupe_on),
                               bool_param(options.restore_deleted),
                               bool_param(options.clear_nulls),
                               int8_param(options.account_id)};
  std::vector<Oid> argtypes = {JSONBOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID, BOOLOID, BOOLOID, INT8OID};
  std::vector<Datum> values;
  std::string nulls;
  for (const Param &p : params) {
    values.push_back(p.value);
    nulls += p.is_null ? 'n' : ' ';
  }
  pg_call([&]() noexcept {
    if (SPI_tuptable != nullptr) SPI_freetuptable(SPI_tuptable);
    // One-shot: planned with the values, so the account is a constant and
    // Citus delegates the call.
    int rc = SPI_execute_with_args(kForwardSql, (int)argtypes.size(), argtypes.data(), values.data(), nulls.c_str(),
                                   false, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "contact_identity: forwarding an import batch failed: %s",
                                  SPI_result_code_string(rc));
    for (uint64 r = 0; r < SPI_processed; r++) {
      Datum row[6];
      bool isnull[6];
      for (int c = 0; c < 6; c++) row[c] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1, &isnull[c]);
      tuplestore_putvalues(results.store, results.desc, row, isnull);
    }
  });
}

}  // namespace

void forward_import(Oid source, const ImportOptions &options, const SourceReader &reader, const ResultSet &results) {
  std::vector<std::string> names, types;
  source_columns(source, names, types);
  Portal portal = open_source(source, reader);
  // One SPI connection per batch, as import_contacts runs them: what a
  // batch allocates (its JSON, its parameters) goes at its end. The
  // cursor lives on between connections.
  spi_finish();
  for (;;) {
    spi_connect();
    std::string json = next_batch(portal);
    if (json.empty()) break;
    import_batch_there(json, names, types, options, results);
    spi_finish();
  }
  pg_call([&]() noexcept { SPI_cursor_close(portal); });
}

}  // namespace pgshell
