// segment_rule_test.cpp: table-driven tests of compile_segment_rule and sql_literal.
#include "core/segment_rule.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/identity_error.h"
#include "mutations.h"
#include "core/json_text.h"

namespace identity {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A rule and the SQL it must compile to.
struct Ok {
  std::string rule;
  std::string sql;
};

// A rule and the error it must raise: exact message, and detail when set.
struct Bad {
  Bad(std::string r, std::string m, std::string d = {})
      : rule(std::move(r)), message(std::move(m)), detail(std::move(d)) {}
  std::string rule;
  std::string message;
  std::string detail;
};

// SQL pieces the expected expressions repeat.
const std::string kAge = "(c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'age']::pg_catalog.text[])";
const std::string kAgeJson = "(c.attributes OPERATOR(pg_catalog.#>) ARRAY[E'age']::pg_catalog.text[])";
const std::string kAgeNumber = "(CASE WHEN pg_catalog.jsonb_typeof(" + kAgeJson +
                               ") OPERATOR(pg_catalog.=) E'number' THEN " + kAge + "::pg_catalog.numeric END)";
const std::string kSince30Days = "(pg_catalog.now() OPERATOR(pg_catalog.-) E'30 days'::pg_catalog.interval)";
const std::string kOrders =
    "SELECT FROM contact_identity.events e WHERE e.account_id OPERATOR(pg_catalog.=) c.account_id AND e.contact_id "
    "OPERATOR(pg_catalog.=) c.contact_id AND e.event_type OPERATOR(pg_catalog.=) E'order'";

// The SQL of {"has_identifier": type}.
std::string has(const std::string &type) {
  return "(EXISTS (SELECT FROM contact_identity.identifiers i WHERE i.account_id OPERATOR(pg_catalog.=) c.account_id "
         "AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id AND i.type OPERATOR(pg_catalog.=) E'" + type + "'))";
}

// The message for an error at path.
std::string at(const std::string &path, const std::string &what) {
  return "invalid segment rule at " + path + ": " + what;
}

// A field condition on email with the given value (JSON text).
std::string email_eq(const std::string &value_json) {
  return R"({"field": "email", "op": "eq", "value": )" + value_json + "}";
}

// Compiles rule and returns the error it raised; fails the test if none.
IdentityError error_of(const std::string &rule) {
  try {
    compile_segment_rule(rule);
  } catch (const IdentityError &e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << rule;
  return IdentityError("", "");
}

TEST(SegmentRule, CompilesEveryFieldAndOperator) {
  const Ok cases[] = {
      // Text fields.
      {R"({"field": "email", "op": "eq", "value": "a@x.io"})", "(c.email OPERATOR(pg_catalog.=) E'a@x.io')"},
      {R"({"field": "external_id", "op": "eq", "value": 12.50})", "(c.external_id OPERATOR(pg_catalog.=) E'12.50')"},
      {R"({"field": "phone", "op": "ne", "value": "+380"})", "(c.phone IS DISTINCT FROM E'+380')"},
      {R"({"field": "first_name", "op": "lt", "value": "M"})", "(c.first_name OPERATOR(pg_catalog.<) E'M')"},
      {R"({"field": "first_name", "op": "lte", "value": "M"})", "(c.first_name OPERATOR(pg_catalog.<=) E'M')"},
      {R"({"field": "last_name", "op": "gt", "value": "M"})", "(c.last_name OPERATOR(pg_catalog.>) E'M')"},
      {R"({"field": "last_name", "op": "gte", "value": "M"})", "(c.last_name OPERATOR(pg_catalog.>=) E'M')"},
      {R"({"field": "last_name", "op": "between", "value": ["A", 5]})",
       "(c.last_name OPERATOR(pg_catalog.>=) E'A' AND c.last_name OPERATOR(pg_catalog.<=) E'5')"},
      {R"({"field": "phone", "op": "in", "value": ["+1", 2]})",
       "(c.phone OPERATOR(pg_catalog.=) ANY (ARRAY[E'+1', E'2']::pg_catalog.text[]))"},
      {R"({"field": "email", "op": "is_empty"})", "(c.email IS NULL OR c.email OPERATOR(pg_catalog.=) E'')"},
      {R"({"field": "email", "op": "is_not_empty"})", "(NOT (c.email IS NULL OR c.email OPERATOR(pg_catalog.=) E''))"},
      {R"({"field": "email", "op": "contains", "value": "GMAIL"})",
       "(pg_catalog.strpos(pg_catalog.lower(c.email), pg_catalog.lower(E'GMAIL')) OPERATOR(pg_catalog.>) 0)"},
      {R"({"field": "email", "op": "starts_with", "value": "Ann"})",
       "(pg_catalog.starts_with(pg_catalog.lower(c.email), pg_catalog.lower(E'Ann')))"},
      {R"({"field": "email", "op": "matches", "value": "^a.+\\d$"})", "(c.email OPERATOR(pg_catalog.~) E'^a.+\\\\d$')"},
      // Timestamp fields.
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01"})",
       "(c.created_at OPERATOR(pg_catalog.=) E'2026-01-01'::pg_catalog.timestamptz)"},
      {R"({"field": "updated_at", "op": "ne", "value": "2024-02-29 23:59"})",
       "(c.updated_at IS DISTINCT FROM E'2024-02-29 23:59'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "lt", "value": "2026-01-01T10:00:00Z"})",
       "(c.created_at OPERATOR(pg_catalog.<) E'2026-01-01T10:00:00Z'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "lte", "value": "2026-01-01T10:00:00.123456+05:30"})",
       "(c.created_at OPERATOR(pg_catalog.<=) E'2026-01-01T10:00:00.123456+05:30'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "gt", "value": "2000-12-31T00:00-08:00"})",
       "(c.created_at OPERATOR(pg_catalog.>) E'2000-12-31T00:00-08:00'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "gte", "value": "9999-12-31"})",
       "(c.created_at OPERATOR(pg_catalog.>=) E'9999-12-31'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "between", "value": ["2026-01-01", "2026-02-01"]})",
       "(c.created_at OPERATOR(pg_catalog.>=) E'2026-01-01'::pg_catalog.timestamptz AND c.created_at "
       "OPERATOR(pg_catalog.<=) E'2026-02-01'::pg_catalog.timestamptz)"},
      {R"({"field": "created_at", "op": "within_last", "value": "30 days"})",
       "(c.created_at OPERATOR(pg_catalog.>=) " + kSince30Days + ")"},
      {R"({"field": "updated_at", "op": "within_last", "value": "1 hour"})",
       "(c.updated_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) "
       "E'1 hour'::pg_catalog.interval))"},
      {R"({"field": "updated_at", "op": "is_empty"})", "(c.updated_at IS NULL)"},
      {R"({"field": "updated_at", "op": "is_not_empty"})", "(NOT (c.updated_at IS NULL))"},
      // deleted.
      {R"({"field": "deleted", "op": "eq", "value": true})",
       "((c.deleted_at IS NOT NULL) OPERATOR(pg_catalog.=) true)"},
      {R"({"field": "deleted", "op": "ne", "value": false})", "((c.deleted_at IS NOT NULL) IS DISTINCT FROM false)"},
      // Attributes with a string value: compared as text.
      {R"({"field": "attributes.age", "op": "eq", "value": "30"})", "(" + kAge + " OPERATOR(pg_catalog.=) E'30')"},
      {R"({"field": "attributes.age", "op": "ne", "value": "30"})", "(" + kAge + " IS DISTINCT FROM E'30')"},
      {R"({"field": "attributes.age", "op": "lt", "value": "3"})", "(" + kAge + " OPERATOR(pg_catalog.<) E'3')"},
      {R"({"field": "attributes.age", "op": "between", "value": ["1", "9"]})",
       "(" + kAge + " OPERATOR(pg_catalog.>=) E'1' AND " + kAge + " OPERATOR(pg_catalog.<=) E'9')"},
      {R"({"field": "attributes.age", "op": "contains", "value": 3})",
       "(pg_catalog.strpos(pg_catalog.lower(" + kAge + "), pg_catalog.lower(E'3')) OPERATOR(pg_catalog.>) 0)"},
      {R"({"field": "attributes.age", "op": "starts_with", "value": "x"})",
       "(pg_catalog.starts_with(pg_catalog.lower(" + kAge + "), pg_catalog.lower(E'x')))"},
      {R"({"field": "attributes.age", "op": "matches", "value": "^[0-9]+$"})",
       "(" + kAge + " OPERATOR(pg_catalog.~) E'^[0-9]+$')"},
      {R"({"field": "attributes.age", "op": "is_empty"})",
       "(" + kAge + " IS NULL OR " + kAge + " OPERATOR(pg_catalog.=) E'')"},
      {R"({"field": "attributes.age", "op": "is_not_empty"})",
       "(NOT (" + kAge + " IS NULL OR " + kAge + " OPERATOR(pg_catalog.=) E''))"},
      // Attributes with numbers: numeric, and only JSON numbers compare.
      {R"({"field": "attributes.age", "op": "eq", "value": 30})",
       "(" + kAgeNumber + " OPERATOR(pg_catalog.=) E'30'::pg_catalog.numeric)"},
      {R"({"field": "attributes.age", "op": "ne", "value": -1.5e3})",
       "(" + kAgeNumber + " IS DISTINCT FROM E'-1.5e3'::pg_catalog.numeric)"},
      {R"({"field": "attributes.age", "op": "gt", "value": 30})",
       "(" + kAgeNumber + " OPERATOR(pg_catalog.>) E'30'::pg_catalog.numeric)"},
      {R"({"field": "attributes.age", "op": "gte", "value": 1E+1000})",
       "(" + kAgeNumber + " OPERATOR(pg_catalog.>=) E'1E+1000'::pg_catalog.numeric)"},
      {R"({"field": "attributes.age", "op": "between", "value": [18, 65]})",
       "(" + kAgeNumber + " OPERATOR(pg_catalog.>=) E'18'::pg_catalog.numeric AND " + kAgeNumber +
           " OPERATOR(pg_catalog.<=) E'65'::pg_catalog.numeric)"},
      {R"({"field": "attributes.age", "op": "in", "value": [1, 2.5]})",
       "(" + kAgeNumber + " OPERATOR(pg_catalog.=) ANY (ARRAY[E'1'::pg_catalog.numeric, E'2.5'::pg_catalog.numeric]))"},
      // Mixed strings and numbers compare as text.
      {R"({"field": "attributes.age", "op": "in", "value": [1, "x"]})",
       "(" + kAge + " OPERATOR(pg_catalog.=) ANY (ARRAY[E'1', E'x']::pg_catalog.text[]))"},
      {R"({"field": "attributes.age", "op": "between", "value": [1, "9"]})",
       "(" + kAge + " OPERATOR(pg_catalog.>=) E'1' AND " + kAge + " OPERATOR(pg_catalog.<=) E'9')"},
      // Attributes with booleans: the JSON value.
      {R"({"field": "attributes.age", "op": "eq", "value": true})",
       "(" + kAgeJson + " OPERATOR(pg_catalog.=) E'true'::pg_catalog.jsonb)"},
      {R"({"field": "attributes.age", "op": "ne", "value": false})",
       "(" + kAgeJson + " IS DISTINCT FROM E'false'::pg_catalog.jsonb)"},
      // Nested attribute paths; keys are literals whatever they hold.
      {R"({"field": "attributes.address.zip", "op": "eq", "value": "01001"})",
       "((c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'address', E'zip']::pg_catalog.text[]) "
       "OPERATOR(pg_catalog.=) E'01001')"},
      {R"({"field": "attributes.a'b.c\\d.{e,f}. g", "op": "is_empty"})",
       "((c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'a''b', E'c\\\\d', E'{e,f}', E' g']::pg_catalog.text[]) IS "
       "NULL OR (c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'a''b', E'c\\\\d', E'{e,f}', E' g']::pg_catalog.text[]) "
       "OPERATOR(pg_catalog.=) E'')"},
      {R"({"field": "attributes.1.2.3.4.5.6.7.8.9.10", "op": "is_empty"})",
       "((c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'1', E'2', E'3', E'4', E'5', E'6', E'7', E'8', E'9', "
       "E'10']::pg_catalog.text[]) IS NULL OR (c.attributes OPERATOR(pg_catalog.#>>) ARRAY[E'1', E'2', E'3', E'4', "
       "E'5', E'6', E'7', E'8', E'9', E'10']::pg_catalog.text[]) OPERATOR(pg_catalog.=) E'')"},
      // Identifiers and events.
      {R"({"has_identifier": "mobile_push"})", has("mobile_push")},
      {R"({"event": "order"})", "(EXISTS (" + kOrders + "))"},
      {R"({"event": "order", "at_least": 1})", "(EXISTS (" + kOrders + "))"},
      {R"({"event": "order", "within": "30 days"})",
       "(EXISTS (" + kOrders + " AND e.occurred_at OPERATOR(pg_catalog.>=) " + kSince30Days + "))"},
      {R"({"event": "order", "at_least": 3})",
       "((SELECT pg_catalog.count(*) FROM (" + kOrders + " LIMIT 3) e) OPERATOR(pg_catalog.>=) 3)"},
      {R"({"at_least": 1000000, "within": "30 days", "event": "order"})",
       "((SELECT pg_catalog.count(*) FROM (" + kOrders + " AND e.occurred_at OPERATOR(pg_catalog.>=) " +
           kSince30Days + " LIMIT 1000000) e) OPERATOR(pg_catalog.>=) 1000000)"},
      // Groups.
      {R"({"all": [{"has_identifier": "a"}]})", "(" + has("a") + ")"},
      {R"({"all": [{"has_identifier": "a"}, {"has_identifier": "b"}]})", "(" + has("a") + " AND " + has("b") + ")"},
      {R"({"any": [{"has_identifier": "a"}, {"has_identifier": "b"}, {"has_identifier": "c"}]})",
       "(" + has("a") + " OR " + has("b") + " OR " + has("c") + ")"},
      {R"({"not": {"has_identifier": "a"}})", "(" + has("a") + " IS NOT TRUE)"},
      {R"({"all": [{"has_identifier": "a"}, {"any": [{"not": {"field": "email", "op": "lt", "value": "m"}},
                   {"not": {"not": {"has_identifier": "b"}}}]}]})",
       "(" + has("a") + " AND (((c.email OPERATOR(pg_catalog.<) E'm') IS NOT TRUE) OR ((" + has("b") +
           " IS NOT TRUE) IS NOT TRUE)))"},
      {" \n{ \"not\" :{\"has_identifier\":\"a\"}}\t", "(" + has("a") + " IS NOT TRUE)"},
  };
  for (const Ok &c : cases) {
    SCOPED_TRACE(c.rule);
    EXPECT_EQ(compile_segment_rule(c.rule).sql, c.sql);
  }
}

