#!/usr/bin/env bash
# test/scripts/cmake_build.sh: the CMake build gives the module PGXS gives. In a
# copy of the tree, builds with CMake (default build type) and with the PGXS
# Makefile; checks: both compile every file with -Wall -Wextra and give no
# warning (the CMake build includes the unit tests); every module source gets
# the same compiler flags in both, PostgreSQL's -O2 among them; both .so export
# the same dynamic symbols, Pg_magic_func and each PG_FUNCTION_INFO_V1 entry
# point with its pg_finfo_ among them; every object holds the same machine
# code in both (so the two builds cannot differ in speed). Then installs the CMake build into a
# private copy of the PostgreSQL install (the system's is left alone) and runs
# the regression and isolation suites (test/scripts/run-regress) against it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"

fail() { echo "cmake_build: FAIL: $*" >&2; exit 1; }
# failed WHAT: a check failed; the others still run, the script fails at the end.
failures=()
failed() { echo "cmake_build: FAIL: $*" >&2; failures+=("$*"); }
command -v cmake >/dev/null || fail "cmake not found (bash scripts/ensure-deps)"

work=
make_tmpdir work
tree=$work/tree
copy_tree "$root" "$tree"
pgbin=$(private_pg "$work/pg") || fail "no private copy of PostgreSQL"
export PATH=$pgbin:$PATH
echo "ok: private PostgreSQL in $work/pg ($(pg_config --version))"

# warnings NAME LOG: a failure when the build log LOG shows a compiler warning.
warnings() {
  local n
  n=$(grep -c 'warning:' "$2" || true)
  if [[ $n -ne 0 ]]; then
    grep -m 10 -A 3 'warning:' "$2" >&2
    echo "the warnings by file:" >&2
    grep 'warning:' "$2" | sed -E 's/:[0-9]+:[0-9]+: warning:.*\[(-W[^]]*)\]$/ \1/' | sort | uniq -c | sort -rn >&2
    failed "the $1 build gave $n warnings"
  else
    echo "ok: the $1 build gave 0 warnings"
  fi
}

# The PGXS build; make prints each compile command, which the checks read.
(cd "$tree" && make -j2 >"$work/pgxs.log" 2>&1) || { tail -n 40 "$work/pgxs.log" >&2; fail "the PGXS build failed"; }
# The CMake build, as the README says: no build type given.
{ cmake -S "$tree" -B "$tree/build" && cmake --build "$tree/build" -j2; } >"$work/cmake.log" 2>&1 ||
  { tail -n 40 "$work/cmake.log" >&2; fail "the CMake build failed"; }
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$tree/build/CMakeCache.txt" || fail "the CMake build type is not Release by default"
echo "ok: built with PGXS and with CMake (Release)"

