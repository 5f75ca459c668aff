// table_names.cpp: renaming tables in a statement's text.
#include "core/table_names.h"

namespace identity {
namespace {

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

std::string rename_tables(const std::string &sql, const std::string &schema,
                          const std::map<std::string, std::string> &renames) {
  const std::string prefix = schema + ".";
  std::string out;
  out.reserve(sql.size() + 64);
  size_t i = 0, n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {  // a comment: may hold a quote
      size_t end = sql.find('\n', i);
      end = end == std::string::npos ? n : end;
      out.append(sql, i, end - i);
      i = end;
    } else if (c == '\'' || c == '"') {  // a literal, or a quoted identifier: as it is
      size_t j = i + 1;
      while (j < n && !(sql[j] == c && (j + 1 >= n || sql[j + 1] != c))) j += sql[j] == c ? 2 : 1;
      j = j < n ? j + 1 : n;
      out.append(sql, i, j - i);
      i = j;
    } else if (sql.compare(i, prefix.size(), prefix) == 0 && (i == 0 || !identifier_char(sql[i - 1]))) {
      size_t start = i + prefix.size(), end = start;
      while (end < n && identifier_char(sql[end])) end++;
      auto renamed = renames.find(sql.substr(start, end - start));
      out += prefix;
      out += renamed != renames.end() ? renamed->second : sql.substr(start, end - start);
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

}  // namespace identity
