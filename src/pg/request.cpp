// request.cpp: turning call arguments into the core's Request.
#include "pg/request.h"

#include <exception>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/identifiers_json.h"
#include "core/identity_error.h"
#include "core/normalize.h"
#include "core/parallel.h"
#include "pg/arguments.h"
#include "pg/blocked_check.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::IdentityError;
using identity::Key;
using identity::KeyClass;
namespace sqlstate = identity::sqlstate;

// A key before normalization, with what normalizing it said and, when
// that could be found on the normalizing thread, what blocked_values says.
struct Candidate {
  Key key;
  std::string raw;
  std::optional<IdentityError> error;
  BlockedCheck blocked;
};

std::string type_names(const TypeMap &types) {
  std::string names;
  for (const auto &[name, info] : types)
    if (info.key_class != KeyClass::kExternalId) names += (names.empty() ? "" : ", ") + name;
  return names;
}

Candidate make_candidate(const std::string &type, const std::string &raw, const TypeMap &types,
                         const std::string &region) {
  auto it = types.find(type);
  if (it == types.end())
    throw IdentityError(sqlstate::kInvalidParameterValue, "unknown identifier type " + identity::quoted(type),
                        "The identifiers argument names types from contact_identity.identifier_types: " +
                            type_names(types) + ".",
                        "Add the type to contact_identity.identifier_types first.");
  Candidate c;
  c.raw = raw;
  c.key.type = type;
  c.key.key_class = it->second.key_class;
  c.key.priority = it->second.priority;
  c.key.creates_contact = it->second.creates_contact;
  try {
    c.key.value = identity::normalize_identifier(it->second.normalizer, raw, type, region);
  } catch (const IdentityError &e) {
    c.error = e;
  }
  return c;
}

// Drops blocked candidates of every call, saying so in a NOTICE.
void drop_blocked(std::vector<std::vector<Candidate>> &calls, const std::shared_ptr<const BlockedValues> &blocked_list) {
  std::set<std::pair<size_t, size_t>> blocked;
  for (size_t call = 0; call < calls.size(); call++)
    for (size_t i = 0; i < calls[call].size(); i++) {
      const Candidate &c = calls[call][i];
      std::optional<std::string> reason =
          blocked_reason(*blocked_list, c.key.type, c.raw, c.error ? c.raw : c.key.value, c.blocked);
      if (!reason) continue;
      blocked.emplace(call, i);
      std::string what = (c.key.key_class == KeyClass::kExternalId ? std::string("external ID") : c.key.type);
      std::string message = "ignoring blocked " + what + " " + identity::quoted(c.raw);
      std::string detail = "It is in contact_identity.blocked_values (" + *reason +
                           ") and is never used to match or stored.";
      pg_call([&]() noexcept {
        ereport(NOTICE, (errmsg_internal("%s", message.c_str()), errdetail_internal("%s", detail.c_str())));
      });
    }
  if (blocked.empty()) return;
  for (size_t call = 0; call < calls.size(); call++) {
    std::vector<Candidate> kept;
    for (size_t i = 0; i < calls[call].size(); i++)
      if (!blocked.count({call, i})) kept.push_back(std::move(calls[call][i]));
    calls[call].swap(kept);
  }
}

// How many identifiers one call may carry.
constexpr size_t kMaxIdentifiersPerCall = 1000;

// The candidates of one call, before blocked values are dropped. Pure: an
// import batch runs it on several threads (core/parallel.h).
std::vector<Candidate> candidates_of(const CallKeys &keys, const TypeMap &types, const std::string &region) {
  std::vector<Candidate> candidates;
  if (keys.external_id) candidates.push_back(make_candidate(identity::kExternalIdType, *keys.external_id, types, region));
  if (keys.email) candidates.push_back(make_candidate("email", *keys.email, types, region));
  if (keys.phone) candidates.push_back(make_candidate("phone", *keys.phone, types, region));
  std::vector<identity::RawIdentifier> raws;
  if (keys.identifiers_json) raws = identity::parse_identifiers_json(*keys.identifiers_json);
  raws.insert(raws.end(), keys.more_identifiers.begin(), keys.more_identifiers.end());
  // Far more than any person holds (limits keep 50 cookies at most): a call
  // with more is a bug or an attack, and would hold that many row locks.
  if (raws.size() > kMaxIdentifiersPerCall)
    throw IdentityError(sqlstate::kInvalidParameterValue,
                        "identifiers holds " + std::to_string(raws.size()) + " values",
                        "A call may carry at most " + std::to_string(kMaxIdentifiersPerCall) + " identifiers.",
                        "Send them in several calls.");
  for (const identity::RawIdentifier &raw : raws) {
    if (raw.type == identity::kExternalIdType)
      throw IdentityError(sqlstate::kInvalidParameterValue, "identifiers must not hold the external ID",
                          "The external ID is an argument of its own.", "Pass it as external_id.");
    candidates.push_back(make_candidate(raw.type, raw.value, types, region));
  }
  return candidates;
}

