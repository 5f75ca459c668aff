// row_error_test.cpp: which SQLSTATEs fail one import row (the data or the
// rules refuse it) and which end the import (the session or the server).
#include <gtest/gtest.h>

#include "core/row_error.h"

namespace identity {
namespace {

struct Case {
  const char *sqlstate;
  bool row_error;
  const char *why;
};

const Case kCases[] = {
    {"22023", true, "an invalid value (the rules' normalization)"},
    {"22004", true, "a NULL where a value is needed"},
    {"22P02", true, "invalid JSON text in an attributes column"},
    {"22001", true, "any data exception of PostgreSQL's"},
    {"23505", true, "a key another contact holds"},
    {"23514", true, "a check constraint a DBA added"},
    {"55000", true, "an external ID that never changes"},
    {"P0002", true, "dedupe_on contact_id with an unknown contact"},
    {"25006", false, "a read-only transaction or a standby"},
    {"55P03", false, "lock_timeout: another session holds the contact"},
    {"55006", false, "an object in use"},
    {"57014", false, "a cancel or statement_timeout"},
    {"57P01", false, "admin shutdown"},
    {"40001", false, "a serialization failure"},
    {"40P01", false, "a deadlock"},
    {"53200", false, "out of memory"},
    {"53100", false, "disk full"},
    {"54000", false, "a program limit"},
    {"08006", false, "a connection failure"},
    {"42501", false, "a missing privilege"},
    {"P0001", false, "a trigger's RAISE EXCEPTION without an SQLSTATE of the row's"},
    {"XX000", false, "an internal error"},
    {"XX001", false, "data corruption"},
    {"", false, "no SQLSTATE at all"},
    {"22", false, "a class alone is no SQLSTATE"},
};

TEST(RowError, OnlyTheDataAndTheRulesFailARow) {
  for (const Case &c : kCases) EXPECT_EQ(is_row_error(c.sqlstate), c.row_error) << c.sqlstate << ": " << c.why;
}

}  // namespace
}  // namespace identity
