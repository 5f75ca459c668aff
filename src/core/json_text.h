// json_text.h: writing small JSON documents (log details) without a library.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace identity {

// A JSON string literal for s (UTF-8 passes through; control characters,
// quotes and backslashes are escaped).
std::string json_quote(std::string_view s);

// [{"type": t, "value": v}, ...] for (type, value) pairs.
std::string json_identifier_list(const std::vector<std::pair<std::string, std::string>> &identifiers);

}  // namespace identity
