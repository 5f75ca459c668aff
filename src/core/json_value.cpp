// json_value.cpp: a strict JSON reader building a JsonValue tree.
//
// It must stay safe on any bytes at all: every read is checked against the
// end of the input, and recursion is bounded by the caller's depth limit, so
// a document of 100000 '[' is an error rather than a stack overflow.
#include "core/json_value.h"

#include <cstdint>
#include <cstdio>
#include <set>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "core/utf8.h"

namespace identity {

// Finds an object member by key with a linear scan; objects are small.
const JsonValue *JsonValue::find(std::string_view key) const {
  for (const auto &[name, value] : members)
    if (name == key) return &value;
  return nullptr;
}

namespace {

// Appends code point cp to out as UTF-8.
void append_utf8(std::string &out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads one document; each method advances pos_.
class Reader {
 public:
  Reader(std::string_view text, const std::string &message, const JsonOptions &options)
      : s_(text), message_(message), options_(options) {}

  // Parses the whole input or throws.
  JsonValue parse() {
    skip_space();
    JsonValue v = value(0);
    skip_space();
    if (!at_end()) syntax_error();
    return v;
  }

 private:
  std::string_view s_;
  const std::string &message_;
  const JsonOptions &options_;
  size_t pos_ = 0;

  bool at_end() const { return pos_ >= s_.size(); }
  // The current byte, or NUL at the end (NUL is never valid JSON there).
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  // Throws the malformed-JSON error for the byte at offset at.
  [[noreturn]] void syntax_error(const std::string &what = {}, size_t at = SIZE_MAX) const {
    if (at == SIZE_MAX) at = pos_;
    std::string detail = what;
    if (detail.empty() && at >= s_.size()) {
      detail = "Unexpected end of input";
    } else if (detail.empty()) {
      unsigned char c = static_cast<unsigned char>(s_[at]);
      char buf[40];
      if (c > 0x20 && c < 0x7F)
        snprintf(buf, sizeof(buf), "Unexpected character \"%c\"", c);
      else
        snprintf(buf, sizeof(buf), "Unexpected byte 0x%02X", c);
      detail = buf;
    }
    throw IdentityError(sqlstate::kInvalidParameterValue, message_,
                        detail + " at byte offset " + std::to_string(at) + ".");
  }

  void skip_space() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }

  void expect(char c) {
    if (peek() != c) syntax_error();
    pos_++;
  }

  // Shows v to the caller's visitor, if any.
  void visit(const JsonValue &v, int depth, const std::string *key) const {
    if (options_.visit) options_.visit(v, depth, key);
  }

  // Reads any value; depth is how many arrays and objects enclose it, key its member name if any.
  JsonValue value(int depth, const std::string *key = nullptr) {
    char c = peek();
    if (c == '[' || c == '{') return container(depth, key);
    JsonValue v;
    if (c == '"') {
      v.type = JsonValue::Type::kString;
      v.text = string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      number(v);
    } else if (c == 't' || c == 'f') {
      v.type = JsonValue::Type::kBool;
      v.boolean = c == 't';
      literal(v.boolean ? "true" : "false");
    } else if (c == 'n') {
      literal("null");
    } else {
      syntax_error();
    }
    visit(v, depth, key);
    return v;
  }

  // Reads the array or object at pos_; the visitor sees it open before the depth limit
  // applies, so a caller refusing nesting names that rather than the depth.
  JsonValue container(int depth, const std::string *key) {
    JsonValue v;
    v.type = peek() == '[' ? JsonValue::Type::kArray : JsonValue::Type::kObject;
    visit(v, depth, key);
    if (depth >= options_.max_depth)
      syntax_error("Nesting deeper than " + std::to_string(options_.max_depth) + " levels");
    if (v.type == JsonValue::Type::kArray)
      array(v, depth + 1);
    else
      object(v, depth + 1);
    return v;
  }

  // Consumes the literal word (true, false, null) or throws.
  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) syntax_error();
    pos_ += word.size();
  }

  // Reads an array whose elements sit at the given depth.
  void array(JsonValue &v, int depth) {
    pos_++;
    skip_space();
    if (peek() == ']') {
      pos_++;
      return;
    }
    while (true) {
      v.items.push_back(value(depth));
      skip_space();
      if (peek() == ']') {
        pos_++;
        return;
      }
      expect(',');
      skip_space();
    }
  }