TEST(SegmentRule, AcceptsTheValueFormats) {
  const char *const timestamps[] = {"2024-02-29", "2000-02-29", "0001-01-01", "2026-12-31 23:59:59",
                                    "2026-01-01T00:00", "2026-01-01T10:00:00.1", "2026-01-01T10:00:00.123456789",
                                    "2026-01-01 10:00Z", "2026-01-01T10:00+15:59", "2026-01-01T10:00:00-00:00"};
  for (const char *t : timestamps) {
    SCOPED_TRACE(t);
    EXPECT_NO_THROW(compile_segment_rule(R"({"field": "created_at", "op": "eq", "value": ")" + std::string(t) + "\"}"));
  }
  const char *const intervals[] = {"1 minute", "999999 minutes", "1 minutes", "2 hour", "24 hours", "365250 days",
                                   "52178 weeks", "12000 months", "1 month", "1000 years", "1 year"};
  for (const char *i : intervals) {
    SCOPED_TRACE(i);
    EXPECT_NO_THROW(compile_segment_rule(R"({"event": "x", "within": ")" + std::string(i) + "\"}"));
  }
}

TEST(SegmentRule, RecordsChecksForTheDatabase) {
  CompiledRule r = compile_segment_rule(
      R"({"all": [{"field": "email", "op": "matches", "value": "(a"}, {"has_identifier": "cookie"},
                  {"any": [{"has_identifier": "mobile_push"}, {"not": {"field": "attributes.x", "op": "matches",
                  "value": "^x$"}}]}]})");
  EXPECT_EQ(r.regexes, (Pairs{{"$.all[0].value", "(a"}, {"$.all[2].any[1].not.value", "^x$"}}));
  EXPECT_EQ(r.identifier_types, (Pairs{{"$.all[1].has_identifier", "cookie"}, {"$.all[2].any[0].has_identifier",
                                                                                "mobile_push"}}));
  CompiledRule plain = compile_segment_rule(email_eq("\"x\""));
  EXPECT_TRUE(plain.regexes.empty());
  EXPECT_TRUE(plain.identifier_types.empty());
}

