#pragma once

// Helpers for the extern routine tests: typed byte buffers filled with random values, calls
// through ExternArgs, and comparisons against naive loops computed in double.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "externs.h"

namespace kiln::rt::test {

// A dense buffer of one extern dtype.
struct Buf {
  int64_t dtype = kExtFloat32;
  int64_t count = 0;
  std::vector<unsigned char> bytes;

  Buf() = default;
  Buf(int64_t dt, int64_t n)
      : dtype(dt), count(n), bytes(static_cast<size_t>(n) * ext::dtype_size(dt) + 1) {}
  double get(int64_t i) const { return ext::load_float(bytes.data(), dtype, i); }
  int64_t get_int(int64_t i) const { return ext::load_int(bytes.data(), dtype, i); }
  void set(int64_t i, double v) { ext::store_float(bytes.data(), dtype, i, v); }
  void set_int(int64_t i, int64_t v) { ext::store_int(bytes.data(), dtype, i, v); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
};

// Random values: floats uniform in [lo, hi) (rounded to the dtype), integers in [lo, hi).
inline Buf random_buf(int64_t dtype, int64_t n, std::mt19937& rng, double lo = -2, double hi = 2) {
  Buf b(dtype, n);
  std::uniform_real_distribution<double> f(lo, hi);
  for (int64_t i = 0; i < n; ++i) {
    if (ext::is_floating(dtype)) {
      b.set(i, f(rng));
    } else {
      b.set_int(i, static_cast<int64_t>(std::floor(f(rng))));
    }
  }
  return b;
}

// Fills with NaN (floats) or a pattern, so unwritten outputs show.
inline Buf poisoned(int64_t dtype, int64_t n) {
  Buf b(dtype, n);
  for (int64_t i = 0; i < n; ++i) {
    if (ext::is_floating(dtype)) {
      b.set(i, std::nan(""));
    } else {
      b.set_int(i, 0x5a);
    }
  }
  return b;
}

struct CallResult {
  bool ok = false;
  ErrorSink sink;
};

inline CallResult call(bool (*fn)(const ExternArgs&), const std::vector<const Buf*>& inputs,
                       const std::vector<Buf*>& outputs, const std::vector<int64_t>& ints,
                       const std::vector<double>& floats = {}, int threads = 2) {
  std::vector<const void*> in;
  for (const Buf* b : inputs)
    in.push_back(b->data());
  std::vector<void*> out;
  for (Buf* b : outputs)
    out.push_back(b->data());
  CallResult r;
  ExternArgs args{in.data(),     static_cast<int32_t>(in.size()),
                  out.data(),    static_cast<int32_t>(out.size()),
                  ints.data(),   static_cast<int32_t>(ints.size()),
                  floats.data(), static_cast<int32_t>(floats.size()),
                  threads,       &r.sink};
  r.ok = fn(args);
  return r;
}

// ||got - want|| / ||want|| (0 when both are zero); infinity when NaN positions differ.
inline double rel_error(const Buf& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < got.count; ++i) {
    double g = got.get(i), w = want[static_cast<size_t>(i)];
    if (std::isnan(g) != std::isnan(w)) return INFINITY;
    if (std::isnan(g)) continue;
    num += (g - w) * (g - w);
    den += w * w;
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return std::sqrt(num / den);
}

// The tolerance of a result of `dtype` computed in double and compared with a routine's.
inline double tolerance(int64_t dtype) {
  switch (dtype) {
    case kExtFloat16:
    case kExtBFloat16:
      return 1e-2;
    case kExtFloat32:
      return 1e-5;
    case kExtFloat64:
      return 1e-12;
    default:
      return 0;
  }
}

// Expects a floating result to match values computed in double.
inline void expect_close(const Buf& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(got.count), want.size()) << what;
  EXPECT_LE(rel_error(got, want), tolerance(got.dtype)) << what;
}

// Expects an integral result to equal exact values (wrapped to the dtype here).
inline void expect_ints(const Buf& got, const std::vector<int64_t>& want, const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(got.count), want.size()) << what;
  Buf w(got.dtype, got.count);
  for (int64_t i = 0; i < got.count; ++i)
    w.set_int(i, want[static_cast<size_t>(i)]);
  for (int64_t i = 0; i < got.count; ++i)
    ASSERT_EQ(got.get_int(i), w.get_int(i)) << what << " at " << i;
}

}  // namespace kiln::rt::test
