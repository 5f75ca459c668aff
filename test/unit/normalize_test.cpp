// normalize_test.cpp: table-driven tests of normalize.h.
#include "core/normalize.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/identity_error.h"

#include <idn2.h>

namespace identity {
namespace {

// An input and the normalized value it must give.
struct Ok {
  std::string input;
  std::string expected;
};

// An input and the error it must raise: exact message, detail substring.
struct Bad {
  std::string input;
  std::string message;
  std::string detail;
};

// Repeats s n times.
std::string rep(const std::string &s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; i++) out += s;
  return out;
}

// Checks that f throws IdentityError 22023 with this message and a detail
// that contains detail.
void expect_error(const std::function<std::string()> &f, const std::string &message,
                  const std::string &detail) {
  try {
    std::string got = f();
    ADD_FAILURE() << "expected error \"" << message << "\", got value \"" << got << "\"";
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(e.what(), message);
    EXPECT_NE(e.detail().find(detail), std::string::npos) << "detail: " << e.detail();
  }
}

TEST(NormalizeExternalId, KeepsValidValues) {
  const Ok cases[] = {
      {"ABC-123", "ABC-123"},
      {" a b ", " a b "},
      {"x\xC2\xA0y", "x\xC2\xA0y"},
      {"\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC"},
      {rep("\xC3\xA9", 255), rep("\xC3\xA9", 255)},  // 255 chars, 510 bytes
      {rep("a", 255), rep("a", 255)},
  };
  for (const Ok &c : cases) EXPECT_EQ(normalize_external_id(c.input), c.expected);
}

TEST(NormalizeExternalId, RejectsInvalidValues) {
  const Bad cases[] = {
      {"", "external ID is empty", ""},
      {"   ", "invalid external ID \"   \"", "something other than white space"},
      {"\xC2\xA0\xE3\x80\x80", "invalid external ID \"\xC2\xA0\xE3\x80\x80\"",
       "something other than white space"},
      {rep("\xC3\xA9", 256), "external ID is too long",
       "at most 255 characters; this one has 256."},
      {rep("a", 256), "external ID is too long", "this one has 256."},
      {"a\x01" "b", "invalid external ID \"a\\x01b\"", "U+0001"},
      {std::string("a\0b", 3), "invalid external ID \"a\\x00b\"", "U+0000"},
      {"a\x7F", "invalid external ID \"a\\x7F\"", "U+007F"},
      {"a\xC2\x85", "invalid external ID \"a\\u0085\"", "U+0085"},
      {"a\xFF", "invalid external ID \"a\\xFF\"", "not valid UTF-8"},
      {"\xC0\xAF", "invalid external ID \"\\xC0\\xAF\"", "not valid UTF-8"},
      {"\xED\xA0\x80", "invalid external ID \"\\xED\\xA0\\x80\"", "not valid UTF-8"},
      {"a\xE2\x82", "invalid external ID \"a\\xE2\\x82\"", "not valid UTF-8"},
      // Messages quote at most 100 bytes and never split a character.
      {rep("a", 300) + "\x01", "invalid external ID \"" + rep("a", 100) + "\"...", "U+0001"},
      {rep("a", 99) + "\xC3\xA9\x01", "invalid external ID \"" + rep("a", 99) + "\"...",
       "U+0001"},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(c.input);
    expect_error([&] { return normalize_external_id(c.input); }, c.message, c.detail);
  }
}

TEST(NormalizeEmail, NormalizesValidAddresses) {
  const Ok cases[] = {
      {"User@Example.COM", "user@example.com"},
      {" \t user@example.com\r\n", "user@example.com"},
      {"User@B\xC3\xBC" "cher.Example", "user@xn--bcher-kva.example"},
      {"x@B\xC3\x9C" "CHER.example", "x@xn--bcher-kva.example"},
      {"x@stra\xC3\x9F" "e.de", "x@xn--strae-oqa.de"},
      {"x@\xE4\xBE\x8B\xE3\x81\x88\xE3\x80\x82jp", "x@xn--r8jz45g.jp"},
      {"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
      {"A.B+Tag@Sub.Example.co.uk", "a.b+tag@sub.example.co.uk"},
      {"o'hara!#$%&*/=?^_`{|}~@example.com", "o'hara!#$%&*/=?^_`{|}~@example.com"},
      {"\xC3\x84" "Bc@example.com", "\xC3\xA4" "bc@example.com"},  // Unicode lower-cased too
      {rep("a", 64) + "@example.com", rep("a", 64) + "@example.com"},
      {"x@a-b.1c", "x@a-b.1c"},
  };
  for (const Ok &c : cases) EXPECT_EQ(normalize_email(c.input), c.expected);
}

// The domains normalize_email keeps from libidn2 are those it returns
// unchanged: every such domain of a generated set (labels of one to 63
// characters from an alphabet with hyphens and digits, "--" inside
// included), and the edges listed, each sent to libidn2 with the flags
// normalize_email uses.
TEST(NormalizeEmail, DomainsKeptFromIdnaAreThoseItLeavesAlone) {
  std::vector<std::string> domains = {"example.com", "a.b.c.d.e.f.example", "ab--cd.example", "a-b-c.d-e",
                                      "x1.y2", "123.example.com", rep("a", 63) + ".com",
                                      rep("a", 63) + "." + rep("b", 63) + "." + rep("c", 63) + "." + rep("d", 57),
                                      "xn.example", "xnx--a.example", "a.xn-", "0.a"};
  const std::string alphabet = "abxn-z09";
  uint32_t seed = 12345;
  auto next = [&seed]() { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int i = 0; i < 20000; i++) {
    std::string domain;
    int labels = 2 + next() % 3;
    for (int l = 0; l < labels; l++) {
      int length = next() % 5 == 0 ? 1 + next() % 63 : 1 + next() % 6;
      if (l) domain += '.';
      for (int c = 0; c < length; c++) domain += alphabet[next() % alphabet.size()];
    }
    domains.push_back(domain);
  }
  int kept = 0;
  for (const std::string &domain : domains) {
    if (domain_needs_idna(domain)) continue;
    kept++;
    char *ascii = nullptr;
    int rc = idn2_to_ascii_8z(domain.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    EXPECT_EQ(rc, IDN2_OK) << domain;
    if (rc == IDN2_OK) {
      EXPECT_EQ(std::string(ascii), domain);
    }
    idn2_free(ascii);
    EXPECT_EQ(normalize_email("u@" + domain), "u@" + domain);
  }
  EXPECT_GT(kept, 5000);
  // What still goes to libidn2: A-labels, "--", capitals, non-ASCII, bad shapes.
  for (const char *domain : {"xn--bcher-kva.example", "a.xn--p1ai", "ab--cd.example", "a--.example", "Example.com", "b\xC3\xBC" "cher.example",
                             "-a.example", "a-.example", "a..example", "example", "example.123", "a_b.example"})
    EXPECT_TRUE(domain_needs_idna(domain)) << domain;
}

TEST(NormalizeEmail, RejectsInvalidAddresses) {
  const std::string at_rule = "needs exactly one \"@\"";
  const std::string long_domain = rep("b", 63) + "." + rep("c", 63) + "." + rep("d", 63) + ".com";
  const Bad cases[] = {
      {"", "email is empty", ""},
      {" \t ", "email is empty", ""},
      {"foo", "invalid email \"foo\"", at_rule},
      {"a@b@example.com", "invalid email \"a@b@example.com\"", at_rule},
      {"@example.com", "invalid email \"@example.com\"", "local part before \"@\" is empty"},
      {"user@", "invalid email \"user@\"", "domain after \"@\" is empty"},
      {"us er@example.com", "invalid email \"us er@example.com\"", "must not contain spaces"},
      {"user@exa mple.com", "invalid email \"user@exa mple.com\"", "must not contain spaces"},
      {"us\xC2\xA0" "er@example.com", "invalid email \"us\xC2\xA0" "er@example.com\"",
       "must not contain spaces"},
      {"user\x01@example.com", "invalid email \"user\\x01@example.com\"",
       "Character 5 is U+0001, a control character."},
      {"\xFF@example.com", "invalid email \"\\xFF@example.com\"", "not valid UTF-8"},
      {"a(b)@example.com", "invalid email \"a(b)@example.com\"", "must not contain \"(\""},
      {"\"a\"@example.com", "invalid email \"\"a\"@example.com\"", "must not contain \"\"\""},
      {"user@localhost", "invalid email \"user@localhost\"", "at least one dot"},
      {"user@example..com", "invalid email \"user@example..com\"", "empty label"},
      {"user@example.com.", "invalid email \"user@example.com.\"", "empty label"},
      {"user@-example.com", "invalid email \"user@-example.com\"", "not a valid domain name"},
      {"user@exa_mple.com", "invalid email \"user@exa_mple.com\"", "other than letters"},
      {"user@[1.2.3.4]", "invalid email \"user@[1.2.3.4]\"", "other than letters"},
      {"user@1.2.3.4", "invalid email \"user@1.2.3.4\"", "top-level domain is all digits"},
      {rep("a", 65) + "@example.com", "invalid email \"" + rep("a", 65) + "@example.com\"",
       "longer than 64 bytes"},
      {"x@" + rep("a", 64) + ".com", "invalid email \"x@" + rep("a", 64) + ".com\"",
       "longer than 63 characters"},
      {rep("a", 64) + "@" + long_domain, "invalid email \"" + rep("a", 64) + "@" + rep("b", 35) + "\"...",
       "at most 254 bytes; this one has 260."},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(c.input);
    expect_error([&] { return normalize_email(c.input); }, c.message, c.detail);
  }
  expect_error([] { return normalize_email("x", "work_email"); }, "invalid work_email \"x\"",
               at_rule);
}

// The issue's look-alikes: one address typed in several Unicode forms is
// one key; the local part is NFC and lower case, the domain IDNA's.
TEST(NormalizeEmail, OneAddressInAnyUnicodeFormIsOneKey) {
  const Ok cases[] = {
      {"jos\xC3\xA9@example.com", "jos\xC3\xA9@example.com"},        // composed é
      {"jose\xCC\x81@example.com", "jos\xC3\xA9@example.com"},       // e + U+0301
      {"JOS\xC3\x89@x.io", "jos\xC3\xA9@x.io"},                      // JOSÉ
      {"JOSE\xCC\x81@X.IO", "jos\xC3\xA9@x.io"},                     // JOSE + U+0301
      {"jos\xC3\xA9@x.io", "jos\xC3\xA9@x.io"},                      // josé
      {"\xD0\x86\xD0\x92\xD0\x90\xD0\x9D@x.io", "\xD1\x96\xD0\xB2\xD0\xB0\xD0\xBD@x.io"},  // ІВАН -> іван
      {"\xCE\xA3\xCE\x91\xCE\xA3@x.io", "\xCF\x83\xCE\xB1\xCF\x82@x.io"},  // ΣΑΣ -> σας
      {"STRA\xE1\xBA\x9E" "E@x.io", "stra\xC3\x9F" "e@x.io"},         // ẞ -> ß, not ss
      {"\xCE\xAA\xCC\x81@x.io", "\xCE\x90@x.io"},                    // lowered, then composed again
      {"jos\xC3\xA9@B\xC3\x9C" "CHER.example", "jos\xC3\xA9@xn--bcher-kva.example"},
      {"x@bu\xCC\x88" "cher.example", "x@xn--bcher-kva.example"},       // the domain: IDNA's NFC
  };
  for (const Ok &c : cases) {
    SCOPED_TRACE(c.input);
    std::string once = normalize_email(c.input);
    EXPECT_EQ(once, c.expected);
    EXPECT_EQ(normalize_email(once), once);  // normalizing twice changes nothing
  }
}

// RFC 5321's 64 bytes apply to the stored form: lower case may be longer
// (İ, 2 bytes, lowers to i and U+0307, 3 bytes).
TEST(NormalizeEmail, LocalPartLimitCountsTheStoredBytes) {
  EXPECT_EQ(normalize_email(rep("\xC4\xB0", 21) + "@x.io"), rep("i\xCC\x87", 21) + "@x.io");  // 63 bytes
  expect_error([] { return normalize_email(rep("\xC4\xB0", 22) + "@x.io"); },
               "invalid email \"" + rep("\xC4\xB0", 22) + "@x.io\"", "longer than 64 bytes");
}

// A value, the normalizer to run, and the exact detail of its refusal.
struct Refused {
  std::string normalizer;
  std::string input;
  std::string message;
  std::string detail;
};

// Checks the error of a refused identifier, its hint included.
void expect_refused(const Refused &c, const std::string &hint) {
  SCOPED_TRACE(c.normalizer + ": " + c.input);
  try {
    std::string got = normalize_identifier(c.normalizer, c.input, c.normalizer, "UA");
    ADD_FAILURE() << "expected an error, got \"" << got << "\"";
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(e.what(), c.message);
    EXPECT_EQ(e.detail(), c.detail);
    EXPECT_EQ(e.hint(), hint);
  }
}

// Format characters (Cf: bidi controls, zero-width characters, the soft
// hyphen...) are refused in every identifier type, named with their
// position; the message shows them escaped.
TEST(NormalizeIdentifier, RefusesFormatCharactersInEveryType) {
  const std::string hint =
      "Send the value without format characters such as bidi controls and zero-width spaces: "
      "they make one identifier look like another.";
  const std::string rlo = "\xE2\x80\xAE", zwsp = "\xE2\x80\x8B";
  const Refused cases[] = {
      {"email", "jos" + rlo + "@x.io", "invalid email \"jos\\u202E@x.io\"",
       "Character 4 is U+202E RIGHT-TO-LEFT OVERRIDE, an invisible format character (Unicode category Cf)."},
      {"email", "jo" + zwsp + "se@x.io", "invalid email \"jo\\u200Bse@x.io\"",
       "Character 3 is U+200B ZERO WIDTH SPACE, an invisible format character (Unicode category Cf)."},
      // In the domain too, though IDNA would drop a soft hyphen silently.
      {"email", "ann@ex\xC2\xAD" "ample.com", "invalid email \"ann@ex\\u00ADample.com\"",
       "Character 7 is U+00AD SOFT HYPHEN, an invisible format character (Unicode category Cf)."},
      {"email", " \xEF\xBB\xBF" "ann@x.io", "invalid email \"\\uFEFFann@x.io\"",
       "Character 1 is U+FEFF ZERO WIDTH NO-BREAK SPACE, an invisible format character (Unicode category Cf)."},
      {"phone", "+380" + rlo + "501234567", "invalid phone number \"+380\\u202E501234567\"",
       "Character 5 is U+202E RIGHT-TO-LEFT OVERRIDE, an invisible format character (Unicode category Cf)."},
      {"phone", "\xE2\x80\x8E+380 50 123 45 67", "invalid phone number \"\\u200E+380 50 123 45 67\"",
       "Character 1 is U+200E LEFT-TO-RIGHT MARK, an invisible format character (Unicode category Cf)."},
      {"phone", "+380 50" + zwsp + "123 45 67", "invalid phone number \"+380 50\\u200B123 45 67\"",
       "Character 8 is U+200B ZERO WIDTH SPACE, an invisible format character (Unicode category Cf)."},
      {"external_id", "u-" + rlo + "3", "invalid external ID \"u-\\u202E3\"",
       "Character 3 is U+202E RIGHT-TO-LEFT OVERRIDE, an invisible format character (Unicode category Cf)."},
      {"external_id", "u" + zwsp, "invalid external ID \"u\\u200B\"",
       "Character 2 is U+200B ZERO WIDTH SPACE, an invisible format character (Unicode category Cf)."},
      {"external_id", "\xE2\x81\xA6" "abc\xE2\x81\xA9", "invalid external ID \"\\u2066abc\\u2069\"",
       "Character 1 is U+2066 LEFT-TO-RIGHT ISOLATE, an invisible format character (Unicode category Cf)."},
      {"external_id", "a\xF3\xA0\x80\x81", "invalid external ID \"a\\U000E0001\"",
       "Character 2 is U+E0001 LANGUAGE TAG, an invisible format character (Unicode category Cf)."},
      {"text", "tok\xE2\x80\x8D", "invalid text value \"tok\\u200D\"",
       "Character 4 is U+200D ZERO WIDTH JOINER, an invisible format character (Unicode category Cf)."},
      {"text", "\xE2\x81\xA0" "tok", "invalid text value \"\\u2060tok\"",
       "Character 1 is U+2060 WORD JOINER, an invisible format character (Unicode category Cf)."},
      {"lower", "ab\xE2\x80\x8C" "c", "invalid lower value \"ab\\u200Cc\"",
       "Character 3 is U+200C ZERO WIDTH NON-JOINER, an invisible format character (Unicode category Cf)."},
      {"lower", "\xD8\x9C" "x", "invalid lower value \"\\u061Cx\"",
       "Character 1 is U+061C ARABIC LETTER MARK, an invisible format character (Unicode category Cf)."},
  };
  for (const Refused &c : cases) expect_refused(c, hint);
}

// Control characters (Cc) were refused before; they are named the same way.
TEST(NormalizeIdentifier, RefusesControlCharactersInEveryType) {
  const std::string hint = "Send the value without control characters.";
  const Refused cases[] = {
      {"email", "ann\x1B@x.io", "invalid email \"ann\\x1B@x.io\"", "Character 4 is U+001B, a control character."},
      {"phone", "+380\x7F" "501234567", "invalid phone number \"+380\\x7F501234567\"",
       "Character 5 is U+007F, a control character."},
      {"external_id", "u\xC2\x85", "invalid external ID \"u\\u0085\"", "Character 2 is U+0085, a control character."},
      {"text", "a\tb", "invalid text value \"a\\x09b\"", "Character 2 is U+0009, a control character."},
      {"lower", "\xC3\x89\x01", "invalid lower value \"\xC3\x89\\x01\"", "Character 2 is U+0001, a control character."},
  };
  for (const Refused &c : cases) expect_refused(c, hint);
}

// What is not a format character stays accepted: marks, emoji (with their
// variation selector), letters of every script, in identifiers kept as sent.
TEST(NormalizeIdentifier, KeepsOtherUnicodeAsTheTypeSays) {
  EXPECT_EQ(normalize_external_id("u-e\xCC\x81"), "u-e\xCC\x81");  // opaque: not composed
  EXPECT_EQ(normalize_external_id("\xE2\x9D\xA4\xEF\xB8\x8F"), "\xE2\x9D\xA4\xEF\xB8\x8F");  // ❤️
  EXPECT_EQ(normalize_token("E\xCC\x81", "cookie", false), "E\xCC\x81");
  EXPECT_EQ(normalize_token("E\xCC\x81", "viber", true), "\xC3\xA9");
  EXPECT_EQ(normalize_email("\xF0\x9F\x98\x80@x.io"), "\xF0\x9F\x98\x80@x.io");
}

// A phone number, the default region to read it in, and the result.
struct Phone {
  std::string input;
  std::string region;
  std::string expected;  // E.164, or for errors the exact message
  std::string detail;    // for errors: a substring of the detail
};

TEST(NormalizePhone, FormatsPossibleNumbersAsE164) {
  const Phone cases[] = {
      {"+380 50 123 45 67", "", "+380501234567", ""},
      {"  +380 (50) 123-45-67 ", "", "+380501234567", ""},
      {"050 123 45 67", "UA", "+380501234567", ""},
      {"050 123 45 67", "ua", "+380501234567", ""},
      {"00380501234567", "UA", "+380501234567", ""},
      {"(202) 555-0143", "US", "+12025550143", ""},
      {"+1 202 555 0143", "UA", "+12025550143", ""},
      // An extension is kept, as RFC 3966 writes it, in any spelling.
      {"(509) 463-5519 x123", "US", "+15094635519;ext=123", ""},
      {"1-434-815-5061 x68417", "US", "+14348155061;ext=68417", ""},
      {"+1 509 463 5519 ext. 123", "", "+15094635519;ext=123", ""},
      {"+1 509 463 5519 Extension 123", "", "+15094635519;ext=123", ""},
      {"+1 509 463 5519 #123", "", "+15094635519;ext=123", ""},
      {"+15094635519;ext=123", "", "+15094635519;ext=123", ""},
      // Its digits in another script are stored as ASCII (found by the phone fuzzer).
      {"+1 509 463 5519 #\xD9\xA2\xD9\xA3", "", "+15094635519;ext=23", ""},
  };
  for (const Phone &c : cases) EXPECT_EQ(normalize_phone(c.input, c.region), c.expected);
}

TEST(NormalizePhone, RejectsImpossibleNumbers) {
  const Phone cases[] = {
      {"", "UA", "phone number is empty", ""},
      {"050 123 45 67", "", "phone number \"050 123 45 67\" has no country code", ""},
      {"050 123 45 67", "xx", "phone number \"050 123 45 67\" has no country code",
       "\"XX\" is not a known region code."},
      {"00380501234567", "", "phone number \"00380501234567\" has no country code", ""},
      {"+999 1234567", "", "invalid phone number \"+999 1234567\"", "country calling code"},
      {"00999 123456", "UA", "invalid phone number \"00999 123456\"", "country calling code"},
      {"+380 501", "", "invalid phone number \"+380 501\"", "too short for its country"},
      {"+3805", "", "invalid phone number \"+3805\"", "too short"},
      {"+38050123456789012", "", "invalid phone number \"+38050123456789012\"", "too long"},
      {"5550143", "US", "invalid phone number \"5550143\"", "local number"},
      {"+", "", "invalid phone number \"+\"", "does not look like a phone number"},
      {"+1 202 555 CALL", "", "invalid phone number \"+1 202 555 CALL\"", "no letters"},
      {"1-800-FLOWERS", "US", "invalid phone number \"1-800-FLOWERS\"", "no letters"},
      {"+1 202 x555 0143", "", "invalid phone number \"+1 202 x555 0143\"", "only mark an extension"},
      {"+1 202 555 0143 ext 5 x", "", "invalid phone number \"+1 202 555 0143 ext 5 x\"", "no letters"},
      {"+380\x01" "501234567", "", "invalid phone number \"+380\\x01501234567\"", "U+0001"},
      // +4900000 would read back as +490000 (found by the phone fuzzer).
      {"000000", "DE", "invalid phone number \"000000\"", "does not look like a phone number"},
      {"00288182002", "BR", "invalid phone number \"00288182002\"", "does not look like a phone number"},
  };
  for (const Phone &c : cases) {
    SCOPED_TRACE(c.input);
    expect_error([&] { return normalize_phone(c.input, c.region); }, c.expected, c.detail);
  }
  try {
    normalize_phone("050 123 45 67", "");
    ADD_FAILURE() << "no error";
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.hint(),
              "Write it in E.164 form such as \"+380501234567\", or give the account a region with "
              "contact_identity.set_account_region.");
  }
  expect_error([] { return normalize_phone("123", "", "work_phone"); },
               "work_phone \"123\" has no country code", "");
}

// Input far longer than any email or phone is refused before libidn2 and
// libphonenumber read it: a megabyte of digits kept libphonenumber's regular
// expressions busy for minutes, and a backend cannot cancel them.
TEST(Normalize, RefusesHugeInputAtOnce) {
  const std::string digits = rep("1", 1 << 20);
  expect_error([&] { return normalize_phone("+" + digits, "UA"); },
               "invalid phone number \"+" + rep("1", 99) + "\"...", "at most 100 characters");
  expect_error([&] { return normalize_phone(rep("1", 101), "UA"); }, "invalid phone number \"" + rep("1", 100) + "\"...",
               "at most 100 characters");
  expect_error([&] { return normalize_email(rep("a", 1 << 20) + "@x.io"); },
               "invalid email \"" + rep("a", 100) + "\"...", "at most 254 characters");
  expect_error([&] { return normalize_email("a@" + rep("b", 1100)); }, "invalid email \"a@" + rep("b", 98) + "\"...",
               "at most 254 characters");
}

TEST(NormalizePhone, KnowsSupportedRegions) {
  EXPECT_TRUE(is_supported_region("UA"));
  EXPECT_TRUE(is_supported_region("ua"));
  EXPECT_TRUE(is_supported_region("US"));
  EXPECT_FALSE(is_supported_region("XX"));
  EXPECT_FALSE(is_supported_region("ZZ"));
  EXPECT_FALSE(is_supported_region(""));
  EXPECT_FALSE(is_supported_region("UAX"));
}

TEST(NormalizeToken, TrimsAndOptionallyLowers) {
  EXPECT_EQ(normalize_token(" Tok En\t\n", "cookie", false), "Tok En");
  EXPECT_EQ(normalize_token(" Tok En ", "telegram", true), "tok en");
  EXPECT_EQ(normalize_token("\xC3\x84" "B", "x", true), "\xC3\xA4" "b");  // as email local parts
  EXPECT_EQ(normalize_token("A\xCC\x88" "B", "x", true), "\xC3\xA4" "b");
  EXPECT_EQ(normalize_token("A\xCC\x88" "B", "x", false), "A\xCC\x88" "B");  // text: as sent
  EXPECT_EQ(normalize_token("\xC2\xA0", "x", false), "\xC2\xA0");  // only ASCII trimmed
  EXPECT_EQ(normalize_token(rep("\xC3\xA9", 1000), "x", false), rep("\xC3\xA9", 1000));
}

TEST(NormalizeToken, RejectsInvalidValues) {
  const Bad cases[] = {
      {"", "cookie is empty", ""},
      {" \t\r\n ", "cookie is empty", ""},
      {rep("\xC3\xA9", 1001), "cookie value is too long", "at most 1000 characters"},
      {"a\x01", "invalid cookie value \"a\\x01\"", "U+0001"},
      {"a\xC2\x9F", "invalid cookie value \"a\\u009F\"", "U+009F"},
      {"\xFF", "invalid cookie value \"\\xFF\"", "not valid UTF-8"},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(c.input);
    expect_error([&] { return normalize_token(c.input, "cookie", false); }, c.message,
                 c.detail);
  }
}

TEST(NormalizeIdentifier, DispatchesOnNormalizer) {
  EXPECT_EQ(normalize_identifier("email", " A@B.CD ", "email", ""), "a@b.cd");
  EXPECT_EQ(normalize_identifier("phone", "050 123 45 67", "phone", "UA"), "+380501234567");
  EXPECT_EQ(normalize_identifier("text", " AbC ", "cookie", ""), "AbC");
  EXPECT_EQ(normalize_identifier("lower", " AbC ", "cookie", ""), "abc");
  EXPECT_EQ(normalize_identifier("external_id", " Ext-1", "external_id", ""), " Ext-1");
  expect_error([] { return normalize_identifier("external_id", "", "external_id", ""); }, "external ID is empty", "");
  expect_error([] { return normalize_identifier("bogus", "x", "cookie", ""); },
               "unknown normalizer \"bogus\"", "");
  expect_error([] { return normalize_identifier("Email", "a@b.cd", "email", ""); },
               "unknown normalizer \"Email\"", "");
  expect_error([] { return normalize_identifier("email", "nope", "work_email", ""); },
               "invalid work_email \"nope\"", "exactly one");
}

TEST(AsciiLower, LowersOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower("ABC xyz 123 @[]"), "abc xyz 123 @[]");
  EXPECT_EQ(ascii_lower("\xC3\x84\xC3\x96Z"), "\xC3\x84\xC3\x96z");
  EXPECT_EQ(ascii_lower(std::string("A\0B", 3)), std::string("a\0b", 3));
  EXPECT_EQ(ascii_lower(""), "");
}

// A stored email and the mailbox it delivers to.
struct MailboxCase {
  std::string email;
  std::string mailbox;
};

TEST(EmailMailbox, DropsTagsAndGmailDots) {
  const std::vector<MailboxCase> cases = {
      {"ann@x.io", "ann@x.io"},
      {"ann+news@x.io", "ann@x.io"},
      {"ann+a+b@x.io", "ann@x.io"},
      {"+ann@x.io", "+ann@x.io"},  // a leading + is the name itself
      {"ann.lee@x.io", "ann.lee@x.io"},  // dots matter outside Gmail
      {"ann.lee@gmail.com", "annlee@gmail.com"},
      {"a.n.n.lee+shop@googlemail.com", "annlee@gmail.com"},
      {"annlee@gmail.com", "annlee@gmail.com"},
      {"ann@sub.gmail.com", "ann@sub.gmail.com"},
      {"odd@name@x.io", "odd@name@x.io"},
      {"no-at-sign", "no-at-sign"},
      {"@x.io", "@x.io"},
      {"", ""},
  };
  for (const MailboxCase &c : cases) EXPECT_EQ(email_mailbox(c.email), c.mailbox) << c.email;
}

}  // namespace
}  // namespace identity
