// json_text.cpp: JSON string escaping and the JSON builder (json_text.h).
#include "core/json_text.h"

#include <cstdio>

namespace identity {

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

void JsonObject::key(std::string_view name) {
  if (!empty()) text_ += ", ";
  text_ += json_quote(name);
  text_ += ": ";
}

JsonObject &JsonObject::field(std::string_view name, std::string_view text) { return raw(name, json_quote(text)); }

JsonObject &JsonObject::field(std::string_view name, const JsonObject &object) { return raw(name, object.str()); }

JsonObject &JsonObject::field(std::string_view name, const JsonArray &array) { return raw(name, array.str()); }

JsonObject &JsonObject::raw(std::string_view name, std::string_view json) {
  key(name);
  text_ += json;
  return *this;
}

JsonObject &JsonObject::members_of(std::string_view object_json) {
  size_t open = object_json.find('{'), close = object_json.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open) return *this;
  std::string_view inner = object_json.substr(open + 1, close - open - 1);
  if (inner.find_first_not_of(" \t\n\r") == std::string_view::npos) return *this;
  if (!empty()) text_ += ", ";
  text_ += inner;
  return *this;
}

JsonArray &JsonArray::add(std::string_view text) { return raw(json_quote(text)); }

JsonArray &JsonArray::raw(std::string_view json) {
  if (!empty()) text_ += ", ";
  text_ += json;
  return *this;
}

std::string json_identifier_list(const std::vector<std::pair<std::string, std::string>> &identifiers) {
  JsonArray list;
  for (const auto &[type, value] : identifiers) list.add(JsonObject().field("type", type).field("value", value));
  return list.str();
}

}  // namespace identity
