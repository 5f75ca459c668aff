// segment_rule.h: compiles a segment rule, a JSON tree of conditions on a
// contact, into a boolean SQL expression over `c`, a contacts row:
//   {"all": [rule, ...]}, {"any": [rule, ...]}, {"not": rule}
//   {"field": "attributes.city", "op": "eq", "value": "Kyiv"}
//   {"has_identifier": "mobile_push"}
//   {"event": "order", "within": "30 days", "at_least": 2}
// segment_rule.cpp says what each field, operator and value type means.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace identity {

// What a segment rule compiles to.
struct CompiledRule {
  std::string sql;  // a boolean SQL expression over `c`, a row of contact_identity.contacts
  // Checks only the database can make, each with the JSON path of the rule part it came from:
  // (path, pattern) of "matches": the shell checks they compile;
  std::vector<std::pair<std::string, std::string>> regexes;
  // (path, type) of "has_identifier": the shell checks they exist.
  std::vector<std::pair<std::string, std::string>> identifier_types;
};

// Compiles a segment rule (JSON text, as jsonb prints it); throws IdentityError 22023 naming the JSON path at fault.
CompiledRule compile_segment_rule(std::string_view rule_json);

// The one way a value reaches SQL: an escape-string literal E'...' with
// backslashes doubled and quotes doubled, ASCII control characters written
// as \xNN and everything else as it is. E'' strings read the same whatever
// standard_conforming_strings says, so no value can end the literal early.
// Throws IdentityError 22023 for a NUL byte or invalid UTF-8 (values from
// the JSON reader never hold either).
std::string sql_literal(std::string_view value);

}  // namespace identity
