// json_value_test.cpp: table-driven tests of parse_json.
#include "core/json_value.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/identity_error.h"
#include "mutations.h"

namespace identity {
namespace {

using Type = JsonValue::Type;

const std::string kMessage = "test: not valid JSON";

// A compact rendering of a tree, so that a whole parse compares at once:
// n, t/f, number text with # when integral, strings in <>, [..], {k:v,..}.
std::string render(const JsonValue &v) {
  switch (v.type) {
    case Type::kNull: return "n";
    case Type::kBool: return v.boolean ? "t" : "f";
    case Type::kNumber: return v.text + (v.integer ? "#" : "");
    case Type::kString: return "<" + v.text + ">";
    case Type::kArray: {
      std::string out = "[";
      for (const JsonValue &item : v.items) out += (out.size() > 1 ? "," : "") + render(item);
      return out + "]";
    }
    case Type::kObject: {
      std::string out = "{";
      for (const auto &[key, value] : v.members) out += (out.size() > 1 ? "," : "") + key + ":" + render(value);
      return out + "}";
    }
  }
  return "?";
}

// Parses json and renders the tree.
std::string parse(const std::string &json, int max_depth = kMaxJsonDepth) {
  return render(parse_json(json, kMessage, max_depth));
}

// The DETAIL of the error parsing json raises; fails the test if none.
std::string error_detail(const std::string &json, int max_depth = kMaxJsonDepth) {
  try {
    parse_json(json, kMessage, max_depth);
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(e.what(), kMessage);
    return e.detail();
  }
  ADD_FAILURE() << "no error for " << json;
  return {};
}

TEST(JsonValue, ReadsEveryType) {
  const std::pair<std::string, std::string> cases[] = {
      {"null", "n"},
      {" true ", "t"},
      {"\n\tfalse\r", "f"},
      {"0", "0#"},
      {"-0", "-0#"},
      {"123456789012345678901234567890", "123456789012345678901234567890#"},
      {"1.50", "1.50"},
      {"-3E2", "-3E2"},
      {"1e+10", "1e+10"},
      {"2.5e-3", "2.5e-3"},
      {R"("")", "<>"},
      {R"("a\"b\\c\/d\b\f\n\r\t")", "<a\"b\\c/d\b\f\n\r\t>"},
      {R"("\u00e9\u4E2D\u0041\ud83d\ude00")", "<\xC3\xA9\xE4\xB8\xAD" "A\xF0\x9F\x98\x80>"},
      {"\"\xD0\x9A\xF0\x9F\x98\x80\x7F\"", "<\xD0\x9A\xF0\x9F\x98\x80\x7F>"},
      {"[]", "[]"},
      {"[ ]", "[]"},
      {"[1, \"x\", null, [true, []]]", "[1#,<x>,n,[t,[]]]"},
      {"{}", "{}"},
      {R"({"b": 1, "a": {"c": [2.0]}, "": null})", "{b:1#,a:{c:[2.0]},:n}"},
      {R"({"a\u0062": 1})", "{ab:1#}"},
  };
  for (const auto &[json, tree] : cases) {
    SCOPED_TRACE(json);
    EXPECT_EQ(parse(json), tree);
  }
  JsonValue v = parse_json(R"({"op": "eq", "value": [1]})", kMessage);
  ASSERT_NE(v.find("value"), nullptr);
  EXPECT_EQ(v.find("value")->items.size(), 1u);
  EXPECT_EQ(v.find("op")->text, "eq");
  EXPECT_EQ(v.find("field"), nullptr);
  EXPECT_EQ(v.find("value")->find("x"), nullptr);
}

TEST(JsonValue, RejectsMalformedJson) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "Unexpected end of input at byte offset 0."},
      {"   ", "Unexpected end of input at byte offset 3."},
      {"x", "Unexpected character \"x\" at byte offset 0."},
      {"\xFF", "Unexpected byte 0xFF at byte offset 0."},
      {"nul", "Unexpected character \"n\" at byte offset 0."},
      {"True", "Unexpected character \"T\" at byte offset 0."},
      {"NaN", "Unexpected character \"N\" at byte offset 0."},
      {"Infinity", "Unexpected character \"I\" at byte offset 0."},
      {"-Infinity", "Invalid number at byte offset 1."},
      {"01", "Unexpected character \"1\" at byte offset 1."},
      {"1.", "Invalid number at byte offset 2."},
      {".5", "Unexpected character \".\" at byte offset 0."},
      {"+1", "Unexpected character \"+\" at byte offset 0."},
      {"1e", "Invalid number at byte offset 2."},
      {"0x10", "Unexpected character \"x\" at byte offset 1."},
      {"1 2", "Unexpected character \"2\" at byte offset 2."},
      {"{} {}", "Unexpected character \"{\" at byte offset 3."},
      {"[1,]", "Unexpected character \"]\" at byte offset 3."},
      {"[1 2]", "Unexpected character \"2\" at byte offset 3."},
      {R"({"a" 1})", "Unexpected character \"1\" at byte offset 5."},
      {R"({"a": 1,})", "Unexpected character \"}\" at byte offset 8."},
      {R"({a: 1})", "Unexpected character \"a\" at byte offset 1."},
      {R"({"a": 1, "a": 2})", "Duplicate key \"a\" at byte offset 9."},
      {R"({"x": {"a": 1, "\u0061": 2}})", "Duplicate key \"a\" at byte offset 15."},
      {R"("\x")", "Invalid escape sequence at byte offset 1."},
      {R"("\u12G4")", "Invalid \\u escape at byte offset 5."},
      {R"("\u0000")", "\\u0000 is not allowed at byte offset 1."},
      {R"({"a\u0000": 1})", "\\u0000 is not allowed at byte offset 3."},
      {R"("\ud800")", "Lone high surrogate at byte offset 1."},
      {R"("\ud800\u0041")", "Lone high surrogate at byte offset 1."},
      {R"("\ud800x")", "Lone high surrogate at byte offset 1."},
      {R"("\udc00\ud800")", "Lone low surrogate at byte offset 1."},
      {"\"x\ny\"", "Unescaped control character in a string at byte offset 2."},
      {std::string("\"a\0b\"", 5), "Unescaped control character in a string at byte offset 2."},
      {std::string("[\0]", 3), "Unexpected byte 0x00 at byte offset 1."},
      {"\"\xFF\"", "Invalid UTF-8 at byte offset 1."},
      {"\"\xC0\xAF\"", "Invalid UTF-8 at byte offset 1."},
      {"\"\xED\xA0\x80\"", "Invalid UTF-8 at byte offset 1."},
      {"\"\xF4\x90\x80\x80\"", "Invalid UTF-8 at byte offset 1."},
      {"\"\xE2\x82\"", "Invalid UTF-8 at byte offset 1."},
      {"\"\xE2\x82", "Invalid UTF-8 at byte offset 1."},
      {"\"abc", "Unexpected end of input at byte offset 4."},
      {R"("\)", "Unexpected end of input at byte offset 2."},
      {R"("\ud83d\ude)", "Invalid \\u escape at byte offset 11."},
      {"\xEF\xBB\xBF{}", "Unexpected byte 0xEF at byte offset 0."},
  };
  for (const auto &[json, detail] : cases) {
    SCOPED_TRACE(json);
    EXPECT_EQ(error_detail(json), detail);
  }
}

