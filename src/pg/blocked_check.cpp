// blocked_check.cpp: a key against the cached blocked values, with the
// database's own lower() and ~* so that the answer is the one SQL would give.
#include "pg/blocked_check.h"

#include <vector>

#include "pg/pg_boundary.h"
#include "pg/postgres_headers.h"

extern "C" {
#include "catalog/pg_collation.h"
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

// subject ~* pattern under the default collation (compiled regexes are
// cached by the database, as for the SQL operator).
bool matches_pattern(const std::string &subject, const std::string &pattern) {
  return pg_call([&]() noexcept {
    text *s = cstring_to_text_with_len(subject.data(), (int)subject.size());
    text *p = cstring_to_text_with_len(pattern.data(), (int)pattern.size());
    bool matched = DatumGetBool(
        DirectFunctionCall2Coll(texticregexeq, DEFAULT_COLLATION_OID, PointerGetDatum(s), PointerGetDatum(p)));
    pfree(s);
    pfree(p);
    return matched;
  });
}

bool applies_to(const BlockedValue &b, const std::string &type) {
  return !b.identifier_type || *b.identifier_type == type;
}

}  // namespace

std::optional<std::string> blocked_reason(const BlockedValues &blocked, const std::string &type,
                                          const std::string &raw, const std::string &normalized) {
  if (blocked.rows.empty()) return std::nullopt;
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
  for (size_t row : blocked.patterns) {
    if (row >= first) break;
    const BlockedValue &b = blocked.rows[row];
    if (!applies_to(b, type)) continue;
    if (matches_pattern(sent, b.value) || (normalized != sent && matches_pattern(normalized, b.value))) first = row;
  }
  if (first == blocked.rows.size()) return std::nullopt;
  return blocked.rows[first].reason;
}

}  // namespace pgshell
