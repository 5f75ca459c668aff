// import_batch.cpp: a batch of import rows in a subtransaction.
#include "pg/import_batch.h"

#include <map>

#include "core/identity_error.h"
#include "core/row_error.h"
#include "pg/module.h"
#include "pg/import_set_based.h"
#include "pg/pg_boundary.h"
#include "pg/subtransaction.h"
#include "pg/upsert.h"

namespace pgshell {
namespace {

using identity::IdentityError;

// Applies one row, with its request when already built. The rules'
// refusals come back as the row's result; any other error propagates (the
// row may have written part of itself, or the error is not the row's).
RowResult apply_row(const SourceRow &row, const identity::Request *request = nullptr) {
  if (row.error_code) return row_failed(row, *row.error_code, row.error_message);
  try {
    Outcome out = request ? upsert_request(row.keys.account_id, *request, row.fields, "import_contacts")
                          : upsert(row.keys, row.fields, "import_contacts");
    RowResult r;
    r.row_number = row.row_number;
    r.contact_id = out.contact_id;
    r.action = out.action;
    r.matched_by = out.matched_by;
    return r;
  } catch (const IdentityError &e) {  // raised before the row wrote anything
    return row_failed(row, e);
  }
}

// Whether the error being handled is the fault of the row that raised it
// (identity::is_row_error: the data or the rules refuse it). Anything else
// (a read-only transaction, a lock or statement timeout, a deadlock, a
// cancel, a shutdown, resources running out, a bug) ends the import.
bool is_row_error() { return identity::is_row_error(caught_error().sqlstate); }

// The error of a failed attempt, for the row that raised it.
RowResult failed_current(const SourceRow &row) {
  CaughtError e = caught_error();
  return row_failed(row, e.sqlstate, identity::row_error_text(e.message, e.detail));
}

}  // namespace

RowResult row_failed(const SourceRow &row, const std::string &code, const std::string &message) {
  RowResult r;
  r.row_number = row.row_number;
  r.error_code = code;
  r.error_message = message;
  return r;
}

RowResult row_failed(const SourceRow &row, const IdentityError &e) {
  if (!identity::is_row_error(e.sqlstate())) throw e;  // not the row's fault: the batch ends
  return row_failed(row, e.sqlstate(), identity::row_error_text(e.what(), e.detail()));
}

// Runs a batch in one subtransaction, set-based first. With
// *assume_new_keys, the first try takes the keys of new external IDs to be
// new (import_set_based.h); when that try fails (a key was not new, or any
// other row's error), the assumption is dropped for this batch and the ones
// after it (*assume_new_keys becomes false) and the batch is tried
// set-based again. On a row's error (or a concurrent writer in the way of
// the set-based plan) the batch runs again row by row, and again without
// each row that failed, every attempt in its own subtransaction. Any other
// error goes to the caller, the subtransaction rolled back.
std::vector<RowResult> run_batch(const std::vector<SourceRow> &rows, NormalizedAhead *ahead, bool *assume_new_keys) {
  for (bool assume = assume_new_keys && *assume_new_keys;; assume = false) {
    try {
      std::vector<RowResult> results;
      in_subtransaction([&] {
        results = apply_set_based(rows, [&](size_t i, const identity::Request &request) {
          return apply_row(rows[i], &request);
        }, ahead, assume);
      });
      return results;
    } catch (const SetBasedConflict &) {
      // a concurrent writer in the plan's way: row by row below
    } catch (...) {
      if (!is_row_error()) throw;
    }
    if (!assume) break;
    *assume_new_keys = false;  // the next try normalizes again: build_requests took ahead's work
  }
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
      if (current >= rows.size() || !is_row_error()) throw;  // not this row's fault: the import ends
      set_aside.emplace(current, failed_current(rows[current]));
    }
  }
}

ImportProgress::ImportProgress(std::string who, int64_t done)
    : who_(std::move(who)), done_(done), next_notice_(done + import_progress_rows()) {}

void ImportProgress::count(const RowResult &result) {
  done_++;
  if (result.error_code) failed_++;
  if (result.set_based) set_based_++;
  if (import_progress_rows() <= 0 || done_ < next_notice_) return;
  std::string message = who_ + ": " + std::to_string(done_) + " rows done, " + std::to_string(failed_) + " failed, " +
                        std::to_string(set_based_) + " set-based";
  pg_call([&]() noexcept { ereport(NOTICE, (errmsg_internal("%s", message.c_str()))); });
  next_notice_ = done_ + import_progress_rows();
}

}  // namespace pgshell
