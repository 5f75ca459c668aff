// log_batch.h: identity_log rows gathered in memory and written by one
// multi-row INSERT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgshell {

// The log rows of one call or one import batch, in the order they happened.
class LogBatch {
 public:
  using OptText = std::optional<std::string>;
  using OptId = std::optional<int64_t>;

  void add(OptId contact_id, const std::string &what, OptText by, OptText id_type, OptText id_value, OptId other_id,
           OptText detail_json);
  // Writes what was added and starts over. Needs SPI.
  void flush(int64_t account_id);

 private:
  std::vector<OptId> contact_, other_;
  std::vector<OptText> action_, matched_by_, type_, value_, detail_;
};

}  // namespace pgshell
