// log_rows.cpp: folding the steps of a decision into one row per contact.
#include "core/log_rows.h"

#include <map>
#include <unordered_map>

#include "core/json_text.h"
#include "core/json_value.h"

namespace identity {
namespace {

// {"type": t, "value": v}, for the caller to add members to.
JsonObject entry(const LogStep &step) {
  JsonObject out;
  out.field("type", step.type.value_or("")).field("value", step.value.value_or(""));
  return out;
}

// {"type": t, "value": v, <the members of the step's detail>}
std::string entry_with_detail(const LogStep &step) {
  return entry(step).members_of(step.detail.value_or("")).str();
}

// A JSON array from elements already written.
JsonArray array(const std::vector<std::string> &items) {
  JsonArray out;
  for (const std::string &item : items) out.raw(item);
  return out;
}

// What one contact's row gathers.
struct Builder {
  std::optional<int64_t> contact_id;
  std::optional<std::string> matched_by;
  std::optional<int64_t> other_contact_id;
  bool created = false, updated = false, restored = false, giver = false;
  std::optional<std::string> unmerged;  // the unmerge's own detail
  std::vector<int64_t> merged;
  std::vector<std::string> moved, moved_to, detached, attached, remembered, events_attached;
  std::optional<std::string> external_id;
  std::optional<int64_t> external_id_from;

  std::string action() const {
    if (!contact_id) return "remembered";
    if (created) return "created";
    if (unmerged) return "unmerged";
    if (!merged.empty()) return "merged";
    if (restored) return "restored";
    if (updated) return "updated";
    return "identifiers_changed";
  }

