// identity_error.cpp: how messages show the values they name.
#include "core/identity_error.h"

#include <cstdio>

#include "core/unicode.h"
#include "core/utf8.h"

namespace identity {
namespace {

// How many bytes of a value a message quotes at most.
constexpr size_t kMaxQuotedBytes = 100;

}  // namespace

// Quotes a value for a message: at most kMaxQuotedBytes of it (never cut
// inside a character) with "..." after when shortened; control characters,
// format characters and invalid UTF-8 bytes are shown as \xNN, \uNNNN or
// \UNNNNNNNN so the message stays printable, valid UTF-8, and in order (a
// right-to-left override would reverse the rest of the line).
std::string quoted(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp;
    size_t len = decode_utf8(s, pos, &cp);
    if (pos + (len ? len : 1) > kMaxQuotedBytes) break;
    char buf[16];
    if (len == 0 || is_control(cp) || (cp >= 0x80 && is_format_char(cp))) {
      if (len == 0 || cp < 0x80)
        snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned char>(s[pos]));
      else if (cp <= 0xFFFF)
        snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(cp));
      else
        snprintf(buf, sizeof(buf), "\\U%08X", static_cast<unsigned>(cp));
      out += buf;
      pos += len ? len : 1;
    } else {
      out.append(s.substr(pos, len));
      pos += len;
    }
  }
  return "\"" + out + "\"" + (pos < s.size() ? "..." : "");
}

std::string contact_name(int64_t id) { return "contact " + std::to_string(id); }

}  // namespace identity
