// ascii_regex.h: a small subset of PostgreSQL's regular expressions,
// matched case-insensitively against ASCII text without the database.
//
// blocked_values patterns are checked with the database's `~*` on every
// key. An import checks a million keys against each pattern, and
// pg_regexec may only run on the backend's own thread. For ASCII text,
// the subset below means the same under PostgreSQL's advanced regular
// expressions with REG_ICASE in every collation (case folding of ASCII
// letters is ASCII's own there, ranges are code point ranges), so the
// answer can be computed on a worker thread. A pattern outside the subset
// does not compile here, and its keys keep going to the database.
//
// The subset: ASCII literals (a punctuation character escaped with `\`),
// `.`, bracket expressions of literals and ranges (`[0-9a-f]`, `[^@]`),
// `\d` and `\D`, the anchors `^` and `$`, groups `(...)` and `(?:...)`,
// alternation `|`, and the quantifiers `*`, `+`, `?`, `{m}`, `{m,}`,
// `{m,n}` (each optionally non-greedy, which does not change whether a
// match exists). Nothing else: back-references, lookahead, class escapes
// other than `\d`, character classes `[[:alpha:]]`, embedded options,
// empty branches and non-ASCII characters all stay with the database.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <vector>

namespace identity {

class AsciiRegex {
 public:
  // The pattern compiled, or nullopt when it is outside the subset.
  static std::optional<AsciiRegex> compile(const std::string &pattern);

  // Whether the pattern matches somewhere in `subject` ignoring case, as
  // `subject ~* pattern` does. `subject` must be ASCII (is_ascii()).
  bool search(const std::string &subject) const;

  // One state of the automaton (Thompson's construction).
  struct State {
    enum Kind { kChar, kSplit, kBegin, kEnd, kMatch } kind = kMatch;
    std::bitset<128> chars;  // kChar: the characters it takes
    int next = -1;           // kChar, kSplit, kBegin, kEnd
    int alt = -1;            // kSplit: the other way
  };

 private:
  std::vector<State> states_;
  int start_ = 0;
  // Every way from start_ passes ^ before taking a character: a match can
  // only start at 0, and the search ends when no state is left.
  bool anchored_ = false;
  friend class RegexCompiler;
};

// Whether every byte of s is ASCII.
bool is_ascii(const std::string &s);

}  // namespace identity
