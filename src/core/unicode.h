// unicode.h: the Unicode properties and mappings identifiers need, from ICU
// (the library PostgreSQL itself links), never from tables of our own.
//
// Input is valid UTF-8 (the callers check it with decode_utf8 first).
#pragma once

#include <string>
#include <string_view>

namespace identity {

// True for a format character, Unicode general category Cf: the bidi
// controls (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), the
// zero-width characters (U+200B to U+200D, U+2060, U+FEFF), the soft
// hyphen (U+00AD) and the rest of Cf. Invisible, or reordering the text
// around them: two values that differ only by them look the same.
bool is_format_char(char32_t cp);

// The character's Unicode name ("RIGHT-TO-LEFT OVERRIDE"), or "" when it
// has none (controls, unassigned code points).
std::string char_name(char32_t cp);

// The NFC form of s with every character full-lower-cased by the root
// locale (the same whatever the server's locale). Lower-casing can leave a
// string that is not NFC, so the result is composed again: the function is
// idempotent (lower_nfc(lower_nfc(s)) == lower_nfc(s)).
std::string lower_nfc(std::string_view s);

// The Unicode version ICU implements here, such as "15.0".
std::string unicode_version();

}  // namespace identity
