// json_text.h: writing small JSON documents (log details, summaries, import
// rows) without a library: one builder, so no caller assembles JSON text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace identity {

// A JSON string literal for s (UTF-8 passes through; control characters,
// quotes and backslashes are escaped).
std::string json_quote(std::string_view s);

class JsonArray;

// One JSON object, written member by member in the order given, with the
// separators jsonb prints: {"name": value, "other": value}.
class JsonObject {
 public:
  // A string member (escaped by json_quote).
  JsonObject &field(std::string_view name, std::string_view text);
  // Without it a literal would become a bool.
  JsonObject &field(std::string_view name, const char *text) { return field(name, std::string_view(text)); }
  // A number member.
  template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  JsonObject &field(std::string_view name, Int number) {
    return raw(name, std::to_string(number));
  }
  // true or false.
  JsonObject &field(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }
  // null.
  JsonObject &field(std::string_view name, std::nullptr_t) { return raw(name, "null"); }
  // The value, or null when there is none.
  template <class T>
  JsonObject &field(std::string_view name, const std::optional<T> &value) {
    return value ? field(name, *value) : field(name, nullptr);
  }
  // A nested object or array.
  JsonObject &field(std::string_view name, const JsonObject &object);
  JsonObject &field(std::string_view name, const JsonArray &array);
  // A member whose value is JSON text already (a timestamp from to_jsonb, a
  // stored detail); the caller vouches that it is valid.
  JsonObject &raw(std::string_view name, std::string_view json);
  // The members of another object's text, as they are written there
  // (nothing for {} or text that is not an object).
  JsonObject &members_of(std::string_view object_json);

  // No member written yet.
  bool empty() const { return text_.size() == 1; }
  // The object's text.
  std::string str() const { return text_ + "}"; }

 private:
  // Starts a member: the separator and the quoted name.
  void key(std::string_view name);
  std::string text_ = "{";
};

// One JSON array, written item by item: [a, b, c].
class JsonArray {
 public:
  // An item of each kind, as JsonObject::field writes a member's value.
  JsonArray &add(std::string_view text);
  JsonArray &add(const char *text) { return add(std::string_view(text)); }
  template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  JsonArray &add(Int number) {
    return raw(std::to_string(number));
  }
  JsonArray &add(bool value) { return raw(value ? "true" : "false"); }
  JsonArray &add(std::nullptr_t) { return raw("null"); }
  template <class T>
  JsonArray &add(const std::optional<T> &value) {
    return value ? add(*value) : add(nullptr);
  }
  JsonArray &add(const JsonObject &object) { return raw(object.str()); }
  JsonArray &add(const JsonArray &array) { return raw(array.str()); }
  // An item that is JSON text already; the caller vouches that it is valid.
  JsonArray &raw(std::string_view json);
  // Each of the values, in order.
  template <class T>
  JsonArray &add_all(const std::vector<T> &values) {
    for (const T &v : values) add(v);
    return *this;
  }

  bool empty() const { return text_.size() == 1; }
  // The array's text.
  std::string str() const { return text_ + "]"; }

 private:
  std::string text_ = "[";
};

// [{"type": t, "value": v}, ...] for (type, value) pairs.
std::string json_identifier_list(const std::vector<std::pair<std::string, std::string>> &identifiers);

}  // namespace identity
