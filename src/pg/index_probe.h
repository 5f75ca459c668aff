// index_probe.h: equality lookups through one of the extension's indexes,
// without a statement: for the reads an import batch makes by the thousand
// (the holder of each key, each contact) and for a login's one read, where
// starting an executor costs more than the probes. The rows are read with
// the snapshot given, without locks.
#pragma once

#include <vector>

#include "pg/postgres_headers.h"

extern "C" {
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/snapshot.h"
}

namespace pgshell {

// The snapshot probes read with. latest: one that sees every commit so far
// and the transaction's own writes, as a statement of ours would (a
// write's read); otherwise the calling statement's (resolve_contact, a
// STABLE function). Probes that share one read as of one moment.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(bool latest);
  ReadSnapshot(const ReadSnapshot &) = delete;
  ReadSnapshot &operator=(const ReadSnapshot &) = delete;
  Snapshot get() const { return snapshot_; }
  // Lets it go (an error's abort does otherwise).
  void release();

 private:
  Snapshot snapshot_ = nullptr;
};

class IndexProbe {
 public:
  // Opens contact_identity.<table> and its index <index>, to probe by
  // equality on the first `keys` columns of the index, reading with
  // `snapshot` (which must outlive the probe).
  IndexProbe(const char *table, const char *index, int keys, const ReadSnapshot &snapshot);
  IndexProbe(const IndexProbe &) = delete;
  IndexProbe &operator=(const IndexProbe &) = delete;
  // Nothing to release here on error: the (sub)transaction's abort does.
  ~IndexProbe() = default;

  // The rows whose index columns equal `values` (one per key column), one
  // by one: next() is false after the last. Columns of the row are read
  // with column() (1-based attribute numbers of the table).
  void probe(const Datum *values);
  bool next();
  Datum column(int attnum, bool *is_null);
  // The table's attribute number of a column, or 0 when it has none.
  int attnum(const char *column) const;

  // Closes the scan, the index and the table.
  void finish();

 private:
  Relation rel_ = nullptr;
  Relation index_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  TupleTableSlot *slot_ = nullptr;
  MemoryContext context_ = nullptr;  // where the scan was begun
  std::vector<ScanKeyData> keys_;
  std::vector<RegProcedure> equals_;  // the equality function of each key column
};

}  // namespace pgshell