TEST(SegmentRule, RejectsBadRules) {
  const std::string kNotJson = "invalid segment rule: not valid JSON, or nested too deeply";
  const Bad cases[] = {
      // Not JSON, not a rule.
      {"", kNotJson, "Unexpected end of input at byte offset 0."},
      {"not json", kNotJson, "Unexpected character \"n\" at byte offset 0."},
      {email_eq("\"x\"") + " x", kNotJson, "Unexpected character \"x\" at byte offset 45."},
      {R"({"field": "email", "op": "eq", "op": "ne", "value": "x"})", kNotJson,
       "Duplicate key \"op\" at byte offset 31."},
      {"{\"field\": \"email\", \"op\": \"eq\", \"value\": \"\xC3\"}", kNotJson, "Invalid UTF-8 at byte offset 41."},
      {"{\"field\": \"email\", \"op\": \"eq\", \"value\": \"\xED\xA0\x80\"}", kNotJson,
       "Invalid UTF-8 at byte offset 41."},
      {email_eq(R"("a\u0000b")"), kNotJson, "\\u0000 is not allowed at byte offset 42."},
      {email_eq(R"("\ud800")"), kNotJson, "Lone high surrogate at byte offset 41."},
      {"[]", at("$", "a rule is a JSON object")},
      {"\"email\"", at("$", "a rule is a JSON object")},
      {"null", at("$", "a rule is a JSON object")},
      {"{}", at("$", "an empty object is not a rule")},
      {R"({"Field": "email"})", at("$", "unknown key \"Field\"")},
      // Unknown keys.
      {R"({"field": "email", "op": "eq", "value": "x", "values": ["x"]})", at("$", "unknown key \"values\"")},
      {R"({"has_identifier": "a", "value": 1})", at("$", "unknown key \"value\"")},
      {R"({"event": "order", "since": "1 day"})", at("$", "unknown key \"since\"")},
      // Groups.
      {R"({"all": [{"has_identifier": "a"}], "any": [{"has_identifier": "b"}]})",
       at("$", "a group has one key only, but \"any\" is beside \"all\"")},
      {R"({"field": "email", "op": "is_empty", "not": {"has_identifier": "b"}})",
       at("$", "a group has one key only, but \"field\" is beside \"not\"")},
      {R"({"all": []})", at("$.all", "needs at least one rule")},
      {R"({"not": {"any": []}})", at("$.not.any", "needs at least one rule")},
      {R"({"all": {"has_identifier": "a"}})", at("$.all", "must be an array of rules")},
      {R"({"any": [{"has_identifier": "a"}, 1]})", at("$.any[1]", "a rule is a JSON object")},
      {R"({"not": [{"has_identifier": "a"}]})", at("$.not", "a rule is a JSON object")},
      // Fields.
      {R"({"field": "emial", "op": "eq", "value": "x"})", at("$.field", "unknown field \"emial\"")},
      {R"({"field": "Email", "op": "eq", "value": "x"})", at("$.field", "unknown field \"Email\"")},
      {R"({"field": "attribute.city", "op": "is_empty"})", at("$.field", "unknown field \"attribute.city\"")},
      {R"({"field": "deleted_at", "op": "is_empty"})", at("$.field", "unknown field \"deleted_at\"")},
      {R"({"field": 1, "op": "is_empty"})", at("$.field", "must be a string")},
      {R"({"field": "attributes", "op": "is_empty"})", at("$.field", "invalid attribute path \"attributes\"")},
      {R"({"field": "attributes.", "op": "is_empty"})", at("$.field", "invalid attribute path \"attributes.\"")},
      {R"({"field": "attributes.a..b", "op": "is_empty"})",
       at("$.field", "invalid attribute path \"attributes.a..b\"")},
      {R"({"field": "attributes.a.", "op": "is_empty"})", at("$.field", "invalid attribute path \"attributes.a.\"")},
      {R"({"field": "attributes.1.2.3.4.5.6.7.8.9.10.11", "op": "is_empty"})",
       at("$.field", "invalid attribute path \"attributes.1.2.3.4.5.6.7.8.9.10.11\"")},
      // Operators.
      {R"({"field": "email", "value": "x"})", at("$", "missing key \"op\"")},
      {R"({"field": "email", "op": ["eq"], "value": "x"})", at("$.op", "must be a string")},
      {R"({"all": [{"has_identifier": "a"}, {"field": "email", "op": "equals", "value": "x"}]})",
       at("$.all[1].op", "unknown operator \"equals\"")},
      {R"({"field": "email", "op": "EQ", "value": "x"})", at("$.op", "unknown operator \"EQ\"")},
      {R"({"field": "created_at", "op": "contains", "value": "2026"})",
       at("$.op", "operator \"contains\" does not apply to timestamp field \"created_at\"")},
      {R"({"field": "created_at", "op": "in", "value": ["2026-01-01"]})",
       at("$.op", "operator \"in\" does not apply to timestamp field \"created_at\"")},
      {R"({"field": "email", "op": "within_last", "value": "1 day"})",
       at("$.op", "operator \"within_last\" does not apply to text field \"email\"")},
      {R"({"field": "attributes.seen", "op": "within_last", "value": "1 day"})",
       at("$.op", "operator \"within_last\" does not apply to attribute \"attributes.seen\"")},
      {R"({"field": "deleted", "op": "is_empty"})",
       at("$.op", "operator \"is_empty\" does not apply to boolean field \"deleted\"")},
      {R"({"field": "deleted", "op": "lt", "value": true})",
       at("$.op", "operator \"lt\" does not apply to boolean field \"deleted\"")},
      // Values present or missing.
      {R"({"field": "email", "op": "eq"})", at("$", "missing key \"value\"")},
      {R"({"field": "email", "op": "is_empty", "value": null})", at("$.value", "operator \"is_empty\" takes no value")},
      {R"({"field": "email", "op": "is_not_empty", "value": ""})",
       at("$.value", "operator \"is_not_empty\" takes no value")},
      // Values of the wrong type.
      {email_eq("{}"), at("$.value", "must be a string or a number")},
      {email_eq("true"), at("$.value", "must be a string or a number")},
      {email_eq("null"), at("$.value", "must be a string or a number")},
      {email_eq("[\"x\"]"), at("$.value", "must be a string or a number")},
      {R"({"not": {"any": [{"field": "email", "op": "eq", "value": {}}]}})",
       at("$.not.any[0].value", "must be a string or a number")},
      {R"({"field": "email", "op": "contains", "value": false})", at("$.value", "must be a string or a number")},
      {R"({"field": "email", "op": "matches", "value": 5})", at("$.value", "must be a string")},
      {R"({"field": "deleted", "op": "eq", "value": "true"})", at("$.value", "must be true or false")},
      {R"({"field": "deleted", "op": "ne", "value": 1})", at("$.value", "must be true or false")},
      {R"({"field": "created_at", "op": "eq", "value": 20260101})", at("$.value", "must be a timestamp string")},
      {R"({"field": "attributes.vip", "op": "lt", "value": true})", at("$.value", "must be a string or a number")},
      {R"({"field": "attributes.vip", "op": "eq", "value": null})", at("$.value", "must be a string or a number")},
      {R"({"field": "attributes.n", "op": "eq", "value": 1e1001})",
       at("$.value", "number \"1e1001\" is out of range")},
      {R"({"field": "attributes.n", "op": "eq", "value": 1e-01001})",
       at("$.value", "number \"1e-01001\" is out of range")},
      {R"({"field": "attributes.n", "op": "eq", "value": 0.)" + std::string(1000, '1') + "}",
       at("$.value", "number \"0." + std::string(98, '1') + "\"... is out of range")},
      // Timestamps.
      {R"({"field": "created_at", "op": "eq", "value": "2026-13-01"})",
       at("$.value", "invalid timestamp \"2026-13-01\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-02-29"})",
       at("$.value", "invalid timestamp \"2026-02-29\"")},
      {R"({"field": "created_at", "op": "eq", "value": "1900-02-29"})",
       at("$.value", "invalid timestamp \"1900-02-29\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-04-31"})",
       at("$.value", "invalid timestamp \"2026-04-31\"")},
      {R"({"field": "created_at", "op": "eq", "value": "0000-01-01"})",
       at("$.value", "invalid timestamp \"0000-01-01\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-1-1"})", at("$.value", "invalid timestamp \"2026-1-1\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01Z"})",
       at("$.value", "invalid timestamp \"2026-01-01Z\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T24:00"})",
       at("$.value", "invalid timestamp \"2026-01-01T24:00\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10"})",
       at("$.value", "invalid timestamp \"2026-01-01T10\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00:60"})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00:60\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00."})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00.\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00:00."})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00:00.\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00:00.1234567890"})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00:00.1234567890\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00+16:00"})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00+16:00\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01T10:00+0200"})",
       at("$.value", "invalid timestamp \"2026-01-01T10:00+0200\"")},
      {R"({"field": "created_at", "op": "eq", "value": "2026-01-01 10:00 UTC"})",
       at("$.value", "invalid timestamp \"2026-01-01 10:00 UTC\"")},
      {R"({"field": "created_at", "op": "eq", "value": "now"})", at("$.value", "invalid timestamp \"now\"")},
      {R"({"field": "created_at", "op": "between", "value": ["2026-01-01", "infinity"]})",
       at("$.value[1]", "invalid timestamp \"infinity\"")},
      // Intervals.
      {R"({"field": "created_at", "op": "within_last", "value": 30})", at("$.value", "must be a string")},
      {R"({"field": "created_at", "op": "within_last", "value": "30days"})",
       at("$.value", "invalid interval \"30days\"")},
      {R"({"event": "order", "within": "0 days"})", at("$.within", "invalid interval \"0 days\"")},
      {R"({"event": "order", "within": "030 days"})", at("$.within", "invalid interval \"030 days\"")},
      {R"({"event": "order", "within": "1000000 minutes"})", at("$.within", "invalid interval \"1000000 minutes\"")},
      {R"({"event": "order", "within": "30 fortnights"})", at("$.within", "invalid interval \"30 fortnights\"")},
      {R"({"event": "order", "within": "30 Days"})", at("$.within", "invalid interval \"30 Days\"")},
      {R"({"event": "order", "within": "30  days"})", at("$.within", "invalid interval \"30  days\"")},
      {R"({"event": "order", "within": " 30 days"})", at("$.within", "invalid interval \" 30 days\"")},
      {R"({"event": "order", "within": "30 dayss"})", at("$.within", "invalid interval \"30 dayss\"")},
      {R"({"event": "order", "within": "-1 day"})", at("$.within", "invalid interval \"-1 day\"")},
      {R"({"event": "order", "within": "1001 years"})", at("$.within", "invalid interval \"1001 years\"")},
      {R"({"event": "order", "within": "12001 months"})", at("$.within", "invalid interval \"12001 months\"")},
      {R"({"event": "order", "within": "52179 weeks"})", at("$.within", "invalid interval \"52179 weeks\"")},
      {R"({"event": "order", "within": "365251 days"})", at("$.within", "invalid interval \"365251 days\"")},
      // Identifier types and events.
      {R"({"has_identifier": "Mobile"})", at("$.has_identifier", "invalid identifier type \"Mobile\"")},
      {R"({"has_identifier": ""})", at("$.has_identifier", "invalid identifier type \"\"")},
      {R"({"has_identifier": "1st"})", at("$.has_identifier", "invalid identifier type \"1st\"")},
      {R"({"has_identifier": "a-b"})", at("$.has_identifier", "invalid identifier type \"a-b\"")},
      {R"j({"has_identifier": "a')"})j", at("$.has_identifier", "invalid identifier type \"a')\"")},
      {R"({"has_identifier": ")" + std::string(64, 'a') + "\"}",
       at("$.has_identifier", "invalid identifier type \"" + std::string(64, 'a') + "\"")},
      {R"({"has_identifier": 5})", at("$.has_identifier", "must be a string")},
      {R"({"event": ""})", at("$.event", "must be a non-empty string")},
      {R"({"event": ["order"]})", at("$.event", "must be a non-empty string")},
      {R"({"event": "order", "at_least": 0})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": -1})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": 1.0})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": 1e3})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": 1000001})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": 99999999})", at("$.at_least", "must be an integer from 1 to 1000000")},
      {R"({"event": "order", "at_least": "2"})", at("$.at_least", "must be an integer from 1 to 1000000")},
      // between and in.
      {R"({"field": "email", "op": "between", "value": ["a"]})", at("$.value", "must be an array of two values")},
      {R"({"field": "email", "op": "between", "value": ["a", "b", "c"]})",
       at("$.value", "must be an array of two values")},
      {R"({"field": "email", "op": "between", "value": "a"})", at("$.value", "must be an array of two values")},
      {R"({"field": "email", "op": "between", "value": ["a", null]})",
       at("$.value[1]", "must be a string or a number")},
      {R"({"field": "attributes.n", "op": "between", "value": [true, 1]})",
       at("$.value[0]", "must be a string or a number")},
      {R"({"field": "email", "op": "in", "value": []})", at("$.value", "must be a non-empty array")},
      {R"({"field": "email", "op": "in", "value": "a"})", at("$.value", "must be a non-empty array")},
      {R"({"field": "email", "op": "in", "value": [["a"]]})", at("$.value[0]", "must be a string or a number")},
      {R"({"field": "email", "op": "in", "value": ["a", ["b"]]})", at("$.value[1]", "must be a string or a number")},
      {R"({"field": "attributes.n", "op": "in", "value": [1, {}]})", at("$.value[1]", "must be a string or a number")},
      {R"({"field": "attributes.n", "op": "in", "value": [true]})", at("$.value[0]", "must be a string or a number")},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(c.rule);
    IdentityError e = error_of(c.rule);
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(e.what(), c.message);
    EXPECT_EQ(e.detail(), c.detail);
  }
}

