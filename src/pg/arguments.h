// arguments.h: reading an SQL-callable function's arguments, with the
// errors a NULL or an out-of-range value gets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/identity_error.h"
#include "pg/postgres_headers.h"

namespace pgshell {

// The error for a NULL where the function needs a value: 22004 naming the
// argument, with `hint` saying what to pass instead.
identity::IdentityError null_argument(const std::string &name, const std::string &hint = {});

// Argument n as text / bigint / jsonb-as-JSON-text; nullopt for NULL.
std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n);
std::optional<int64_t> int8_arg(FunctionCallInfo fcinfo, int n);
std::optional<std::string> jsonb_arg(FunctionCallInfo fcinfo, int n);

// Argument n, which must not be NULL (null_argument(name) otherwise).
std::string required_text_arg(FunctionCallInfo fcinfo, int n, const char *name);
int64_t required_int8_arg(FunctionCallInfo fcinfo, int n, const char *name);
bool required_bool_arg(FunctionCallInfo fcinfo, int n, const char *name);

// The account_id argument: not NULL, not negative.
int64_t account_arg(FunctionCallInfo fcinfo, int n);

}  // namespace pgshell