  std::string detail() const {
    JsonObject members;
    members.members_of(unmerged.value_or(""));
    auto list = [&](const char *key, const std::vector<std::string> &items) {
      if (!items.empty()) members.field(key, array(items));
    };
    list("moved", moved);
    list("moved_to", moved_to);
    list("detached", detached);
    list("attached", attached);
    list("remembered", remembered);
    list("events_attached", events_attached);
    if (!merged.empty()) members.field("merged", JsonArray().add_all(merged));
    const std::string act = action();
    if (restored && act != "restored") members.field("restored", true);
    if (updated && act != "updated") members.field("updated", true);
    if (external_id) {
      members.field("external_id", *external_id);
      if (external_id_from) members.field("external_id_from", *external_id_from);
    }
    return members.str();
  }
};

}  // namespace

std::vector<LogRow> fold_steps(const std::vector<LogStep> &steps) {
  std::vector<LogRow> first;              // merged_into rows, in step order
  std::vector<Builder> givers, builders;  // in order of first mention
  std::vector<LogRow> others;             // steps this fold does not know
  // Where each contact's builder is (an import batch names thousands), and
  // the one of steps without a contact.
  struct Index {
    std::unordered_map<int64_t, size_t> by_contact;
    std::optional<size_t> without_contact;
  } giver_at, builder_at;
  builders.reserve(steps.size());
  auto builder_in = [](std::vector<Builder> &list, Index &at, std::optional<int64_t> contact) -> Builder & {
    size_t next = list.size();
    size_t where = next;
    if (contact)
      where = at.by_contact.emplace(*contact, next).first->second;
    else if (at.without_contact)
      where = *at.without_contact;
    else
      at.without_contact = next;
    if (where == next) {
      list.emplace_back();
      list.back().contact_id = contact;
    }
    return list[where];
  };
  for (const LogStep &s : steps) {
    if (s.action == "merged") {
      first.push_back({s.other_contact_id, "merged_into", s.matched_by, s.contact_id, s.detail.value_or("{}")});
      Builder &w = builder_in(builders, builder_at, s.contact_id);
      if (s.other_contact_id) w.merged.push_back(*s.other_contact_id);
      if (!w.matched_by) w.matched_by = s.matched_by;
      continue;
    }
    if (s.action == "identifier_moved") {
      Builder &r = builder_in(builders, builder_at, s.contact_id);
      r.moved.push_back(entry(s).field("from", s.other_contact_id).str());
      if (!r.matched_by) r.matched_by = s.matched_by;
      if (s.other_contact_id) {
        Builder &g = builder_in(givers, giver_at, s.other_contact_id);
        g.giver = true;
        g.other_contact_id = s.contact_id;
        if (!g.matched_by) g.matched_by = s.matched_by;
        g.moved_to.push_back(entry(s).field("to", s.contact_id).str());
      }
      continue;
    }
    static const char *const known[] = {"created", "updated", "restored", "unmerged", "external_id_assigned",
                                        "identifier_attached", "identifier_detached", "identifier_remembered",
                                        "events_attached"};
    bool is_known = false;
    for (const char *k : known) is_known = is_known || s.action == k;
    if (!is_known) {
      others.push_back({s.contact_id, s.action, s.matched_by, s.other_contact_id, s.detail});
      continue;
    }
    Builder &b = builder_in(builders, builder_at, s.contact_id);
    if (!b.matched_by && s.action != "created" && s.action != "events_attached") b.matched_by = s.matched_by;
    if (s.action == "created") b.created = true;
    else if (s.action == "updated") b.updated = true;
    else if (s.action == "restored") b.restored = true;
    else if (s.action == "unmerged") {
      b.unmerged = s.detail.value_or("{}");
      b.other_contact_id = s.other_contact_id;
    } else if (s.action == "external_id_assigned") {
      b.external_id = s.value;
      b.external_id_from = s.other_contact_id;
    } else if (s.action == "identifier_attached") b.attached.push_back(entry_with_detail(s));
    else if (s.action == "identifier_detached") b.detached.push_back(entry_with_detail(s));
    else if (s.action == "identifier_remembered") b.remembered.push_back(entry(s).str());
    else if (s.action == "events_attached") b.events_attached.push_back(s.detail.value_or("{}"));
  }
  std::vector<LogRow> rows = first;
  for (const Builder &g : givers) rows.push_back({g.contact_id, "identifiers_changed", g.matched_by, g.other_contact_id, g.detail()});
  for (const Builder &b : builders) rows.push_back({b.contact_id, b.action(), b.matched_by, b.other_contact_id, b.detail()});
  rows.insert(rows.end(), others.begin(), others.end());
  return rows;
}

namespace {

void hash_strings(JsonValue &value, const std::map<std::string, std::string> &hashes) {
  if (value.type == JsonValue::Type::kString) {
    auto it = hashes.find(value.text);
    if (it != hashes.end()) value.text = it->second;
  }
  for (JsonValue &item : value.items) hash_strings(item, hashes);
  for (auto &member : value.members) hash_strings(member.second, hashes);
}

}  // namespace

std::string purge_detail(const std::string &detail, const std::map<std::string, std::string> &hashes,
                         bool person_row) {
  JsonOptions options;
  options.max_depth = 1000;
  options.allow_nul = true;
  JsonValue root = parse_json(detail, "identity_log detail is not valid JSON", options);
  hash_strings(root, hashes);
  if (person_row && root.type == JsonValue::Type::kObject) {
    for (auto &[key, member] : root.members)
      if (key == "filled") member = parse_json(JsonObject().field("purged", true).str(), "");
    if (!root.find("purged")) root.members.emplace_back("purged", parse_json("true", ""));
  }
  return to_json(root);
}

LogStep contact_step(int64_t contact_id, std::string action, std::optional<int64_t> other_contact_id,
                     std::optional<std::string> detail) {
  LogStep step;
  step.contact_id = contact_id;
  step.action = std::move(action);
  step.other_contact_id = other_contact_id;
  step.detail = std::move(detail);
  return step;
}

LogStep identifier_step(std::optional<int64_t> contact_id, std::string action, std::string type, std::string value) {
  LogStep step;
  step.contact_id = contact_id;
  step.action = std::move(action);
  step.type = std::move(type);
  step.value = std::move(value);
  return step;
}

}  // namespace identity
