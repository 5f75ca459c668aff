// segment_rule_fuzzer.cpp: libFuzzer target for identity::compile_segment_rule
// and identity::sql_literal. Input: the rule's JSON text.
//
// Besides "returns or throws IdentityError 22023", every accepted rule's SQL
// must have the shape nothing in a rule can change: quotes only as closed
// E'...' literals holding nothing but '' \\ and \xNN escapes and no raw
// control byte; outside them balanced parentheses and none of ; -- /* " $
// (which could end a statement, start a comment, a quoted identifier or a
// dollar-quoted string). sql_literal of the raw input, when accepted, must be
// exactly one such literal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/segment_rule.h"
#include "fuzz_common.h"

namespace {

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

// Reads the E'...' literal whose quote is at sql[*i]; leaves *i on its closing
// quote. Returns what is wrong, or "" when the literal is well formed.
std::string read_literal(std::string_view sql, size_t *i) {
  if (*i == 0 || sql[*i - 1] != 'E' || (*i >= 2 && is_word(sql[*i - 2]))) return "a quote that does not open E'";
  for (size_t k = *i + 1; k < sql.size(); k++) {
    unsigned char c = static_cast<unsigned char>(sql[k]);
    if (c < 0x20 || c == 0x7F) return "a raw control byte inside a literal";
    if (c == '\\') {
      if (k + 1 < sql.size() && sql[k + 1] == '\\') {
        k++;
      } else if (k + 3 < sql.size() && sql[k + 1] == 'x' && is_hex(sql[k + 2]) && is_hex(sql[k + 3])) {
        k += 3;
      } else {
        return "a backslash escape other than \\\\ or \\xNN inside a literal";
      }
    } else if (c == '\'') {
      if (k + 1 < sql.size() && sql[k + 1] == '\'') {
        k++;
      } else {
        *i = k;
        return {};
      }
    }
  }
  return "an unterminated E'' literal";
}

// What is wrong with the shape of compiled SQL, or "" when nothing is.
std::string bad_sql(std::string_view sql) {
  long depth = 0;
  for (size_t i = 0; i < sql.size(); i++) {
    char c = sql[i], next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (c == '\'') {
      std::string problem = read_literal(sql, &i);
      if (!problem.empty()) return problem + " at byte " + std::to_string(i);
    } else if (c == '(') {
      depth++;
    } else if (c == ')') {
      if (--depth < 0) return "a ')' without '(' at byte " + std::to_string(i);
    } else if (c == ';' || c == '"' || c == '$' || c == '\\' || (c == '-' && next == '-') || (c == '/' && next == '*')) {
      return std::string("'") + c + "' outside a literal at byte " + std::to_string(i);
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      return "a control or non-ASCII byte outside a literal at byte " + std::to_string(i);
    }
  }
  return depth == 0 ? std::string() : "unbalanced parentheses (" + std::to_string(depth) + " left open)";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);

  identity::CompiledRule rule;
  if (fuzz::accepts([&] { rule = identity::compile_segment_rule(text); })) {
    fuzz::require(!rule.sql.empty(), "an accepted rule compiled to empty SQL");
    std::string problem = bad_sql(rule.sql);
    fuzz::require(problem.empty(), "compiled SQL " + problem, rule.sql);
    for (const auto &r : rule.regexes) fuzz::require(r.first.rfind("$", 0) == 0, "a regex path not under $", r.first);
    for (const auto &t : rule.identifier_types)
      fuzz::require(t.first.rfind("$", 0) == 0, "an identifier type path not under $", t.first);
  }

  std::string literal;
  if (fuzz::accepts([&] { literal = identity::sql_literal(text); })) {
    size_t i = 1;
    std::string problem = literal.size() >= 3 && literal[0] == 'E' ? read_literal(literal, &i) : "no E' prefix";
    fuzz::require(problem.empty() && i == literal.size() - 1, "sql_literal is not exactly one E'' literal",
                  problem.empty() ? literal : problem);
  }
  return 0;
}
