// log_batch.cpp: writing identity_log rows, many per statement.
#include "pg/log_batch.h"

#include "pg/spi.h"

namespace pgshell {
namespace {

Statement log_statement{
    "INSERT INTO contact_identity.identity_log (account_id, contact_id, action, matched_by,"
    " identifier_type, identifier_value, other_contact_id, detail)"
    " SELECT $1, l.contact_id, l.action, l.matched_by, l.type, l.value, l.other,"
    " CAST(l.detail AS pg_catalog.jsonb)"
    " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.text[]))"
    " AS l(contact_id, action, matched_by, type, value, other, detail)",
    {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID}};

}  // namespace

void LogBatch::add(OptId contact_id, const std::string &what, OptText by, OptText id_type, OptText id_value,
                   OptId other_id, OptText detail_json) {
  contact_.push_back(contact_id);
  action_.push_back(what);
  matched_by_.push_back(std::move(by));
  type_.push_back(std::move(id_type));
  value_.push_back(std::move(id_value));
  other_.push_back(other_id);
  detail_.push_back(std::move(detail_json));
}

void LogBatch::flush(int64_t account_id) {
  if (contact_.empty()) return;
  execute(log_statement,
          {int8_param(account_id), int8_array_param(contact_), text_array_param(action_), text_array_param(matched_by_),
           text_array_param(type_), text_array_param(value_), int8_array_param(other_), text_array_param(detail_)},
          false);
  *this = LogBatch();
}

}  // namespace pgshell
