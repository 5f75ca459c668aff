// typed_entry.h: an entry point declared by the signature of the C++
// function that does its work.
//
// For an SQL function whose arguments are NOT NULL values followed by
// account_id, the work function's parameter types say how each argument is
// read, and its result type how the result is returned:
//
//   int64_t merge_contacts(int64_t account_id, int64_t winner, int64_t loser, bool force);
//   CI_ACCOUNT_FUNCTION(ci_merge_contacts, Level::kAdmin, merge_contacts, "winner", "loser", "force")
//
// defines the C function ci_merge_contacts for SQL's
// merge_contacts(winner bigint, loser bigint, force boolean, account_id bigint):
// it reads winner, loser and force (22004 naming the one that is NULL),
// then account_id, then opens the call on the account with the grant
// `level` (sql_entry), runs the work and returns its bigint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "pg/arguments.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"

namespace pgshell {

// A work function's JSON text, returned to SQL as jsonb.
struct Jsonb {
  std::string text;
};

namespace typed_entry {

// Argument n, read as the work function's parameter type T.
template <typename T>
T read_arg(FunctionCallInfo fcinfo, int n, const char *name);
template <>
inline int64_t read_arg<int64_t>(FunctionCallInfo fcinfo, int n, const char *name) {
  return required_int8_arg(fcinfo, n, name);
}
template <>
inline bool read_arg<bool>(FunctionCallInfo fcinfo, int n, const char *name) {
  return required_bool_arg(fcinfo, n, name);
}

// The work function's result as the SQL function's Datum (SPI closed).
inline Datum result_datum(int64_t value) { return Int64GetDatum(value); }
inline Datum result_datum(bool value) { return BoolGetDatum(value); }
inline Datum result_datum(const Jsonb &value) { return jsonb_datum(value.text); }

// Reads the arguments, then account_id, opens the call on the account,
// runs the work and closes the call before the result is made.
template <typename Result, typename... Args, std::size_t... I, typename... Names>
Datum run(FunctionCallInfo fcinfo, EntryCall &call, Result (*work)(int64_t, Args...), std::index_sequence<I...>,
          Names... names) {
  const char *name_of[] = {names..., nullptr};
  // A braced list is evaluated left to right: the arguments are read, and
  // a NULL reported, in their SQL order.
  std::tuple<Args...> args{read_arg<Args>(fcinfo, static_cast<int>(I), name_of[I])...};
  int64_t account_id = call.open(account_arg(fcinfo, static_cast<int>(sizeof...(Args))));
  Result result = work(account_id, std::get<I>(args)...);
  call.close();  // a result passed by reference must outlive SPI's memory
  return result_datum(result);
}

// Whether `symbol` is ci_ and a name, as every C function's symbol is.
constexpr bool is_entry_symbol(const char *symbol) {
  return symbol[0] == 'c' && symbol[1] == 'i' && symbol[2] == '_' && symbol[3] != '\0';
}
// The SQL function's name in such a symbol.
constexpr const char *sql_name_of(const char *symbol) { return &symbol[3]; }

}  // namespace typed_entry

// Runs `entry` (a function of one account, sql_entry.h) as
// work(account_id, the arguments before account_id, read by their types),
// `names` naming those arguments for the errors, one name each.
template <typename Result, typename... Args, typename... Names>
Datum account_function(FunctionCallInfo fcinfo, const EntryPoint &entry, Result (*work)(int64_t, Args...),
                       Names... names) {
  static_assert(sizeof...(Names) == sizeof...(Args), "one name for each argument before account_id");
  return sql_entry(fcinfo, entry, [&](EntryCall &call) -> Datum {
    return typed_entry::run(fcinfo, call, work, std::index_sequence_for<Args...>{}, names...);
  });
}

}  // namespace pgshell

// Defines the C function `symbol`, named ci_ and its SQL function's name,
// for a function that writes on one account with the grant `level` and
// the arguments of `work` (account_function).
#define CI_ACCOUNT_FUNCTION(symbol, level, work, ...)                                               \
  extern "C" {                                                                                      \
  PG_FUNCTION_INFO_V1(symbol);                                                                      \
  Datum symbol(PG_FUNCTION_ARGS) {                                                                  \
    static_assert(pgshell::typed_entry::is_entry_symbol(#symbol), "symbol is ci_ and the SQL name"); \
    const char *sql_name = pgshell::typed_entry::sql_name_of(#symbol);                              \
    return pgshell::account_function(                                                               \
        fcinfo, pgshell::EntryPoint::on_account(sql_name, level, pgshell::Writes::kYes), work,       \
        __VA_ARGS__);                                                                               \
  }                                                                                                 \
  }
