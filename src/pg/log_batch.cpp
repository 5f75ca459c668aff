// log_batch.cpp: writing identity_log rows, many per statement.
#include "pg/log_batch.h"

#include "pg/bulk_insert.h"
#include "pg/config_cache.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/namespace.h"
}

namespace pgshell {
namespace {

#define UNNEST(n, type) "pg_catalog.unnest($" #n "::pg_catalog." type "[])"

// One row per contact a decision changed (0.5.0 on).
Statement rows_statement{
    "INSERT INTO contact_identity.identity_log (account_id, log_id, contact_id, action, matched_by, other_contact_id,"
    " detail) OVERRIDING SYSTEM VALUE"
    " SELECT $1, pg_catalog.nextval('contact_identity.identity_log_log_id_seq'::pg_catalog.regclass), l.contact_id, l.action, l.matched_by, l.other, CAST(l.detail AS pg_catalog.jsonb)"
    " FROM ROWS FROM (" UNNEST(2, "int8") ", " UNNEST(3, "text") ", " UNNEST(4, "text") ", " UNNEST(5, "int8") ", "
    UNNEST(6, "text") ") AS l(contact_id, action, matched_by, other, detail)",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID}};

// One row per step, as before 0.5.0 (an older SQL script).
Statement steps_statement{
    "INSERT INTO contact_identity.identity_log (account_id, log_id, contact_id, action, matched_by,"
    " identifier_type, identifier_value, other_contact_id, detail) OVERRIDING SYSTEM VALUE"
    " SELECT $1, pg_catalog.nextval('contact_identity.identity_log_log_id_seq'::pg_catalog.regclass), l.contact_id, l.action, l.matched_by, l.type, l.value, l.other,"
    " CAST(l.detail AS pg_catalog.jsonb)"
    " FROM ROWS FROM (" UNNEST(2, "int8") ", " UNNEST(3, "text") ", " UNNEST(4, "text") ", " UNNEST(5, "text") ", "
    UNNEST(6, "text") ", " UNNEST(7, "int8") ", " UNNEST(8, "text") ")"
    " AS l(contact_id, action, matched_by, type, value, other, detail)",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID}};

#undef UNNEST

// The next log_id, without a statement.
Datum next_log_id() {
  return pg_call([]() noexcept {
    Oid sequence = get_relname_relid("identity_log_log_id_seq", get_namespace_oid("contact_identity", false));
    if (!OidIsValid(sequence)) elog(ERROR, "contact_identity: sequence identity_log_log_id_seq is missing");
    return DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(sequence));
  });
}

// The rows through the table access method (bulk_insert.h); false when the
// table cannot take them that way.
bool insert_rows(int64_t account_id, const std::vector<identity::LogRow> &rows) {
  BulkInsert log("identity_log", {"account_id", "log_id", "logged_at", "contact_id", "action", "matched_by",
                                  "identifier_type", "identifier_value", "other_contact_id", "detail"});
  if (!log.usable()) {
    log.finish();
    return false;
  }
  const Param account = int8_param(account_id), now{BulkInsert::now(), false};
  for (const identity::LogRow &r : rows) {
    InMemoryContext in_rows(log.rows_context());
    const Param columns[] = {account, Param{next_log_id(), false}, now, int8_param(r.contact_id),
                             text_param(r.action), text_param(r.matched_by), null_param(), null_param(),
                             int8_param(r.other_contact_id), jsonb_param(r.detail)};
    const RowOf<10> row(columns);
    log.add(row.values, row.nulls);
  }
  log.finish();
  return true;
}

void write_rows(int64_t account_id, const std::vector<identity::LogRow> &rows) {
  if (insert_rows(account_id, rows)) return;
  std::vector<std::optional<int64_t>> contact, other;
  std::vector<std::optional<std::string>> action, matched_by, detail;
  for (const identity::LogRow &r : rows) {
    contact.push_back(r.contact_id);
    action.push_back(r.action);
    matched_by.push_back(r.matched_by);
    other.push_back(r.other_contact_id);
    detail.push_back(r.detail);
  }
  execute(rows_statement,
          {int8_param(account_id), int8_array_param(contact), text_array_param(action), text_array_param(matched_by),
           int8_array_param(other), text_array_param(detail)},
          false);
}

void write_steps(int64_t account_id, const std::vector<identity::LogStep> &steps) {
  std::vector<std::optional<int64_t>> contact, other;
  std::vector<std::optional<std::string>> action, matched_by, type, value, detail;
  for (const identity::LogStep &s : steps) {
    contact.push_back(s.contact_id);
    action.push_back(s.action);
    matched_by.push_back(s.matched_by);
    type.push_back(s.type);
    value.push_back(s.value);
    other.push_back(s.other_contact_id);
    detail.push_back(s.detail);
  }
  execute(steps_statement,
          {int8_param(account_id), int8_array_param(contact), text_array_param(action), text_array_param(matched_by),
           text_array_param(type), text_array_param(value), int8_array_param(other), text_array_param(detail)},
          false);
}

}  // namespace

void LogBatch::add(std::vector<identity::LogStep> steps) {
  steps_.insert(steps_.end(), std::make_move_iterator(steps.begin()), std::make_move_iterator(steps.end()));
}

void LogBatch::flush(int64_t account_id) {
  if (steps_.empty()) return;
  if (legacy_schema())
    write_steps(account_id, steps_);
  else
    write_rows(account_id, identity::fold_steps(steps_));
  steps_.clear();
}

}  // namespace pgshell