// The request of one call from its candidates left after blocking.
identity::Request request_of(const CallKeys &keys, std::vector<Candidate> &candidates,
                             const TypeMap &types) {
  identity::Request request;
  request.contact_id = keys.contact_id;
  request.restore_deleted = keys.restore_deleted;
  if (keys.dedupe_on) {
    std::set<std::string> names;
    for (const auto &[name, info] : types)
      if (info.key_class != KeyClass::kExternalId) names.insert(name);
    request.dedupe_on = dedupe_search_order(*keys.dedupe_on, names);
    if (*keys.dedupe_on == "contact_id" && !keys.contact_id)
      throw IdentityError(sqlstate::kInvalidParameterValue, "row has no contact_id to deduplicate on",
                          "dedupe_on contact_id updates existing contacts only.", "Fill the contact_id column.");
  }
  if (keys.clear_nulls) {
    if (!keys.email) request.clear_types.insert("email");
    if (!keys.phone) request.clear_types.insert("phone");
  }
  std::set<std::pair<std::string, std::string>> seen;
  std::map<std::string, std::string> permanent_value;
  for (Candidate &c : candidates) {
    if (c.error) throw *c.error;
    if (!seen.insert({c.key.type, c.key.value}).second) continue;  // sent twice
    // One email (phone, ...) per call, but an import row may carry several:
    // an exported profile that holds two emails after a merge loads whole.
    if (c.key.key_class == KeyClass::kPermanent && !keys.dedupe_on) {
      auto [it, fresh] = permanent_value.emplace(c.key.type, c.key.value);
      if (!fresh)
        throw IdentityError(sqlstate::kInvalidParameterValue, "more than one " + c.key.type + " in one call",
                            "The call sends " + identity::quoted(it->second) + " and " + identity::quoted(c.key.value) +
                                "; a contact holds one " + c.key.type + " at a time.",
                            "Send one " + c.key.type + " per call.");
    }
    request.keys.push_back(std::move(c.key));
  }
  identity::sort_keys(request.keys);
  return request;
}

// What normalizing one call gave: its candidates, or the error that
// refuses the whole call. When no candidate needs the backend's thread
// for the blocked check and none is blocked (most calls), the request is
// built too, and the candidates are gone into it.
struct Normalized {
  std::vector<Candidate> candidates;
  std::optional<IdentityError> error;
  std::optional<identity::Request> request;
};

// The call's candidates, each checked against `blocked` as far as that
// can be done here (blocked_check_here): pure, on any thread.
Normalized normalize_call(const CallKeys &keys, const TypeMap &types, const std::string &region,
                          const BlockedValues &blocked) {
  Normalized n;
  try {
    n.candidates = candidates_of(keys, types, region);
  } catch (const IdentityError &e) {
    n.error = e;
  }
  bool clear = true;
  for (Candidate &c : n.candidates) {
    c.blocked = blocked_check_here(blocked, c.key.type, c.raw, c.error ? c.raw : c.key.value);
    clear = clear && c.blocked.decided && !c.blocked.row;
  }
  if (clear && !n.error) {
    try {
      n.request = request_of(keys, n.candidates, types);
    } catch (const IdentityError &e) {
      n.error = e;
    }
    n.candidates.clear();
  }
  return n;
}

// Normalizes calls[i] into out[i] for every i, on `threads` threads.
void normalize_all(const std::vector<const CallKeys *> &calls, const TypeMap &types, const std::string &region,
                   const BlockedValues &blocked, unsigned threads, std::vector<Normalized> &out) {
  out.resize(calls.size());
  identity::parallel_for(calls.size(), threads,
                         [&](size_t i) { out[i] = normalize_call(*calls[i], types, region, blocked); });
}

}  // namespace

std::vector<std::string> dedupe_search_order(const std::string &dedupe_on,
                                             const std::set<std::string> &identifier_types) {
  if (dedupe_on == "email_or_phone") return {"phone", "email"};
  if (dedupe_on == "contact_id") return {};
  if (dedupe_on == identity::kExternalIdType || identifier_types.count(dedupe_on)) return {dedupe_on};
  std::string list;
  for (const std::string &name : identifier_types) list += (list.empty() ? "" : ", ") + name;
  throw IdentityError(sqlstate::kInvalidParameterValue, "invalid dedupe_on " + identity::quoted(dedupe_on),
                      "dedupe_on is external_id, email_or_phone, contact_id or an identifier type (" + list + ").",
                      "");
}

