// blocked_check.cpp: a key against the cached blocked values, with the
// database's own lower() and ~* so that the answer is the one SQL would give.
#include "pg/blocked_check.h"

#include <optional>
#include <vector>

#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"

extern "C" {
#include "catalog/pg_collation.h"
#include "regex/regex.h"
}

namespace pgshell {
namespace {

// btrim(s): spaces off both ends.
std::string trimmed(const std::string &s) {
  size_t begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return std::string();
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

// lower(s) under the database's default collation.
std::string lowered(const std::string &s) {
  const char *result = pg_call([&]() noexcept {
    text *in = cstring_to_text_with_len(s.data(), (int)s.size());
    Datum out = DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID, PointerGetDatum(in));
    pfree(in);
    return text_to_cstring(DatumGetTextPP(out));
  });
  std::string copy(result);
  pg_call([&]() noexcept { pfree(const_cast<char *>(result)); });
  return copy;
}

// A value as the regex engine reads it (pg_wchar), made once per value and
// matched against every pattern.
struct WideText {
  pg_wchar *chars = nullptr;
  int length = 0;
};

WideText widened(const std::string &s) {
  return pg_call([&]() noexcept {
    WideText w;
    w.chars = (pg_wchar *)palloc((s.size() + 1) * sizeof(pg_wchar));
    w.length = pg_mb2wchar_with_len(s.data(), w.chars, (int)s.size());
    return w;
  });
}

// subject ~* pattern under the default collation, as texticregexeq does it
// (the compiled pattern comes from the database's regex cache).
bool matches_pattern(const WideText &subject, const std::string &pattern) {
  return pg_call([&]() noexcept {
    text *p = cstring_to_text_with_len(pattern.data(), (int)pattern.size());
    regex_t *re = RE_compile_and_cache(p, REG_ADVANCED | REG_ICASE, DEFAULT_COLLATION_OID);
    pfree(p);
    int rc = pg_regexec(re, subject.chars, subject.length, 0, nullptr, 0, nullptr, 0);
    if (rc != REG_OKAY && rc != REG_NOMATCH) {
      char message[100];
      pg_regerror(rc, re, message, sizeof message);
      ereport(ERROR, (errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
                      errmsg("regular expression failed: %s", message)));
    }
    return rc == REG_OKAY;
  });
}

bool applies_to(const BlockedValue &b, const std::string &type) {
  return !b.identifier_type || *b.identifier_type == type;
}

// s lowered by ASCII's rules, when that is what the database's lower()
// gives for it.
std::optional<std::string> lowered_here(const BlockedValues &blocked, const std::string &s) {
  if (!identity::is_ascii(s)) return std::nullopt;
  std::string lower = s;
  for (char &c : lower)
    if (c >= 'A' && c <= 'Z') {
      if (!blocked.ascii_lower) return std::nullopt;
      c = static_cast<char>(c - 'A' + 'a');
    }
  return lower;
}

// The earliest row of `rows` (indexes into blocked.rows) that applies to the type.
size_t first_applying(const BlockedValues &blocked, const std::vector<size_t> &rows, const std::string &type,
                      size_t first) {
  for (size_t row : rows)
    if (row < first && applies_to(blocked.rows[row], type)) first = row;
  return first;
}

}  // namespace

BlockedCheck blocked_check_here(const BlockedValues &blocked, const std::string &type, const std::string &raw,
                                const std::string &normalized) {
  BlockedCheck check;
  if (blocked.rows.empty()) {
    check.decided = true;
    return check;
  }
  const std::string sent = trimmed(raw);
  std::optional<std::string> forms[2] = {lowered_here(blocked, sent), std::nullopt};
  if (!forms[0]) return check;
  if (normalized != sent && !(forms[1] = lowered_here(blocked, normalized))) return check;
  size_t first = blocked.rows.size();
  for (const auto &form : forms) {
    if (!form) continue;
    auto it = blocked.exact.find(*form);
    if (it != blocked.exact.end()) first = first_applying(blocked, it->second, type, first);
  }
  for (size_t row : blocked.patterns) {
    if (row >= first) break;
    const BlockedValue &b = blocked.rows[row];
    if (!applies_to(b, type)) continue;
    if (!b.ascii_pattern) return check;  // only the database can say
    if (b.ascii_pattern->search(sent) || (normalized != sent && b.ascii_pattern->search(normalized))) first = row;
  }
  check.decided = true;
  if (first < blocked.rows.size()) check.row = first;
  return check;
}

std::optional<std::string> blocked_reason(const BlockedValues &blocked, const std::string &type,
                                          const std::string &raw, const std::string &normalized,
                                          const BlockedCheck &checked) {
  if (blocked.rows.empty()) return std::nullopt;
  BlockedCheck here = checked.decided ? checked : blocked_check_here(blocked, type, raw, normalized);
  if (here.decided) return here.row ? std::optional<std::string>(blocked.rows[*here.row].reason) : std::nullopt;
  const std::string sent = trimmed(raw);
  size_t first = blocked.rows.size();  // the earliest row matched so far
  std::vector<std::string> forms{lowered(sent)};
  if (normalized != sent) forms.push_back(lowered(normalized));
  for (const std::string &form : forms) {
    auto it = blocked.exact.find(form);
    if (it == blocked.exact.end()) continue;
    for (size_t row : it->second)
      if (row < first && applies_to(blocked.rows[row], type)) first = row;
  }
  std::optional<WideText> sent_wide, normalized_wide;  // made when a pattern first applies
  for (size_t row : blocked.patterns) {
    if (row >= first) break;
    const BlockedValue &b = blocked.rows[row];
    if (!applies_to(b, type)) continue;
    if (!sent_wide) {
      sent_wide = widened(sent);
      if (normalized != sent) normalized_wide = widened(normalized);
    }
    if (matches_pattern(*sent_wide, b.value) || (normalized_wide && matches_pattern(*normalized_wide, b.value)))
      first = row;
  }
  if (sent_wide) pg_call([&]() noexcept {
      pfree(sent_wide->chars);
      if (normalized_wide) pfree(normalized_wide->chars);
    });
  if (first == blocked.rows.size()) return std::nullopt;
  return blocked.rows[first].reason;
}

}  // namespace pgshell
