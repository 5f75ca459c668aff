// segment_rule.cpp: compiles a segment rule (JSON) into a SQL expression.
//
// The SQL is spliced into queries, so nothing from the rule may change
// their shape:
//  - values reach SQL only through sql_literal(), as E'' literals; numbers
//    only after the JSON grammar and a range check, as E'..'::numeric;
//  - field names are looked up in kFields and never copied; attribute keys
//    become E'' literals in an ARRAY[], never identifiers;
//  - operators are written OPERATOR(pg_catalog.x) and functions with their
//    schema, so nothing in the search_path can stand in for them.
// Error paths ($.all[2].op) are built from fixed key names and indexes only.
//
// What a rule means, where SQL's NULLs would otherwise surprise:
//  - "not" is IS NOT TRUE rather than NOT: a condition that is unknown for
//    a contact (lt on a missing email is NULL) does not hold, so its "not"
//    does; all/any need no care, as NULL already fails AND and OR there.
//  - ne is IS DISTINCT FROM: a contact without the value is "not equal".
//  - is_empty never yields NULL, so is_not_empty is simply its NOT.
//  - Text compares in the database's collation; contains and starts_with
//    ignore case; matches is PostgreSQL's case-sensitive ~.
//  - A timestamp without an offset is read in the session's TimeZone.
//  - An attribute path walks nested objects (a key of an array is its
//    index, as with #>>); see comparison() for how values compare with it.
#include "core/segment_rule.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "core/identity_error.h"
#include "core/json_value.h"
#include "core/utf8.h"

