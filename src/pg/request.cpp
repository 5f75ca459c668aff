// request.cpp: turning call arguments into the core's Request.
#include "pg/request.h"

#include <map>
#include <set>

#include "core/identifiers_json.h"
#include "core/identity_error.h"
#include "core/normalize.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/spi.h"

namespace pgshell {
namespace {

using identity::IdentityError;
using identity::Key;
using identity::KeyClass;
namespace sqlstate = identity::sqlstate;

Statement load_types_statement{
    "SELECT t.name, t.class, t.priority, t.normalizer, t.creates_contact"
    " FROM contact_identity.identifier_types t",
    {}};

// Positions (1-based) of keys that are blocked: their value as sent or as
// normalized equals a blocked value (case-insensitively) or matches a
// pattern; the reason given is the first blocked row that matches. Two
// forms of one check:
//  - a call's few keys: each key against the blocked values, a kept plan;
//  - an import batch's thousands: the exact values joined by their
//    lower-cased form (each lowered once, not once per key), only the
//    patterns of the key's type tried, planned for the batch's size so that
//    the joins hash.
Statement blocked_statement{
    "SELECT k.ord, b.reason FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) WITH ORDINALITY AS k(type, raw, normalized, ord)"
    " CROSS JOIN LATERAL (SELECT b.reason FROM contact_identity.blocked_values b"
    "   WHERE (b.identifier_type IS NULL OR b.identifier_type OPERATOR(pg_catalog.=) k.type)"
    "     AND CASE WHEN b.is_pattern"
    "         THEN pg_catalog.btrim(k.raw) OPERATOR(pg_catalog.~*) b.value"
    "           OR k.normalized OPERATOR(pg_catalog.~*) b.value"
    "         ELSE pg_catalog.lower(b.value) OPERATOR(pg_catalog.=) ANY"
    "              (ARRAY[pg_catalog.lower(pg_catalog.btrim(k.raw)), pg_catalog.lower(k.normalized)]) END"
    "   ORDER BY b.blocked_id LIMIT 1) b ORDER BY k.ord",
    {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID}};

Statement blocked_batch_statement{
    "WITH k AS MATERIALIZED (SELECT k.ord, k.type, pg_catalog.btrim(k.raw) AS raw, k.normalized"
    "   FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]),"
    "   pg_catalog.unnest($3::pg_catalog.text[])) WITH ORDINALITY AS k(type, raw, normalized, ord)),"
    " b AS MATERIALIZED (SELECT b.blocked_id, b.identifier_type, b.value, b.is_pattern, b.reason,"
    "   pg_catalog.lower(b.value) AS lowered FROM contact_identity.blocked_values b),"
    " hit AS (SELECT k.ord, b.blocked_id, b.reason FROM k JOIN b"
    "   ON b.lowered OPERATOR(pg_catalog.=) pg_catalog.lower(k.raw) AND NOT b.is_pattern"
    "   AND (b.identifier_type IS NULL OR b.identifier_type OPERATOR(pg_catalog.=) k.type)"
    "  UNION ALL SELECT k.ord, b.blocked_id, b.reason FROM k JOIN b"
    "   ON b.lowered OPERATOR(pg_catalog.=) pg_catalog.lower(k.normalized) AND NOT b.is_pattern"
    "   AND (b.identifier_type IS NULL OR b.identifier_type OPERATOR(pg_catalog.=) k.type)"
    "  UNION ALL SELECT k.ord, b.blocked_id, b.reason FROM k JOIN b"
    "   ON b.is_pattern AND (b.identifier_type IS NULL OR b.identifier_type OPERATOR(pg_catalog.=) k.type)"
    "   AND (k.raw OPERATOR(pg_catalog.~*) b.value OR (k.normalized OPERATOR(pg_catalog.<>) k.raw"
    "        AND k.normalized OPERATOR(pg_catalog.~*) b.value)))"
    " SELECT DISTINCT ON (h.ord) h.ord, h.reason FROM hit h ORDER BY h.ord, h.blocked_id",
    {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID},
    true};

// Keys from which the batch form of the check pays.
constexpr size_t kBatchKeys = 100;

}  // namespace

std::map<std::string, TypeInfo> load_types(bool read_only) {
  std::map<std::string, TypeInfo> types;
  uint64_t n = execute(load_types_statement, {}, read_only);
  for (uint64_t r = 0; r < n; r++) {
    TypeInfo t;
    std::string key_class = result_text(r, 2).value_or("");
    t.key_class = key_class == "external"    ? KeyClass::kExternalId
                  : key_class == "permanent" ? KeyClass::kPermanent
                                             : KeyClass::kChangeable;
    t.priority = static_cast<int>(result_int8(r, 3).value_or(0));
    t.normalizer = result_text(r, 4).value_or("text");
    t.creates_contact = result_bool(r, 5);
    types.emplace(result_text(r, 1).value_or(""), std::move(t));
  }
  return types;
}

namespace {

// A key before normalization, with what normalizing it said.
struct Candidate {
  Key key;
  std::string raw;
  std::optional<IdentityError> error;
};

std::string type_names(const std::map<std::string, TypeInfo> &types) {
  std::string names;
  for (const auto &[name, info] : types)
    if (info.key_class != KeyClass::kExternalId) names += (names.empty() ? "" : ", ") + name;
  return names;
}

Candidate make_candidate(const std::string &type, const std::string &raw, const std::map<std::string, TypeInfo> &types) {
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
    c.key.value = identity::normalize_identifier(it->second.normalizer, raw, type, default_region());
  } catch (const IdentityError &e) {
    c.error = e;
  }
  return c;
}

// Drops blocked candidates of every call, saying so in a NOTICE: one
// statement for all of them.
void drop_blocked(std::vector<std::vector<Candidate>> &calls, bool read_only) {
  std::vector<std::string> types, raws, normalized;
  std::vector<std::pair<size_t, size_t>> where;  // statement position -> (call, candidate)
  for (size_t call = 0; call < calls.size(); call++)
    for (size_t i = 0; i < calls[call].size(); i++) {
      const Candidate &c = calls[call][i];
      types.push_back(c.key.type);
      raws.push_back(c.raw);
      normalized.push_back(c.error ? c.raw : c.key.value);
      where.emplace_back(call, i);
    }
  if (where.empty()) return;
  uint64_t n = execute(where.size() > kBatchKeys ? blocked_batch_statement : blocked_statement,
                       {text_array_param(types), text_array_param(raws), text_array_param(normalized)}, read_only);
  std::set<std::pair<size_t, size_t>> blocked;
  for (uint64_t r = 0; r < n; r++) {
    auto at = where.at(static_cast<size_t>(result_int8(r, 1).value_or(0)) - 1);
    std::string reason = result_text(r, 2).value_or("blocked");
    blocked.insert(at);
    const Candidate &c = calls[at.first][at.second];
    std::string what = (c.key.key_class == KeyClass::kExternalId ? std::string("external ID") : c.key.type);
    std::string message = "ignoring blocked " + what + " " + identity::quoted(c.raw);
    std::string detail = "It is in contact_identity.blocked_values (" + reason +
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

// The candidates of one call, before blocked values are dropped.
constexpr size_t kMaxIdentifiersPerCall = 1000;

std::vector<Candidate> candidates_of(const CallKeys &keys, const std::map<std::string, TypeInfo> &types) {
  std::vector<Candidate> candidates;
  if (keys.external_id) candidates.push_back(make_candidate(identity::kExternalIdType, *keys.external_id, types));
  if (keys.email) candidates.push_back(make_candidate("email", *keys.email, types));
  if (keys.phone) candidates.push_back(make_candidate("phone", *keys.phone, types));
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
    candidates.push_back(make_candidate(raw.type, raw.value, types));
  }
  return candidates;
}

// The request of one call from its candidates left after blocking.
identity::Request request_of(const CallKeys &keys, std::vector<Candidate> &candidates,
                             const std::map<std::string, TypeInfo> &types) {
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

int64_t required_int8_arg(FunctionCallInfo fcinfo, int n, const char *name) {
  std::optional<int64_t> value = int8_arg(fcinfo, n);
  if (!value) throw IdentityError("22004", std::string(name) + " must not be null", "", "");
  return *value;
}

CallKeys key_args(FunctionCallInfo fcinfo, int first) {
  CallKeys keys;
  keys.external_id = text_arg(fcinfo, first);
  keys.email = text_arg(fcinfo, first + 1);
  keys.phone = text_arg(fcinfo, first + 2);
  keys.identifiers_json = jsonb_arg(fcinfo, first + 3);
  return keys;
}

int64_t account_arg(FunctionCallInfo fcinfo, int n) {
  std::optional<int64_t> account = int8_arg(fcinfo, n);
  if (!account)
    throw IdentityError("22004", "account_id must not be null", "", "Pass 0 for the default account.");
  if (*account < 0)
    throw IdentityError(sqlstate::kInvalidParameterValue, "invalid account_id " + std::to_string(*account),
                        "Account IDs are 0 or greater.", "");
  return *account;
}

std::vector<BuiltRequest> build_requests(const std::vector<const CallKeys *> &calls, bool read_only) {
  std::map<std::string, TypeInfo> types = load_types(read_only);
  std::vector<BuiltRequest> built(calls.size());
  std::vector<std::vector<Candidate>> candidates(calls.size());
  for (size_t i = 0; i < calls.size(); i++) {
    try {
      candidates[i] = candidates_of(*calls[i], types);
    } catch (const IdentityError &e) {
      built[i].error = e;
    }
  }
  drop_blocked(candidates, read_only);
  for (size_t i = 0; i < calls.size(); i++) {
    if (built[i].error) continue;
    try {
      built[i].request = request_of(*calls[i], candidates[i], types);
    } catch (const IdentityError &e) {
      built[i].error = e;
    }
  }
  return built;
}

identity::Request build_request(const CallKeys &keys, bool read_only) {
  std::vector<BuiltRequest> built = build_requests({&keys}, read_only);
  if (built[0].error) throw *built[0].error;
  return std::move(*built[0].request);
}

std::optional<std::string> key_value(const identity::Request &request, const std::string &type) {
  for (const Key &k : request.keys)
    if (k.type == type) return k.value;
  return std::nullopt;
}

}  // namespace pgshell
