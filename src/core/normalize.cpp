// normalize.cpp: validation and normalization of identifier values.
//
// Everything here is pure C++ (no PostgreSQL headers); errors are thrown as
// IdentityError with SQLSTATE 22023 and turned into ereport by the shell.
#include "core/normalize.h"

#include <idn2.h>
#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/identity_error.h"
#include "core/unicode.h"
#include "core/utf8.h"

namespace identity {

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// RFC 5321 limits: local part in bytes, whole address in bytes, DNS label.
constexpr size_t kMaxLocalPartBytes = 64;
constexpr size_t kMaxEmailBytes = 254;
// What is read at all: an email is at most 254 bytes once normalized (an IDN
// domain may be longer in UTF-8 than in punycode), a written phone number
// with its spaces and an extension well under 100 characters. Longer input
// is refused before libidn2 and libphonenumber see it: the ICU regular
// expressions libphonenumber runs take minutes on a megabyte, and cannot be
// cancelled.
constexpr size_t kMaxEmailInputBytes = 1024;
constexpr size_t kMaxPhoneInputChars = 100;
constexpr size_t kMaxLabelBytes = 63;

// Throws the 22023 error every rule in this file raises.
[[noreturn]] void fail(const std::string &message, const std::string &detail = {},
                       const std::string &hint = {}) {
  throw IdentityError(sqlstate::kInvalidParameterValue, message, detail, hint);
}

// True for the Unicode White_Space characters.
bool is_unicode_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Formats a code point as U+XXXX for details.
std::string code_point_name(char32_t cp) {
  char buf[16];
  snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(cp));
  return buf;
}


// What is wrong with a value's characters: a detail and a hint, both empty
// when nothing is.
struct Problem {
  std::string detail;
  std::string hint;
  explicit operator bool() const { return !detail.empty(); }
};

// Checks every character of a value: valid UTF-8, no control character
// (Cc) and no format character (Cf: bidi controls, zero-width characters,
// the soft hyphen...), which every identifier type refuses alike. Counts
// the characters into *chars. Positions are counted from 1, in characters.
Problem bad_characters(std::string_view s, size_t *chars) {
  *chars = 0;
  for (size_t pos = 0; pos < s.size(); (*chars)++) {
    char32_t cp;
    size_t len = decode_utf8(s, pos, &cp);
    if (len == 0) return {"The value is not valid UTF-8 (byte " + std::to_string(pos) + " is wrong).", {}};
    auto where = [&] { return "Character " + std::to_string(*chars + 1) + " is " + code_point_name(cp); };
    if (is_control(cp))
      return {where() + ", a control character.", "Send the value without control characters."};
    if (cp >= 0x80 && is_format_char(cp))
      return {where() + " " + char_name(cp) + ", an invisible format character (Unicode category Cf).",
              "Send the value without format characters such as bidi controls and zero-width spaces: "
              "they make one identifier look like another."};
    pos += len;
  }
  return {};
}

// Removes ASCII white space at both ends.
std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// Upper-cases ASCII letters only.
std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Checks one email's domain, already ASCII: labels of [a-z0-9-] and a TLD
// that is not all digits. Returns what is wrong, or "" when nothing is.
std::string bad_domain(const std::string &domain) {
  if (domain.find('.') == std::string::npos) return "The domain needs at least one dot.";
  size_t start = 0;
  while (true) {
    size_t end = domain.find('.', start);
    if (end == std::string::npos) end = domain.size();
    std::string_view label(domain.data() + start, end - start);
    if (label.empty()) return "The domain has an empty label.";
    if (label.size() > kMaxLabelBytes) return "A domain label is longer than 63 characters.";
    if (label.front() == '-' || label.back() == '-')
      return "A domain label starts or ends with \"-\".";
    bool all_digits = true;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
        return "The domain contains a character other than letters, digits, \"-\" and \".\".";
      if (c < '0' || c > '9') all_digits = false;
    }
    if (end == domain.size())
      return all_digits ? "The top-level domain is all digits." : "";
    start = end + 1;
  }
}

}  // namespace