CallKeys key_args(FunctionCallInfo fcinfo, int first) {
  CallKeys keys;
  keys.external_id = text_arg(fcinfo, first);
  keys.email = text_arg(fcinfo, first + 1);
  keys.phone = text_arg(fcinfo, first + 2);
  keys.identifiers_json = jsonb_arg(fcinfo, first + 3);
  return keys;
}

// The region the calls' phones are read in: their account's. A batch is
// one account's (an import's, or one call).
std::string region_of(const std::vector<const CallKeys *> &calls) {
  if (calls.empty()) return std::string();
  for (const CallKeys *call : calls)
    if (call->account_id != calls.front()->account_id)
      throw IdentityError(sqlstate::kInternalError, "calls of several accounts normalized together", "", "");
  return region_for(calls.front()->account_id);
}

struct NormalizedAhead::State {
  std::shared_ptr<const TypeMap> types;
  std::shared_ptr<const BlockedValues> blocked;
  std::string region;
  std::vector<const CallKeys *> calls;
  std::vector<Normalized> results;
  std::exception_ptr failure;  // what the thread threw (bad_alloc)
  std::thread worker;
};

NormalizedAhead::NormalizedAhead() : state_(std::make_unique<State>()) {}

NormalizedAhead::~NormalizedAhead() { wait(); }

void NormalizedAhead::start(std::vector<const CallKeys *> calls) {
  wait();
  State &s = *state_;
  s.calls.clear();
  s.results.clear();
  s.failure = nullptr;
  if (calls.empty()) return;
  s.types = identifier_types();
  s.blocked = blocked_values();
  s.region = region_of(calls);
  s.calls = std::move(calls);
  // The backend keeps a thread for itself: one fewer than normalizing alone would use.
  unsigned threads = std::max(1u, identity::threads_for(s.calls.size()) - 1);
  try {
    s.worker = identity::quiet_thread([&s, threads] {
      try {
        normalize_all(s.calls, *s.types, s.region, *s.blocked, threads, s.results);
      } catch (...) {
        s.failure = std::current_exception();
      }
    });
  } catch (...) {  // no thread: build_requests normalizes them itself
    s.calls.clear();
  }
}

void NormalizedAhead::wait() {
  if (state_ && state_->worker.joinable()) state_->worker.join();
}

std::vector<BuiltRequest> build_requests(const std::vector<const CallKeys *> &calls, NormalizedAhead *ahead) {
  std::shared_ptr<const TypeMap> type_map = identifier_types();
  const TypeMap &types = *type_map;
  std::shared_ptr<const BlockedValues> blocked = blocked_values();
  std::vector<BuiltRequest> built(calls.size());
  std::vector<Normalized> normalized(calls.size());
  const std::string region = region_of(calls);
  // Take what was normalized ahead (with the same types and region), then
  // normalize the rest here.
  std::vector<const CallKeys *> rest;
  std::vector<size_t> rest_at;
  std::unordered_map<const CallKeys *, size_t> done_ahead;
  if (ahead) {
    ahead->wait();
    NormalizedAhead::State &s = *ahead->state_;
    if (!s.failure && s.results.size() == s.calls.size() && s.region == region && s.types == type_map &&
        s.blocked == blocked)
      for (size_t i = 0; i < s.calls.size(); i++) done_ahead.emplace(s.calls[i], i);
  }
  for (size_t i = 0; i < calls.size(); i++) {
    auto it = done_ahead.find(calls[i]);
    if (it != done_ahead.end()) {
      normalized[i] = std::move(ahead->state_->results[it->second]);
    } else {
      rest.push_back(calls[i]);
      rest_at.push_back(i);
    }
  }
  if (ahead) {  // used once: later calls may live where these did
    ahead->state_->calls.clear();
    ahead->state_->results.clear();
  }
  std::vector<Normalized> rest_done;
  normalize_all(rest, types, region, *blocked, identity::threads_for(rest.size()), rest_done);
  for (size_t k = 0; k < rest.size(); k++) normalized[rest_at[k]] = std::move(rest_done[k]);

  std::vector<std::vector<Candidate>> candidates(calls.size());
  for (size_t i = 0; i < calls.size(); i++) {
    if (normalized[i].error)
      built[i].error = std::move(normalized[i].error);
    else if (normalized[i].request)
      built[i].request = std::move(normalized[i].request);
    else
      candidates[i] = std::move(normalized[i].candidates);
  }
  drop_blocked(candidates, blocked);
  for (size_t i = 0; i < calls.size(); i++) {
    if (built[i].error || built[i].request) continue;
    try {
      built[i].request = request_of(*calls[i], candidates[i], types);
    } catch (const IdentityError &e) {
      built[i].error = e;
    }
  }
  return built;
}

identity::Request build_request(const CallKeys &keys) {
  std::vector<BuiltRequest> built = build_requests({&keys});
  if (built[0].error) throw *built[0].error;
  return std::move(*built[0].request);
}

}  // namespace pgshell
