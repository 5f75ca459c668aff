// write_plan.cpp: planning and logging a write (write_plan.h).
#include "core/write_plan.h"

#include <algorithm>
#include <tuple>

#include "core/identity_error.h"
#include "core/json_text.h"
#include "core/write_rules.h"

namespace identity {
namespace {

using OptText = std::optional<std::string>;

// A step about the contact, or one of its identifiers.
LogStep step(std::optional<int64_t> contact, const char *action, const OptText &matched_by, OptText type = {},
             OptText value = {}, std::optional<int64_t> other = {}, OptText detail = {}) {
  return {contact, action, matched_by, std::move(type), std::move(value), other, std::move(detail)};
}

// The primary email or phone after the write: primary_after(), else the
// first merged contact's.
OptText primary(const std::string &type, const Request &request, const WriteContext &c, const Decision &d) {
  const OptText held = type == "email" ? c.winner_primaries.email : c.winner_primaries.phone;
  OptText value = primary_after(type, request, c.winner, c.winner ? held : std::nullopt);
  if (value || request.clear_types.count(type)) return value;
  for (size_t k = 0; k < d.merged.size() && k < c.merged_primaries.size(); k++) {
    const Primaries &loser = c.merged_primaries[k];
    const OptText &theirs = type == "email" ? loser.email : loser.phone;
    if (theirs) return theirs;
  }
  return std::nullopt;
}

}  // namespace

std::vector<int64_t> WritePlan::gave_keys() const {
  std::vector<int64_t> ids;
  for (const Move &m : moved)
    if (m.from) ids.push_back(*m.from);
  return ids;
}

WritePlan plan_write(const Request &request, const Decision &d, const WriteContext &c) {
  WritePlan p;
  p.action = d.action();
  if (!d.matched_by.empty()) p.matched_by = d.matched_by;
  p.skipped = d.skipped_deleted;
  p.remember_only = d.remember_only;
  p.restore = d.restore;
  if (c.winner) p.before = c.winner_primaries;
  p.contact = d.create ? std::nullopt : d.winner;
  for (size_t i : d.attached)
    p.attached.push_back({request.keys[i].type, request.keys[i].value,
                          request.keys[i].key_class == KeyClass::kExternalId,
                          c.fresh && i < c.fresh->size() && !(*c.fresh)[i]});
  if (p.skipped || p.remember_only) {
    p.after = p.before;
    return p;
  }
  p.after.external_id = c.winner && p.before.external_id ? p.before.external_id : d.assign_external_id;
  p.after.email = primary("email", request, c, d);
  p.after.phone = primary("phone", request, c, d);
  p.merged = d.merged;
  for (size_t i : d.moved)
    p.moved.push_back({request.keys[i].type, request.keys[i].value, c.holder && i < c.holder->size() ? (*c.holder)[i] : std::nullopt});
  p.detached = d.detached;
  p.check_limits = may_pass_limits(request, d);
  p.assign_external_id = d.assign_external_id;
  for (size_t k = 0; p.assign_external_id && k < d.merged.size() && k < c.merged_primaries.size(); k++)
    if (c.merged_primaries[k].external_id == p.assign_external_id) p.external_id_from = d.merged[k];
  return p;
}

WritePlan plan_merge(const ContactState &winner, const Primaries &winner_primaries, const ContactState &loser,
                     const Primaries &loser_primaries, bool force) {
  Decision d;
  d.winner = winner.id;
  d.merged = {loser.id};
  if (!winner_primaries.external_id && loser_primaries.external_id) d.assign_external_id = loser_primaries.external_id;
  WriteContext c;
  c.winner = &winner;
  c.winner_primaries = winner_primaries;
  c.merged_primaries = {loser_primaries};
  WritePlan p = plan_write(Request{}, d, c);
  p.merge_extra = JsonObject().field("explicit", true).field("forced", force).str();
  return p;
}

void check_merge(const MergeParty &winner, const MergeParty &loser, bool force) {
  for (const MergeParty *party : {&winner, &loser}) {
    if (party->merged_into)
      throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                          contact_name(party->id) + " was already merged into " + contact_name(*party->merged_into),
                          "A merged contact is a tombstone and holds nothing.",
                          "Merge contact " + std::to_string(*party->merged_into) + " instead.");
    if (party->deleted)
      throw IdentityError(sqlstate::kObjectNotInPrerequisiteState, contact_name(party->id) + " is deleted", "",
                          "Restore it first: upsert_contact with restore_deleted => true.");
  }
  if (winner.external_id && loser.external_id && !force)
    throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                        contact_name(winner.id) + " and " + contact_name(loser.id) + " both have an external ID",
                        "Contact " + std::to_string(winner.id) + " has external ID " + quoted(*winner.external_id) +
                            " and " + contact_name(loser.id) + " has " + quoted(*loser.external_id) +
                            "; the application may know them as two people.",
                        "If they are one person, merge with force => true: the winner keeps its external ID, and "
                        "the loser's finds the winner.");
}

