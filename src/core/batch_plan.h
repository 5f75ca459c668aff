// batch_plan.h: which rows of an import batch can be written set-based.
//
// The batch is read once (the holder of every key, the state of every
// contact involved) and each row is decided against that snapshot. A row
// whose keys and contacts no earlier row of the batch touches sees exactly
// the snapshot, so its decision is final and, when it is a plain create or
// update, it can be written together with the others. Every other row
// (merges, moves, detaches, restores, anything an earlier row touched) runs
// afterwards, in source order, through the row-by-row path. Running those
// after the set-based rows is the same as running them in place: the
// set-based rows share no key and no contact with any row before them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/decision.h"
#include "core/identity_error.h"

namespace identity {

// A key as (type, value), and its hash: a batch looks up each of its keys
// several times, in hash tables rather than ordered maps.
using KeyId = std::pair<std::string, std::string>;
struct KeyIdHash {
  size_t operator()(const KeyId &key) const {
    std::hash<std::string> h;
    return h(key.first) * 31 + h(key.second);
  }
};

// What the database holds for the batch's keys and contacts.
struct BatchSnapshot {
  // Every key that has a row: its holder (nullopt: a row without a holder).
  std::unordered_map<KeyId, std::optional<int64_t>, KeyIdHash> keys;
  // Every contact a key leads to, and every contact_id target that exists
  // and is not merged.
  std::unordered_map<int64_t, ContactState> contacts;
  // contact_id targets that were merged: the contact the chain ends at.
  std::unordered_map<int64_t, int64_t> merged_into;
};

enum class RowPlan {
  kNone,     // no request (the row failed before it had one)
  kFailed,   // the rules refuse it: error is set, nothing is written
  kSkipped,  // a deleted match left alone (skipped_deleted): nothing is written
  kCreate,   // a new contact holding every key of the row
  kUpdate,   // the winner gets the row's fields and the keys nobody had
  kRowByRow  // anything else: applied afterwards, in order, row by row
};

struct PlannedRow {
  RowPlan plan = RowPlan::kNone;
  Decision decision;                 // kSkipped, kCreate, kUpdate
  std::optional<IdentityError> error;  // kFailed
};

// Plans the rows in order; requests[i] is null for a row without a request.
std::vector<PlannedRow> plan_batch(const std::vector<const Request *> &requests, const BatchSnapshot &snapshot);

}  // namespace identity
