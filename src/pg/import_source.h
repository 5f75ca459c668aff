// import_source.h: reading an import's source table in import order, row by
// row as the requests upsert_contact would get.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/writer.h"
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
  std::string row_json;  // the row as the source had it, for error reports (ImportOptions::keep_row_json)
  std::optional<std::string> source_json;  // to_jsonb of the source row (ImportOptions::keep_source_json)
};

// The options every row of one import shares.
struct ImportOptions {
  std::string dedupe_on = "external_id";
  bool restore_deleted = false;
  bool clear_nulls = false;
  int64_t account_id = 0;
  bool keep_row_json = false;  // SourceRow::row_json, which run_import keeps for a failed row
  bool keep_source_json = false;  // SourceRow::source_json, which a forwarded import sends (import_forward.h)
};

// Where a paged read stands: after the row with these values, and how many
// rows came before.
struct SourcePosition {
  std::optional<std::string> row_number;  // the row_number column, as text
  std::optional<std::string> ctid;        // empty: at the start
  int64_t rows_read = 0;
};

// Reads the source: columns matched by name (external_id, contact_id,
// email, phone, first_name, last_name, attributes, identifiers, one column
// per identifier type, every other column an attribute), rows in the order
// of a row_number column (then physical order), else in physical order.
class SourceReader {
 public:
  // Checks the columns against dedupe_on. Throws IdentityError before
  // reading anything when the source cannot serve.
  SourceReader(Oid source, const ImportOptions &options);

  // Within one transaction: a cursor, and its next rows (empty at the end).
  void open_cursor();
  std::vector<SourceRow> next(long limit);
  // Closes the cursor, so the source is free again (a caller may drop it).
  void close_cursor();

  // Across commits: the rows after `position`, at most `limit`; moves
  // `position` past them.
  std::vector<SourceRow> page(SourcePosition &position, long limit);

  // The import order as an ORDER BY list: (row_number,) (tableoid,) ctid.
  std::string order_key() const;
  // Whether the source has a row_number column.
  bool has_row_number() const { return !row_number_type_.empty(); }

 private:
  struct Column {
    std::string name;
    enum Role { kRowNumber, kExternalId, kContactId, kEmail, kPhone, kFirstName, kLastName, kAttributes,
                kIdentifiers, kIdentifierType, kAttribute, kRowError } role;
  };
  SourceRow make_row(uint64_t index, int64_t ordinal) const;
  std::vector<SourceRow> page_physical(SourcePosition &position, long limit);
  std::vector<SourceRow> rows_of_result(SourcePosition &position);

  ImportOptions options_;
  std::vector<Column> columns_;
  std::string select_;            // SELECT ... FROM source AS s
  std::string row_number_type_;   // the row_number column's type, "" without one
  bool attributes_typed_ = true;  // no attributes column, or one of type json or jsonb
  bool partitioned_ = false;      // a partitioned table: ctids repeat across partitions
  Datum source_datum_;            // the source's OID
  Portal portal_ = nullptr;
  SourcePosition cursor_position_;
};

}  // namespace pgshell
