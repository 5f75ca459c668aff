// utf8.h: reading UTF-8 one character at a time, for validation and messages.
#pragma once

#include <cstddef>
#include <string_view>

namespace identity {

// Decodes the UTF-8 character at s[pos] into *cp; returns its length in
// bytes, or 0 when the bytes there are not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF included).
size_t decode_utf8(std::string_view s, size_t pos, char32_t *cp);

// True for C0 controls, DEL and C1 controls.
inline bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace identity
