// import_source.cpp: column matching and row conversion for imports.
#include "pg/import_source.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::IdentityError;

// A source column that, when not NULL, makes its row fail with that message
// (import_contacts_json reports JSON it cannot map this way).
constexpr const char *kRowErrorColumn = "_contact_identity_error";

Statement columns_statement{
    "SELECT a.attname::pg_catalog.text, pg_catalog.format_type(a.atttypid, a.atttypmod)"
    " FROM pg_catalog.pg_attribute a"
    " WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum",
    {OIDOID}};

// The source's kind, and whether it is one of the extension's own tables
// (importing contacts from contacts writes the rows it is reading: it would
// never end).
Statement relkind_statement{
    "SELECT c.relkind::pg_catalog.text, n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['contact_identity',"
    " 'contact_identity_segments']) FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
    " WHERE c.oid OPERATOR(pg_catalog.=) $1",
    {OIDOID}};

// "name" as an SQL identifier.
std::string quote_ident(const std::string &name) {
  std::string out = "\"";
  for (char c : name) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::optional<int64_t> parse_int8(const std::string &text) {
  errno = 0;
  char *end = nullptr;
  long long v = strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace

SourceReader::SourceReader(Oid source, const ImportOptions &options)
    : options_(options), source_datum_(ObjectIdGetDatum(source)) {
  // Rows are read in physical order, so the source must have one.
  execute(relkind_statement, {Param{ObjectIdGetDatum(source), false}}, false);
  std::string relkind = result_text(0, 1).value_or("");
  partitioned_ = relkind == "p";
  if (relkind != "r" && relkind != "p" && relkind != "m")
    throw IdentityError(identity::sqlstate::kWrongObjectType, "import source must be a table",
                        "Views and foreign tables have no physical row order to import and resume by.",
                        "Copy the rows into a table first, e.g. CREATE TEMP TABLE src AS SELECT * FROM the_view.");
  if (result_bool(0, 2))
    throw IdentityError(identity::sqlstate::kWrongObjectType, "import source must not be a table of contact_identity",
                        "An import writes those tables, so it would read the rows it writes.",
                        "Copy the rows into a table of your own first.");
  std::set<std::string> type_names;  // the per-type columns (the external ID has its own)
  std::shared_ptr<const TypeMap> types = identifier_types();
  for (const auto &[name, info] : *types)
    if (info.key_class != identity::KeyClass::kExternalId) type_names.insert(name);

  uint64_t n = execute(columns_statement, {Param{ObjectIdGetDatum(source), false}}, false);
  std::vector<std::string> names, column_types;
  for (uint64_t r = 0; r < n; r++) {
    names.push_back(result_text(r, 1).value_or(""));
    column_types.push_back(result_text(r, 2).value_or(""));
  }
  std::set<std::string> present;
  for (size_t i = 0; i < names.size(); i++) {
    const std::string &name = names[i];
    Column c{name, Column::kAttribute};
    if (name == "row_number") c.role = Column::kRowNumber, row_number_type_ = column_types[i];
    else if (name == "external_id") c.role = Column::kExternalId;
    else if (name == "contact_id") c.role = Column::kContactId;
    else if (name == "email") c.role = Column::kEmail;
    else if (name == "phone") c.role = Column::kPhone;
    else if (name == "first_name") c.role = Column::kFirstName;
    else if (name == "last_name") c.role = Column::kLastName;
    else if (name == "attributes") {
      c.role = Column::kAttributes;
      attributes_typed_ = column_types[i] == "jsonb" || column_types[i] == "json";
    }
    else if (name == "identifiers") c.role = Column::kIdentifiers;
    else if (name == kRowErrorColumn) c.role = Column::kRowError;
    else if (type_names.count(name)) c.role = Column::kIdentifierType;
    present.insert(name);
    columns_.push_back(c);
  }

  const std::string &dedupe = options_.dedupe_on;
  dedupe_search_order(dedupe, type_names);  // refuses an unknown dedupe_on
  // The dedupe key's column must be there before anything is read; an
  // identifier type (email and phone included) may also come in the
  // identifiers column.
  std::vector<std::string> wanted = {dedupe};
  if (dedupe == "email_or_phone") wanted = {"email", "phone"};
  bool found = dedupe != "external_id" && dedupe != "contact_id" && present.count("identifiers") > 0;
  for (const std::string &w : wanted) found = found || present.count(w) > 0;
  if (!found)
    throw IdentityError(identity::sqlstate::kUndefinedColumn, "source has no " + dedupe + " column",
                        "dedupe_on " + dedupe + " searches by that column; the source has: " +
                            [&] {
                              std::string list;
                              for (const std::string &name : names) list += (list.empty() ? "" : ", ") + name;
                              return list;
                            }() + ".",
                        "Add the column, or import with another dedupe_on.");

  // Every column as text, other columns as JSON: reading never fails here;
  // bad values fail their own row later.
  std::string sql = "SELECT ";
  for (size_t i = 0; i < columns_.size(); i++) {
    const Column &c = columns_[i];
    if (i > 0) sql += ", ";
    if (c.role == Column::kAttribute)
      sql += "pg_catalog.to_jsonb(s." + quote_ident(c.name) + ")::pg_catalog.text";
    else
      sql += "s." + quote_ident(c.name) + "::pg_catalog.text";
  }
  if (columns_.empty()) sql += "NULL";
  // Where each row stands, for paging across commits. A ctid names a row
  // within one table only: for a partitioned source the partition goes first.
  sql += std::string(", ") + (row_number_type_.empty() ? "NULL" : "s.row_number::pg_catalog.text") + ", " +
         (partitioned_ ? "s.tableoid::pg_catalog.regclass::pg_catalog.text OPERATOR(pg_catalog.||) ' '"
                         " OPERATOR(pg_catalog.||) s.ctid::pg_catalog.text"
                       : "s.ctid::pg_catalog.text");
  if (options_.keep_source_json) sql += ", pg_catalog.to_jsonb(s)::pg_catalog.text";
  const char *relation = pg_call([&]() noexcept {
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)), get_rel_name(source));
  });
  select_ = sql + " FROM " + relation + " AS s";
}

