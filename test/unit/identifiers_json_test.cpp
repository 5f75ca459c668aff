// identifiers_json_test.cpp: table-driven tests of parse_identifiers_json.
#include "core/identifiers_json.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/identity_error.h"
#include "mutations.h"

namespace identity {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A document and the (type, value) pairs it must give.
struct Ok {
  std::string json;
  Pairs expected;
};

// A document and the error it must raise: exact message and detail.
struct Bad {
  std::string json;
  std::string message;
  std::string detail;
};

const char *const kNotJson = "identifiers is not valid JSON";
const char *const kNotObject = "identifiers must be a JSON object";

// The message for a member value of the wrong type.
std::string wrong_type(const std::string &key) {
  return "identifiers value for \"" + key + "\" must be a string, a number or an array of them";
}

// Parses json into plain pairs so a whole result compares at once.
Pairs parse(const std::string &json) {
  Pairs out;
  for (const RawIdentifier &r : parse_identifiers_json(json)) out.emplace_back(r.type, r.value);
  return out;
}

TEST(IdentifiersJson, ReadsValidShapes) {
  const Ok cases[] = {
      {"{}", {}},
      {" \t\r\n{ \n} \n", {}},
      {R"({"mobile_push": "tok1", "cookie": ["c1", "c2"], "telegram": 12345})",
       {{"mobile_push", "tok1"}, {"cookie", "c1"}, {"cookie", "c2"}, {"telegram", "12345"}}},
      {R"({"a": null, "b": [], "c": [null, "x", null], "d": [ ]})", {{"c", "x"}}},
      {R"({"a": "1", "b": "2", "a": "3"})", {{"a", "1"}, {"b", "2"}, {"a", "3"}}},
      {R"({"n": [0, -0, 1.25, -3E2, 1e+10, 2.5e-3, 123456789012345678901234567890]})",
       {{"n", "0"}, {"n", "-0"}, {"n", "1.25"}, {"n", "-3E2"}, {"n", "1e+10"},
        {"n", "2.5e-3"}, {"n", "123456789012345678901234567890"}}},
      {R"({"s": "a\"b\\c\/d\b\f\n\r\t"})", {{"s", "a\"b\\c/d\b\f\n\r\t"}}},
      {R"({"s": "\u00e9\u4E2D\u0041"})", {{"s", "\xC3\xA9\xE4\xB8\xAD" "A"}}},
      {R"({"s": "\ud83d\ude00"})", {{"s", "\xF0\x9F\x98\x80"}}},
      {R"({"s": "\u0000"})", {{"s", std::string("\0", 1)}}},
      {R"({"s": ""})", {{"s", ""}}},
      {R"({"a\u0062": "x"})", {{"ab", "x"}}},
      {"{\"\xD0\xBA\": \"\xE2\x82\xAC\xF0\x9F\x98\x80\"}", {{"\xD0\xBA", "\xE2\x82\xAC\xF0\x9F\x98\x80"}}},
  };
  for (const Ok &c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_EQ(parse(c.json), c.expected);
  }
}