TEST(SegmentRule, HintsListTheChoices) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"field": "email", "op": "equals", "value": "x"})",
       "Operators: is_empty, is_not_empty, eq, ne, lt, lte, gt, gte, between, in, contains, starts_with, matches, "
       "within_last."},
      {R"({"field": "emial", "op": "eq", "value": "x"})",
       "Fields: external_id, email, phone, first_name, last_name, created_at, updated_at, deleted; attributes "
       "use \"attributes.<key>\"."},
      {R"({"field": "created_at", "op": "contains", "value": "x"})",
       "Operators for timestamp fields: is_empty, is_not_empty, eq, ne, lt, lte, gt, gte, between, within_last."},
      {R"({"field": "deleted", "op": "is_empty"})", "Operators for boolean fields: eq, ne."},
      {R"({"field": "attributes.x", "op": "within_last", "value": "1 day"})",
       "Operators for attributes: is_empty, is_not_empty, eq, ne, lt, lte, gt, gte, between, in, contains, "
       "starts_with, matches."},
      {R"({"event": "x", "within": "1 decade"})",
       "Write a count and a unit such as \"30 days\": minute, hour, day, week, month or year, at most 1000 years in "
       "all."},
      {R"({"foo": 1})",
       "A rule is a group (\"all\", \"any\" or \"not\") or a condition (\"field\", \"has_identifier\" or \"event\")."},
      {R"({"field": "email", "op": "eq", "value": "x", "vlaue": 1})",
       "A field condition has the keys \"field\", \"op\" and \"value\"."},
  };
  for (const auto &[rule, hint] : cases) {
    SCOPED_TRACE(rule);
    EXPECT_EQ(error_of(rule).hint(), hint);
  }
}

