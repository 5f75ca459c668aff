// identifier_fuzzer.cpp: libFuzzer target for the normalizers of external
// IDs and of the other identifier types (identity::normalize_identifier
// with "external_id", "text" and "lower"; email and phone have targets of
// their own). Input: the raw value. An accepted value must hold no control
// or format character, a "lower" one must be NFC and lower case, and each
// must normalize to itself again.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/normalize.h"
#include "core/unicode.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string raw(reinterpret_cast<const char *>(data), size);
  for (const char *normalizer : {"external_id", "text", "lower"}) {
    std::string value;
    if (!fuzz::accepts([&] { value = identity::normalize_identifier(normalizer, raw, "viber", ""); })) continue;
    const std::string what = std::string(normalizer) + ": " + value;
    fuzz::require(!value.empty(), "accepted value is empty", what);
    fuzz::require(fuzz::printable(value), "accepted value holds a control or format character", what);
    if (std::string(normalizer) == "lower")
      fuzz::require(identity::lower_nfc(value) == value, "accepted lower value is not NFC and lower case", what);
    std::string again;
    fuzz::require(fuzz::accepts([&] { again = identity::normalize_identifier(normalizer, value, "viber", ""); }),
                  "the normalizer refuses its own output", what);
    fuzz::require(again == value, "the normalizer is not idempotent", what + " -> " + again);
  }
  return 0;
}
