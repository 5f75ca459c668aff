// ascii_regex.cpp: parsing the subset into a tree, the tree into an
// automaton, and running the automaton over a subject.
#include "core/ascii_regex.h"

#include <cctype>
#include <cstdint>
#include <memory>

namespace identity {
namespace {

using CharSet = std::bitset<128>;

// A node of the parsed pattern.
struct Node {
  enum Kind { kChars, kBegin, kEnd, kConcat, kAlternation, kRepeat } kind = kChars;
  CharSet chars;                               // kChars
  std::vector<std::unique_ptr<Node>> parts;    // kConcat, kAlternation; kRepeat: one
  int min = 0, max = 0;                        // kRepeat; max -1: no upper bound
};
using NodePtr = std::unique_ptr<Node>;

constexpr int kMaxBound = 255;     // PostgreSQL's DUPMAX: larger bounds are an error there
constexpr size_t kMaxStates = 4096;  // a pattern that needs more stays with the database

// c and, for a letter, its other case: what REG_ICASE makes of an ASCII
// character.
void add_both_cases(CharSet &set, int c) {
  set.set(c);
  if (c >= 'a' && c <= 'z') set.set(c - 'a' + 'A');
  if (c >= 'A' && c <= 'Z') set.set(c - 'A' + 'a');
}

CharSet digits() {
  CharSet set;
  for (int c = '0'; c <= '9'; c++) set.set(c);
  return set;
}

NodePtr chars_node(const CharSet &set) {
  auto node = std::make_unique<Node>();
  node->chars = set;
  return node;
}

// A recursive-descent parser; any construct outside the subset fails it.
class Parser {
 public:
  explicit Parser(const std::string &pattern) : p_(pattern) {}

  NodePtr parse() {
    NodePtr node = alternation();
    if (!node || at_ < p_.size()) return nullptr;  // a stray ')'
    return node;
  }

 private:
  const std::string &p_;
  size_t at_ = 0;

  bool more() const { return at_ < p_.size(); }
  char peek() const { return p_[at_]; }

  NodePtr alternation() {
    auto node = std::make_unique<Node>();
    node->kind = Node::kAlternation;
    while (true) {
      NodePtr branch = concatenation();
      if (!branch) return nullptr;
      node->parts.push_back(std::move(branch));
      if (!more() || peek() != '|') break;
      at_++;
    }
    return node;
  }

  // One branch: one or more quantified atoms (an empty branch fails).
  NodePtr concatenation() {
    auto node = std::make_unique<Node>();
    node->kind = Node::kConcat;
    while (more() && peek() != '|' && peek() != ')') {
      NodePtr piece = quantified();
      if (!piece) return nullptr;
      node->parts.push_back(std::move(piece));
    }
    if (node->parts.empty()) return nullptr;
    return node;
  }

