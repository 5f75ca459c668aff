// import_forward.h: imports on a Citus coordinator, for an account whose
// shards are on a worker. The source is a table on the coordinator, which
// the worker cannot read; so its rows travel there, a batch at a time in
// import order, as JSON with their row numbers, and each batch is imported
// by import_forwarded(), which Citus delegates to the account's worker:
// the same import as on one server, in the caller's transaction. The
// results are those of the rows, in their order.
#pragma once

#include <string>
#include <vector>

#include "pg/import_batch.h"
#include "pg/import_source.h"
#include "pg/postgres_headers.h"

namespace pgshell {

// What the worker needs to rebuild the source's rows: its columns' names
// and types, and whether it numbers its rows itself.
struct ForwardedSource {
  std::vector<std::string> names, types;
  bool has_row_number = false;
};
ForwardedSource forwarded_source(Oid source, const SourceReader &reader);

// Imports rows (read with ImportOptions::keep_source_json) into the
// account of `options` on its worker; one result per row, in order. Needs SPI.
std::vector<RowResult> forward_rows(const ForwardedSource &source, const std::vector<SourceRow> &rows,
                                    const ImportOptions &options);

}  // namespace pgshell
