// fuzz_common.h: what every libFuzzer target of the pure core shares.
//
// The contract under test: for any input a core entry point either returns
// or throws identity::IdentityError with SQLSTATE 22023 and a message. Any
// other exception, a failed invariant, a crash, a leak or undefined
// behaviour (ASan/UBSan) is a finding; findings abort so that libFuzzer
// saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "core/identity_error.h"
#include "core/unicode.h"
#include "core/utf8.h"

namespace fuzz {

// Reports a finding on stderr and aborts (libFuzzer writes the crash file).
[[noreturn]] inline void finding(std::string_view what, std::string_view detail = {}) {
  fprintf(stderr, "\nFUZZ FINDING: %.*s%s%.*s\n", static_cast<int>(what.size()), what.data(),
          detail.empty() ? "" : ": ", static_cast<int>(detail.size()), detail.data());
  abort();
}

// Checks an invariant of an accepted input.
inline void require(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) finding(what, detail);
}

// Runs f; an IdentityError 22023 is the expected refusal, anything else escaping is a finding.
// Returns true when f returned normally.
template <class F>
bool accepts(F &&f) {
  try {
    f();
    return true;
  } catch (const identity::IdentityError &e) {
    require(e.sqlstate() == identity::sqlstate::kInvalidParameterValue, "IdentityError with SQLSTATE other than 22023",
            e.sqlstate());
    require(e.what()[0] != '\0', "IdentityError with an empty message");
    return false;
  } catch (const std::exception &e) {
    finding("unexpected std::exception", e.what());
  } catch (...) {
    finding("unexpected exception of a non-std type");
  }
}

// True when s is valid UTF-8 without control (Cc) or format (Cf)
// characters: what every accepted identifier must be.
inline bool printable(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp;
    size_t len = identity::decode_utf8(s, pos, &cp);
    if (len == 0 || identity::is_control(cp) || identity::is_format_char(cp)) return false;
    pos += len;
  }
  return true;
}

}  // namespace fuzz
