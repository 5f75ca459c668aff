// unmerge_rules.cpp: what unmerge_contact gives back (unmerge_rules.h).
#include "core/unmerge_rules.h"

#include <algorithm>
#include <set>

#include "core/json_text.h"
#include "core/json_value.h"

namespace identity {
namespace {

using OptText = std::optional<std::string>;

bool holds(const HeldValues &held, const std::string &type, const OptText &value) {
  auto it = held.find(type);
  return value && it != held.end() && std::find(it->second.begin(), it->second.end(), *value) != it->second.end();
}

OptText oldest(const HeldValues &held, const std::string &type) {
  auto it = held.find(type);
  if (it == held.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

// [{"type": t, "value": v, "contact_id": c}, ...]
JsonArray entries(const std::vector<UnmergedKey> &keys) {
  JsonArray out;
  for (const UnmergedKey &k : keys)
    out.add(JsonObject().field("type", k.type).field("value", k.value).field("contact_id", k.contact));
  return out;
}

}  // namespace

BroughtSplit split_brought(const std::vector<BroughtKeyNow> &brought, int64_t winner) {
  BroughtSplit split;
  for (const BroughtKeyNow &b : brought) {
    if (b.holder == winner)
      split.returned.emplace_back(b.type, b.value);
    else if (!b.holder)
      split.free.push_back(b);
    else
      split.held.push_back(b);
  }
  return split;
}

UnmergePlan plan_unmerge(int64_t loser, int64_t winner, int64_t merge_log_id, const std::string &merge_detail,
                         const std::vector<BroughtKeyNow> &brought, const std::vector<PushedOut> &pushed_out,
                         const Primaries &winner_own) {
  UnmergePlan plan;
  plan.loser = loser;
  plan.winner = winner;
  plan.merge_log_id = merge_log_id;
  plan.merge_detail = merge_detail;
  plan.winner_own = winner_own;
  plan.recorded = recorded_primaries(merge_detail);
  BroughtSplit split = split_brought(brought, winner);
  plan.returned = std::move(split.returned);
  plan.to_loser = std::move(split.free);
  for (const BroughtKeyNow &b : split.held) plan.stayed.push_back({b.type, b.value, b.holder});
  std::set<std::pair<std::string, std::string>> theirs;  // the loser's own are among what it brought
  for (const BroughtKeyNow &b : brought) theirs.emplace(b.type, b.value);
  for (const PushedOut &p : pushed_out)
    if (p.only_this_loser && !theirs.count({p.type, p.value}))
      plan.to_winner.push_back({p.type, p.value, p.first_seen_at, p.attached_at, std::nullopt});
  return plan;
}

LogStep given_back_step(int64_t contact, const std::string &type, const std::string &value) {
  return {contact, "identifier_attached", std::nullopt, type, value, std::nullopt,
          JsonObject().field("reason", "given back by unmerge_contact").str()};
}

UnmergePrimaries unmerge_primaries(const Primaries &own, const Primaries &recorded, const HeldValues &winner_holds,
                                   const HeldValues &loser_holds) {
  UnmergePrimaries p;
  p.winner.external_id = holds(winner_holds, kExternalIdType, own.external_id) ? own.external_id : std::nullopt;
  p.loser.external_id =
      holds(loser_holds, kExternalIdType, recorded.external_id) ? recorded.external_id : std::nullopt;
  auto winner_keeps = [&](const char *type, const OptText &value) {
    return !value || holds(winner_holds, type, value) ? value : oldest(winner_holds, type);
  };
  auto loser_gets = [&](const char *type, const OptText &value) {
    return holds(loser_holds, type, value) ? value : oldest(loser_holds, type);
  };
  p.winner.email = winner_keeps("email", own.email);
  p.winner.phone = winner_keeps("phone", own.phone);
  p.loser.email = loser_gets("email", recorded.email);
  p.loser.phone = loser_gets("phone", recorded.phone);
  return p;
}

Primaries recorded_primaries(const std::string &merge_detail) {
  const JsonValue detail = parse_json(merge_detail, "identity_log detail is not valid JSON");
  auto recorded = [&](const char *key) -> OptText {
    const JsonValue *v = detail.find(key);
    if (!v || v->type != JsonValue::Type::kString) return std::nullopt;
    return v->text;
  };
  return {recorded(kExternalIdType), recorded("email"), recorded("phone")};
}

std::string unmerge_detail(int64_t merge_log_id, const std::vector<std::pair<std::string, std::string>> &returned,
                           const std::vector<UnmergedKey> &given_back, const std::vector<UnmergedKey> &stayed,
                           uint64_t events) {
  return JsonObject()
      .field("merge_log_id", merge_log_id)
      .raw("identifiers", json_identifier_list(returned))
      .field("given_back", entries(given_back))
      .field("stayed", entries(stayed))
      .field("events", events)
      .str();
}

}  // namespace identity
