#!/usr/bin/env bash
# test/scripts/clang_build.sh: everything builds with clang++ too, without a
# warning. In a copy of the tree, builds the module with the PGXS Makefile and
# the unit tests (make unit-tests), both with CXX=$CLANGXX (default the
# release's clang, clang++-14 on Debian 12 and clang++-19 on Debian 13, which
# scripts/ensure-deps installs: scripts/versions.sh), checks that every file is
# compiled with -Wall -Wextra and that no warning shows, and runs the unit
# tests. The g++ builds are checked by test/run itself and cmake_build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
source "$root/scripts/versions.sh"

fail() { echo "clang_build: FAIL: $*" >&2; exit 1; }
cxx=${CLANGXX:-clang++-$(clang_major)}
command -v "$cxx" >/dev/null || fail "$cxx not found (bash scripts/ensure-deps installs clang-$(clang_major))"

work=
make_tmpdir work
copy_tree "$root" "$work/tree"
# A tree that is not a git checkout (test/run-pg17's copy) brings the g++
# unit test binary along, which make would take as up to date.
rm -f "$work/tree/test/unit/unit_tests"

# build NAME LOG MAKE-ARGS...: runs make in the copy with CXX=$cxx; fails on a
# failed build, a compile command without -Wall -Wextra, or a warning.
build() {
  local name=$1 log=$2 n
  shift 2
  make -C "$work/tree" --no-print-directory CXX="$cxx" "$@" >"$log" 2>&1 ||
    { tail -n 40 "$log" >&2; fail "$name: the build with $cxx failed"; }
  local commands=0 cmd
  while IFS= read -r cmd; do
    [[ $cmd == "$cxx "* ]] || continue
    [[ " $cmd " == *" -Wall "* && " $cmd " == *" -Wextra "* ]] || fail "$name: compiled without -Wall -Wextra: $cmd"
    commands=$((commands + 1))
  done <"$log"
  [[ $commands -gt 0 ]] || fail "$name: no command of $cxx in the log"
  n=$(grep -c 'warning:' "$log" || true)
  if [[ $n -ne 0 ]]; then
    grep -m 20 -A 3 'warning:' "$log" >&2
    fail "$name: $n warnings with $cxx"
  fi
  echo "ok: $name built with $cxx, 0 warnings"
}

build "the module (PGXS)" "$work/module.log" -j2
[[ -f "$work/tree/contact_identity.so" ]] || fail "no contact_identity.so"
build "the unit tests" "$work/unit.log" test/unit/unit_tests
set +e
"$work/tree/test/unit/unit_tests" --gtest_brief=1 >"$work/run.log" 2>&1
rc=$?
set -e
passed=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$work/run.log" | tail -n 1)
if [[ $rc -ne 0 || -z $passed ]]; then
  tail -n 40 "$work/run.log" >&2
  fail "the unit tests built with $cxx failed (exit $rc)"
fi
echo "ok: $passed unit tests pass, built with $cxx"
echo "clang_build: PASS"
