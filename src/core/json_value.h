// json_value.h: a small JSON document model, read strictly from input nobody
// vouches for (segment rules come from API callers).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace identity {

// One JSON value; arrays and objects own their elements.
struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type = Type::kNull;
  bool boolean = false;          // kBool
  bool integer = false;          // kNumber: written without fraction or exponent
  std::string text;              // kNumber: the literal as written; kString: the decoded UTF-8
  std::vector<JsonValue> items;  // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject: document order, keys unique

  // The member named key, or nullptr (also for a value that is not an object).
  const JsonValue *find(std::string_view key) const;
};

// How deep arrays and objects may nest unless the caller says otherwise.
inline constexpr int kMaxJsonDepth = 64;

// Parses one JSON document (RFC 8259) followed by nothing but white space.
// Strings must be valid UTF-8 and hold no NUL (raw or \u0000) and no
// unpaired surrogate; keys must be unique within an object; arrays and
// objects nest at most max_depth levels (the reader recurses once per level,
// so this bounds its stack). Anything else throws IdentityError 22023 with
// `message` and a DETAIL saying what is wrong at which byte offset.
JsonValue parse_json(std::string_view text, const std::string &message, int max_depth = kMaxJsonDepth);

// Sees each value as the reader meets it, so that a caller expecting one
// shape can refuse the first value that breaks it (by throwing) before any
// later syntax error is found, and before a deep nest is read at all. Arrays
// and objects are shown when they open, with no elements yet and before the
// depth limit applies; other values once read. depth counts the arrays and
// objects around the value; key is its member name, or nullptr outside an object.
using JsonVisitor = std::function<void(const JsonValue &value, int depth, const std::string *key)>;

// What a caller may relax or add to the strict reading above.
struct JsonOptions {
  int max_depth = kMaxJsonDepth;
  bool unique_keys = true;  // false: a repeated key is kept each time, in document order
  bool allow_nul = false;   // true: \u0000 decodes to a NUL byte (for callers that check values later)
  JsonVisitor visit;        // when set, called for every value as described above
};

// parse_json as above, with the given options.
JsonValue parse_json(std::string_view text, const std::string &message, const JsonOptions &options);

// The value as JSON text (members in document order, numbers as written).
std::string to_json(const JsonValue &value);

}  // namespace identity