  // Reads an object; a repeated key is an error unless the caller allows it
  // (jsonb would keep only the last, so a rule could say two things at once).
  void object(JsonValue &v, int depth) {
    std::set<std::string> keys;
    pos_++;
    skip_space();
    if (peek() == '}') {
      pos_++;
      return;
    }
    while (true) {
      if (peek() != '"') syntax_error();
      size_t key_at = pos_;
      std::string key = string();
      if (options_.unique_keys && !keys.insert(key).second) syntax_error("Duplicate key " + quoted(key), key_at);
      skip_space();
      expect(':');
      skip_space();
      JsonValue member = value(depth, &key);
      v.members.emplace_back(std::move(key), std::move(member));
      skip_space();
      if (peek() == '}') {
        pos_++;
        return;
      }
      expect(',');
      skip_space();
    }
  }

  // Reads four hex digits after \u.
  unsigned hex4() {
    unsigned v = 0;
    for (int i = 0; i < 4; i++, pos_++) {
      char c = peek();
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) syntax_error("Invalid \\u escape");
      v = v * 16 + static_cast<unsigned>(d);
    }
    return v;
  }

  // Reads a string with its escapes decoded; it must be valid UTF-8.
  std::string string() {
    std::string v;
    pos_++;  // the opening quote
    while (true) {
      if (at_end()) syntax_error();
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        pos_++;
        return v;
      } else if (c < 0x20) {
        syntax_error("Unescaped control character in a string");
      } else if (c >= 0x80) {
        char32_t cp;
        size_t len = decode_utf8(s_, pos_, &cp);
        if (len == 0) syntax_error("Invalid UTF-8");
        v.append(s_.substr(pos_, len));
        pos_ += len;
      } else if (c != '\\') {
        v += static_cast<char>(c);
        pos_++;
      } else {
        escape(v);
      }
    }
  }

  // Decodes the escape sequence at pos_ (a backslash) onto v.
  void escape(std::string &v) {
    size_t start = pos_++;
    if (at_end()) syntax_error();
    char c = s_[pos_++];
    switch (c) {
      case '"': v += '"'; return;
      case '\\': v += '\\'; return;
      case '/': v += '/'; return;
      case 'b': v += '\b'; return;
      case 'f': v += '\f'; return;
      case 'n': v += '\n'; return;
      case 'r': v += '\r'; return;
      case 't': v += '\t'; return;
      case 'u': break;
      default: syntax_error("Invalid escape sequence", start);
    }
    unsigned cp = hex4();
    // PostgreSQL text cannot hold NUL, and jsonb refuses \u0000 too.
    if (cp == 0 && !options_.allow_nul) syntax_error("\\u0000 is not allowed", start);
    if (cp >= 0xDC00 && cp <= 0xDFFF) syntax_error("Lone low surrogate", start);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (peek() != '\\' || pos_ + 1 >= s_.size() || s_[pos_ + 1] != 'u') syntax_error("Lone high surrogate", start);
      pos_ += 2;
      unsigned low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) syntax_error("Lone high surrogate", start);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(v, cp);
  }

  // Reads a number, keeping its literal text, checked against the grammar.
  void number(JsonValue &v) {
    size_t start = pos_;
    auto digits = [this] {
      size_t first = pos_;
      while (peek() >= '0' && peek() <= '9') pos_++;
      if (pos_ == first) syntax_error("Invalid number");
    };
    v.type = JsonValue::Type::kNumber;
    v.integer = true;
    if (peek() == '-') pos_++;
    if (peek() == '0')
      pos_++;
    else
      digits();
    if (peek() == '.') {
      pos_++;
      digits();
      v.integer = false;
    }
    if (peek() == 'e' || peek() == 'E') {
      pos_++;
      if (peek() == '+' || peek() == '-') pos_++;
      digits();
      v.integer = false;
    }
    v.text = std::string(s_.substr(start, pos_ - start));
  }
};

}  // namespace

// Parses text into a JsonValue tree with the strict defaults or throws IdentityError 22023.
JsonValue parse_json(std::string_view text, const std::string &message, int max_depth) {
  JsonOptions options;
  options.max_depth = max_depth;
  return parse_json(text, message, options);
}

// Parses text into a JsonValue tree as options allow or throws IdentityError 22023.
JsonValue parse_json(std::string_view text, const std::string &message, const JsonOptions &options) {
  return Reader(text, message, options).parse();
}

}  // namespace identity

namespace identity {

std::string to_json(const JsonValue &value) {
  switch (value.type) {
    case JsonValue::Type::kNull: return "null";
    case JsonValue::Type::kBool: return value.boolean ? "true" : "false";
    case JsonValue::Type::kNumber: return value.text;
    case JsonValue::Type::kString: return json_quote(value.text);
    case JsonValue::Type::kArray: {
      JsonArray out;
      for (const JsonValue &item : value.items) out.raw(to_json(item));
      return out.str();
    }
    case JsonValue::Type::kObject: {
      JsonObject out;
      for (const auto &[key, member] : value.members) out.raw(key, to_json(member));
      return out.str();
    }
  }
  return "null";
}

}  // namespace identity