std::string SourceReader::order_key() const {
  std::string key = partitioned_ ? "s.tableoid, s.ctid" : "s.ctid";
  return row_number_type_.empty() ? key : "s.row_number, " + key;
}

void SourceReader::open_cursor() {
  std::string sql = select_ + " ORDER BY " + order_key();
  portal_ = pg_call([&]() noexcept -> Portal {
    SPIPlanPtr plan = SPI_prepare(sql.c_str(), 0, nullptr);
    if (plan == nullptr) elog(ERROR, "contact_identity: could not prepare the source query: %s", sql.c_str());
    return SPI_cursor_open(nullptr, plan, nullptr, nullptr, false);
  });
}

std::vector<SourceRow> SourceReader::next(long limit) {
  pg_call([&]() noexcept { SPI_cursor_fetch(portal_, true, limit); });
  return rows_of_result(cursor_position_);
}

void SourceReader::close_cursor() {
  if (portal_ == nullptr) return;
  Portal portal = portal_;
  portal_ = nullptr;
  pg_call([&]() noexcept { SPI_cursor_close(portal); });
}

// Runs one page query: its rows are in SPI_tuptable.
void run_page_query(const std::string &sql, const std::vector<Oid> &types, const std::vector<Param> &params) {
  pg_call([&]() noexcept {
    Datum values[3];
    char nulls[3] = {' ', ' ', ' '};
    for (size_t i = 0; i < params.size(); i++) {
      values[i] = params[i].value;
      if (params[i].is_null) nulls[i] = 'n';
    }
    int rc = SPI_execute_with_args(sql.c_str(), (int)types.size(), const_cast<Oid *>(types.data()), values, nulls,
                                   true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "contact_identity: reading the source failed: %s", SPI_result_code_string(rc));
  });
}

