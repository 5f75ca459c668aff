// import_forward.h: import_contacts on a Citus coordinator, for an account
// whose shards are on a worker. The source is a table on the coordinator,
// which the worker cannot read; so its rows travel there, a batch at a
// time in import order as JSON, and each batch is imported by
// import_forwarded(), which Citus delegates to the account's worker: the
// same import, one local transaction there per call. Row numbers are the
// source's, so the results are those of an import on one server.
#pragma once

#include "pg/import_source.h"
#include "pg/postgres_headers.h"
#include "pg/result_set.h"

namespace pgshell {

// Imports `source` into the account of `options` on its worker, adding
// the result rows to `results`. Called and returns with SPI connected; the
// caller has checked the grant and the source's SELECT privilege.
void forward_import(Oid source, const ImportOptions &options, const SourceReader &reader, const ResultSet &results);

}  // namespace pgshell
