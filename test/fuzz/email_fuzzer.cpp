// email_fuzzer.cpp: libFuzzer target for identity::normalize_email (libidn2
// and ICU underneath). Input: the raw email text. An accepted address must
// come back trimmed, at most 254 bytes, with exactly one "@", an ASCII
// domain, a local part in NFC and lower case without control or format
// characters, and normalize to itself again; email_mailbox must take it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/normalize.h"
#include "core/unicode.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string raw(reinterpret_cast<const char *>(data), size);
  std::string email;
  if (!fuzz::accepts([&] { email = identity::normalize_email(raw); })) return 0;

  fuzz::require(!email.empty() && email.size() <= 254, "accepted email is empty or over 254 bytes", email);
  size_t at = email.find('@');
  fuzz::require(at != std::string::npos && at > 0 && email.find('@', at + 1) == std::string::npos,
                "accepted email lacks exactly one @ with a local part", email);
  for (size_t i = at + 1; i < email.size(); i++) {
    char c = email[i];
    fuzz::require((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.',
                  "accepted email has a domain byte outside [a-z0-9.-]", email);
  }
  const std::string local = email.substr(0, at);
  fuzz::require(fuzz::printable(local), "accepted email holds a control or format character", email);
  fuzz::require(identity::lower_nfc(local) == local, "accepted local part is not NFC and lower case", email);
  std::string again;
  fuzz::require(fuzz::accepts([&] { again = identity::normalize_email(email, "work_email"); }),
                "normalize_email refuses its own output", email);
  fuzz::require(again == email, "normalize_email is not idempotent", email + " -> " + again);
  fuzz::accepts([&] { identity::email_mailbox(email); });
  return 0;
}
