#!/usr/bin/env bash
# test/scripts/fuzz.sh: hostile input cannot break the pure core. The libFuzzer
# targets of test/fuzz (email, phone and other identifier normalizers,
# identifiers-JSON reader, segment rule compiler) build with ASan and UBSan;
# every committed seed in test/fuzz/corpus/<target>/ runs clean; and a bounded
# fuzzing run of each target, from a copy of its corpus, finds no crash, leak,
# undefined behaviour, failed invariant or exception other than IdentityError
# 22023.
#
# Longer runs by hand (the committed corpus is never modified):
#   FUZZ_SECONDS=600 bash test/scripts/fuzz.sh                 # 10 minutes per target
#   FUZZ_SECONDS=3600 FUZZ_TARGETS=segment_rule FUZZ_KEEP=/tmp/fuzz bash test/scripts/fuzz.sh
# FUZZ_TARGETS picks targets (space-separated), FUZZ_JOBS how many run at once
# (default: the CPUs), FUZZ_KEEP=DIR keeps the binaries, the grown corpora and
# the logs in DIR. A crash's input is kept in a directory the failure names.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
source "$root/scripts/versions.sh"
cd "$root"

fail() { echo "fuzz: FAIL: $*" >&2; exit 1; }

seconds=${FUZZ_SECONDS:-15}
read -ra targets <<<"${FUZZ_TARGETS:-email phone identifier identifiers_json segment_rule}"
jobs=${FUZZ_JOBS:-$(nproc)}
clang=$(clang_major) # CLANG_VERSION picks another
cxx=clang++-$clang
# shellcheck disable=SC2054  # the commas are part of -fsanitize=
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc)
# The whole core (src/core/*.cpp), by name.
core=()
for src in src/core/*.cpp; do core+=("$(basename "$src" .cpp)"); done
read -ra icu_libs <<<"$(pkg-config --libs icu-uc)"
# Per-target libFuzzer options: the longest input and a dictionary.
declare -A options=(
  [email]="-max_len=512"
  [phone]="-max_len=512"
  [identifier]="-max_len=1024"
  [identifiers_json]="-max_len=4096 -dict=test/fuzz/json.dict"
  [segment_rule]="-max_len=8192 -dict=test/fuzz/json.dict"
)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

command -v "$cxx" >/dev/null || fail "$cxx not found (bash scripts/ensure-deps installs clang-$clang and libclang-rt-$clang-dev)"
if [[ -n ${FUZZ_KEEP:-} ]]; then
  work=$FUZZ_KEEP
  mkdir -p "$work"
else
  make_tmpdir work
fi
mkdir -p "$work/obj" "$work/bin" "$work/log"

# build: the core objects, then one binary per target, $jobs compiles at once.
build_log="$work/log/build"
if ! printf '%s\n' "${core[@]}" |
  xargs -P "$jobs" -I{} "$cxx" "${flags[@]}" -c "src/core/{}.cpp" -o "$work/obj/{}.o" >"$build_log" 2>&1 ||
  ! printf '%s\n' "${targets[@]}" |
  xargs -P "$jobs" -I{} "$cxx" "${flags[@]}" "test/fuzz/{}_fuzzer.cpp" "$work/obj/"*.o \
    -lphonenumber -lidn2 "${icu_libs[@]}" -o "$work/bin/{}" >>"$build_log" 2>&1; then
  tail -n 30 "$build_log" >&2
  fail "building the fuzz targets failed (libFuzzer comes from libclang-rt-$clang-dev: bash scripts/ensure-deps)"
fi
echo "ok: built ${targets[*]} with $cxx, ASan and UBSan"

# report TARGET LOG WHAT: shows what the fuzzer found, keeps the input, fails.
report() {
  local t=$1 log=$2 keep
  keep=$(mktemp -d "${TMPDIR:-/tmp}/contact_identity-fuzz-$t.XXXXXX")
  cp "$log" "$keep/"
  cp "$work/crash/$t-"* "$keep/" 2>/dev/null || true
  grep -a -m 1 -A 40 -E 'FUZZ FINDING|ERROR: |runtime error:|==[0-9]+==' "$log" >&2 || tail -n 40 "$log" >&2
  echo "fuzz: the log and the crashing input are kept in $keep" >&2
  if [[ -n ${FUZZ_KEEP:-} ]]; then
    echo "fuzz: rerun one input with: $work/bin/$t $keep/<crash file>" >&2
  else
    echo "fuzz: to rerun one input, build with FUZZ_KEEP=DIR FUZZ_SECONDS=1, then: DIR/bin/$t $keep/<crash file>" >&2
  fi
  fail "$t: $3"
}

# The committed seeds alone: each must run clean.
mkdir -p "$work/crash"
for t in "${targets[@]}"; do
  n=$(find "test/fuzz/corpus/$t" -type f | wc -l)
  [[ $n -gt 0 ]] || fail "$t: no seeds in test/fuzz/corpus/$t"
  # shellcheck disable=SC2086
  "$work/bin/$t" -runs=0 ${options[$t]} -artifact_prefix="$work/crash/$t-" "test/fuzz/corpus/$t" \
    >"$work/log/$t.seeds" 2>&1 || report "$t" "$work/log/$t.seeds" "a committed seed fails"
  echo "ok: $t: $n committed seeds run clean"
done

# The bounded run: every target fuzzes a copy of its corpus for $seconds s, $jobs at once.
fuzz() {
  local t=$1
  rm -rf "$work/corpus/$t"
  mkdir -p "$work/corpus"
  cp -R "test/fuzz/corpus/$t" "$work/corpus/$t"
  set +e
  # shellcheck disable=SC2086
  timeout $((seconds * 2 + 60)) "$work/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 ${options[$t]} -artifact_prefix="$work/crash/$t-" "$work/corpus/$t" \
    >"$work/log/$t.fuzz" 2>&1
  echo $? >"$work/log/$t.rc"
}
running=0
for t in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then wait -n || true; running=$((running - 1)); fi
  fuzz "$t" &
  running=$((running + 1))
done
wait
for t in "${targets[@]}"; do
  log="$work/log/$t.fuzz" rc=$(cat "$work/log/$t.rc")
  [[ $rc -eq 0 ]] || report "$t" "$log" "fuzzing found a failure (exit $rc)"
  ! grep -aq 'runtime error:' "$log" || report "$t" "$log" "UBSan reported undefined behaviour"
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log")
  [[ ${runs:-0} -gt 0 ]] || report "$t" "$log" "the fuzzer ran no input"
  echo "ok: $t: fuzzed ${seconds}s, $runs inputs, corpus $(find "test/fuzz/corpus/$t" -type f | wc -l) -> $(find "$work/corpus/$t" -type f | wc -l) files, no finding"
done
echo "fuzz: PASS"
