// import_set_based.h: an import batch written with a few multi-row
// statements instead of one upsert per row.
//
// The batch's requests are built at once, the holders of all its keys and
// the state of all contacts involved are read by index probes, and
// core/batch_plan.h decides which rows are plain creates and updates. Those
// are written together: new contacts, their identifiers and the log through
// the table access method (bulk_insert.h), changed contacts by one UPDATE;
// a contact the row would not change is neither locked nor written. The
// other rows (merges, moves, restores, rows sharing a key or contact with an
// earlier row) then run row by row, in source order.
//
// The reads take no locks, so the writes check that nothing changed under
// them: the contacts to update are locked and read again, and a new key a
// concurrent writer inserted meanwhile is a unique violation. Either way
// the caller runs the batch again row by row, where every row claims and
// locks its keys.
//
// With `assume_new_keys`, the other keys of a row whose external ID no
// contact has are taken to be new without reading them (an import of new
// people reads one key per row instead of three). A key that is not new
// then makes the index insertion fail like a concurrent writer's, and the
// caller runs the batch again without the assumption (run_batch).
#pragma once

#include <functional>
#include <vector>

#include "pg/import_batch.h"
#include "pg/writer.h"
#include "pg/import_source.h"

namespace pgshell {

// Applies the batch; row_by_row(i, request) applies row i the slow way,
// with its request already built. One result per row, in order. Needs SPI.
using RowByRow = std::function<RowResult(size_t, const identity::Request &)>;
std::vector<RowResult> apply_set_based(const std::vector<SourceRow> &rows, const RowByRow &row_by_row,
                                       NormalizedAhead *ahead = nullptr, bool assume_new_keys = false);

}  // namespace pgshell
