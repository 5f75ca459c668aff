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

// Validates an external ID: kept exactly as given (case and inner spaces
// included); empty, whitespace-only, longer than kMaxExternalIdChars or
// holding control characters is an error.
std::string normalize_external_id(std::string_view raw);

// Trims, lower-cases and converts an IDN domain to its ASCII (punycode)
// form; rejects anything that is not a plausible mailbox address.
std::string normalize_email(std::string_view raw, std::string_view field = "email");

// Parses with libphonenumber and formats as E.164. A number without a
// leading + (or 00 international prefix) is read in default_region (an
// ISO 3166 code such as "UA"); with default_region empty it is an error.
// An extension follows as RFC 3966 writes it: "+15094635519;ext=123".
std::string normalize_phone(std::string_view raw, std::string_view default_region,
                            std::string_view field = "phone");

// True when region is a region code libphonenumber knows ("UA", "us", ...).
bool is_supported_region(std::string_view region);

// Trims surrounding white space; lower-cases too when lower is set. Empty,
// over kMaxIdentifierChars or holding control characters is an error.
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

// The mailbox a stored email delivers to, for finding possible duplicates:
// the +tag of the local part dropped, and for Gmail (gmail.com,
// googlemail.com) the dots too, with the domain gmail.com. Two addresses
// with one mailbox are probably one person; they stay two identifiers.
std::string email_mailbox(std::string_view email);

}  // namespace identity
