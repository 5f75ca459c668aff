// events.h: events and the anonymous history of visitors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/log_rows.h"

namespace pgshell {

// Attaches to `contact` every anonymous event carrying one of `keys`
// (type, value), which the caller has just linked to it under lock;
// returns the "events_attached" step that logs how many, if any. Needs SPI.
std::optional<identity::LogStep> attach_anonymous_events(int64_t account_id, int64_t contact,
                                                         const std::vector<std::pair<std::string, std::string>> &keys);

}  // namespace pgshell
