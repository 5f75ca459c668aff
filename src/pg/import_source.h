// import_source.h: reading an import's source table in import order, row by
// row as the requests upsert_contact would get.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/apply.h"
#include "pg/postgres_headers.h"
#include "pg/request.h"

namespace pgshell {

// One source row as a request, or the reason it cannot be one.
struct SourceRow {
  int64_t row_number = 0;
  CallKeys keys;
  ProfileFields fields;
  std::optional<std::string> error_code;  // set: the row fails with this
  std::string error_message;
  std::string row_json;  // the row as the source had it, for error reports
};

// The options every row of one import shares.
struct ImportOptions {
  std::string dedupe_on = "external_id";
  bool restore_deleted = false;
  bool clear_nulls = false;
  int64_t account_id = 0;
};

// A cursor over the source: columns matched by name (external_id,
// contact_id, email, phone, first_name, last_name, attributes, identifiers,
// one column per identifier type, every other column an attribute), rows in
// the order of a row_number column, else in physical order.
class SourceReader {
 public:
  // Checks the columns against dedupe_on and opens the cursor. Throws
  // IdentityError before reading anything when the source cannot serve.
  SourceReader(Oid source, const ImportOptions &options);

  // The next rows, at most `limit`; empty at the end.
  std::vector<SourceRow> next(long limit);

 private:
  struct Column {
    std::string name;
    enum Role { kRowNumber, kExternalId, kContactId, kEmail, kPhone, kFirstName, kLastName, kAttributes,
                kIdentifiers, kIdentifierType, kAttribute } role;
  };
  SourceRow make_row(uint64_t index, int64_t ordinal) const;

  ImportOptions options_;
  std::vector<Column> columns_;
  Portal portal_ = nullptr;
  int64_t rows_read_ = 0;
};

}  // namespace pgshell
