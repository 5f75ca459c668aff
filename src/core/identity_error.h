// identity_error.h: the one exception type the pure core throws.
//
// It carries what a PostgreSQL error needs (SQLSTATE, message, detail, hint)
// without depending on PostgreSQL; the shell turns it into an ereport.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace identity {

// SQLSTATEs the core raises, as their five-character codes.
namespace sqlstate {
inline constexpr const char *kInvalidParameterValue = "22023";
inline constexpr const char *kUniqueViolation = "23505";
inline constexpr const char *kObjectNotInPrerequisiteState = "55000";
inline constexpr const char *kNoDataFound = "P0002";
inline constexpr const char *kInternalError = "XX000";
}  // namespace sqlstate

// An error a caller can act on: bad input or a rule the request breaks.
class IdentityError : public std::runtime_error {
 public:
  IdentityError(std::string sqlstate, std::string message, std::string detail = {},
                std::string hint = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const std::string &sqlstate() const { return sqlstate_; }
  const std::string &detail() const { return detail_; }
  const std::string &hint() const { return hint_; }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
};

// Quotes a value for a message the way PostgreSQL does, "value", keeping
// the message short and printable: at most 100 bytes of the value (then
// "..."), control and format characters and invalid UTF-8 shown as \xNN,
// \uNNNN or \UNNNNNNNN.
std::string quoted(std::string_view value);

// "contact 42": how messages name a contact.
std::string contact_name(int64_t id);

}  // namespace identity