# flags FILE COMMAND: the compiler flags of COMMAND that shape the object
# (-W, -f, -O, -g, -D, -std, -m), sorted, one a line; include paths and file
# names are left out.
flags() {
  tr ' ' '\n' <<<"$1" | grep -E '^-(W|f|O|g$|D|std=|m)' | sort -u
}
# The CMake command of each source, from compile_commands.json (one key a line).
cmake_commands=$work/cmake_commands
sed -nE 's/^ *"command": "(.*)",?$/\1/p' "$tree/build/compile_commands.json" >"$cmake_commands"
compared=0
for src in "$tree"/src/core/*.cpp "$tree"/src/pg/*.cpp; do
  rel=${src#"$tree/"}
  pgxs_cmd=$(grep -E -- "-c -o ${rel%.cpp}\.o $rel\$" "$work/pgxs.log") || fail "no PGXS compile command for $rel"
  cmake_cmd=$(grep -F -- "contact_identity.dir/$rel.o -c $src" "$cmake_commands") || fail "no CMake compile command for $rel"
  for cmd in "$pgxs_cmd" "$cmake_cmd"; do
    [[ " $cmd " == *" -Wall "* && " $cmd " == *" -Wextra "* ]] || fail "$rel is compiled without -Wall -Wextra: $cmd"
  done
  # The last optimisation flag is the one the compiler uses.
  opt=$(tr ' ' '\n' <<<"$cmake_cmd" | grep -E '^-O' | tail -n 1)
  [[ $opt == -O2 ]] || fail "CMake compiles $rel with ${opt:-no -O flag}, not -O2: $cmake_cmd"
  if ! diff <(flags "$pgxs_cmd") <(flags "$cmake_cmd") >"$work/flags.diff"; then
    cat "$work/flags.diff" >&2
    fail "$rel: the CMake flags differ from PGXS's (< PGXS, > CMake)"
  fi
  compared=$((compared + 1))
done
grep -q 'unit_tests.dir/test/unit/.* -Wall -Wextra\|-Wall -Wextra .*unit_tests.dir/test/unit/' "$cmake_commands" ||
  fail "the CMake unit tests are not compiled with -Wall -Wextra"
echo "ok: $compared module sources compiled with the same flags by both, -O2 -Wall -Wextra"

# The machine code of each object, instructions and relocations: the same
# code in both builds makes the same figures, whatever the machine's noise.
same_code=0
for src in "$tree"/src/core/*.cpp "$tree"/src/pg/*.cpp; do
  rel=${src#"$tree/"}
  for side in pgxs cmake; do
    obj=$tree/${rel%.cpp}.o
    [[ $side == pgxs ]] || obj=$tree/build/CMakeFiles/contact_identity.dir/$rel.o
    # Without the names objdump writes after addresses (<.LC11+0x34>): they
    # hang on the lengths of strings, and __FILE__ is a relative path for
    # PGXS, an absolute one for CMake. Instructions and relocations stay.
    objdump -d -r "$obj" | tail -n +4 | sed '/^ /s/<[^>]*>//g' >"$work/$side.code" || fail "objdump failed on $obj"
  done
  if cmp -s "$work/pgxs.code" "$work/cmake.code"; then
    same_code=$((same_code + 1))
  else
    fail "$rel: the two builds compiled different machine code"
  fi
done
echo "ok: $same_code module objects hold the same machine code in both builds (objdump -d -r)"
warnings PGXS "$work/pgxs.log"
warnings "CMake (module and unit tests)" "$work/cmake.log"

# The symbols each .so defines for the dynamic linker.
nm -D --defined-only "$tree/contact_identity.so" | awk '{print $NF}' | sort -u >"$work/pgxs.syms"
nm -D --defined-only "$tree/build/contact_identity.so" | awk '{print $NF}' | sort -u >"$work/cmake.syms"
if ! diff "$work/pgxs.syms" "$work/cmake.syms" >"$work/syms.diff"; then
  head -n 40 "$work/syms.diff" >&2
  fail "the two .so export different symbols (< PGXS, > CMake)"
fi
mapfile -t entry_points < <(grep -hoE 'PG_FUNCTION_INFO_V1\( *[A-Za-z0-9_]+ *\)' "$tree"/src/pg/*.cpp |
  sed -E 's/.*\( *([A-Za-z0-9_]+) *\)/\1/' | sort -u)
[[ ${#entry_points[@]} -gt 0 ]] || fail "no PG_FUNCTION_INFO_V1 in src/pg"
for sym in Pg_magic_func "${entry_points[@]}" "${entry_points[@]/#/pg_finfo_}"; do
  grep -qxF "$sym" "$work/cmake.syms" || fail "the .so does not export $sym"
done
echo "ok: both .so export the same $(wc -l <"$work/cmake.syms") symbols, Pg_magic_func and the ${#entry_points[@]} entry points among them"

# The regression suites against the CMake build, installed into the private copy.
cmake --install "$tree/build" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "cmake --install failed"; }
installed=$(pg_config --pkglibdir)/contact_identity.so
cmp -s "$tree/build/contact_identity.so" "$installed" || fail "$installed is not the CMake build"
echo "ok: the CMake build installed into $(pg_config --pkglibdir)"
if bash "$tree/test/scripts/run-regress" >"$work/regress.log" 2>&1; then
  grep -E 'All [0-9]+ tests passed' "$work/regress.log" || failed "run-regress passed without a pg_regress summary"
else
  tail -n 80 "$work/regress.log" >&2
  failed "run-regress failed against the CMake build"
fi
[[ ${#failures[@]} -eq 0 ]] || fail "${#failures[@]} checks failed: $(printf '%s; ' "${failures[@]}")"
echo "cmake_build: PASS"