bool domain_needs_idna(const std::string &domain) {
  // "--" covers A-labels and the hyphens IDNA refuses in the third and
  // fourth places ("ab--cd").
  return !bad_domain(domain).empty() || domain.find("--") != std::string::npos;
}

namespace {

// Returns libphonenumber with its logging to stderr turned off.
const PhoneNumberUtil *phone_util() {
  static PhoneNumberUtil *util = [] {
    PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
    u->SetLogger(new i18n::phonenumbers::NullLogger());  // takes ownership
    return u;
  }();
  return util;
}

// Why libphonenumber found a parsed number impossible, as a detail.
std::string impossible_reason(PhoneNumberUtil::ValidationResult r) {
  switch (r) {
    case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
      return "It is a local number without an area code.";
    case PhoneNumberUtil::INVALID_COUNTRY_CODE:
      return "Its country calling code does not exist.";
    case PhoneNumberUtil::TOO_SHORT:
      return "It is too short for its country.";
    case PhoneNumberUtil::TOO_LONG:
      return "It is too long for its country.";
    default:
      return "Its length is not used in its country.";
  }
}

}  // namespace

// Lower-cases ASCII letters, leaving every other byte alone.
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// ASCII alone (most values) by ASCII's rules; anything else through ICU.
std::string lower_case(std::string_view s) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return ascii ? ascii_lower(s) : lower_nfc(s);
}

std::string email_mailbox(std::string_view email) {
  size_t at = email.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::string(email);
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  size_t plus = local.find('+');
  if (plus != std::string_view::npos && plus > 0) local = local.substr(0, plus);
  if (domain != "gmail.com" && domain != "googlemail.com") return std::string(local) + "@" + std::string(domain);
  std::string mailbox;
  for (char c : local)
    if (c != '.') mailbox += c;
  return mailbox + "@gmail.com";
}

// Validates an external ID and returns it unchanged.
std::string normalize_external_id(std::string_view raw) {
  if (raw.empty()) fail("external ID is empty");
  size_t chars;
  Problem problem = bad_characters(raw, &chars);
  if (problem) fail("invalid external ID " + quoted(raw), problem.detail, problem.hint);
  bool blank = true;
  for (size_t pos = 0; pos < raw.size() && blank;) {
    char32_t cp;
    pos += decode_utf8(raw, pos, &cp);
    blank = is_unicode_space(cp);
  }
  if (blank)
    fail("invalid external ID " + quoted(raw),
         "An external ID must contain something other than white space.");
  if (chars > kMaxExternalIdChars)
    fail("external ID is too long",
         "An external ID may have at most " + std::to_string(kMaxExternalIdChars) +
             " characters; this one has " + std::to_string(chars) + ".");
  return std::string(raw);
}

// Returns the canonical form of an email address (see normalize.h).
std::string normalize_email(std::string_view raw, std::string_view field) {
  std::string name(field);
  std::string_view in = trim(raw);
  if (in.empty()) fail(name + " is empty");
  auto bad = [&] { return "invalid " + name + " " + quoted(in); };  // made on failure only
  if (in.size() > kMaxEmailInputBytes) fail(bad(), "An email address has at most 254 characters.");
  size_t chars;
  Problem problem = bad_characters(in, &chars);
  if (problem) fail(bad(), problem.detail, problem.hint);
  for (size_t pos = 0; pos < in.size();) {
    char32_t cp;
    pos += decode_utf8(in, pos, &cp);
    if (is_unicode_space(cp)) fail(bad(), "An email address must not contain spaces.");
  }
  size_t at = in.find('@');
  if (at == std::string::npos || in.find('@', at + 1) != std::string::npos)
    fail(bad(), "An email address needs exactly one \"@\" between a local part and a domain.");
  // The local part in NFC and lower case, so that one address typed
  // several ways (a composed or a decomposed "é", or "É") is one key; the
  // domain is IDNA's to map, below.
  std::string local = lower_case(in.substr(0, at));
  std::string domain = ascii_lower(in.substr(at + 1));
  if (local.empty()) fail(bad(), "The local part before \"@\" is empty.");
  if (domain.empty()) fail(bad(), "The domain after \"@\" is empty.");
  if (local.size() > kMaxLocalPartBytes)
    fail(bad(), "The local part before \"@\" is longer than 64 bytes.");
  for (char c : local)
    if (std::string_view("()<>[]:;,\\\"").find(c) != std::string_view::npos)
      fail(bad(), std::string("The local part must not contain \"") + c + "\".");

  // Most domains are lower-case LDH labels already, which IDNA leaves as
  // they are (domain_needs_idna): libidn2, a tenth of an import's
  // normalizing, sees only the others.
  if (domain_needs_idna(domain)) {
    char *ascii = nullptr;
    int rc = idn2_to_ascii_8z(domain.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
      idn2_free(ascii);
      fail(bad(), std::string("The domain is not a valid domain name: ") + idn2_strerror(rc) + ".");
    }
    domain = ascii;
    idn2_free(ascii);
    std::string wrong = bad_domain(domain);
    if (!wrong.empty()) fail(bad(), wrong);
  }

  std::string result = local + "@" + domain;
  if (result.size() > kMaxEmailBytes)
    fail(bad(), "An email address may have at most 254 bytes; this one has " +
                  std::to_string(result.size()) + ".");
  return result;
}

