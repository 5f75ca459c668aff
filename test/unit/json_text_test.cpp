// json_text_test.cpp: log details are valid JSON whatever the values hold;
// the builder writes every kind of member the callers need.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json_text.h"
#include "core/json_value.h"

namespace identity {
namespace {

TEST(JsonText, QuotesAndEscapes) {
  struct Row {
    std::string in, out;
  } rows[] = {
      {"plain", "\"plain\""},
      {"a\"b", "\"a\\\"b\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"line\nbreak\ttab\r", "\"line\\nbreak\\ttab\\r\""},
      {std::string("nul\0x", 5), "\"nul\\u0000x\""},
      {"\x1f", "\"\\u001f\""},
      {"Київ", "\"Київ\""},
  };
  for (const Row &r : rows) EXPECT_EQ(json_quote(r.in), r.out) << r.in;
}

TEST(JsonText, IdentifierList) {
  EXPECT_EQ(json_identifier_list({}), "[]");
  EXPECT_EQ(json_identifier_list({{"cookie", "c1"}, {"email", "a@x.io"}}),
            "[{\"type\": \"cookie\", \"value\": \"c1\"}, {\"type\": \"email\", \"value\": \"a@x.io\"}]");
}

TEST(JsonText, ObjectMembersOfEachKind) {
  std::optional<int64_t> none, some = 7;
  std::optional<std::string> text = std::string("t");
  const std::string owned = "own";
  EXPECT_EQ(JsonObject()
                .field("s", owned)
                .field("lit", "literal")  // a string, not true
                .field("n", int64_t{-9223372036854775807 - 1})
                .field("u", uint64_t{18446744073709551615u})
                .field("i", 0)
                .field("t", true)
                .field("f", false)
                .field("z", nullptr)
                .field("none", none)
                .field("some", some)
                .field("text", text)
                .str(),
            "{\"s\": \"own\", \"lit\": \"literal\", \"n\": -9223372036854775808, \"u\": 18446744073709551615, "
            "\"i\": 0, \"t\": true, \"f\": false, \"z\": null, \"none\": null, \"some\": 7, \"text\": \"t\"}");
}

TEST(JsonText, ObjectEscapesNamesAndValues) {
  EXPECT_EQ(JsonObject().field("a\"b\\c", "q\"u\\o\nte\x01").str(),
            "{\"a\\\"b\\\\c\": \"q\\\"u\\\\o\\nte\\u0001\"}");
  EXPECT_EQ(JsonObject().field("місто", "Київ ✓ 😀").str(), "{\"місто\": \"Київ ✓ 😀\"}");
  EXPECT_EQ(JsonObject().field("nul", std::string("a\0b", 3)).str(), "{\"nul\": \"a\\u0000b\"}");
}

TEST(JsonText, EmptyContainers) {
  EXPECT_TRUE(JsonObject().empty());
  EXPECT_EQ(JsonObject().str(), "{}");
  EXPECT_TRUE(JsonArray().empty());
  EXPECT_EQ(JsonArray().str(), "[]");
  EXPECT_FALSE(JsonObject().field("a", nullptr).empty());
  EXPECT_FALSE(JsonArray().add(nullptr).empty());
}

TEST(JsonText, NestedObjectsAndArrays) {
  JsonArray ids;
  ids.add_all(std::vector<int64_t>{3, 1, 2});
  JsonObject inner;
  inner.field("k", "v").field("empty", JsonArray()).field("none", JsonObject());
  JsonArray mixed;
  mixed.add("s").add(5).add(false).add(nullptr).add(std::optional<int64_t>()).add(inner).add(ids).add(JsonArray());
  EXPECT_EQ(JsonObject().field("ids", ids).field("inner", inner).field("mixed", mixed).str(),
            "{\"ids\": [3, 1, 2], \"inner\": {\"k\": \"v\", \"empty\": [], \"none\": {}}, "
            "\"mixed\": [\"s\", 5, false, null, null, {\"k\": \"v\", \"empty\": [], \"none\": {}}, [3, 1, 2], []]}");
}

TEST(JsonText, RawJsonPassesAsWritten) {
  EXPECT_EQ(JsonObject().raw("at", "\"2026-01-31T09:30:00+00:00\"").raw("obj", "{\"a\":1}").str(),
            "{\"at\": \"2026-01-31T09:30:00+00:00\", \"obj\": {\"a\":1}}");
  EXPECT_EQ(JsonArray().raw("{\"x\": 1}").raw("2.5").str(), "[{\"x\": 1}, 2.5]");
}

TEST(JsonText, MembersOfAnotherObject) {
  // Spliced as written, between the other members.
  EXPECT_EQ(JsonObject().field("a", 1).members_of("{\"b\": 2, \"c\": [3]}").field("d", 4).str(),
            "{\"a\": 1, \"b\": 2, \"c\": [3], \"d\": 4}");
  EXPECT_EQ(JsonObject().members_of("{\"b\": 2}").str(), "{\"b\": 2}");
  // Whitespace around the braces of a json value's text does not count.
  EXPECT_EQ(JsonObject().members_of("  {\"b\": 2}\n").field("c", 3).str(), "{\"b\": 2, \"c\": 3}");
  // An empty object, or text that is not one, adds nothing.
  for (const char *nothing : {"{}", "{ \n\t\r}", "", "[1]", "}{", "null"})
    EXPECT_EQ(JsonObject().field("a", 1).members_of(nothing).str(), "{\"a\": 1}") << nothing;
}

TEST(JsonText, EveryAsciiCharacterRoundTrips) {
  // Whatever a value holds, the strict reader gets it back (allow_nul: \u0000).
  std::string all;
  for (int c = 0; c < 0x80; c++) all += static_cast<char>(c);
  all += "Київ😀";
  JsonOptions options;
  options.allow_nul = true;
  JsonValue v = parse_json(JsonObject().field(all, all).field("list", JsonArray().add(all)).str(), "", options);
  ASSERT_EQ(v.members.size(), 2u);
  EXPECT_EQ(v.members[0].first, all);
  EXPECT_EQ(v.members[0].second.text, all);
  ASSERT_EQ(v.members[1].second.items.size(), 1u);
  EXPECT_EQ(v.members[1].second.items[0].text, all);
}

}  // namespace
}  // namespace identity