TEST(JsonValue, LimitsNestingWithoutOverflowingTheStack) {
  // 64 levels parse; the 65th is refused where it opens.
  EXPECT_EQ(parse(std::string(64, '[') + std::string(64, ']')).size(), 128u);
  EXPECT_EQ(error_detail(std::string(65, '[') + std::string(65, ']')),
            "Nesting deeper than 64 levels at byte offset 64.");
  const std::pair<std::string, std::string> cases[] = {
      {std::string(100000, '['), "Nesting deeper than 64 levels at byte offset 64."},
      {std::string(100000, '{'), "Unexpected character \"{\" at byte offset 1."},
      {[] {
         std::string s;
         for (int i = 0; i < 100000; i++) s += "{\"a\":";
         return s;
       }(),
       "Nesting deeper than 64 levels at byte offset 320."},
      {[] {
         std::string s;
         for (int i = 0; i < 50000; i++) s += "[{\"a\":";
         return s;
       }(),
       "Nesting deeper than 64 levels at byte offset 192."},
  };
  for (const auto &[json, detail] : cases) EXPECT_EQ(error_detail(json), detail);
  // A caller may ask for less, or for more.
  EXPECT_EQ(error_detail("[[1]]", 1), "Nesting deeper than 1 levels at byte offset 1.");
  EXPECT_EQ(parse("[[1]]", 1 + 1), "[[1#]]");
  EXPECT_EQ(parse("1", 0), "1#");
}

