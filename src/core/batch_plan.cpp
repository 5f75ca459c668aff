// batch_plan.cpp: splitting an import batch into set-based and row-by-row rows.
#include "core/batch_plan.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace identity {
namespace {

// A key by reference to strings that outlive the planning (the requests'
// and the snapshot's): looked up and remembered without copying them.
using KeyView = std::pair<std::string_view, std::string_view>;
struct KeyViewHash {
  size_t operator()(const KeyView &key) const {
    std::hash<std::string_view> h;
    return h(key.first) * 31 + h(key.second);
  }
};
KeyView view_of(const Key &key) { return {key.type, key.value}; }

// snapshot.keys by KeyView.
using Holders = std::unordered_map<KeyView, std::optional<int64_t>, KeyViewHash>;

// The contacts one row involves, each once (a row names a few).
using Involved = std::vector<int64_t>;

void involve(Involved &involved, int64_t id) {
  if (std::find(involved.begin(), involved.end(), id) == involved.end()) involved.push_back(id);
}

// What the rows planned so far may have changed.
struct Touched {
  std::unordered_set<KeyView, KeyViewHash> keys;
  std::unordered_set<int64_t> contacts;

  bool any(const Request &request, const Involved &contacts_involved) const {
    for (const Key &key : request.keys)
      if (keys.count(view_of(key))) return true;
    for (int64_t id : contacts_involved)
      if (contacts.count(id)) return true;
    return false;
  }
  void add(const Request &request, const Involved &contacts_involved) {
    for (const Key &key : request.keys) keys.insert(view_of(key));
    contacts.insert(contacts_involved.begin(), contacts_involved.end());
  }
};

// The row's view of the snapshot, as decide() takes it; `known` is false
// when the row needs something the snapshot does not have (a contact_id
// that is missing or merged: the row-by-row path follows or reports it).
Matches matches_of(const Request &request, const BatchSnapshot &snapshot, const Holders &holders, Involved &involved,
                   bool &known) {
  Matches m;
  known = true;
  for (const Key &key : request.keys) {
    auto it = holders.find(view_of(key));
    std::optional<int64_t> holder = it == holders.end() ? std::nullopt : it->second;
    m.holder.push_back(holder);
    if (holder) involve(involved, *holder);
  }
  if (request.contact_id) {
    involve(involved, *request.contact_id);
    auto merged = snapshot.merged_into.find(*request.contact_id);
    if (merged != snapshot.merged_into.end()) {  // the row updates the contact the merge left
      involve(involved, merged->second);
      known = false;
    }
  }
  for (int64_t id : involved) {
    auto it = snapshot.contacts.find(id);
    if (it == snapshot.contacts.end()) {
      known = false;
      continue;
    }
    m.contacts.emplace(id, it->second);
  }
  return m;
}

// A create or an update that writes only the winner and keys nobody has.
bool is_plain(const Decision &d, const Request &request, const Holders &holders) {
  if (d.remember_only || d.restore || !d.merged.empty() || !d.moved.empty() || !d.detached.empty()) return false;
  for (size_t i : d.attached)  // a row without a holder is updated, not inserted
    if (holders.count(view_of(request.keys[i]))) return false;
  return true;
}

}  // namespace

std::vector<PlannedRow> plan_batch(const std::vector<const Request *> &requests, const BatchSnapshot &snapshot) {
  std::vector<PlannedRow> plans(requests.size());
  Holders holders;
  holders.reserve(snapshot.keys.size());
  for (const auto &[key, holder] : snapshot.keys) holders.emplace(KeyView(key.first, key.second), holder);
  Touched touched;
  touched.keys.reserve(requests.size() * 3);
  touched.contacts.reserve(requests.size());
  for (size_t r = 0; r < requests.size(); r++) {
    if (!requests[r]) continue;
    const Request &request = *requests[r];
    PlannedRow &plan = plans[r];
    Involved involved;
    bool known = false;
    Matches matches = matches_of(request, snapshot, holders, involved, known);
    if (!known || touched.any(request, involved)) {
      plan.plan = RowPlan::kRowByRow;
      touched.add(request, involved);
      continue;
    }
    try {
      plan.decision = decide(request, matches);
    } catch (const IdentityError &e) {  // refused on the state every earlier row left: final
      plan.plan = RowPlan::kFailed;
      plan.error = e;
      continue;
    }
    if (plan.decision.skipped_deleted) {
      plan.plan = RowPlan::kSkipped;
      continue;
    }
    plan.plan = !is_plain(plan.decision, request, holders) ? RowPlan::kRowByRow
                : plan.decision.create                      ? RowPlan::kCreate
                                                            : RowPlan::kUpdate;
    if (plan.decision.winner) involve(involved, *plan.decision.winner);
    touched.add(request, involved);
  }
  return plans;
}

}  // namespace identity
