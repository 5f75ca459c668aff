// json_text.cpp: JSON string escaping.
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

std::string json_identifier_list(const std::vector<std::pair<std::string, std::string>> &identifiers) {
  std::string out = "[";
  for (const auto &[type, value] : identifiers) {
    if (out.size() > 1) out += ", ";
    out += "{\"type\": " + json_quote(type) + ", \"value\": " + json_quote(value) + "}";
  }
  return out + "]";
}

}  // namespace identity