  NodePtr quantified() {
    NodePtr atom = this->atom();
    if (!atom || !more()) return atom;
    int min = 0, max = 0;
    char q = peek();
    if (q == '*') {
      min = 0, max = -1, at_++;
    } else if (q == '+') {
      min = 1, max = -1, at_++;
    } else if (q == '?') {
      min = 0, max = 1, at_++;
    } else if (q == '{') {
      if (!bound(min, max)) return nullptr;
    } else {
      return atom;
    }
    // A quantified anchor is an error or a no-op there; keep it simple.
    if (atom->kind == Node::kBegin || atom->kind == Node::kEnd) return nullptr;
    if (more() && peek() == '?') at_++;  // non-greedy: the same language
    if (more() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')) return nullptr;
    auto node = std::make_unique<Node>();
    node->kind = Node::kRepeat;
    node->min = min;
    node->max = max;
    node->parts.push_back(std::move(atom));
    return node;
  }

  // {m}, {m,} or {m,n} at at_.
  bool bound(int &min, int &max) {
    at_++;  // '{'
    if (!number(min)) return false;
    max = min;
    if (more() && peek() == ',') {
      at_++;
      max = -1;
      if (more() && std::isdigit(static_cast<unsigned char>(peek())) && !number(max)) return false;
    }
    if (!more() || peek() != '}') return false;
    at_++;
    return max == -1 || min <= max;
  }

  bool number(int &n) {
    size_t begin = at_;
    n = 0;
    while (more() && std::isdigit(static_cast<unsigned char>(peek())) && at_ - begin < 4) n = n * 10 + (p_[at_++] - '0');
    return at_ > begin && n <= kMaxBound;
  }

  NodePtr atom() {
    char c = p_[at_++];
    if (static_cast<unsigned char>(c) >= 128) return nullptr;
    switch (c) {
      case '(': {
        if (more() && peek() == '?') {
          if (p_.compare(at_, 2, "?:") != 0) return nullptr;  // lookahead, options: not here
          at_ += 2;
        }
        NodePtr inner = alternation();
        if (!inner || !more() || peek() != ')') return nullptr;
        at_++;
        return inner;
      }
      case '.': {
        CharSet all;
        all.set();
        return chars_node(all);
      }
      case '[':
        return bracket();
      case '^':
      case '$': {
        auto node = std::make_unique<Node>();
        node->kind = c == '^' ? Node::kBegin : Node::kEnd;
        return node;
      }
      case '\\':
        return escape();
      case ')': case ']': case '{': case '}': case '|': case '*': case '+': case '?':
        return nullptr;
      default:
        if (!std::isprint(static_cast<unsigned char>(c))) return nullptr;
        CharSet set;
        add_both_cases(set, c);
        return chars_node(set);
    }
  }

  // After '\': \d, \D or an escaped punctuation character.
  NodePtr escape() {
    if (!more()) return nullptr;
    char c = p_[at_++];
    if (c == 'd' || c == 'D') return chars_node(c == 'd' ? digits() : ~digits());
    if (static_cast<unsigned char>(c) >= 128 || std::isalnum(static_cast<unsigned char>(c)) ||
        !std::isprint(static_cast<unsigned char>(c)))
      return nullptr;
    CharSet set;
    set.set(c);
    return chars_node(set);
  }

  // After '[': literals and ranges up to ']'; '-' first or last is itself,
  // ']' first is itself. '[' and '\' inside (classes, escapes) fail.
  NodePtr bracket() {
    bool negated = more() && peek() == '^';
    if (negated) at_++;
    CharSet set;
    bool first = true;
    while (true) {
      if (!more()) return nullptr;
      char c = p_[at_++];
      if (c == ']' && !first) break;
      first = false;
      if (static_cast<unsigned char>(c) >= 128 || !std::isprint(static_cast<unsigned char>(c)) || c == '[' ||
          c == '\\')
        return nullptr;
      if (more() && peek() == '-' && at_ + 1 < p_.size() && p_[at_ + 1] != ']') {
        char to = p_[at_ + 1];
        if (static_cast<unsigned char>(to) >= 128 || !std::isprint(static_cast<unsigned char>(to)) || to == '[' ||
            to == '\\' || to < c)
          return nullptr;
        at_ += 2;
        for (int x = c; x <= to; x++) add_both_cases(set, x);
      } else {
        add_both_cases(set, c);
      }
    }
    return chars_node(negated ? ~set : set);
  }
};

}  // namespace

// Turns the tree into states: each fragment has a start and a list of
// dangling exits, patched to whatever follows (Thompson's construction).
class RegexCompiler {
 public:
  explicit RegexCompiler(AsciiRegex &re) : re_(re) {}

  bool compile(const Node &root) {
    Fragment f = fragment(root);
    if (failed_) return false;
    int match = add(AsciiRegex::State::kMatch);
    patch(f.exits, match);
    re_.start_ = f.start;
    re_.anchored_ = anchored();
    return !failed_;
  }

 private:
  struct Exit {
    int state;
    bool alt;  // patch State::alt instead of State::next
  };
  struct Fragment {
    int start = -1;
    std::vector<Exit> exits;
  };

  AsciiRegex &re_;
  bool failed_ = false;

  int add(AsciiRegex::State::Kind kind) {
    if (re_.states_.size() >= kMaxStates) {
      failed_ = true;
      return 0;
    }
    AsciiRegex::State s;
    s.kind = kind;
    re_.states_.push_back(s);
    return static_cast<int>(re_.states_.size()) - 1;
  }

  // Whether every way from the start, without taking a character, meets ^
  // before a character, $ or the match (blocked patterns mostly start ^).
  bool anchored() const {
    std::vector<bool> seen(re_.states_.size(), false);
    std::vector<int> stack{re_.start_};
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (x < 0 || seen[x]) continue;
      seen[x] = true;
      const AsciiRegex::State &st = re_.states_[x];
      if (st.kind == AsciiRegex::State::kBegin) continue;
      if (st.kind != AsciiRegex::State::kSplit) return false;
      stack.push_back(st.next);
      stack.push_back(st.alt);
    }
    return true;
  }

  void patch(const std::vector<Exit> &exits, int to) {
    for (const Exit &e : exits) (e.alt ? re_.states_[e.state].alt : re_.states_[e.state].next) = to;
  }

  // A state that matches nothing itself: a split whose ways both lead on.
  Fragment empty() {
    int s = add(AsciiRegex::State::kSplit);
    return {s, {{s, false}, {s, true}}};
  }

  Fragment concat(Fragment a, Fragment b) {
    patch(a.exits, b.start);
    return {a.start, std::move(b.exits)};
  }