// n groups of kind ("all" or "not") around one condition.
std::string nested(const std::string &kind, int n) {
  std::string open, close;
  for (int i = 0; i < n; i++) {
    open += kind == "not" ? "{\"not\": " : "{\"all\": [";
    close += kind == "not" ? "}" : "]}";
  }
  return open + R"({"has_identifier": "a"})" + close;
}

// The path of the innermost of n groups of kind.
std::string nested_path(const std::string &kind, int n) {
  std::string path = "$";
  for (int i = 1; i < n; i++) path += kind == "not" ? ".not" : ".all[0]";
  return path;
}

TEST(SegmentRule, EnforcesTheLimits) {
  for (const std::string kind : {"not", "all"}) {
    SCOPED_TRACE(kind);
    EXPECT_NO_THROW(compile_segment_rule(nested(kind, 32)));
    EXPECT_EQ(error_of(nested(kind, 33)).what(), at(nested_path(kind, 33), "groups nest more than 32 deep"));
  }
  // Deeper than any rule can be: the JSON reader stops before recursing further.
  IdentityError deep = error_of(nested("all", 35));
  EXPECT_STREQ(deep.what(), "invalid segment rule: not valid JSON, or nested too deeply");
  EXPECT_EQ(deep.detail(), "Nesting deeper than 68 levels at byte offset 306.");

  auto conditions = [](int n) {
    std::string rule = R"({"any": [)";
    for (int i = 0; i < n; i++) rule += std::string(i ? ", " : "") + R"({"has_identifier": "t"})";
    return rule + "]}";
  };
  EXPECT_NO_THROW(compile_segment_rule(conditions(1000)));
  EXPECT_EQ(error_of(conditions(1001)).what(), at("$.any[1000]", "more than 1000 conditions"));

  std::string in = R"({"field": "email", "op": "in", "value": [)";
  for (int i = 0; i < 1000; i++) in += std::string(i ? ", " : "") + std::to_string(i);
  EXPECT_NO_THROW(compile_segment_rule(in + "]}"));
  EXPECT_EQ(error_of(in + ", 1000]}").what(), at("$.value", "has more than 1000 values"));

  std::string longest = email_eq("\"\"");
  longest.insert(longest.size() - 2, 65536 - longest.size(), 'x');
  ASSERT_EQ(longest.size(), 65536u);
  EXPECT_NO_THROW(compile_segment_rule(longest));
  longest.insert(longest.size() - 2, "x");
  IdentityError too_long = error_of(longest);
  EXPECT_STREQ(too_long.what(), "invalid segment rule: longer than 65536 bytes");
  EXPECT_EQ(too_long.detail(), "It is 65537 bytes.");
  // 100000 '[' stay within the byte limit's check: the length check comes first.
  EXPECT_STREQ(error_of(std::string(100000, '[')).what(), "invalid segment rule: longer than 65536 bytes");
  IdentityError brackets = error_of(std::string(65536, '['));
  EXPECT_STREQ(brackets.what(), "invalid segment rule: not valid JSON, or nested too deeply");
  EXPECT_EQ(brackets.detail(), "Nesting deeper than 68 levels at byte offset 68.");
}

