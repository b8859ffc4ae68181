#pragma once

// Integer helpers for generated code: Expr::to_cpp() prints floor division and modulo (Python
// semantics), min and max as calls to these. Header-only and dependency-free, so generated sources can include
// it; usable in CUDA device code too.

#include <cstdint>

#if defined(__CUDACC__)
#define KILN_SYM_HOST_DEVICE __host__ __device__
#else
#define KILN_SYM_HOST_DEVICE
#endif

// a // b, rounding toward negative infinity. b must be nonzero, and (INT64_MIN, -1) overflows.
KILN_SYM_HOST_DEVICE constexpr int64_t kiln_floordiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// a % b with the sign of b (Python's %). b must be nonzero.
KILN_SYM_HOST_DEVICE constexpr int64_t kiln_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;  // INT64_MIN % -1 is undefined in C++
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// Min and max by value: std::min/std::max bind references, and the temporaries they need keep
// GCC from vectorizing a loop whose index expressions use them.
KILN_SYM_HOST_DEVICE constexpr int64_t kiln_min(int64_t a, int64_t b) {
  return a < b ? a : b;
}

KILN_SYM_HOST_DEVICE constexpr int64_t kiln_max(int64_t a, int64_t b) {
  return a > b ? a : b;
}
