#!/usr/bin/env bash
# Builds the fuzzers of tests/fuzz with clang (libFuzzer + ASan + UBSan) and runs each for a
# number of seconds, starting from the committed seed corpus. Exits non-zero on any crash,
# sanitizer report, leak, timeout or out-of-memory; prints the executions of every fuzzer.
#
#   scripts/fuzz.sh                 # every fuzzer, 60 s each
#   scripts/fuzz.sh 600 pt2 zip     # the named fuzzers, 600 s each
#
# Environment: KILN_FUZZ_BUILD (build dir, default build-fuzz), KILN_FUZZ_JOBS (fuzzers run at
# once, default 1). Seeds: tests/fuzz/corpus/<target> (from the fixtures) and
# tests/fuzz/found/<target> (what earlier runs found, fixed crashes included); both are only
# read. New inputs go to $KILN_FUZZ_BUILD/corpus/<target>, crash inputs to
# $KILN_FUZZ_BUILD/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all_targets=(pt2 zip deserialize npy sym_parse)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
build=${KILN_FUZZ_BUILD:-build-fuzz}
jobs=${KILN_FUZZ_JOBS:-1}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2; }
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || {
    echo "unknown fuzz target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  }
done

# clang 14 and its libFuzzer runtime (libclang-rt-14-dev), as scripts/setup.sh installs packages.
packages=(clang libclang-rt-14-dev cmake ninja-build nlohmann-json3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S tests/fuzz -B "$build" -G Ninja "${launcher[@]}" >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

# Per target: dictionary and the longest input libFuzzer may build.
declare -A dict=([pt2]=zip [zip]=zip [deserialize]=json [npy]=npy [sym_parse]=sym)
declare -A max_len=([pt2]=131072 [zip]=65536 [deserialize]=131072 [npy]=16384 [sym_parse]=4096)

mkdir -p "$build/artifacts" "$build/logs"
run_one() {
  local t=$1
  local seeds=("tests/fuzz/corpus/$t")
  [[ -d tests/fuzz/found/$t ]] && seeds+=("tests/fuzz/found/$t")
  mkdir -p "$build/corpus/$t"
  # -timeout: one input taking over 10 s is a hang. -rss/-malloc_limit: a huge allocation is a
  # finding, not an answer to bad input.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len="${max_len[$t]}" -dict="tests/fuzz/dict/${dict[$t]}.dict" \
    -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 -print_funcs=0 \
    "$build/corpus/$t" "${seeds[@]}" >"$build/logs/$t.log" 2>&1
}

for t in "${targets[@]}"; do
  echo "fuzzing $t for ${seconds}s (log: $build/logs/$t.log)"
  rm -f "$build/logs/$t.rc"
  (if run_one "$t"; then echo 0; else echo $?; fi >"$build/logs/$t.rc") &
  while (($(jobs -rp | wc -l) >= jobs)); do
    wait -n || true
  done
done
wait

failed=0
printf '\n%-12s %8s %12s %10s %8s  %s\n' target seconds executions exec/s corpus status
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo missing)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  dirs=("$build/corpus/$t" "tests/fuzz/corpus/$t")
  [[ -d tests/fuzz/found/$t ]] && dirs+=("tests/fuzz/found/$t")
  corpus=$(find "${dirs[@]}" -type f | wc -l)
  status=ok
  [[ $rc == 0 ]] || status="FAILED (exit $rc)"
  printf '%-12s %8s %12s %10s %8s  %s\n' "$t" "${secs:-?}" "${execs:-?}" "${rate:-?}" "$corpus" \
    "$status"
  if [[ $rc != 0 ]]; then
    failed=1
    echo "---- $t: end of $log" >&2
    tail -n 60 "$log" >&2
  fi
done
if ((failed)); then
  echo "fuzzing found a problem; reproduce with: $build/fuzz_<target> $build/artifacts/<file>" >&2
  exit 1
fi
