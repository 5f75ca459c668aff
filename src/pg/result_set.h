// result_set.h: the rows a set-returning function hands back, in
// materialize mode (a tuplestore), the same way on every supported version.
#pragma once

#include "pg/postgres_headers.h"

namespace pgshell {

struct ResultSet {
  Tuplestorestate *store;
  TupleDesc desc;
};

// Sets up the function's result as a tuplestore; `function` names it in the
// error raised when the caller cannot take a set.
ResultSet open_result_set(FunctionCallInfo fcinfo, const char *function);

// Appends one row (values in the result's column order).
void put_row(const ResultSet &set, Datum *values, bool *nulls);

}  // namespace pgshell