TEST(IdentifiersJson, RejectsWrongShapesAndMalformedJson) {
  const Bad cases[] = {
      {"", kNotJson, "Unexpected end of input at byte offset 0."},
      {"   ", kNotJson, "Unexpected end of input at byte offset 3."},
      {"[1]", kNotObject, "It is an array."},
      {"\"x\"", kNotObject, "It is a string."},
      {" 42", kNotObject, "It is a number."},
      {"true", kNotObject, "It is a boolean."},
      {"null", kNotObject, "It is null."},
      {" nope", kNotObject, "It is null."},
      {"[1, ", kNotObject, "It is an array."},
      {R"({"a": {}})", wrong_type("a"), "It is an object."},
      {R"({"a": true})", wrong_type("a"), "It is a boolean."},
      {R"({"a": [[1]]})", wrong_type("a"), "It is an array holding an array."},
      {R"({"a": ["x", {"b": 1}]})", wrong_type("a"), "It is an array holding an object."},
      {R"({"a": [false]})", wrong_type("a"), "It is an array holding a boolean."},
      {R"({"a": 1, "b": true, "c": )", wrong_type("b"), "It is a boolean."},
      {R"({"a": ["x", {"b": )", wrong_type("a"), "It is an array holding an object."},
      {R"({"a\u0001": true})", wrong_type("a\\x01"), "It is a boolean."},
      {"{\"" + std::string(150, 'k') + "\": true}",
       "identifiers value for \"" + std::string(100, 'k') +
           "\"... must be a string, a number or an array of them",
       "It is a boolean."},
      {"x", kNotJson, "Unexpected character \"x\" at byte offset 0."},
      {"\xFF", kNotJson, "Unexpected byte 0xFF at byte offset 0."},
      {R"({"a" "b"})", kNotJson, "Unexpected character \"\"\" at byte offset 5."},
      {R"({"a": "b",})", kNotJson, "Unexpected character \"}\" at byte offset 10."},
      {R"({"a": "b"} x)", kNotJson, "Unexpected character \"x\" at byte offset 11."},
      {R"({"a": "b"}{})", kNotJson, "Unexpected character \"{\" at byte offset 10."},
      {R"({a: 1})", kNotJson, "Unexpected character \"a\" at byte offset 1."},
      {R"({"a": 01})", kNotJson, "Unexpected character \"1\" at byte offset 7."},
      {R"({"a": 1.})", kNotJson, "Invalid number at byte offset 8."},
      {R"({"a": -})", kNotJson, "Invalid number at byte offset 7."},
      {R"({"a": 1e})", kNotJson, "Invalid number at byte offset 8."},
      {R"({"a": +1})", kNotJson, "Unexpected character \"+\" at byte offset 6."},
      {R"({"a": nul})", kNotJson, "Unexpected character \"n\" at byte offset 6."},
      {R"({"a": [1 2]})", kNotJson, "Unexpected character \"2\" at byte offset 9."},
      {R"({"a": "\x"})", kNotJson, "Invalid escape sequence at byte offset 7."},
      {R"({"a": "\u12G4"})", kNotJson, "Invalid \\u escape at byte offset 11."},
      {R"({"a": "\ud800"})", kNotJson, "Lone high surrogate at byte offset 7."},
      {R"({"a": "\ud800\u0041"})", kNotJson, "Lone high surrogate at byte offset 7."},
      {R"({"a": "\udc00"})", kNotJson, "Lone low surrogate at byte offset 7."},
      {"{\"a\": \"x\ny\"}", kNotJson, "Unescaped control character in a string at byte offset 8."},
      {"{\"a\": \"\xFF\"}", kNotJson, "Invalid UTF-8 at byte offset 7."},
      {"{\"a\": \"\xED\xA0\x80\"}", kNotJson, "Invalid UTF-8 at byte offset 7."},
      {"{\"a\": \"\xE2\x82\"}", kNotJson, "Invalid UTF-8 at byte offset 7."},
      {std::string("{\"a\": \0}", 8), kNotJson, "Unexpected byte 0x00 at byte offset 6."},
      {R"({"a": 1)", kNotJson, "Unexpected end of input at byte offset 7."},
      {R"({"a": "\)", kNotJson, "Unexpected end of input at byte offset 8."},
      {R"({"a": "\ud83d\ude)", kNotJson, "Invalid \\u escape at byte offset 17."},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(c.json);
    try {
      parse_identifiers_json(c.json);
      ADD_FAILURE() << "no error";
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), "22023");
      EXPECT_EQ(e.what(), c.message);
      EXPECT_EQ(e.detail(), c.detail);
    }
  }
}

TEST(IdentifiersJson, HintShowsTheExpectedShape) {
  try {
    parse_identifiers_json("[]");
    ADD_FAILURE() << "no error";
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.hint(),
              R"(Pass an object such as {"mobile_push": "token", "cookie": ["c1", "c2"]}.)");
  }
}

TEST(IdentifiersJson, RefusesDeepNestingWithoutRecursion) {
  const std::string deep(100000, '[');
  const Bad cases[] = {
      {deep, kNotObject, "It is an array."},
      {"{\"a\": " + deep, wrong_type("a"), "It is an array holding an array."},
      {"{\"a\": " + std::string(100000, '{'), wrong_type("a"), "It is an object."},
  };
  for (const Bad &c : cases) {
    try {
      parse_identifiers_json(c.json);
      ADD_FAILURE() << "no error";
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.what(), c.message);
      EXPECT_EQ(e.detail(), c.detail);
    }
  }
}

TEST(IdentifiersJson, RejectsEveryTruncation) {
  const std::string doc =
      R"({"mobile_push": "t\u00e9\ud83d\ude00", "cookie": ["c1", -1.5e3, null], "n": 12})";
  ASSERT_EQ(parse(doc).size(), 4u);
  for (size_t len = 0; len < doc.size(); len++) {
    SCOPED_TRACE(len);
    try {
      parse_identifiers_json(doc.substr(0, len));
      ADD_FAILURE() << "no error";
    } catch (const IdentityError &e) {
      EXPECT_STREQ(e.what(), kNotJson);
    }
  }
}

TEST(IdentifiersJson, SurvivesRandomMutations) {
  // Anything may come back, but only a result or an IdentityError.
  const std::string doc = R"({"a": ["x\u00e9\ud83d\ude00", 1.5e-3, null], "b": "y", "c": {}})";
  std::mt19937 rng(42);
  size_t errors = 0;
  for (int i = 0; i < 20000; i++) {
    std::string s = mutate(doc, rng);
    try {
      parse_identifiers_json(s);
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), "22023");
      errors++;
    }
  }
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace identity
