// row_error.h: which errors fail one import row and which end the import.
//
// A bad row is a row the rules or the data refuse; such a row fails alone
// and the import goes on. Anything else belongs to the session or the
// server (a read-only transaction, a lock or statement timeout, a deadlock,
// a serialization failure, running out of memory, a cancel, a shutdown)
// and ends the call, or run_import's batch: taken for a bad row, it would
// report a good row as failed and never apply it.
#pragma once

#include <string>
#include <string_view>

namespace identity {

// Whether an error with this SQLSTATE is the fault of the row that raised
// it: class 22 (data exception), class 23 (integrity constraint violation),
// and the rules' own refusals outside them, 55000 (an external ID that
// never changes, a contact merged or deleted) and P0002 (dedupe_on
// contact_id with an unknown contact). An allow-list: an SQLSTATE nobody
// thought of ends the import rather than losing a row.
bool is_row_error(std::string_view sqlstate);

// How a row's result (and identifier_normal_form's `refused`) states an
// error: its message, then ": " and its detail when it has one.
std::string row_error_text(const std::string &message, const std::string &detail);

}  // namespace identity