std::vector<SourceRow> SourceReader::page(SourcePosition &position, long limit) {
  if (row_number_type_.empty() && !partitioned_) return page_physical(position, limit);
  // After the last row read, in import order: (row_number,) (partition,) ctid.
  std::string sql = select_;
  std::vector<Oid> types;
  std::vector<Param> params;
  if (position.ctid) {
    std::string ctid = *position.ctid, partition;
    if (partitioned_) {  // "partition (block,offset)"
      size_t space = ctid.rfind(' ');
      partition = ctid.substr(0, space);
      ctid = ctid.substr(space + 1);
    }
    std::string after = "$1::pg_catalog.tid";
    types.push_back(TEXTOID);
    params.push_back(text_param(ctid));
    if (partitioned_) {
      types.push_back(TEXTOID);
      params.push_back(text_param(partition));
      after = "$2::pg_catalog.regclass::pg_catalog.oid, " + after;
    }
    if (!row_number_type_.empty()) {
      types.push_back(TEXTOID);
      params.push_back(text_param(position.row_number));
      after = "$" + std::to_string(types.size()) + "::" + row_number_type_ + ", " + after;
    }
    sql += " WHERE (" + order_key() + ") OPERATOR(pg_catalog.>) (" + after + ")";
  }
  sql += " ORDER BY " + order_key() + " LIMIT " + std::to_string(limit);
  run_page_query(sql, types, params);
  return rows_of_result(position);
}

// Physical order of a plain table: a window of blocks after the last row
// read, so that each page sorts the rows of its window only. Sorting
// everything after the last row made every page cost the rest of the table.
std::vector<SourceRow> SourceReader::page_physical(SourcePosition &position, long limit) {
  pg_call([&]() noexcept {
    Oid type = REGCLASSOID;
    int rc = SPI_execute_with_args("SELECT pg_catalog.pg_relation_size($1) OPERATOR(pg_catalog./)"
                                   " pg_catalog.current_setting('block_size')::pg_catalog.int8",
                                   1, &type, &source_datum_, nullptr, true, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "contact_identity: reading the source size failed");
  });
  const int64_t blocks = result_int8(0, 1).value_or(0);
  std::string from = position.ctid.value_or("(0,0)");  // ctid > (b,0): from block b on
  int64_t block = std::stoll(from.substr(1, from.find(',') - 1));
  int64_t window = 64;
  std::vector<SourceRow> rows;
  while (static_cast<long>(rows.size()) < limit && block < blocks) {
    int64_t end = block + window;
    std::string sql = select_ + " WHERE s.ctid OPERATOR(pg_catalog.>) $1::pg_catalog.tid"
                      " AND s.ctid OPERATOR(pg_catalog.<) $2::pg_catalog.tid ORDER BY s.ctid LIMIT " +
                      std::to_string(limit - static_cast<long>(rows.size()));
    run_page_query(sql, {TEXTOID, TEXTOID}, {text_param(from), text_param("(" + std::to_string(end) + ",0)")});
    std::vector<SourceRow> more = rows_of_result(position);
    for (SourceRow &row : more) rows.push_back(std::move(row));
    if (static_cast<long>(rows.size()) >= limit) break;
    // The window is used up: go on after it, with a wider one.
    from = "(" + std::to_string(end) + ",0)";
    block = end;
    window *= 2;
  }
  return rows;
}

