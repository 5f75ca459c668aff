// events.h: events and the anonymous history of visitors.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pgshell {

class LogBatch;

// Attaches to `contact` every anonymous event carrying one of `keys`
// (type, value), which the caller has just linked to it under lock, and
// logs how many under "events_attached". Needs SPI.
void attach_anonymous_events(int64_t account_id, int64_t contact,
                             const std::vector<std::pair<std::string, std::string>> &keys, LogBatch &log);

}  // namespace pgshell
