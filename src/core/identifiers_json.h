// identifiers_json.h: reads the `identifiers` argument, a JSON object of
// identifier type name to a value or an array of values:
//   {"mobile_push": "tok1", "cookie": ["c1", "c2"], "telegram": 12345}
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace identity {

// One identifier as the caller wrote it, before normalization.
struct RawIdentifier {
  std::string type;
  std::string value;
};

// Parses JSON text (as jsonb prints it, but any JSON is accepted) into
// (type, value) pairs in document order. Strings are taken as they are,
// numbers as their literal text; null values and empty arrays are skipped.
// Anything else (not an object, a nested object, a boolean, an array inside
// an array, malformed JSON, nesting deeper than a few levels) throws
// IdentityError 22023 naming the type at fault.
std::vector<RawIdentifier> parse_identifiers_json(std::string_view json);

}  // namespace identity