TEST(SegmentRule, RejectsEveryTruncation) {
  const std::string rule =
      R"({"all": [{"field": "attributes.a\u00e9", "op": "in", "value": ["x\ud83d\ude00", -1.5e3]},
                  {"not": {"event": "order", "within": "30 days", "at_least": 2}}, {"has_identifier": "cookie"}]})";
  ASSERT_NO_THROW(compile_segment_rule(rule));
  for (size_t len = 0; len < rule.size(); len++) {
    SCOPED_TRACE(len);
    EXPECT_STREQ(error_of(rule.substr(0, len)).what(), "invalid segment rule: not valid JSON, or nested too deeply");
  }
}

TEST(SegmentRule, EscapesHostileValues) {
  const std::pair<std::string, std::string> cases[] = {
      {"O'Brien", "E'O''Brien'"},
      {"back\\slash", "E'back\\\\slash'"},
      {"'); DROP TABLE x; --", "E'''); DROP TABLE x; --'"},
      {"\\'", "E'\\\\'''"},
      {"\\", "E'\\\\'"},
      {"''", "E''''''"},
      {"$$ $q$", "E'$$ $q$'"},
      {"a\nb\r\tc", "E'a\\x0Ab\\x0D\\x09c'"},
      {"\x01\x1F\x7F" "1", "E'\\x01\\x1F\\x7F1'"},
      {"\\x41", "E'\\\\x41'"},
      {"\xC2\x85 \xD0\x9A\xD0\xB8\xD1\x97\xD0\xB2 \xF0\x9F\x98\x80",
       "E'\xC2\x85 \xD0\x9A\xD0\xB8\xD1\x97\xD0\xB2 \xF0\x9F\x98\x80'"},
      {"", "E''"},
  };
  for (const auto &[value, literal] : cases) {
    SCOPED_TRACE(value);
    EXPECT_EQ(sql_literal(value), literal);
    EXPECT_EQ(compile_segment_rule(email_eq(json_quote(value))).sql,
              "(c.email OPERATOR(pg_catalog.=) " + literal + ")");
  }
  // A value the JSON reader would never produce still cannot reach SQL.
  for (const std::string &bad : {std::string("a\0b", 3), std::string("\xFF"), std::string("\xC3"),
                                std::string("\xED\xA0\x80"), std::string("\xC0\xA7")}) {
    EXPECT_THROW(sql_literal(bad), IdentityError);
  }
}

