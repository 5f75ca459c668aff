// log_batch.h: the identity_log steps of one call or one import batch,
// gathered in memory and written by one multi-row INSERT: one row per
// contact changed (core/log_rows.h), or one row per step under an SQL
// script older than 0.5.0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/log_rows.h"

namespace pgshell {

// The log steps of one call or one import batch, in the order they happened.
class LogBatch {
 public:
  // One step (core/log_rows.h: contact_step, identifier_step).
  void add(identity::LogStep step) { steps_.push_back(std::move(step)); }
  // Steps made elsewhere (core/write_plan.h), in their order.
  void add(std::vector<identity::LogStep> steps);
  // Room for this many steps, so that a batch's steps are not moved as they grow.
  void reserve(size_t steps) { steps_.reserve(steps); }
  // Writes what was added and starts over. Needs SPI.
  void flush(int64_t account_id);

 private:
  std::vector<identity::LogStep> steps_;
};

}  // namespace pgshell
