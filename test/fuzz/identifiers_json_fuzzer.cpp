// identifiers_json_fuzzer.cpp: libFuzzer target for
// identity::parse_identifiers_json. Input: the JSON text. Accepted input
// cannot give more pairs than it has bytes, and no pair can be longer than
// the input.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/identifiers_json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view json(reinterpret_cast<const char *>(data), size);
  std::vector<identity::RawIdentifier> pairs;
  if (!fuzz::accepts([&] { pairs = identity::parse_identifiers_json(json); })) return 0;
  fuzz::require(pairs.size() <= size, "more identifiers than input bytes");
  for (const auto &p : pairs)
    fuzz::require(p.type.size() <= size && p.value.size() <= size, "an identifier longer than the input");
  return 0;
}