  Fragment fragment(const Node &n) {
    if (failed_) return empty();
    switch (n.kind) {
      case Node::kChars: {
        int s = add(AsciiRegex::State::kChar);
        if (!failed_) re_.states_[s].chars = n.chars;
        return {s, {{s, false}}};
      }
      case Node::kBegin:
      case Node::kEnd: {
        int s = add(n.kind == Node::kBegin ? AsciiRegex::State::kBegin : AsciiRegex::State::kEnd);
        return {s, {{s, false}}};
      }
      case Node::kConcat: {
        Fragment f = fragment(*n.parts[0]);
        for (size_t i = 1; i < n.parts.size(); i++) f = concat(std::move(f), fragment(*n.parts[i]));
        return f;
      }
      case Node::kAlternation: {
        Fragment f = fragment(*n.parts[0]);
        for (size_t i = 1; i < n.parts.size(); i++) {
          Fragment other = fragment(*n.parts[i]);
          int s = add(AsciiRegex::State::kSplit);
          if (failed_) return f;
          re_.states_[s].next = f.start;
          re_.states_[s].alt = other.start;
          f.exits.insert(f.exits.end(), other.exits.begin(), other.exits.end());
          f.start = s;
        }
        return f;
      }
      case Node::kRepeat:
        return repeat(*n.parts[0], n.min, n.max);
    }
    return empty();
  }

  // min copies, then either a loop (no upper bound) or max - min optional
  // copies, each optional one leading to the next.
  Fragment repeat(const Node &atom, int min, int max) {
    Fragment f = empty();
    for (int i = 0; i < min && !failed_; i++) f = concat(std::move(f), fragment(atom));
    if (max == -1) {
      Fragment body = fragment(atom);
      int loop = add(AsciiRegex::State::kSplit);
      if (failed_) return f;
      re_.states_[loop].next = body.start;
      patch(body.exits, loop);
      return concat(std::move(f), {loop, {{loop, true}}});
    }
    std::vector<Exit> skips;
    for (int i = min; i < max && !failed_; i++) {
      Fragment body = fragment(atom);
      int choice = add(AsciiRegex::State::kSplit);
      if (failed_) return f;
      re_.states_[choice].next = body.start;
      skips.push_back({choice, true});
      f = concat(std::move(f), {choice, std::move(body.exits)});
    }
    f.exits.insert(f.exits.end(), skips.begin(), skips.end());
    return f;
  }
};

std::optional<AsciiRegex> AsciiRegex::compile(const std::string &pattern) {
  if (pattern.empty()) return std::nullopt;
  NodePtr root = Parser(pattern).parse();
  if (!root) return std::nullopt;
  AsciiRegex re;
  if (!RegexCompiler(re).compile(*root)) return std::nullopt;
  return re;
}

namespace {

// A thread's working memory for search(), kept between calls: an import
// checks millions of keys. seen[x] is the stamp of the position state x
// was last added at; every position of every search gets a new stamp.
struct SearchScratch {
  std::vector<int> current, next, stack;
  std::vector<uint64_t> seen;
  uint64_t stamp = 0;
};

}  // namespace

bool AsciiRegex::search(const std::string &subject) const {
  const size_t n = subject.size();
  thread_local SearchScratch scratch;
  std::vector<int> &current = scratch.current, &next = scratch.next, &stack = scratch.stack;
  std::vector<uint64_t> &seen = scratch.seen;
  if (seen.size() < states_.size()) seen.resize(states_.size(), 0);
  current.clear();
  const uint64_t base = scratch.stamp + 1;  // position `at` has stamp base + at
  scratch.stamp += n + 1;
  // Adds s and every state reachable from it without taking a character
  // at position `at`; true when the match state is among them.
  auto add = [&](std::vector<int> &list, int s, size_t at) {
    stack.assign(1, s);
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (x < 0 || seen[x] == base + at) continue;
      seen[x] = base + at;
      const State &st = states_[x];
      switch (st.kind) {
        case State::kMatch:
          return true;
        case State::kChar:
          list.push_back(x);
          break;
        case State::kSplit:
          stack.push_back(st.alt);
          stack.push_back(st.next);
          break;
        case State::kBegin:
          if (at == 0) stack.push_back(st.next);
          break;
        case State::kEnd:
          if (at == n) stack.push_back(st.next);
          break;
      }
    }
    return false;
  };
  for (size_t at = 0;; at++) {
    // A match may start anywhere, or at 0 only.
    if ((!anchored_ || at == 0) && add(current, start_, at)) return true;
    if (at == n || (anchored_ && current.empty())) return false;
    const unsigned char c = static_cast<unsigned char>(subject[at]);
    next.clear();
    for (int s : current)
      if (c < 128 && states_[s].chars.test(c) && add(next, states_[s].next, at + 1)) return true;
    current.swap(next);
  }
}

bool is_ascii(const std::string &s) {
  for (unsigned char c : s)
    if (c >= 128) return false;
  return true;
}

}  // namespace identity