void check_not_self(int64_t winner_arg, int64_t winner, int64_t loser) {
  if (winner != loser) return;
  throw IdentityError(sqlstate::kInvalidParameterValue, "cannot merge " + contact_name(loser) + " into itself",
                      winner == winner_arg
                          ? ""
                          : "Contact " + std::to_string(winner_arg) + " was merged into " + contact_name(loser) + ".",
                      "");
}

std::vector<LogStep> plan_log(const WritePlan &p, const WriteResult &r) {
  std::vector<LogStep> steps;
  if (p.remember_only) {
    for (const WritePlan::Attach &a : p.attached)
      if (!a.known_before) steps.push_back(step(std::nullopt, "identifier_remembered", std::nullopt, a.type, a.value));
    return steps;
  }
  if (p.skipped) return steps;
  const int64_t id = r.contact;
  steps.reserve(3 + p.merged.size() + p.moved.size() + p.detached.size() + p.attached.size() + r.events.size() +
                r.limits.size());
  if (!p.contact) steps.push_back(step(id, "created", std::nullopt));
  for (size_t k = 0; k < p.merged.size(); k++)
    steps.push_back(step(id, "merged", p.matched_by, {}, {}, p.merged[k],
                         k < r.merge_details.size() ? r.merge_details[k] : std::string("{}")));
  for (const WritePlan::Move &m : p.moved)
    steps.push_back(step(id, "identifier_moved", p.matched_by, m.type, m.value, m.from));
  for (const auto &[type, value] : p.detached)
    steps.push_back(step(id, "identifier_detached", p.matched_by, type, value, {},
                         JsonObject().field("reason", "replaced by the request's " + type).str()));
  for (const WritePlan::Attach &a : p.attached)
    if (!a.external_id) steps.push_back(step(id, "identifier_attached", p.matched_by, a.type, a.value));
  steps.insert(steps.end(), r.events.begin(), r.events.end());
  steps.insert(steps.end(), r.limits.begin(), r.limits.end());
  if (p.contact && (r.profile_changed || p.restore))
    steps.push_back(step(id, p.restore ? "restored" : "updated", p.matched_by));
  if (p.assign_external_id)
    steps.push_back(step(id, "external_id_assigned", p.matched_by, std::string(kExternalIdType), p.assign_external_id,
                         p.external_id_from));
  return steps;
}

std::string merge_detail(std::vector<BroughtKey> brought, std::vector<int64_t> events, const std::string &filled,
                         const std::string &primaries, const std::string &extra) {
  std::sort(brought.begin(), brought.end(), [](const BroughtKey &a, const BroughtKey &b) {
    return std::tie(a.type, a.value, a.first_seen_at, a.attached_at) <
           std::tie(b.type, b.value, b.first_seen_at, b.attached_at);
  });
  std::sort(events.begin(), events.end());
  JsonArray identifiers;
  for (const BroughtKey &b : brought)
    identifiers.add(JsonObject()
                        .field("type", b.type)
                        .field("value", b.value)
                        .raw("first_seen_at", b.first_seen_at)
                        .raw("attached_at", b.attached_at));
  JsonObject detail;
  detail.field("identifiers", identifiers)
      .field("events", events.size())
      .field("event_ids", JsonArray().add_all(events))
      .raw("filled", filled);
  return detail.members_of(primaries).members_of(extra).str();
}

LogStep limit_detach_step(int64_t contact, const std::string &type, const std::string &value, int64_t cap,
                          const std::string &first_seen_at, const std::string &attached_at,
                          const std::optional<std::string> &matched_by, const std::vector<int64_t> &merged) {
  JsonObject detail;
  detail.field("reason", "over max_per_contact (" + std::to_string(cap) + ")")
      .raw("first_seen_at", first_seen_at)
      .raw("attached_at", attached_at);
  if (!merged.empty()) detail.field("after_merge_of", JsonArray().add_all(merged));
  return step(contact, "identifier_detached", matched_by, type, value, {}, detail.str());
}

}  // namespace identity
