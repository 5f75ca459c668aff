// ascii_regex_test.cpp: the subset of patterns matched without the
// database, as `subject ~* pattern` answers (each row checked against
// PostgreSQL 15 by hand: SELECT subject ~* pattern), and the patterns
// left to the database.
#include <gtest/gtest.h>

#include "core/ascii_regex.h"

namespace identity {
namespace {

struct MatchCase {
  const char *pattern;
  const char *subject;
  bool matches;
};

const MatchCase kMatches[] = {
    // literals, case-insensitive, anywhere in the subject
    {"null", "null", true},
    {"null", "NULL", true},
    {"null", "xnullx", true},
    {"NULL", "null", true},
    {"null", "nul", false},
    // anchors
    {"^null$", "null", true},
    {"^null$", "null ", false},
    {"^null", "nullx", true},
    {"null$", "xnull", true},
    {"a^b", "a^b", false},  // ^ is an anchor, not a character
    {"^$", "", true},
    {"^$", "x", false},
    // the builtin patterns of 0.5.1
    {"^(null|none|undefined|nobody|noemail|no-email|noreply|no-reply|donotreply)@", "noreply@x.com", true},
    {"^(null|none|undefined|nobody|noemail|no-email|noreply|no-reply|donotreply)@", "NoReply@x.com", true},
    {"^(null|none|undefined|nobody|noemail|no-email|noreply|no-reply|donotreply)@", "anoreply@x.com", false},
    {"^(null|none|undefined|nobody|noemail|no-email|noreply|no-reply|donotreply)@", "user1@example.com", false},
    {"^\\+[0-9]{1,3}0{6,}$", "+380000000", true},
    {"^\\+[0-9]{1,3}0{6,}$", "+38000000", true},  // 3, then six zeros
    {"^\\+[0-9]{1,3}0{6,}$", "+3800000", false},
    {"^\\+[0-9]{1,3}0{6,}$", "+380500000001", false},
    {"^\\+[0-9]{1,3}(0?123456789|1234567890?)$", "+380123456789", true},
    {"^\\+[0-9]{1,3}(0?123456789|1234567890?)$", "+11234567890", true},
    {"^\\+[0-9]{1,3}(0?123456789|1234567890?)$", "+3801234567891", false},
    {"^\\+[0-9]{1,3}(0{7,}|1{7,}|2{7,}|3{7,}|4{7,}|5{7,}|6{7,}|7{7,}|8{7,}|9{7,})$", "+385555555", true},
    {"^\\+[0-9]{1,3}(0{7,}|1{7,}|2{7,}|3{7,}|4{7,}|5{7,}|6{7,}|7{7,}|8{7,}|9{7,})$", "+38555555", false},
    {"^\\+[0-9]{1,3}(0{7,}|1{7,}|2{7,}|3{7,}|4{7,}|5{7,}|6{7,}|7{7,}|8{7,}|9{7,})$", "+380500000001", false},
    // quantifiers and bounds
    {"^ab*c$", "ac", true},
    {"^ab*c$", "abbbc", true},
    {"^ab+c$", "ac", false},
    {"^ab?c$", "abbc", false},
    {"^a{2}$", "aa", true},
    {"^a{2}$", "aaa", false},
    {"^a{2,}$", "aaaa", true},
    {"^a{2,3}$", "aaaa", false},
    {"^a{0,1}b$", "b", true},
    {"^(ab){2}$", "abab", true},
    {"^(ab){2}$", "ab", false},
    {"^a+?b$", "aab", true},  // non-greedy: the same strings
    {"^(?:x|y)+$", "xyyx", true},
    // brackets
    {"^[a-c]+$", "abcCBA", true},
    {"^[a-c]+$", "abd", false},
    {"^[^@]+@", "user@x", true},
    {"^[^@]+@", "@x", false},
    {"^[^a]$", "A", false},  // the complement of both cases
    {"^[]a]$", "]", true},
    {"^[a-]$", "-", true},
    {"^[-a]$", "-", true},
    {"^[0-9]+$", "12a", false},
    // classes, escapes, any character
    {"^\\d+$", "0123", true},
    {"^\\d+$", "01a", false},
    {"^\\D+$", "abc", true},
    {"^a\\.b$", "a.b", true},
    {"^a\\.b$", "axb", false},
    {"^a.b$", "axb", true},
    {"^a.b$", "a\nb", true},  // . takes a newline: no REG_NEWLINE
    {"x|^y", "ay", false},
    {"x|^y", "yes", true},
    // anchored at 0 on every way, or not: a search may stop early only then
    {"(^a|^b)c", "xbc", false},
    {"(^a|^b)c", "bc", true},
    {"^a|b", "xb", true},
    {"^ab", "xab", false},
    {"^(a|b)+x$", "abx", true},
    {"(^|y)x", "yx", true},
    {"(^|y)x", "zx", false},
};

TEST(AsciiRegex, MatchesAsPostgresDoes) {
  for (const MatchCase &c : kMatches) {
    std::optional<AsciiRegex> re = AsciiRegex::compile(c.pattern);
    ASSERT_TRUE(re) << c.pattern;
    EXPECT_EQ(re->search(c.subject), c.matches) << c.pattern << " ~* " << c.subject;
  }
}

// Patterns that stay with the database (all valid there but the last two).
const char *const kNotHere[] = {
    "^\\+[0-9]{1,3}([0-9])\\1{6,}$",  // back-reference
    "^(?=a)",                          // lookahead
    "(?i)a",                           // embedded options
    "***=a",                           // director
    "[[:alpha:]]",                     // character class
    "[\\d]",                           // escape in brackets
    "\\w+",                            // class escape other than \d
    "\\mword",                         // word anchor
    "a|",                              // empty branch
    "()",                              // empty group
    "é",                               // not ASCII
    "",                                // nothing (matches everything there)
    "a{1,300}",                        // bound past 255: an error there
};

TEST(AsciiRegex, LeavesTheRestToTheDatabase) {
  for (const char *pattern : kNotHere) EXPECT_FALSE(AsciiRegex::compile(pattern)) << pattern;
}

TEST(AsciiRegex, LargeRepetitionStaysWithTheDatabase) {
  EXPECT_FALSE(AsciiRegex::compile("(a{255}){255}"));
  EXPECT_TRUE(AsciiRegex::compile("a{255}"));
}

TEST(AsciiRegex, IsAscii) {
  EXPECT_TRUE(is_ascii("user@example.com"));
  EXPECT_TRUE(is_ascii(""));
  EXPECT_FALSE(is_ascii("josé@example.com"));
}

}  // namespace
}  // namespace identity
