// identifiers_json.cpp: a small JSON reader for the `identifiers` argument.
//
// It accepts exactly one shape, an object whose members are a string, a
// number, null or an array of those, so it needs no recursion: any nesting
// beyond that is refused where it starts. It must stay safe on any bytes at
// all (it is fuzzed): every read is checked against the end of the input.
#include "core/identifiers_json.h"

#include <cstdint>
#include <cstdio>

#include "core/identity_error.h"

namespace identity {

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

// Length of a valid UTF-8 character starting at s[pos], or 0 when invalid.
size_t utf8_length(std::string_view s, size_t pos) {
  unsigned char c = static_cast<unsigned char>(s[pos]);
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
             : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || s.size() - pos < len) return 0;
  unsigned cp = len == 1 ? c : c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    unsigned char cc = static_cast<unsigned char>(s[pos + i]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static const unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Reads one identifiers document; each method advances pos_.
class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  // Parses the whole input or throws.
  std::vector<RawIdentifier> parse() {
    skip_space();
    if (at_end() || s_[pos_] != '{') {
      const char *kind = at_end() ? nullptr : kind_at(pos_);
      if (kind == nullptr) syntax_error();
      throw IdentityError(sqlstate::kInvalidParameterValue,
                          "identifiers must be a JSON object",
                          std::string("It is ") + kind + ".",
                          "Pass an object such as "
                          "{\"mobile_push\": \"token\", \"cookie\": [\"c1\", \"c2\"]}.");
    }
    pos_++;
    skip_space();
    if (peek() == '}') {
      pos_++;
    } else {
      while (true) {
        if (peek() != '"') syntax_error();
        std::string key = string();
        skip_space();
        expect(':');
        skip_space();
        member_value(key);
        skip_space();
        if (peek() == '}') {
          pos_++;
          break;
        }
        expect(',');
        skip_space();
      }
    }
    skip_space();
    if (!at_end()) syntax_error();
    return std::move(out_);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::vector<RawIdentifier> out_;

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
    throw IdentityError(sqlstate::kInvalidParameterValue, "identifiers is not valid JSON",
                        detail + " at byte offset " + std::to_string(at) + ".");
  }

  // Throws the wrong-type error for the member named key.
  [[noreturn]] void type_error(const std::string &key, const std::string &detail) const {
    throw IdentityError(sqlstate::kInvalidParameterValue,
                        "identifiers value for " + quoted(key) +
                            " must be a string, a number or an array of them",
                        detail);
  }

  // Names the JSON type a value starting at offset at would be, if any.
  const char *kind_at(size_t at) const {
    switch (s_[at]) {
      case '{': return "an object";
      case '[': return "an array";
      case '"': return "a string";
      case 't': case 'f': return "a boolean";
      case 'n': return "null";
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9': return "a number";
      default: return nullptr;
    }
  }

  void skip_space() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                         s_[pos_] == '\r'))
      pos_++;
  }

  void expect(char c) {
    if (peek() != c) syntax_error();
    pos_++;
  }

  // Consumes the literal word (true, false, null) or throws.
  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) syntax_error();
    pos_ += word.size();
  }

  // Reads the value of member key: a scalar or an array of scalars.
  void member_value(const std::string &key) {
    if (peek() != '[') {
      scalar(key, "It is ");
      return;
    }
    pos_++;
    skip_space();
    if (peek() == ']') {
      pos_++;
      return;
    }
    while (true) {
      scalar(key, "It is an array holding ");
      skip_space();
      if (peek() == ']') {
        pos_++;
        return;
      }
      expect(',');
      skip_space();
    }
  }

  // Reads a string, number or null; anything else is a type error.
  void scalar(const std::string &key, const char *detail_prefix) {
    char c = peek();
    if (c == '"') {
      out_.push_back({key, string()});
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      out_.push_back({key, number()});
    } else if (c == 'n') {
      literal("null");
    } else if (c == 't' || c == 'f') {
      literal(c == 't' ? "true" : "false");
      type_error(key, detail_prefix + std::string("a boolean."));
    } else if (c == '{' || c == '[') {
      type_error(key, detail_prefix + std::string(c == '{' ? "an object." : "an array."));
    } else {
      syntax_error();
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
        size_t len = utf8_length(s_, pos_);
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
    if (cp >= 0xDC00 && cp <= 0xDFFF) syntax_error("Lone low surrogate", start);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (peek() != '\\' || pos_ + 1 >= s_.size() || s_[pos_ + 1] != 'u')
        syntax_error("Lone high surrogate", start);
      pos_ += 2;
      unsigned low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) syntax_error("Lone high surrogate", start);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(v, cp);
  }

  // Reads a number and returns its literal text, checked against the grammar.
  std::string number() {
    size_t start = pos_;
    auto digits = [this] {
      size_t first = pos_;
      while (peek() >= '0' && peek() <= '9') pos_++;
      if (pos_ == first) syntax_error("Invalid number");
    };
    if (peek() == '-') pos_++;
    if (peek() == '0')
      pos_++;
    else
      digits();
    if (peek() == '.') {
      pos_++;
      digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      pos_++;
      if (peek() == '+' || peek() == '-') pos_++;
      digits();
    }
    return std::string(s_.substr(start, pos_ - start));
  }
};

}  // namespace

// Parses the identifiers JSON object into (type, value) pairs.
std::vector<RawIdentifier> parse_identifiers_json(std::string_view json) {
  return Parser(json).parse();
}

}  // namespace identity
