// unicode.cpp: ICU behind unicode.h. ICU's C++ API reports errors through
// UErrorCode and never throws; a failure here is ICU missing its data or
// memory, not bad input, so it is a std::runtime_error (an internal error).
#include "core/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <stdexcept>

namespace identity {
namespace {

// Throws when ICU reported a failure.
void check(UErrorCode status, const char *what) {
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU ") + what + " failed: " + u_errorName(status));
}

// ICU's NFC normalizer: a process-wide singleton, safe on every thread.
const icu::Normalizer2 &nfc() {
  static const icu::Normalizer2 *instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2 *n = icu::Normalizer2::getNFCInstance(status);
    check(status, "getNFCInstance");
    return n;
  }();
  return *instance;
}

}  // namespace

bool is_format_char(char32_t cp) { return u_charType(static_cast<UChar32>(cp)) == U_FORMAT_CHAR; }

std::string char_name(char32_t cp) {
  char buf[128];
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = u_charName(static_cast<UChar32>(cp), U_UNICODE_CHAR_NAME, buf, sizeof(buf), &status);
  if (U_FAILURE(status) || len <= 0) return {};
  return std::string(buf, static_cast<size_t>(len));
}

// NFC, full lower case in the root locale (Locale::getRoot(), not the
// process's default locale, which could be Turkish), NFC again.
std::string lower_nfc(std::string_view s) {
  icu::UnicodeString text =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString composed = nfc().normalize(text, status);
  check(status, "NFC normalization");
  composed.toLower(icu::Locale::getRoot());
  icu::UnicodeString result = nfc().normalize(composed, status);
  check(status, "NFC normalization");
  if (result.isBogus()) throw std::runtime_error("ICU lower-casing ran out of memory");
  std::string out;
  result.toUTF8String(out);
  return out;
}

std::string unicode_version() {
  UVersionInfo version;
  u_getUnicodeVersion(version);
  return std::to_string(version[0]) + "." + std::to_string(version[1]);
}

}  // namespace identity
