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

// The SQLSTATEs contact_identity raises or tests for, named as in
// PostgreSQL's errcodes.txt; nothing else spells a code out.
namespace sqlstate {
inline constexpr const char *kFeatureNotSupported = "0A000";
inline constexpr const char *kNullValueNotAllowed = "22004";
inline constexpr const char *kInvalidParameterValue = "22023";
inline constexpr const char *kInvalidTextRepresentation = "22P02";
inline constexpr const char *kUniqueViolation = "23505";
inline constexpr const char *kReadOnlySqlTransaction = "25006";
inline constexpr const char *kInvalidTransactionTermination = "2D000";
inline constexpr const char *kSerializationFailure = "40001";
inline constexpr const char *kInsufficientPrivilege = "42501";
inline constexpr const char *kUndefinedColumn = "42703";
inline constexpr const char *kWrongObjectType = "42809";
inline constexpr const char *kUndefinedTable = "42P01";
inline constexpr const char *kOutOfMemory = "53200";
inline constexpr const char *kObjectNotInPrerequisiteState = "55000";
inline constexpr const char *kObjectInUse = "55006";
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