namespace {

// How a stored phone number carries its extension: RFC 3966's parameter.
constexpr const char *kExtensionMark = ";ext=";

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Whether ASCII letters in a phone number may be an extension's marker
// ("x", "ext.", RFC 3966's ";ext="): all of them come after the last digit
// of the number and before the extension's digits. Vanity numbers
// ("1-800-FLOWERS", whose letters libphonenumber would read as digits) are
// refused before parsing.
bool might_mark_extension(const std::string &in) {
  size_t first_letter = 0;
  while (first_letter < in.size() && !ascii_letter(in[first_letter])) first_letter++;
  size_t last_letter = in.size();
  while (last_letter > 0 && !ascii_letter(in[last_letter - 1])) last_letter--;
  for (size_t i = first_letter; i < last_letter; i++)
    if (in[i] >= '0' && in[i] <= '9') return false;  // digits between letters: not one marker
  return in.find_first_of("0123456789", last_letter) != std::string::npos &&
         in.find_first_of("0123456789") < first_letter;
}

// Whether the letters of `in` lie only in the marker before the extension
// libphonenumber found, which ends the input (a "#" may follow it): none
// of them comes before a digit of the number itself.
bool letters_only_in_marker(const std::string &in, const std::string &extension) {
  const size_t end = in.find_last_of("0123456789");
  if (end == std::string::npos || extension.empty() || end + 1 < extension.size()) return false;
  const size_t start = end + 1 - extension.size();
  if (in.compare(start, extension.size(), extension) != 0) return false;
  if (in.find_first_not_of("# ", end + 1) != std::string::npos) return false;
  const size_t number_end = start == 0 ? std::string::npos : in.find_last_of("0123456789", start - 1);
  if (number_end == std::string::npos) return false;
  return std::none_of(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(number_end), ascii_letter);
}

}  // namespace

