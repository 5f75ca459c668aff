// blocked_check.cpp: a key against the cached blocked values, with the
// database's own lower() and ~* so that the answer is the one SQL would give.
#include "pg/blocked_check.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/normalize.h"
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
  if (!blocked.ascii_lower && std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return std::nullopt;
  return identity::ascii_lower(s);
}

// The earliest row of `rows` (indexes into blocked.rows) that applies to the type.
size_t first_applying(const BlockedValues &blocked, const std::vector<size_t> &rows, const std::string &type,
                      size_t first) {
  for (size_t row : rows)
    if (row < first && applies_to(blocked.rows[row], type)) first = row;
  return first;
}

// The earliest blocked row of the type that the value as sent or as
// normalized equals after `lower` or matches as a pattern by `match`.
// Either may answer nullopt, "cannot say": the check is then undecided.
template <typename Lower, typename Match>
BlockedCheck first_blocked_row(const BlockedValues &blocked, const std::string &type, const std::string &sent,
                               const std::string &normalized, Lower lower, Match match) {
  BlockedCheck check;
  size_t first = blocked.rows.size();
  if (blocked.rows.empty()) {  // nothing to lower or match
    check.decided = true;
    return check;
  }
  for (const std::string *value : {&sent, &normalized}) {
    if (value == &normalized && normalized == sent) break;
    std::optional<std::string> form = lower(*value);
    if (!form) return check;
    auto it = blocked.exact.find(*form);
    if (it != blocked.exact.end()) first = first_applying(blocked, it->second, type, first);
  }
  for (size_t row : blocked.patterns) {
    if (row >= first) break;
    const BlockedValue &b = blocked.rows[row];
    if (!applies_to(b, type)) continue;
    std::optional<bool> hit = match(b);
    if (!hit) return check;
    if (*hit) first = row;
  }
  check.decided = true;
  if (first < blocked.rows.size()) check.row = first;
  return check;
}

// The normalized forms a value is checked in: itself and, for a phone
// number with an extension (";ext=123"), the number without it, which the
// phone patterns are written for: a junk number stays junk with an
// extension.
std::vector<std::string> checked_forms(const std::string &normalized) {
  const size_t mark = normalized.find(";ext=");
  if (mark == std::string::npos) return {normalized};
  return {normalized, normalized.substr(0, mark)};
}

}  // namespace

BlockedCheck blocked_check_here(const BlockedValues &blocked, const std::string &type, const std::string &raw,
                                const std::string &normalized) {
  const std::string sent = trimmed(raw);
  BlockedCheck check;
  for (const std::string &form : checked_forms(normalized)) {
    check = first_blocked_row(
        blocked, type, sent, form, [&](const std::string &s) { return lowered_here(blocked, s); },
        [&](const BlockedValue &b) -> std::optional<bool> {
          if (!b.ascii_pattern) return std::nullopt;  // only the database can say
          return b.ascii_pattern->search(sent) || (form != sent && b.ascii_pattern->search(form));
        });
    if (!check.decided || check.row) break;
  }
  return check;
}

std::optional<std::string> blocked_reason(const BlockedValues &blocked, const std::string &type,
                                          const std::string &raw, const std::string &normalized,
                                          const BlockedCheck &checked) {
  BlockedCheck found = checked;
  if (!found.decided) {  // with the database's lower() and ~*
    const std::string sent = trimmed(raw);
    for (const std::string &form : checked_forms(normalized)) {
      std::optional<WideText> sent_wide, form_wide;  // made when a pattern first applies
      found = first_blocked_row(
          blocked, type, sent, form, [](const std::string &s) { return std::optional<std::string>(lowered(s)); },
          [&](const BlockedValue &b) -> std::optional<bool> {
            if (!sent_wide) {
              sent_wide = widened(sent);
              if (form != sent) form_wide = widened(form);
            }
            return matches_pattern(*sent_wide, b.value) || (form_wide && matches_pattern(*form_wide, b.value));
          });
      if (sent_wide) pg_call([&]() noexcept {
          pfree(sent_wide->chars);
          if (form_wide) pfree(form_wide->chars);
        });
      if (found.row) break;
    }
  }
  if (!found.row) return std::nullopt;
  return blocked.rows[*found.row].reason;
}

}  // namespace pgshell
