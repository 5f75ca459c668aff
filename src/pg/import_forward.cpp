// import_forward.cpp: a batch of source rows imported on the account's
// worker through the delegated import_forwarded().
#include "pg/import_forward.h"

#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

// The call Citus delegates to the account's worker (a function in FROM;
// planned with the values, so that its account is a constant).
const char *kForwardSql =
    "SELECT r.row_number, r.contact_id, r.action, r.matched_by, r.error_code, r.error_message"
    " FROM contact_identity.import_forwarded($1, $2, $3, $4, $5, $6, $7) AS r";

Statement columns_statement{
    "SELECT a.attname::pg_catalog.text, a.atttypid::pg_catalog.regtype::pg_catalog.text"
    " FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) $1"
    " AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped ORDER BY a.attnum",
    {OIDOID}};

// The rows as one JSON array, each with its row number.
std::string rows_json(const ForwardedSource &source, const std::vector<SourceRow> &rows) {
  identity::JsonArray json;
  for (const SourceRow &r : rows) {
    const std::string &row = r.source_json.value();
    if (source.has_row_number)
      json.raw(row);
    else  // an object: its ordinal goes in after its columns
      json.add(identity::JsonObject().members_of(row).field("row_number", r.row_number));
  }
  return json.str();
}

}  // namespace

ForwardedSource forwarded_source(Oid source, const SourceReader &reader) {
  ForwardedSource out;
  uint64_t n = execute(columns_statement, {Param{ObjectIdGetDatum(source), false}}, true);
  for (uint64_t r = 0; r < n; r++) {
    out.names.push_back(result_text(r, 1).value_or(""));
    out.types.push_back(result_text(r, 2).value_or("text"));
  }
  out.has_row_number = reader.has_row_number();
  return out;
}

std::vector<RowResult> forward_rows(const ForwardedSource &source, const std::vector<SourceRow> &rows,
                                    const ImportOptions &options) {
  std::vector<RowResult> results;
  if (rows.empty()) return results;
  std::vector<Param> params = {jsonb_param(rows_json(source, rows)), text_array_param(source.names),
                               text_array_param(source.types),       text_param(options.dedupe_on),
                               bool_param(options.restore_deleted),  bool_param(options.clear_nulls),
                               int8_param(options.account_id)};
  Oid argtypes[7] = {JSONBOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID, BOOLOID, BOOLOID, INT8OID};
  Datum values[7];
  char nulls[8] = "       ";
  for (size_t i = 0; i < params.size(); i++) {
    values[i] = params[i].value;
    if (params[i].is_null) nulls[i] = 'n';
  }
  uint64_t n = pg_call([&]() noexcept {
    if (SPI_tuptable != nullptr) SPI_freetuptable(SPI_tuptable);
    int rc = SPI_execute_with_args(kForwardSql, 7, argtypes, values, nulls, false, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "contact_identity: forwarding an import batch failed: %s",
                                  SPI_result_code_string(rc));
    return (uint64_t)SPI_processed;
  });
  if (n != rows.size())
    throw identity::IdentityError(identity::sqlstate::kInternalError,
                                  "contact_identity: the worker imported " + std::to_string(n) + " of " +
                                      std::to_string(rows.size()) + " rows sent");
  for (uint64_t r = 0; r < n; r++) {
    RowResult result;
    result.row_number = result_int8(r, 1).value_or(0);
    result.contact_id = result_int8(r, 2);
    result.action = result_text(r, 3);
    result.matched_by = result_text(r, 4);
    result.error_code = result_text(r, 5);
    result.error_message = result_text(r, 6);
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace pgshell