// Reads the E'' literal starting at sql[pos] as PostgreSQL does; returns the
// value and sets *end to the offset just past the closing quote.
std::optional<std::string> decode_e_literal(const std::string &sql, size_t pos, size_t *end) {
  if (sql.compare(pos, 2, "E'") != 0) return std::nullopt;
  std::string out;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
  };
  for (size_t i = pos + 2; i < sql.size();) {
    char c = sql[i];
    if (c == '\'') {
      if (i + 1 < sql.size() && sql[i + 1] == '\'') {
        out += '\'';
        i += 2;
        continue;
      }
      *end = i + 1;
      return out;
    }
    if (c != '\\') {
      out += c;
      i++;
      continue;
    }
    if (++i >= sql.size()) return std::nullopt;
    c = sql[i++];
    switch (c) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'x': {
        int v = 0, n = 0;
        while (n < 2 && i < sql.size() && hex(sql[i]) >= 0) v = v * 16 + hex(sql[i++]), n++;
        if (n == 0) return std::nullopt;
        out += static_cast<char>(v);
        break;
      }
      case 'u': case 'U': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        return std::nullopt;  // sql_literal never writes these; treat them as a failure
      default: out += c;  // \\, \' and any other character stand for themselves
    }
  }
  return std::nullopt;
}

