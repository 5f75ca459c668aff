// identifiers_json.cpp: reads the `identifiers` argument with the shared JSON
// reader (core/json_value.h) and turns its tree into (type, value) pairs.
//
// It accepts exactly one shape, an object whose members are a string, a
// number, null or an array of those. A visitor refuses any other value where
// it starts, so a wrong type is named even when the JSON breaks further on,
// and nesting stops at two levels without reading what lies deeper.
#include "core/identifiers_json.h"

#include <optional>

#include "core/identity_error.h"
#include "core/json_value.h"

namespace identity {

namespace {

using Type = JsonValue::Type;

// The object and one array in it; the visitor refuses anything deeper first.
constexpr int kMaxIdentifiersDepth = 2;

// Names a JSON type the way the DETAILs say it.
const char *type_name(Type type) {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "a boolean";
    case Type::kNumber: return "a number";
    case Type::kString: return "a string";
    case Type::kArray: return "an array";
    case Type::kObject: return "an object";
  }
  return "a value";
}

// The type of a value starting with byte c, judged by that byte alone; nullopt where no value starts.
std::optional<Type> type_starting_with(char c) {
  if (c == '{') return Type::kObject;
  if (c == '[') return Type::kArray;
  if (c == '"') return Type::kString;
  if (c == 't' || c == 'f') return Type::kBool;
  if (c == 'n') return Type::kNull;
  if (c == '-' || (c >= '0' && c <= '9')) return Type::kNumber;
  return std::nullopt;
}

// Refuses a root that is not an object from its first byte, before reading the
// rest: "It is an array." helps more than a syntax error deep inside it.
void check_root(std::string_view json) {
  size_t at = json.find_first_not_of(" \t\n\r");
  if (at == std::string_view::npos || json[at] == '{') return;
  std::optional<Type> type = type_starting_with(json[at]);
  if (!type) return;  // not a value at all: the reader says which byte is wrong
  throw IdentityError(sqlstate::kInvalidParameterValue, "identifiers must be a JSON object",
                      std::string("It is ") + type_name(*type) + ".",
                      "Pass an object such as {\"mobile_push\": \"token\", \"cookie\": [\"c1\", \"c2\"]}.");
}

// Throws the wrong-type error for the member named key.
[[noreturn]] void type_error(const std::string &key, const std::string &detail) {
  throw IdentityError(sqlstate::kInvalidParameterValue,
                      "identifiers value for " + quoted(key) + " must be a string, a number or an array of them",
                      detail);
}

// The reader's visitor: refuses a member value (depth 1) or array element
// (depth 2) of the wrong type as soon as it is met; member keeps the key of
// the member being read, which array elements have no key of their own.
void check_shape(const JsonValue &v, int depth, const std::string *key, std::string &member) {
  if (depth == 0) return;  // the root, already known to be an object
  if (depth == 1) member = *key;
  bool scalar = v.type == Type::kString || v.type == Type::kNumber || v.type == Type::kNull;
  if (scalar || (depth == 1 && v.type == Type::kArray)) return;
  type_error(member, std::string(depth == 1 ? "It is " : "It is an array holding ") + type_name(v.type) + ".");
}

// Appends the pairs member key gives: a string or number as its text, an
// array element by element; null adds nothing. check_shape let nothing else by.
void collect(const std::string &key, const JsonValue &v, std::vector<RawIdentifier> &out) {
  if (v.type == Type::kArray) {
    for (const JsonValue &item : v.items) collect(key, item, out);
  } else if (v.type != Type::kNull) {
    out.push_back({key, v.text});
  }
}

}  // namespace

// Parses the identifiers JSON object into (type, value) pairs.
std::vector<RawIdentifier> parse_identifiers_json(std::string_view json) {
  check_root(json);
  std::string member;
  JsonOptions options;
  options.max_depth = kMaxIdentifiersDepth;
  options.unique_keys = false;  // a repeated type simply gives more identifiers, in document order
  options.allow_nul = true;     // normalization refuses it later, naming it as a control character
  options.visit = [&member](const JsonValue &v, int depth, const std::string *key) {
    check_shape(v, depth, key, member);
  };
  JsonValue root = parse_json(json, "identifiers is not valid JSON", options);
  std::vector<RawIdentifier> out;
  for (const auto &[key, value] : root.members) collect(key, value, out);
  return out;
}

}  // namespace identity
