// json_text_test.cpp: log details are valid JSON whatever the values hold.
#include <gtest/gtest.h>

#include "core/json_text.h"

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

}  // namespace
}  // namespace identity
