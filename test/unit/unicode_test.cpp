// unicode_test.cpp: table-driven tests of unicode.h (ICU underneath).
#include "core/unicode.h"

#include <gtest/gtest.h>
#include <unicode/unistr.h>

#include <string>

namespace identity {
namespace {

// The UTF-8 form of one code point.
std::string utf8(char32_t cp) {
  std::string out;
  icu::UnicodeString(static_cast<UChar32>(cp)).toUTF8String(out);
  return out;
}

TEST(IsFormatChar, BidiControlsZeroWidthAndSoftHyphenAreFormatCharacters) {
  const char32_t format[] = {0x00AD, 0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
                             0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2066,
                             0x2067, 0x2068, 0x2069, 0xFEFF, 0xFFF9, 0x110BD, 0x1D173, 0xE0001, 0xE007F};
  for (char32_t cp : format) EXPECT_TRUE(is_format_char(cp)) << std::hex << cp;
}

TEST(IsFormatChar, LettersMarksSpacesAndControlsAreNot) {
  // Controls are Cc, not Cf; U+034F, U+FE0F are marks (Mn); U+3164 a letter.
  const char32_t other[] = {'a', '@', ' ', 0x00, 0x1B, 0x7F, 0x85, 0xA0, 0xE9, 0x0301,
                            0x034F, 0x2028, 0x3000, 0x3164, 0xFE0F, 0x1F600, 0x10FFFF};
  for (char32_t cp : other) EXPECT_FALSE(is_format_char(cp)) << std::hex << cp;
}

TEST(CharName, NamesComeFromIcu) {
  EXPECT_EQ(char_name(0x202E), "RIGHT-TO-LEFT OVERRIDE");
  EXPECT_EQ(char_name(0x200B), "ZERO WIDTH SPACE");
  EXPECT_EQ(char_name(0x00AD), "SOFT HYPHEN");
  EXPECT_EQ(char_name(0xFEFF), "ZERO WIDTH NO-BREAK SPACE");
  EXPECT_EQ(char_name(0x01), "");     // controls have no name, only aliases
  EXPECT_EQ(char_name(0xE0080), "");  // unassigned
}

// An input and what lower_nfc gives.
struct Lowered {
  std::string input;
  std::string expected;
};

TEST(LowerNfc, ComposesAndLowerCasesByTheRootLocale) {
  const Lowered cases[] = {
      {"jos\xC3\xA9", "jos\xC3\xA9"},                      // composed é stays
      {"jose\xCC\x81", "jos\xC3\xA9"},                     // e + U+0301 composes
      {"JOS\xC3\x89", "jos\xC3\xA9"},                      // É lowers
      {"JOSE\xCC\x81", "jos\xC3\xA9"},                     // E + U+0301 too
      {"I", "i"},                                          // not Turkish dotless ı
      {"\xC4\xB0", "i\xCC\x87"},                           // İ: i + U+0307, as full lower case says
      {"\xE1\xBA\x9E", "\xC3\x9F"},                        // ẞ -> ß (lower case, not folded to ss)
      {"\xCE\xA3\xCE\x91\xCE\xA3", "\xCF\x83\xCE\xB1\xCF\x82"},  // ΣΑΣ -> σας: final sigma
      {"\xE2\x84\xA6", "\xCF\x89"},                        // OHM SIGN -> Ω (NFC) -> ω
      {"\xE2\x84\xAB", "\xC3\xA5"},                        // ANGSTROM SIGN -> Å -> å
      {"\xEF\xBC\xA1", "\xEF\xBD\x81"},                    // fullwidth Ａ -> ａ: NFC, not NFKC
      {"\xC7\x84", "\xC7\x86"},                            // Ǆ -> ǆ
      // Lower case of NFC that is not NFC: Ϊ + U+0301 lowers to ϊ + U+0301,
      // which composes to ΐ; İ + U+0327 lowers to i U+0307 U+0327, whose
      // marks NFC reorders.
      {"\xCE\xAA\xCC\x81", "\xCE\x90"},
      {"\xC4\xB0\xCC\xA7", "i\xCC\xA7\xCC\x87"},
      {"", ""},
  };
  for (const Lowered &c : cases) EXPECT_EQ(lower_nfc(c.input), c.expected) << c.input;
}

// Every code point, alone and with a few combining marks after it, gives a
// value lower_nfc leaves unchanged: normalizing twice is normalizing once.
TEST(LowerNfc, IsIdempotentForEveryCodePoint) {
  const std::string marks[] = {"", utf8(0x0301), utf8(0x0327), utf8(0x0345), utf8(0x0307) + utf8(0x0323)};
  size_t checked = 0;
  for (char32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp >= 0x32000 && cp < 0xE0000) cp = 0xE0000;  // unassigned planes: nothing to map
    for (const std::string &mark : marks) {
      std::string once = lower_nfc(utf8(cp) + mark);
      ASSERT_EQ(lower_nfc(once), once) << "U+" << std::hex << cp << " with mark " << mark;
      checked++;
    }
  }
  EXPECT_GT(checked, 900000u);
}

TEST(UnicodeVersion, IsIcus) {
  std::string v = unicode_version();
  ASSERT_NE(v.find('.'), std::string::npos) << v;
  EXPECT_GE(std::stoi(v), 13) << v;
}

}  // namespace
}  // namespace identity
