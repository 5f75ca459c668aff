// import_batch.h: applying a batch of source rows, for import_contacts and
// run_import.
//
// One subtransaction per batch (one per row would hold a lock per row until
// commit). Errors the rules raise are found before a row writes anything and
// cost nothing; another error of the row's own (core/row_error.h: the data
// or a constraint refuses it) rolls the batch back, and the batch runs again
// with the failing row set aside. Any other error (a read-only transaction,
// a timeout, a deadlock, a cancel, ...) is not the row's: it rolls the batch
// back and ends the call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/identity_error.h"
#include "pg/import_source.h"

namespace pgshell {

// What became of one source row.
struct RowResult {
  int64_t row_number = 0;
  std::optional<int64_t> contact_id;
  std::optional<std::string> action, matched_by, error_code, error_message;
  bool set_based = false;  // written by the batch's multi-row statements
};

// The result of a row that fails with this error. An IdentityError that
// is not a row's (identity::is_row_error) is thrown instead: it ends the
// batch.
RowResult row_failed(const SourceRow &row, const std::string &code, const std::string &message);
RowResult row_failed(const SourceRow &row, const identity::IdentityError &error);

// Applies the rows in order, each as upsert_contact with the import's
// dedupe_on would; one result per row, or the error that is no row's (its
// subtransaction rolled back). Needs SPI. `ahead`, when given, has
// been started on these rows' keys. `assume_new_keys`, when given, is the
// import's: true until a batch finds a key of a new external ID taken
// (import_set_based.h), then false for the rest of the import.
std::vector<RowResult> run_batch(const std::vector<SourceRow> &rows, NormalizedAhead *ahead = nullptr,
                                 bool *assume_new_keys = nullptr);

// Counts results and says so in a NOTICE every
// contact_identity.import_progress_rows rows: rows done, failed, and how
// many of them the set-based path decided (the rest went row by row).
class ImportProgress {
 public:
  explicit ImportProgress(std::string who, int64_t done = 0);
  void count(const RowResult &result);

 private:
  std::string who_;
  int64_t done_ = 0, failed_ = 0, set_based_ = 0, next_notice_ = 0;
};

}  // namespace pgshell