namespace identity {
namespace {

using Type = JsonValue::Type;

constexpr size_t kMaxRuleBytes = 65536;
constexpr int kMaxConditions = 1000;
constexpr int kMaxGroupDepth = 32;
constexpr size_t kMaxInValues = 1000;
constexpr size_t kMaxAttributeKeys = 10;
// A group nests an object and an array; the innermost condition adds an
// object and its value array. One group more still parses, so that a rule
// nested too deeply gets the message naming its path; deeper JSON cannot
// be a rule at all and is refused by the reader.
constexpr int kMaxRuleJsonDepth = 2 * (kMaxGroupDepth + 1) + 2;

// The operators, in kOpNames order; eq to gte are the plain comparisons.
enum Op { kIsEmpty, kIsNotEmpty, kEq, kNe, kLt, kLte, kGt, kGte, kBetween, kIn, kContains, kStartsWith, kMatches,
          kWithinLast, kOpCount };
const char *const kOpNames[] = {"is_empty", "is_not_empty", "eq", "ne", "lt", "lte", "gt", "gte", "between", "in",
                                "contains", "starts_with", "matches", "within_last"};
// eq to gte in SQL. ne is IS DISTINCT FROM so that a contact without the
// value (NULL) counts as "not equal" instead of dropping out of both sides.
const char *const kCompareSql[] = {" OPERATOR(pg_catalog.=) ", " IS DISTINCT FROM ",
                                   " OPERATOR(pg_catalog.<) ", " OPERATOR(pg_catalog.<=) ",
                                   " OPERATOR(pg_catalog.>) ", " OPERATOR(pg_catalog.>=) "};

constexpr unsigned bit(Op op) { return 1u << op; }
constexpr unsigned kOrderOps = bit(kEq) | bit(kNe) | bit(kLt) | bit(kLte) | bit(kGt) | bit(kGte) | bit(kBetween);
constexpr unsigned kTextOps = ((1u << kOpCount) - 1) & ~bit(kWithinLast);

// What a field holds; it decides the operators the field takes.
enum Kind { kText, kTimestamp, kBoolean, kAttribute };
struct KindInfo {
  const char *singular, *plural;
  unsigned ops;
};
const KindInfo kKinds[] = {
    {"text field", "text fields", kTextOps},
    {"timestamp field", "timestamp fields", bit(kIsEmpty) | bit(kIsNotEmpty) | kOrderOps | bit(kWithinLast)},
    {"boolean field", "boolean fields", bit(kEq) | bit(kNe)},
    {"attribute", "attributes", kTextOps},
};

// The contact fields a rule can name, and the SQL that reads each.
struct Field {
  const char *name, *sql;
  Kind kind;
};
const Field kFields[] = {
    {"external_id", "c.external_id", kText},
    {"email", "c.email", kText},
    {"phone", "c.phone", kText},
    {"first_name", "c.first_name", kText},
    {"last_name", "c.last_name", kText},
    {"created_at", "c.created_at", kTimestamp},
    {"updated_at", "c.updated_at", kTimestamp},
    {"deleted", "(c.deleted_at IS NOT NULL)", kBoolean},  // a deleted contact; eq/ne with true or false only
};

const char *const kRuleHint =
    "A rule is a group (\"all\", \"any\" or \"not\") or a condition (\"field\", \"has_identifier\" or \"event\").";
const char *const kFieldHint = "Fields: external_id, email, phone, first_name, last_name, created_at, updated_at, "
                               "deleted; attributes use \"attributes.<key>\".";
const char *const kIntervalHint = "Write a count and a unit such as \"30 days\": minute, hour, day, week, month or "
                                  "year, at most 1000 years in all.";

// How a JSON value becomes an operand.
enum Conv { kAsText, kAsNumeric, kAsTimestamp, kAsBoolean, kAsJsonBoolean };

// What a field condition reads: for attributes sql is the text value and
// jsonb the JSON value; for contact fields sql is the column.
struct Target {
  std::string name;
  Kind kind;
  std::string sql, jsonb;
};

// Throws the error for the rule part at path.
[[noreturn]] void fail(const std::string &path, const std::string &what, const std::string &hint = {}) {
  throw IdentityError(sqlstate::kInvalidParameterValue, "invalid segment rule at " + path + ": " + what, {}, hint);
}

// The path of array element i under path.
std::string at(const std::string &path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// The operator names in mask, comma-separated, for hints.
std::string op_list(unsigned mask) {
  std::string out;
  for (int op = 0; op < kOpCount; op++)
    if (mask & (1u << op)) out += (out.empty() ? "" : ", ") + std::string(kOpNames[op]);
  return out;
}

// Throws unless every key of object v is one of keys.
void check_keys(const JsonValue &v, const std::string &path, std::initializer_list<std::string_view> keys,
                const char *hint) {
  for (const auto &member : v.members)
    if (std::find(keys.begin(), keys.end(), member.first) == keys.end())
      fail(path, "unknown key " + quoted(member.first), hint);
}

// Reads n digits at s[*i] into *out when they lie in [lo, hi].
bool digits(std::string_view s, size_t *i, size_t n, int lo, int hi, int *out = nullptr) {
  if (s.size() - *i < n) return false;
  int v = 0;
  for (size_t k = 0; k < n; k++) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  if (out) *out = v;
  return v >= lo && v <= hi;
}

// True when s[*i] is c; then steps past it.
bool skip(std::string_view s, size_t *i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

// True for YYYY-MM-DD, then optionally T or a space and HH:MM[:SS[.frac]],
// then optionally Z or +HH:MM / -HH:MM; checked down to the day of the
// month so that the cast in SQL cannot fail when the segment is evaluated.
bool valid_timestamp(std::string_view s) {
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  size_t i = 0;
  int y, m, d;
  if (!digits(s, &i, 4, 1, 9999, &y) || !skip(s, &i, '-') || !digits(s, &i, 2, 1, 12, &m) || !skip(s, &i, '-') ||
      !digits(s, &i, 2, 1, kDays[m - 1], &d))
    return false;
  if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return false;
  if (i == s.size()) return true;
  if (!(skip(s, &i, 'T') || skip(s, &i, ' ')) || !digits(s, &i, 2, 0, 23) || !skip(s, &i, ':') ||
      !digits(s, &i, 2, 0, 59))
    return false;
  if (skip(s, &i, ':')) {
    if (!digits(s, &i, 2, 0, 59)) return false;
    if (skip(s, &i, '.')) {
      size_t first = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - first < 9) i++;
      if (i == first) return false;
    }
  }
  if (skip(s, &i, 'Z')) return i == s.size();
  if (skip(s, &i, '+') || skip(s, &i, '-'))
    if (!digits(s, &i, 2, 0, 15) || !skip(s, &i, ':') || !digits(s, &i, 2, 0, 59)) return false;
  return i == s.size();
}

// True for "N unit" or "N units" (N from 1 to 999999 without leading zeros).
// The span is capped at 1000 years because now() minus a larger one can
// leave the timestamptz range, which would fail every evaluation.
bool valid_interval(std::string_view s) {
  static const struct {
    std::string_view unit;
    long max;
  } kUnits[] = {{"minute", 999999}, {"hour", 999999}, {"day", 365250}, {"week", 52178}, {"month", 12000},
                {"year", 1000}};
  size_t space = s.find(' ');
  if (space == std::string_view::npos || space == 0 || space > 6 || s[0] == '0') return false;
  long n = 0;
  for (size_t i = 0; i < space; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    n = n * 10 + (s[i] - '0');
  }
  std::string_view unit = s.substr(space + 1);
  if (!unit.empty() && unit.back() == 's') unit.remove_suffix(1);
  for (const auto &u : kUnits)
    if (unit == u.unit) return n <= u.max;
  return false;
}

// True for a name identifier_types accepts: ^[a-z][a-z0-9_]{0,62}$.
bool valid_type_name(std::string_view s) {
  if (s.empty() || s.size() > 63 || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// True when numeric_in reads the JSON number text in every PostgreSQL
// version: an exponent within +-1000 and at most 1000 characters.
bool numeric_in_range(std::string_view s) {
  size_t e = s.find_first_of("eE");
  if (s.size() > 1000) return false;
  if (e == std::string_view::npos) return true;
  std::string_view exp = s.substr(e + 1);
  if (exp[0] == '+' || exp[0] == '-') exp.remove_prefix(1);
  while (exp.size() > 1 && exp[0] == '0') exp.remove_prefix(1);
  return exp.size() < 4 || exp == "1000";
}

// Converts value v to an SQL operand as conv says, or throws naming path.
std::string operand(Conv conv, const JsonValue &v, const std::string &path) {
  switch (conv) {
    case kAsText:
      if (v.type != Type::kString && v.type != Type::kNumber) fail(path, "must be a string or a number");
      return sql_literal(v.text);
    case kAsNumeric:
      if (v.type != Type::kNumber) fail(path, "must be a number");
      if (!numeric_in_range(v.text))
        fail(path, "number " + quoted(v.text) + " is out of range",
             "Numbers have at most 1000 characters and an exponent from -1000 to 1000.");
      return sql_literal(v.text) + "::pg_catalog.numeric";
    case kAsTimestamp:
      if (v.type != Type::kString || !valid_timestamp(v.text))
        fail(path, v.type != Type::kString ? "must be a timestamp string" : "invalid timestamp " + quoted(v.text),
             "Write an ISO 8601 date or time such as \"2026-01-31\", \"2026-01-31T09:30:00Z\" or "
             "\"2026-01-31 09:30+02:00\".");
      return sql_literal(v.text) + "::pg_catalog.timestamptz";
    case kAsBoolean:
    case kAsJsonBoolean:
      if (v.type != Type::kBool) fail(path, "must be true or false");
      if (conv == kAsBoolean) return v.boolean ? "true" : "false";
      return sql_literal(v.boolean ? "true" : "false") + "::pg_catalog.jsonb";
  }
  return {};
}

// (now() - interval) for the interval string at path.
std::string since(const JsonValue &v, const std::string &path) {
  if (v.type != Type::kString) fail(path, "must be a string", kIntervalHint);
  if (!valid_interval(v.text)) fail(path, "invalid interval " + quoted(v.text), kIntervalHint);
  // Parenthesized: all OPERATOR() forms share one precedence, left to right.
  return "(pg_catalog.now() OPERATOR(pg_catalog.-) " + sql_literal(v.text) + "::pg_catalog.interval)";
}

// Reads the "field" member: a contact field of kFields, or "attributes."
// with 1 to kMaxAttributeKeys dot-separated, non-empty keys.
Target target(const JsonValue &f, const std::string &path) {
  if (f.type != Type::kString) fail(path, "must be a string");
  for (const Field &field : kFields)
    if (f.text == field.name) return {field.name, field.kind, field.sql, {}};
  constexpr std::string_view kPrefix = "attributes.";
  if (f.text != "attributes" && f.text.compare(0, kPrefix.size(), kPrefix) != 0)
    fail(path, "unknown field " + quoted(f.text), kFieldHint);
  std::string_view rest = std::string_view(f.text).substr(std::min(f.text.size(), kPrefix.size()));
  std::string keys;
  for (size_t count = 1;; count++) {
    std::string_view key = rest.substr(0, rest.find('.'));
    if (key.empty() || count > kMaxAttributeKeys)
      fail(path, "invalid attribute path " + quoted(f.text),
           "Write \"attributes.\" and 1 to 10 non-empty keys separated by dots, such as \"attributes.address.city\".");
    keys += (count > 1 ? ", " : "") + sql_literal(key);
    if (key.size() == rest.size()) break;
    rest.remove_prefix(key.size() + 1);
  }
  std::string array = " ARRAY[" + keys + "]::pg_catalog.text[])";
  return {f.text, kAttribute, "(c.attributes OPERATOR(pg_catalog.#>>)" + array,
          "(c.attributes OPERATOR(pg_catalog.#>)" + array};
}

// What to compare and how to convert values for eq to gte, between and in.
// Contact fields have one type. An attribute compares by the value: a
// boolean (eq/ne only) with the JSON value, numbers (all of them, for
// between and in) numerically and only with JSON numbers, anything else as
// text (the text of a JSON number is its literal).
std::pair<std::string, Conv> comparison(const Target &t, Op op, const JsonValue &sample, bool all_numbers) {
  if (t.kind == kText) return {t.sql, kAsText};
  if (t.kind == kTimestamp) return {t.sql, kAsTimestamp};
  if (t.kind == kBoolean) return {t.sql, kAsBoolean};
  if (sample.type == Type::kBool && (op == kEq || op == kNe)) return {t.jsonb, kAsJsonBoolean};
  if (all_numbers)
    return {"(CASE WHEN pg_catalog.jsonb_typeof(" + t.jsonb + ") OPERATOR(pg_catalog.=) E'number' THEN " + t.sql +
                "::pg_catalog.numeric END)",
            kAsNumeric};
  return {t.sql, kAsText};
}

// True when every element of array v is a number.
bool all_numbers(const JsonValue &v) {
  return std::all_of(v.items.begin(), v.items.end(), [](const JsonValue &e) { return e.type == Type::kNumber; });
}

// Walks a rule, keeping what compile_segment_rule returns besides the SQL.
class Compiler {
 public:
  CompiledRule out;

  // A rule node: a group (depth counts the groups around it) or a condition.
  std::string node(const JsonValue &v, const std::string &path, int depth) {
    if (v.type != Type::kObject) fail(path, "a rule is a JSON object");
    // The kind is the first of these keys present; other keys must fit it.
    for (const char *key : {"all", "any", "not", "field", "has_identifier", "event"}) {
      if (!v.find(key)) continue;
      std::string_view k = key;
      if (k == "all" || k == "any" || k == "not") return group(v, key, path, depth + 1);
      if (++conditions_ > kMaxConditions) fail(path, "more than 1000 conditions");
      if (k == "field") return "(" + field_condition(v, path) + ")";
      if (k == "has_identifier") return "(" + identifier_condition(v, path) + ")";
      return "(" + event_condition(v, path) + ")";
    }
    fail(path, v.members.empty() ? "an empty object is not a rule" : "unknown key " + quoted(v.members[0].first),
         kRuleHint);
  }

 private:
  int conditions_ = 0;

  // {"all": [...]} (AND), {"any": [...]} (OR) or {"not": rule}.
  std::string group(const JsonValue &v, std::string_view key, const std::string &path, int depth) {
    if (depth > kMaxGroupDepth) fail(path, "groups nest more than 32 deep");
    for (const auto &member : v.members)
      if (member.first != key)
        fail(path, "a group has one key only, but " + quoted(member.first) + " is beside " + quoted(key));
    const JsonValue &body = v.members[0].second;
    std::string p = path + "." + std::string(key);
    // IS NOT TRUE, not NOT: a condition that is NULL for a contact (lt on
    // a missing value) does not hold, so "not" of it must hold.
    if (key == "not") return "(" + node(body, p, depth) + " IS NOT TRUE)";
    if (body.type != Type::kArray) fail(p, "must be an array of rules");
    if (body.items.empty()) fail(p, "needs at least one rule");
    std::string sql;
    for (size_t i = 0; i < body.items.size(); i++)
      sql += (i ? (key == "all" ? " AND " : " OR ") : "") + node(body.items[i], at(p, i), depth);
    return "(" + sql + ")";
  }

  // {"field": F, "op": OP, "value": V}.
  std::string field_condition(const JsonValue &v, const std::string &path) {
    check_keys(v, path, {"field", "op", "value"}, "A field condition has the keys \"field\", \"op\" and \"value\".");
    Target t = target(*v.find("field"), path + ".field");
    const JsonValue *op_json = v.find("op");
    if (!op_json) fail(path, "missing key \"op\"");
    if (op_json->type != Type::kString) fail(path + ".op", "must be a string");
    Op op = static_cast<Op>(std::find(kOpNames, kOpNames + kOpCount, op_json->text) - kOpNames);
    if (op == kOpCount)
      fail(path + ".op", "unknown operator " + quoted(op_json->text), "Operators: " + op_list(~0u) + ".");
    const KindInfo &kind = kKinds[t.kind];
    if (!(kind.ops & bit(op)))
      fail(path + ".op",
           "operator " + quoted(kOpNames[op]) + " does not apply to " + kind.singular + " " + quoted(t.name),
           "Operators for " + std::string(kind.plural) + ": " + op_list(kind.ops) + ".");
    const JsonValue *value = v.find("value");
    std::string vpath = path + ".value";
    if (op == kIsEmpty || op == kIsNotEmpty) {
      if (value) fail(vpath, "operator " + quoted(kOpNames[op]) + " takes no value");
      // Empty is NULL for a timestamp; for text also ''; for an attribute a
      // missing key, JSON null or "" (an empty array or object is not empty).
      std::string test = t.sql + " IS NULL";
      if (t.kind != kTimestamp) test += " OR " + t.sql + " OPERATOR(pg_catalog.=) E''";
      return op == kIsEmpty ? test : "NOT (" + test + ")";
    }
    if (!value) fail(path, "missing key \"value\"");
    return field_test(t, op, *value, vpath);
  }

  // The SQL of operator op (one taking a value) on target t.
  std::string field_test(const Target &t, Op op, const JsonValue &value, const std::string &vpath) {
    // within_last: the last N units up to now.
    if (op == kWithinLast) return t.sql + " OPERATOR(pg_catalog.>=) " + since(value, vpath);
    // contains and starts_with: case-insensitive, on the text (a number's literal).
    if (op == kContains)
      return "pg_catalog.strpos(pg_catalog.lower(" + t.sql + "), pg_catalog.lower(" + operand(kAsText, value, vpath) +
             ")) OPERATOR(pg_catalog.>) 0";
    if (op == kStartsWith)
      return "pg_catalog.starts_with(pg_catalog.lower(" + t.sql + "), pg_catalog.lower(" +
             operand(kAsText, value, vpath) + "))";
    // matches: a POSIX regular expression, case-sensitive; the shell checks it compiles.
    if (op == kMatches) {
      if (value.type != Type::kString) fail(vpath, "must be a string");
      out.regexes.emplace_back(vpath, value.text);
      return t.sql + " OPERATOR(pg_catalog.~) " + sql_literal(value.text);
    }
    if (op == kBetween) {
      // between: both bounds included.
      if (value.type != Type::kArray || value.items.size() != 2) fail(vpath, "must be an array of two values");
      auto [lhs, conv] = comparison(t, op, value.items[0], all_numbers(value));
      return lhs + " OPERATOR(pg_catalog.>=) " + operand(conv, value.items[0], at(vpath, 0)) + " AND " + lhs +
             " OPERATOR(pg_catalog.<=) " + operand(conv, value.items[1], at(vpath, 1));
    }
    if (op == kIn) {
      // in: equal to one of the values (numerically on an attribute only when all are numbers).
      if (value.type != Type::kArray || value.items.empty()) fail(vpath, "must be a non-empty array");
      if (value.items.size() > kMaxInValues) fail(vpath, "has more than 1000 values");
      auto [lhs, conv] = comparison(t, op, value.items[0], all_numbers(value));
      std::string list;
      for (size_t i = 0; i < value.items.size(); i++)
        list += (i ? ", " : "") + operand(conv, value.items[i], at(vpath, i));
      return lhs + " OPERATOR(pg_catalog.=) ANY (ARRAY[" + list + "]" + (conv == kAsText ? "::pg_catalog.text[]" : "") +
             ")";
    }
    // eq to gte; text compares in the database's collation.
    auto [lhs, conv] = comparison(t, op, value, value.type == Type::kNumber);
    return lhs + kCompareSql[op - kEq] + operand(conv, value, vpath);
  }

  // {"has_identifier": type}: the contact holds an identifier of that type.
  std::string identifier_condition(const JsonValue &v, const std::string &path) {
    check_keys(v, path, {"has_identifier"}, "An identifier condition has the one key \"has_identifier\".");
    const JsonValue &type = *v.find("has_identifier");
    std::string p = path + ".has_identifier";
    if (type.type != Type::kString) fail(p, "must be a string");
    if (!valid_type_name(type.text))
      fail(p, "invalid identifier type " + quoted(type.text),
           "Identifier type names are 1 to 63 lower-case letters, digits and underscores, starting with a letter.");
    out.identifier_types.emplace_back(p, type.text);
    return "EXISTS (SELECT FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) c.account_id "
           "AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id AND i.type OPERATOR(pg_catalog.=) " +
           sql_literal(type.text) + ")";
  }

  // {"event": type, "within": interval, "at_least": n}: the contact has at
  // least n events of that type (in the last interval when given).
  std::string event_condition(const JsonValue &v, const std::string &path) {
    check_keys(v, path, {"event", "within", "at_least"},
               "An event condition has the keys \"event\", \"within\" and \"at_least\".");
    const JsonValue &type = *v.find("event");
    if (type.type != Type::kString || type.text.empty()) fail(path + ".event", "must be a non-empty string");
    std::string events =
        "SELECT FROM contact_identity.events e WHERE e.account_id OPERATOR(pg_catalog.=) c.account_id "
        "AND e.contact_id OPERATOR(pg_catalog.=) c.contact_id AND e.event_type OPERATOR(pg_catalog.=) " +
        sql_literal(type.text);
    if (const JsonValue *within = v.find("within"))
      events += " AND e.occurred_at OPERATOR(pg_catalog.>=) " + since(*within, path + ".within");
    std::string n = "1";
    if (const JsonValue *at_least = v.find("at_least")) {
      n = at_least->text;
      if (at_least->type != Type::kNumber || !at_least->integer || n[0] == '-' || n == "0" || n.size() > 7 ||
          (n.size() == 7 && n != "1000000"))
        fail(path + ".at_least", "must be an integer from 1 to 1000000");
    }
    if (n == "1") return "EXISTS (" + events + ")";
    // LIMIT n stops counting once the answer is known.
    return "(SELECT pg_catalog.count(*) FROM (" + events + " LIMIT " + n + ") e) OPERATOR(pg_catalog.>=) " + n;
  }
};

}  // namespace

// Escapes value into an E'' literal; the only path from a rule to SQL.
std::string sql_literal(std::string_view value) {
  std::string out = "E'";
  for (size_t pos = 0; pos < value.size();) {
    char32_t cp;
    size_t len = decode_utf8(value, pos, &cp);
    if (len == 0 || cp == 0)
      throw IdentityError(sqlstate::kInvalidParameterValue,
                          "invalid segment rule: a value holds a NUL byte or invalid UTF-8");
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\'') {
      // '' rather than \': backslash_quote may forbid \'.
      out += "''";
    } else if (cp < 0x20 || cp == 0x7F) {
      // Always two hex digits, so the next character cannot join the escape.
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(value.substr(pos, len));
    }
    pos += len;
  }
  return out + "'";
}

// Checks the size, parses the JSON and compiles the tree from the root.
CompiledRule compile_segment_rule(std::string_view rule_json) {
  if (rule_json.size() > kMaxRuleBytes)
    throw IdentityError(sqlstate::kInvalidParameterValue, "invalid segment rule: longer than 65536 bytes",
                        "It is " + std::to_string(rule_json.size()) + " bytes.");
  JsonValue root = parse_json(rule_json, "invalid segment rule: not valid JSON, or nested too deeply", kMaxRuleJsonDepth);
  Compiler compiler;
  compiler.out.sql = compiler.node(root, "$", 0);
  return std::move(compiler.out);
}

}  // namespace identity
