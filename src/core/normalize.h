// normalize.h: turns identifiers as applications send them into the one
// form that is stored, compared and locked on.
//
// Every function either returns the normalized value or throws
// IdentityError with SQLSTATE 22023 whose message names the field and value.
#pragma once

#include <string>
#include <string_view>

namespace identity {

// The longest external ID accepted, in characters (code points).
inline constexpr size_t kMaxExternalIdChars = 255;
// The longest value accepted for any other identifier, in characters.
inline constexpr size_t kMaxIdentifierChars = 1000;

// Validates an external ID: kept exactly as given (case, inner spaces and
// Unicode form included); empty, whitespace-only, longer than
// kMaxExternalIdChars or holding control or format characters is an error.
std::string normalize_external_id(std::string_view raw);

// Trims, puts the local part in NFC and lower case (lower_case) and
// converts the domain to its ASCII (punycode) form with IDNA; rejects
// anything that is not a plausible mailbox address, and control and format
// characters (unicode.h) anywhere.
std::string normalize_email(std::string_view raw, std::string_view field = "email");

// Parses with libphonenumber and formats as E.164. A number without a
// leading + (or 00 international prefix) is read in default_region (an
// ISO 3166 code such as "UA"); with default_region empty it is an error.
// An extension follows as RFC 3966 writes it: "+15094635519;ext=123".
// Control and format characters are refused, as in every identifier.
std::string normalize_phone(std::string_view raw, std::string_view default_region,
                            std::string_view field = "phone");

// True when region is a region code libphonenumber knows ("UA", "us", ...).
bool is_supported_region(std::string_view region);

// Trims surrounding white space; lower-cases too (lower_case) when lower is
// set. Empty, over kMaxIdentifierChars or holding control or format
// characters is an error.
std::string normalize_token(std::string_view raw, std::string_view field, bool lower);

// Dispatches on an identifier type's normalizer name: "external_id",
// "email", "phone", "text" (normalize_token) or "lower" (normalize_token,
// lower-cased).
std::string normalize_identifier(std::string_view normalizer, std::string_view raw,
                                 std::string_view field, std::string_view default_region);

// False when `domain` is labels of lower-case ASCII letters, digits and
// single inner hyphens (no "--": no A-label, nothing IDNA refuses there),
// with a top-level domain that is not all digits: libidn2 (IDNA2008, UTS
// #46 non-transitional) returns such a domain unchanged, and the email
// rules accept it.
bool domain_needs_idna(const std::string &domain);

// Lower-cases ASCII letters only; other bytes are left as they are.
std::string ascii_lower(std::string_view s);

// Lower-cases as email local parts and the "lower" normalizer do: NFC and
// full Unicode lower case (lower_nfc in unicode.h); ASCII-only text, which
// that leaves as ascii_lower does, never reaches ICU. s is valid UTF-8.
std::string lower_case(std::string_view s);

// The mailbox a stored email delivers to, for finding possible duplicates:
// the +tag of the local part dropped, and for Gmail (gmail.com,
// googlemail.com) the dots too, with the domain gmail.com. Two addresses
// with one mailbox are probably one person; they stay two identifiers.
std::string email_mailbox(std::string_view email);

}  // namespace identity
