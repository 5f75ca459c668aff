// row_error.cpp: the SQLSTATEs that fail one import row.
#include "core/row_error.h"

#include "core/identity_error.h"

namespace identity {

bool is_row_error(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return false;
  std::string_view error_class = sqlstate.substr(0, 2);
  if (error_class == "22" || error_class == "23") return true;
  return sqlstate == sqlstate::kObjectNotInPrerequisiteState || sqlstate == sqlstate::kNoDataFound;
}

std::string row_error_text(const std::string &message, const std::string &detail) {
  return detail.empty() ? message : message + ": " + detail;
}

}  // namespace identity
