// phone_fuzzer.cpp: libFuzzer target for identity::normalize_phone
// (libphonenumber underneath). Input: the raw number text, tried in each of a
// few default regions (none, known ones in either case, unknown ones). An
// accepted number must be in E.164 form ("+", no leading 0, and at most 20
// digits: libphonenumber allows a 3-digit code and 17 national digits, more
// than E.164's 15), followed by ";ext=" and the extension's digits when it
// has one.
//
// It must also normalize to itself again, without a region: the stored form
// is what lookups and exports read back (corpus/phone/finding_not_idempotent_de
// is the input that found it did not).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/normalize.h"
#include "fuzz_common.h"

namespace {
const char *const kRegions[] = {"", "UA", "ua", "US", "GB", "DE", "IN", "BR", "JP", "001", "XX", "U"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string raw(reinterpret_cast<const char *>(data), size);
  for (const char *region : kRegions) {
    std::string phone;
    if (!fuzz::accepts([&] { phone = identity::normalize_phone(raw, region, "work_phone"); })) continue;
    const size_t mark = phone.find(";ext=");
    const std::string number = phone.substr(0, mark);
    bool e164 = number.size() >= 3 && number.size() <= 21 && number[0] == '+' && number[1] != '0';
    for (size_t i = 1; i < number.size(); i++) e164 = e164 && number[i] >= '0' && number[i] <= '9';
    if (mark != std::string::npos) {
      const std::string extension = phone.substr(mark + 5);
      e164 = e164 && !extension.empty();
      for (char c : extension) e164 = e164 && c >= '0' && c <= '9';
    }
    fuzz::require(e164, "accepted phone is not E.164 (with an extension)", phone);
    std::string again;
    fuzz::require(fuzz::accepts([&] { again = identity::normalize_phone(phone, ""); }),
                  "normalize_phone refuses its own output", std::string(region) + ": " + phone);
    fuzz::require(again == phone, "normalize_phone is not idempotent", phone + " -> " + again);
  }
  fuzz::accepts([&] { identity::is_supported_region(raw); });
  return 0;
}
