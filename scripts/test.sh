#!/usr/bin/env bash
# Runs every test in one build that is both strict and checked: warnings are errors, and the
# tests run under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# -O1 keeps the sanitized build fast to compile on small machines; -g1 gives line numbers.
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DKILN_WERROR=ON -DKILN_SANITIZE=ON
cmake --build build-test -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-test --output-on-failure -j "$jobs"