// Returns the stored form of a phone number: E.164, and its extension
// (see normalize.h).
std::string normalize_phone(std::string_view raw, std::string_view default_region,
                            std::string_view field) {
  std::string name = field == "phone" ? "phone number" : std::string(field);
  std::string in(trim(raw));
  if (in.empty()) fail(name + " is empty");
  auto bad = [&] { return "invalid " + name + " " + quoted(in); };  // made on failure only
  size_t chars;
  Problem problem = bad_characters(in, &chars);
  if (problem) fail(bad(), problem.detail, problem.hint);
  if (chars > kMaxPhoneInputChars)
    fail(bad(), "A phone number has at most " + std::to_string(kMaxPhoneInputChars) + " characters.");
  const bool letters = std::any_of(in.begin(), in.end(), ascii_letter);
  if (letters && !might_mark_extension(in)) fail(bad(), "A phone number must contain no letters.");

  const PhoneNumberUtil *util = phone_util();
  std::string region = default_region.empty() ? "ZZ" : ascii_upper(default_region);
  bool region_known = is_supported_region(region);
  PhoneNumber number;
  switch (util->Parse(in, region, &number)) {
    case PhoneNumberUtil::NO_PARSING_ERROR:
      break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
      // With a + (or a region to read 00 in) the code was there but unknown.
      if (in.find('+') != std::string::npos || in.find("\xEF\xBC\x8B") != std::string::npos ||
          region_known)
        fail(bad(), "Its country calling code does not exist.");
      fail(name + " " + quoted(in) + " has no country code",
           default_region.empty() ? std::string()
                                  : quoted(region) + " is not a known region code.",
           "Write it in E.164 form such as \"+380501234567\", or give the account a region "
           "with contact_identity.set_account_region.");
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN:
      fail(bad(), "It is too short.");
    case PhoneNumberUtil::TOO_LONG_NSN:
      fail(bad(), "It is too long.");
    default:
      fail(bad(), "It does not look like a phone number.");
  }
  if (letters && !(number.has_extension() && letters_only_in_marker(in, number.extension())))
    fail(bad(), "Letters may only mark an extension, as in \"x 123\".");
  PhoneNumberUtil::ValidationResult possible = util->IsPossibleNumberWithReason(number);
  if (possible != PhoneNumberUtil::IS_POSSIBLE) fail(bad(), impossible_reason(possible));

  std::string result;
  util->Format(number, PhoneNumberUtil::E164, &result);
  if (number.has_extension()) {  // its digits as written: in any script libphonenumber reads
    std::string extension = number.extension();
    util->NormalizeDigitsOnly(&extension);
    if (extension.empty()) fail(bad(), "Its extension has no digits.");
    result += kExtensionMark + extension;
  }
  // The stored form must read back as itself, or a lookup by it would miss
  // the contact. It does not when the digits after the country code start
  // with the national prefix ("000000" in DE is +4900000, read back as
  // +490000): such a number exists nowhere. Input that is that form already
  // was just read back (a leading + makes the region irrelevant): reading
  // it again, half the cost of a call, would say the same.
  if (result == in) return result;
  PhoneNumber again;
  std::string round_trip;
  if (util->Parse(result, "ZZ", &again) == PhoneNumberUtil::NO_PARSING_ERROR) {
    util->Format(again, PhoneNumberUtil::E164, &round_trip);
    if (again.has_extension()) round_trip += kExtensionMark + again.extension();
  }
  if (round_trip != result) fail(bad(), "It does not look like a phone number.");
  return result;
}

// True when libphonenumber has metadata for the region, in any case.
bool is_supported_region(std::string_view region) {
  static const std::set<std::string> regions = [] {
    std::set<std::string> r;
    phone_util()->GetSupportedRegions(&r);
    return r;
  }();
  return regions.count(ascii_upper(region)) > 0;
}

// Trims a token and checks it; lower-cases ASCII when lower is set.
std::string normalize_token(std::string_view raw, std::string_view field, bool lower) {
  std::string name(field);
  std::string_view in = trim(raw);
  if (in.empty()) fail(name + " is empty");
  size_t chars;
  Problem problem = bad_characters(in, &chars);
  if (problem) fail("invalid " + name + " value " + quoted(in), problem.detail, problem.hint);
  if (chars > kMaxIdentifierChars)
    fail(name + " value is too long",
         "A value may have at most " + std::to_string(kMaxIdentifierChars) +
             " characters; this one has " + std::to_string(chars) + ".");
  return lower ? lower_case(in) : std::string(in);
}

// Runs the normalizer an identifier type names.
std::string normalize_identifier(std::string_view normalizer, std::string_view raw,
                                 std::string_view field, std::string_view default_region) {
  if (normalizer == "external_id") return normalize_external_id(raw);
  if (normalizer == "email") return normalize_email(raw, field);
  if (normalizer == "phone") return normalize_phone(raw, default_region, field);
  if (normalizer == "text") return normalize_token(raw, field, false);
  if (normalizer == "lower") return normalize_token(raw, field, true);
  fail("unknown normalizer " + quoted(normalizer), {},
       "The normalizer must be \"external_id\", \"email\", \"phone\", \"text\" or \"lower\".");
}

}  // namespace identity
