#!/usr/bin/env bash
# ThreadSanitizer run of kiln's concurrency, in build-tsan/:
#  1. runtime_tests (the runtime linked into the test, the hand-written fake model, and the two
#     fake model libraries the kiln.hpp tests dlopen), built with -fsanitize=thread; all of them
#     run, the Concurrency* cases included.
#  2. compiled models: `kiln compile` of mlp and op_act with KILN_CXX="c++ -fsanitize=thread", so
#     the runtime code inside each model library is instrumented too, driven from many threads
#     by tests/reliability/tsan_driver.cpp (runs, bad calls, introspection, constant updates).
#
# libgomp is not built with TSan, so its barriers look like races: every runner gets one
# intra-op thread (num_threads == num_runners, OMP_NUM_THREADS=1) and the OpenMP parallel
# regions never fork.
#
# The compiler itself needs no instrumentation: KILN_BINARY names a kiln to use (default: the
# first of build/kiln and build-tsan/host/kiln that exists; else the latter is built, Release).
#
# usage: scripts/tsan.sh            (JOBS=N for parallel builds, 2 by default)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_TSAN_DIR:-$root/build-tsan}
jobs=${JOBS:-2}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
start=$(date +%s)

echo "== runtime_tests with -fsanitize=thread ($build)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE= "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
ninja -C "$build" -j "$jobs" runtime_tests
# oneDNN and libgomp are not instrumented: the fork/join of their parallel regions is invisible
# to TSan, so a buffer written before a region and touched inside it looks like a race. Only
# reports with a frame inside those two libraries, or in the dynamic loader's TLS management of the
# threads libgomp starts, are suppressed.
mkdir -p "$build"
printf 'race:libdnnl.so\nrace:libgomp.so\nrace:ld-linux-x86-64.so\n' >"$build/tsan.supp"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$build/tsan.supp ${TSAN_OPTIONS:-}"
export OMP_NUM_THREADS=1
"$build/tests/runtime_tests" --gtest_brief=1

echo "== compiled models with -fsanitize=thread"
kiln=${KILN_BINARY:-}
if [[ -z "$kiln" ]]; then
  for candidate in "$root/build/kiln" "$build/host/kiln"; do
    if [[ -x "$candidate" ]]; then kiln=$candidate; break; fi
  done
fi
if [[ -z "$kiln" ]]; then
  cmake -S "$root" -B "$build/host" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
    -DKILN_BUILD_TESTS=OFF >"$build/host.log" 2>&1 || { cat "$build/host.log"; exit 1; }
  ninja -C "$build/host" -j "$jobs" kiln
  kiln=$build/host/kiln
fi
models=()
for m in mlp op_act; do
  so=$build/models/$m.so
  KILN_CXX="c++ -fsanitize=thread" "$kiln" compile "$root/tests/fixtures/torch2.15/$m/model.pt2" \
    -o "$so" --cache-dir "$build/kiln-cache" --jobs "$jobs"
  # KILN_CXX is part of every object's cache key, so the runtime is compiled (instrumented)
  # too, never taken from the objects kiln carries prebuilt.
  [[ $(nm -D "$so" | grep -c __tsan_) -gt 0 ]] || { echo "$so is not instrumented"; exit 1; }
  models+=("$so")
done
c++ -std=c++20 -fsanitize=thread -O1 -g -Wall -Wextra -Werror -I "$root/include" \
  "$root/tests/reliability/tsan_driver.cpp" -o "$build/tsan_driver" -ldl -pthread
"$build/tsan_driver" "${models[@]}"

echo "== ThreadSanitizer: clean ($(( $(date +%s) - start )) s)"
