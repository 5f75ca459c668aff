// segments.cpp: segment_rule_sql, the shell around the core's segment rule
// compiler (src/core/segment_rule.h). The compiler checks everything it can
// alone; here the database checks the rest, naming the JSON path at fault:
// each regular expression compiles, each identifier type exists.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/identity_error.h"
#include "core/segment_rule.h"
#include "pg/pg_boundary.h"
#include "pg/arguments.h"
#include "pg/config_cache.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"
#include "pg/subtransaction.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_segment_rule_sql);
}

namespace pgshell {
namespace {

using identity::IdentityError;
namespace sqlstate = identity::sqlstate;

// Compiles the pattern as the view will; an invalid one raises 2201B.
Statement regex_statement{"SELECT '' OPERATOR(pg_catalog.~) $1", {TEXTOID}};

// Throws 22023 naming the rule's path when the pattern does not compile.
void check_regex(const std::string &path, const std::string &pattern) {
  std::string problem;
  try {
    in_subtransaction([&] { execute(regex_statement, {text_param(pattern)}, true); });
    return;
  } catch (const PgError &e) {
    if (e.data()->sqlerrcode != ERRCODE_INVALID_REGULAR_EXPRESSION) throw;
    problem = e.what();
  }
  throw IdentityError(sqlstate::kInvalidParameterValue, "invalid segment rule at " + path + ": " + problem,
                      "The pattern is " + identity::quoted(pattern) + ".",
                      "\"matches\" takes a PostgreSQL regular expression (the ~ operator).");
}

// Throws 22023 naming the first has_identifier whose type does not exist.
void check_identifier_types(const std::vector<std::pair<std::string, std::string>> &uses) {
  if (uses.empty()) return;
  std::shared_ptr<const TypeMap> known = identifier_types();
  for (const auto &[path, type] : uses)
    if (!known->count(type))
      throw IdentityError(sqlstate::kInvalidParameterValue,
                          "invalid segment rule at " + path + ": unknown identifier type " + identity::quoted(type),
                          "", "contact_identity.identifier_types lists the types.");
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// segment_rule_sql(rule jsonb): the SQL condition the rule compiles to.
extern "C" Datum ci_segment_rule_sql(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("segment_rule_sql"), [&](EntryCall &call) -> Datum {
    std::optional<std::string> rule = jsonb_arg(fcinfo, 0);
    if (!rule) throw null_argument("rule");
    identity::CompiledRule compiled = identity::compile_segment_rule(*rule);
    call.connect();
    for (const auto &[path, pattern] : compiled.regexes) check_regex(path, pattern);
    check_identifier_types(compiled.identifier_types);
    call.close();
    const std::string &sql = compiled.sql;
    return PointerGetDatum(pg_call([&]() noexcept { return cstring_to_text_with_len(sql.data(), (int)sql.size()); }));
  });
}
