// identity_error_test.cpp: messages quote values short and printable.
#include <gtest/gtest.h>

#include "core/identity_error.h"

namespace identity {
namespace {

TEST(Quoted, ShortPrintableValues) {
  struct Row {
    std::string in, out;
  } rows[] = {
      {"a@x.io", "\"a@x.io\""},
      {"", "\"\""},
      {"Київ", "\"Київ\""},
      {"tab\there", "\"tab\\x09here\""},
      {"c1\xC2\x85", "\"c1\\u0085\""},
      {"bad\xFFutf8", "\"bad\\xFFutf8\""},
      // Format characters too: a right-to-left override would reorder the message.
      {"u-\xE2\x80\xAE" "3@x.io", "\"u-\\u202E3@x.io\""},
      {"a\xE2\x80\x8B" "b\xC2\xAD", "\"a\\u200Bb\\u00AD\""},
      {"flag\xF3\xA0\x81\xA7", "\"flag\\U000E0067\""},
      {std::string(100, 'a'), "\"" + std::string(100, 'a') + "\""},
      {std::string(101, 'a'), "\"" + std::string(100, 'a') + "\"..."},
      // 99 ASCII bytes then a two-byte character: it would end past byte 100.
      {std::string(99, 'a') + "ж", "\"" + std::string(99, 'a') + "\"..."},
  };
  for (const Row &r : rows) EXPECT_EQ(identity::quoted(r.in), r.out) << r.in;
}

}  // namespace
}  // namespace identity
