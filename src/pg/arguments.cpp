// arguments.cpp: reading SQL arguments into C++ values.
#include "pg/arguments.h"

#include "pg/pg_boundary.h"

namespace pgshell {

using identity::IdentityError;
namespace sqlstate = identity::sqlstate;

IdentityError null_argument(const std::string &name, const std::string &hint) {
  return IdentityError(sqlstate::kNullValueNotAllowed, name + " must not be null", "", hint);
}

std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  const char *s = pg_call([&]() noexcept { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
  return std::string(s);
}

std::optional<int64_t> int8_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return static_cast<int64_t>(PG_GETARG_INT64(n));
}

std::optional<std::string> jsonb_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  const char *s = pg_call([&]() noexcept {
    Jsonb *jb = PG_GETARG_JSONB_P(n);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  return std::string(s);
}

std::string required_text_arg(FunctionCallInfo fcinfo, int n, const char *name) {
  std::optional<std::string> value = text_arg(fcinfo, n);
  if (!value) throw null_argument(name);
  return *value;
}

int64_t required_int8_arg(FunctionCallInfo fcinfo, int n, const char *name) {
  std::optional<int64_t> value = int8_arg(fcinfo, n);
  if (!value) throw null_argument(name);
  return *value;
}

bool required_bool_arg(FunctionCallInfo fcinfo, int n, const char *name) {
  if (PG_ARGISNULL(n)) throw null_argument(name, "Pass true or false.");
  return PG_GETARG_BOOL(n);
}

int64_t account_arg(FunctionCallInfo fcinfo, int n) {
  std::optional<int64_t> account = int8_arg(fcinfo, n);
  if (!account) throw null_argument("account_id", "Pass 0 for the default account.");
  if (*account < 0)
    throw IdentityError(sqlstate::kInvalidParameterValue, "invalid account_id " + std::to_string(*account),
                        "Account IDs are 0 or greater.", "");
  return *account;
}

}  // namespace pgshell
