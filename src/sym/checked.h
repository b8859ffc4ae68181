#pragma once

// Overflow-checked int64 arithmetic with Python's rounding rules. Every function throws
// kiln::Error instead of invoking undefined behaviour.

#include <cstdint>

#include "util/error.h"

namespace kiln::sym::detail {

inline int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw error("integer overflow: ", a, " + ", b);
  return r;
}

inline int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) throw error("integer overflow: ", a, " - ", b);
  return r;
}

inline int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw error("integer overflow: ", a, " * ", b);
  return r;
}

inline int64_t checked_neg(int64_t a) {
  return checked_sub(0, a);
}

// Python's a // b: rounds toward negative infinity.
inline int64_t py_floordiv(int64_t a, int64_t b) {
  if (b == 0) throw error("division by zero: ", a, " // 0");
  if (b == -1) return checked_neg(a);  // INT64_MIN / -1 overflows
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// Python's a % b: the result has the sign of b.
inline int64_t py_mod(int64_t a, int64_t b) {
  if (b == 0) throw error("modulo by zero: ", a, " % 0");
  if (b == -1) return 0;  // INT64_MIN % -1 is undefined in C++
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// gcd of magnitudes, defined for INT64_MIN (unlike std::gcd on int64_t).
inline uint64_t gcd_abs(int64_t a, int64_t b) {
  uint64_t x = a < 0 ? 0 - static_cast<uint64_t>(a) : static_cast<uint64_t>(a);
  uint64_t y = b < 0 ? 0 - static_cast<uint64_t>(b) : static_cast<uint64_t>(b);
  while (y != 0) {
    uint64_t t = x % y;
    x = y;
    y = t;
  }
  return x;
}

}  // namespace kiln::sym::detail