// The fetched rows as requests; the position moves past them.
std::vector<SourceRow> SourceReader::rows_of_result(SourcePosition &position) {
  uint64_t n = SPI_processed;
  int width = static_cast<int>(columns_.size()) + 1;  // NULL stand-in when there is no column
  if (!columns_.empty()) width = static_cast<int>(columns_.size());
  std::vector<SourceRow> rows;
  for (uint64_t r = 0; r < n; r++) {
    rows.push_back(make_row(r, ++position.rows_read));
    position.row_number = result_text(r, width + 1);
    position.ctid = result_text(r, width + 2);
    if (options_.keep_source_json) rows.back().source_json = result_text(r, width + 3);
  }
  pg_call([]() noexcept { SPI_freetuptable(SPI_tuptable); });
  return rows;
}

// Converts row `index` of the fetched batch; a value that cannot serve makes
// the row fail, never the import.
SourceRow SourceReader::make_row(uint64_t index, int64_t ordinal) const {
  SourceRow row;
  row.row_number = ordinal;
  row.keys.account_id = options_.account_id;
  row.keys.dedupe_on = options_.dedupe_on;
  row.keys.restore_deleted = options_.restore_deleted;
  row.keys.clear_nulls = options_.clear_nulls;
  row.fields.clear_nulls = options_.clear_nulls;
  std::optional<std::string> attributes;
  identity::JsonObject row_json, extra_attributes;
  const bool json = options_.keep_row_json;
  auto fail = [&](const std::string &code, const std::string &message) {
    if (!row.error_code) row.error_code = code, row.error_message = message;
  };
  for (size_t i = 0; i < columns_.size(); i++) {
    const Column &c = columns_[i];
    std::optional<std::string> v = result_text(index, static_cast<int>(i) + 1);
    if (json && c.role == Column::kAttribute) row_json.raw(c.name, v.value_or("null"));  // JSON text already
    else if (json) row_json.field(c.name, v);
    switch (c.role) {
      case Column::kRowNumber:
        if (v) {
          if (auto number = parse_int8(*v)) row.row_number = *number;
          else fail(identity::sqlstate::kInvalidTextRepresentation, "invalid row_number " + identity::quoted(*v));
        }
        break;
      case Column::kExternalId: row.keys.external_id = v; break;
      case Column::kContactId:  // only dedupe_on contact_id targets IDs: an export loads anywhere
        if (v && options_.dedupe_on == "contact_id") {
          if (auto id = parse_int8(*v)) row.keys.contact_id = id;
          else fail(identity::sqlstate::kInvalidTextRepresentation, "invalid contact_id " + identity::quoted(*v));
        }
        break;
      case Column::kEmail: row.keys.email = v; break;
      case Column::kPhone: row.keys.phone = v; break;
      case Column::kFirstName: row.fields.first_name = v; break;
      case Column::kLastName: row.fields.last_name = v; break;
      case Column::kAttributes: attributes = v; break;
      case Column::kIdentifiers: row.keys.identifiers_json = v; break;
      case Column::kIdentifierType:
        if (v) row.keys.more_identifiers.push_back({c.name, *v});
        break;
      case Column::kRowError:
        if (v) fail(identity::sqlstate::kInvalidParameterValue, *v);
        break;
      case Column::kAttribute:
        if (v || options_.clear_nulls) extra_attributes.raw(c.name, v.value_or("null"));
        break;
    }
  }
  if (json) row.row_json = row_json.str();
  // Made of to_jsonb of the other columns, and a json column's text: valid.
  row.fields.attributes_parse = !attributes || attributes_typed_;
  if (attributes && (attributes->empty() || (*attributes)[0] != '{'))
    fail(identity::sqlstate::kInvalidParameterValue, "attributes must be a JSON object, not " + identity::quoted(*attributes));
  // The attributes column, then the other columns over it.
  if (attributes && !extra_attributes.empty()) {
    row.fields.attributes_json = identity::JsonObject().members_of(*attributes).members_of(extra_attributes.str()).str();
  } else if (attributes) {
    row.fields.attributes_json = attributes;
  } else if (!extra_attributes.empty()) {
    row.fields.attributes_json = extra_attributes.str();
  }
  return row;
}

}  // namespace pgshell