TEST(JsonValue, OptionsMayAllowRepeatedKeysAndNul) {
  JsonOptions options;
  options.unique_keys = false;
  options.allow_nul = true;
  EXPECT_EQ(render(parse_json(R"({"a": 1, "a": "\u0000", "b": {"c": 2, "c": 3}})", kMessage, options)),
            std::string("{a:1#,a:<\0>,b:{c:2#,c:3#}}", 26));
}

TEST(JsonValue, VisitorSeesEveryValueInDocumentOrder) {
  // Containers when they open (still empty), other values once read.
  std::vector<std::string> seen;
  JsonOptions options;
  options.visit = [&seen](const JsonValue &v, int depth, const std::string *key) {
    seen.push_back(std::to_string(depth) + (key ? *key : "-") + render(v));
  };
  EXPECT_EQ(render(parse_json(R"({"a": [1, {"b": null}], "c": true})", kMessage, options)), "{a:[1#,{b:n}],c:t}");
  EXPECT_EQ(seen, (std::vector<std::string>{"0-{}", "1a[]", "2-1#", "2-{}", "3bn", "1ct"}));
}

TEST(JsonValue, VisitorRefusesBeforeLaterErrors) {
  // Its error wins over a syntax error further on and over the depth limit.
  JsonOptions options;
  options.max_depth = 1;
  options.visit = [](const JsonValue &v, int depth, const std::string *) {
    if (depth == 1 && v.type != Type::kNumber) throw IdentityError("22023", "shape", render(v));
  };
  const std::pair<std::string, std::string> cases[] = {
      {"[1, true, ", "shape: t"},
      {"[1, [[[[", "shape: []"},
      {"[1, {\"a\"", "shape: {}"},
      {"[1, tru", kMessage + ": Unexpected character \"t\" at byte offset 4."},
      {"[1, 2", kMessage + ": Unexpected end of input at byte offset 5."},
  };
  for (const auto &[json, error] : cases) {
    SCOPED_TRACE(json);
    try {
      parse_json(json, kMessage, options);
      ADD_FAILURE() << "no error";
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.what() + std::string(": ") + e.detail(), error);
    }
  }
}

TEST(JsonValue, RejectsEveryTruncation) {
  const std::string doc = R"({"a": ["x\u00e9\ud83d\ude00", 1.5e-3, null, true, false, {}], "b": {"c": "y"}, "n": 12})";
  ASSERT_EQ(parse(doc), "{a:[<x\xC3\xA9\xF0\x9F\x98\x80>,1.5e-3,n,t,f,{}],b:{c:<y>},n:12#}");
  for (size_t len = 0; len < doc.size(); len++) {
    SCOPED_TRACE(len);
    error_detail(doc.substr(0, len));
  }
}

TEST(JsonValue, SurvivesRandomMutations) {
  // Anything may come back, but only a tree or an IdentityError.
  const std::string doc = R"({"a": ["x\u00e9\ud83d\ude00", 1.5e-3, null], "b": [[{"c": true}]], "d": {}})";
  std::mt19937 rng(42);
  size_t errors = 0;
  for (int i = 0; i < 20000; i++) {
    std::string s = mutate(doc, rng);
    try {
      parse_json(s, kMessage);
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), "22023");
      errors++;
    }
  }
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace identity
