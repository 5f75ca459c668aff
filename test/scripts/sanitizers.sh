#!/usr/bin/env bash
# test/scripts/sanitizers.sh: the GoogleTest unit tests of the pure core
# (test/unit/*.cpp and src/core/*.cpp, as make unit-tests builds them) pass
# under AddressSanitizer (with leak detection) and UndefinedBehaviorSanitizer,
# plus libstdc++'s assertions (_GLIBCXX_ASSERTIONS: bounds of [] on strings,
# string_views and vectors): no test fails and no sanitizer reports anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
cd "$root"

fail() { echo "sanitizers: FAIL: $*" >&2; exit 1; }

# g++ as make unit-tests uses (test/scripts/clang_build.sh builds them with clang++).
cxx=g++
# shellcheck disable=SC2054  # the commas are part of -fsanitize=
flags=(-std=c++17 -O0 -g -Wall -Wextra -Isrc -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
srcs=(src/core/*.cpp test/unit/*.cpp)
[[ -e ${srcs[0]} ]] || fail "no sources in src/core"
command -v "$cxx" >/dev/null || fail "$cxx not found (bash scripts/ensure-deps)"
work=
make_tmpdir work

# Compile each source on its own, one per CPU, then link as make unit-tests does;
# -O0, not make's -O1: the table-driven tests compile 2-3 times faster, and the
# sanitizers need no optimization.
# shellcheck disable=SC2016  # sh -c expands them
if ! printf '%s\n' "${srcs[@]}" |
  xargs -P "$(nproc)" -I{} sh -c 'cxx=$0 work=$1 src=$2; shift 2; exec "$cxx" "$@" -c "$src" -o "$work/$(echo "$src" | tr / _).o"' \
    "$cxx" "$work" {} "${flags[@]}" >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  fail "compiling the unit tests with sanitizers failed"
fi
read -ra icu_libs <<<"$(pkg-config --libs icu-uc)"
"$cxx" "${flags[@]}" -o "$work/unit_tests" "$work"/*.o -lgtest -lgtest_main -lphonenumber -lidn2 "${icu_libs[@]}" -pthread \
  >>"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; fail "linking the unit tests failed"; }
echo "ok: built ${#srcs[@]} sources with $cxx -fsanitize=address,undefined"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
"$work/unit_tests" --gtest_brief=1 >"$work/unit.log" 2>&1
rc=$?
set -e
report='runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|Assertion .* failed'
if grep -aqE "$report" "$work/unit.log"; then
  grep -a -m 1 -B 2 -A 40 -E "$report" "$work/unit.log" >&2
  fail "a sanitizer reported an error (exit $rc)"
fi
passed=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$work/unit.log" | tail -n 1)
if [[ $rc -ne 0 || -z $passed ]] || grep -aq '^\[  FAILED  \]' "$work/unit.log"; then
  tail -n 40 "$work/unit.log" >&2
  fail "unit tests failed under sanitizers (exit $rc)"
fi
echo "ok: $passed unit tests pass, no ASan, LSan or UBSan report"
echo "sanitizers: PASS"
