// request.h: from the SQL arguments of a call to the core's Request:
// identifier types, normalization, blocked values, duplicates, order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/decision.h"
#include "core/identity_error.h"
#include "core/identifiers_json.h"
#include "pg/config_cache.h"
#include "pg/postgres_headers.h"

namespace pgshell {

// The identifying arguments every entry point shares, as the caller sent them.
struct CallKeys {
  std::optional<std::string> external_id;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<std::string> identifiers_json;
  std::vector<identity::RawIdentifier> more_identifiers;  // an import's per-type columns
  std::optional<int64_t> contact_id;
  int64_t account_id = 0;
  // How the request searches: upsert_contact's dedupe_on and restore_deleted
  // arguments, or an import's options.
  std::optional<std::string> dedupe_on;  // NULL: the full priority search
  bool restore_deleted = true;
  bool clear_nulls = false;  // NULL email or phone detaches the contact's
};

// The identifying arguments external_id, email, phone and identifiers, at
// positions first to first + 3, as most entry points take them.
CallKeys key_args(FunctionCallInfo fcinfo, int first);

// The key types dedupe_on searches, in order (email_or_phone: phone, then
// email; contact_id: none). identifier_types are the names it may also be,
// external_id excepted. Throws 22023 for any other value.
std::vector<std::string> dedupe_search_order(const std::string &dedupe_on,
                                             const std::set<std::string> &identifier_types);

// Builds the sorted, normalized request. Needs SPI. Blocked values are
// dropped with a NOTICE; invalid ones throw IdentityError 22023.
identity::Request build_request(const CallKeys &keys);

// The request of each of several calls (an import batch), with one copy of
// the identifier types and blocked values for all; a call the rules refuse
// gets its error instead.
struct BuiltRequest {
  std::optional<identity::Request> request;
  std::optional<identity::IdentityError> error;
};

class NormalizedAhead;

// With `ahead`, the calls it normalized are taken from there.
std::vector<BuiltRequest> build_requests(const std::vector<const CallKeys *> &calls,
                                         NormalizedAhead *ahead = nullptr);

// The normalization of several calls' identifiers (libphonenumber, libidn2:
// pure C++), started on another thread while the backend does other work:
// an import normalizes its next batch while it writes this one. The calls
// must stay where they are until build_requests has taken the work or the
// destructor has joined the thread. Only core code runs there, never a
// PostgreSQL function.
class NormalizedAhead {
 public:
  NormalizedAhead();
  ~NormalizedAhead();  // waits for the thread
  NormalizedAhead(const NormalizedAhead &) = delete;
  NormalizedAhead &operator=(const NormalizedAhead &) = delete;
  // Starts normalizing these calls; on the backend's thread (it reads the
  // identifier types and the default region here).
  void start(std::vector<const CallKeys *> calls);
  // Waits for the thread; the work is then there for build_requests.
  void wait();
  // Trades work with another. A thread still at work goes on with the
  // state it was started with, which moves along with it.
  void swap(NormalizedAhead &other) { state_.swap(other.state_); }

 private:
  friend std::vector<BuiltRequest> build_requests(const std::vector<const CallKeys *> &calls,
                                                  NormalizedAhead *ahead);
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pgshell
