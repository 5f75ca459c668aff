// bulk_insert.h: writing rows of one of the extension's tables the way COPY
// FROM does: through the table access method's multi-insert with a
// BulkInsertState, each row's CHECK and NOT NULL constraints checked and its
// index entries inserted (a unique violation is an error, as for INSERT),
// without a statement to plan or an executor to start.
//
// Only for a table with no trigger and no rule (whose work this path would
// skip) and whose columns are all given: usable() says so, and the caller
// writes through SPI otherwise (an SQL script older than 0.5.0 keeps
// foreign keys, which are triggers; a DBA may add an audit trigger).
#pragma once

#include <string>
#include <vector>

#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"
#include "pg/spi.h"

extern "C" {
#include "nodes/execnodes.h"
}

namespace pgshell {

class BulkInsert {
 public:
  // Opens contact_identity.<table> for rows of these columns, in this order.
  BulkInsert(const char *table, const std::vector<const char *> &columns);
  BulkInsert(const BulkInsert &) = delete;
  BulkInsert &operator=(const BulkInsert &) = delete;
  // Nothing to release here on error: the (sub)transaction's abort closes
  // the relation and frees the executor state.
  ~BulkInsert() = default;

  bool usable() const { return usable_; }

  // Adds one row; values and nulls in the order of `columns`. The datums
  // must live until the rows are written: make them in rows_context(),
  // which is emptied each time they are.
  void add(const Datum *values, const bool *nulls);
  MemoryContext rows_context() const { return rows_context_; }

  // Writes one row at once, unless a row with the same value of a unique
  // index is there or being written: INSERT ... ON CONFLICT DO NOTHING
  // without the statement, and without its look before the write (the
  // caller has just looked). A conflict is then found by the index
  // insertion itself, and the row is taken back as ON CONFLICT takes it
  // back after a race: false, and nothing written. Never waits for the
  // other writer; the caller decides again. Buffered rows are written first.
  bool insert_unless_conflict(const Datum *values, const bool *nulls);

  // Writes the buffered rows and their index entries, closes the table, and
  // makes the rows visible to the next statement. Also when not usable.
  void finish();

  // The current transaction's start (now() in SQL), for timestamp columns.
  static Datum now();

 private:
  void flush();
  // Puts a row into the idx-th slot (made on first use) and checks its
  // constraints.
  TupleTableSlot *fill_slot(size_t idx, const Datum *values, const bool *nulls);

  Relation rel_ = nullptr;
  EState *estate_ = nullptr;
  ResultRelInfo *result_rel_ = nullptr;
  struct BulkInsertStateData *bistate_ = nullptr;
  std::vector<int> attribute_of_;  // per column given: its index in the tuple descriptor
  std::vector<TupleTableSlot *> slots_;
  MemoryContext rows_context_ = nullptr;
  int buffered_ = 0;
  bool usable_ = false;
  bool checks_ = false;  // the table has constraints to check
};

// A row's columns as the datums and null flags BulkInsert takes, from
// statement parameters.
template <size_t N>
struct RowOf {
  Datum values[N];
  bool nulls[N];
  explicit RowOf(const Param (&columns)[N]) {
    for (size_t c = 0; c < N; c++) {
      values[c] = columns[c].value;
      nulls[c] = columns[c].is_null;
    }
  }
};

// Registers the invalidation of the cached CHECK constraints; from _PG_init.
void register_bulk_insert();

// A memory context for short-lived datums (probe keys), emptied every
// `uses` calls of get(); freed with its parent.
class ScratchContext {
 public:
  // parent: where the context lives (nullptr: CurrentMemoryContext at the
  // first get(); a static one needs TopMemoryContext).
  explicit ScratchContext(MemoryContext parent = nullptr) : parent_(parent) {}
  MemoryContext get(int uses);

 private:
  MemoryContext parent_;
  MemoryContext context_ = nullptr;
  int used_ = 0;
};

}  // namespace pgshell