TEST(SegmentRule, LiteralsReadBackExactly) {
  // Pieces that stress the escaping; random bytes add invalid UTF-8, which
  // the compiler must refuse rather than pass on.
  const char *const pieces[] = {"'", "\\", "\"", "''", "\\'", "E'", "$$", ")", ";", "--", "/*", "\n", "\x01",
                                "\x1f", "\x7f", "x", " ", "\xC3\xA9", "\xF0\x9F\x98\x80", "\xC2\x85", "\\x4", "%s"};
  std::mt19937 rng(7);
  const std::string prefix = "(c.email OPERATOR(pg_catalog.=) ";
  size_t accepted = 0;
  for (int round = 0; round < 20000; round++) {
    std::string value;
    for (int k = static_cast<int>(rng() % 12); k > 0; k--) {
      if (rng() % 8 == 0)
        value += static_cast<char>(rng());
      else
        value += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
    }
    CompiledRule r;
    try {
      r = compile_segment_rule(email_eq(json_quote(value)));
    } catch (const IdentityError &e) {
      EXPECT_STREQ(e.what(), "invalid segment rule: not valid JSON, or nested too deeply");
      continue;
    }
    accepted++;
    SCOPED_TRACE(r.sql);
    ASSERT_EQ(r.sql.compare(0, prefix.size(), prefix), 0);
    size_t end = 0;
    std::optional<std::string> decoded = decode_e_literal(r.sql, prefix.size(), &end);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, value);
    EXPECT_EQ(end, r.sql.size() - 1);  // the literal ends where the value does, before ")"
  }
  EXPECT_GT(accepted, 5000u);
}

TEST(SegmentRule, SurvivesRandomMutations) {
  // Anything may come back, but only a result or an IdentityError 22023.
  const std::string rule =
      R"({"any": [{"field": "attributes.n", "op": "between", "value": [1, 2e3]}, {"not": {"has_identifier": "a"}},
                  {"field": "created_at", "op": "within_last", "value": "30 days"}, {"event": "o", "at_least": 2}]})";
  std::mt19937 rng(42);
  size_t compiled = 0;
  for (int i = 0; i < 20000; i++) {
    std::string s = mutate(rule, rng);
    try {
      compile_segment_rule(s);
      compiled++;
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), "22023");
    }
  }
  EXPECT_GT(compiled, 0u);
}

}  // namespace
}  // namespace identity
