// The scalar helpers of runtime/kernel_support.h, checked against kiln's exact float format
// decoders, brute-force integer semantics and double-precision math.

#include "kernel_support.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "util/float_formats.h"

namespace kiln::testing {
namespace {

namespace kern = kiln::kern;
using ir::DType;

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}

// Floats from random bit patterns (every exponent, NaNs and subnormals included).
std::vector<float> random_bit_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v)
    x = from_bits(rng());
  return v;
}

TEST(KernelSupport, HalfToFloatIsExactForEveryBitPattern) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float got = kern::f16_to_f32(static_cast<uint16_t>(h));
    const double want = util::half_bits_to_double(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(got, want) << h;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << h;
    }
    const float bf = kern::bf16_to_f32(static_cast<uint16_t>(h));
    const double bf_want = util::bfloat16_bits_to_double(static_cast<uint16_t>(h));
    if (std::isnan(bf_want)) {
      ASSERT_TRUE(std::isnan(bf)) << h;
    } else {
      ASSERT_EQ(bf, bf_want) << h;
    }
  }
}

TEST(KernelSupport, FloatToHalfAndBFloat16RoundToNearestEven) {
  auto xs = random_bit_floats(200000, 20);
  // Values near the f16 range and precision, where rounding decides.
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> near(-70000, 70000), tiny(-1e-4f, 1e-4f);
  for (int i = 0; i < 100000; ++i)
    xs.push_back(i % 2 ? near(rng) : tiny(rng));
  for (float x : {0.0f, -0.0f, 65504.0f, 65519.996f, 65520.0f, 5.9604645e-8f, 2.9802322e-8f,
                  2.9802326e-8f, 1.0f + 0x1.0p-11f, 1.0f + 3 * 0x1.0p-11f, 1.0f + 0x1.0p-8f,
                  1.0f + 3 * 0x1.0p-8f, 3.4028235e38f}) {
    xs.push_back(x);
  }
  for (float x : xs) {
    const uint16_t h = kern::f32_to_f16(x);
    const uint16_t b = kern::f32_to_bf16(x);
    if (std::isnan(x)) {
      ASSERT_TRUE(std::isnan(kern::f16_to_f32(h))) << x;
      ASSERT_TRUE(std::isnan(kern::bf16_to_f32(b))) << x;
      continue;
    }
    ASSERT_EQ(h, util::double_to_half_bits(util::round_to_float_format(DType::kFloat16, x))) << x;
    ASSERT_EQ(b, util::double_to_bfloat16_bits(util::round_to_float_format(DType::kBFloat16, x)))
        << x;
    ASSERT_EQ(kern::round_f16(x), static_cast<float>(util::half_bits_to_double(h))) << x;
  }
}

TEST(KernelSupport, IntegerDivisionMatchesPythonForEveryInt8Pair) {
  for (int a = -128; a <= 127; ++a) {
    for (int b = -128; b <= 127; ++b) {
      const auto x = static_cast<int8_t>(a), y = static_cast<int8_t>(b);
      if (b == 0) {
        // Never traps; the kernel fails before using the value.
        EXPECT_EQ(kern::floordiv(x, y), 0);
        EXPECT_EQ(kern::mod(x, y), 0);
        continue;
      }
      // Python semantics in wide arithmetic, then wrapped to int8.
      int q = a / b;
      if (a % b != 0 && ((a < 0) != (b < 0))) --q;
      const int r = a - q * b;
      ASSERT_EQ(kern::floordiv(x, y), static_cast<int8_t>(q)) << a << " // " << b;
      ASSERT_EQ(kern::mod(x, y), static_cast<int8_t>(r)) << a << " % " << b;
      ASSERT_EQ(kern::fmod(x, y), static_cast<int8_t>(a % b)) << a << " fmod " << b;
      ASSERT_EQ(kern::div_trunc(x, y), static_cast<int8_t>(a / b)) << a << " / " << b;
      ASSERT_EQ(kern::add(x, y), static_cast<int8_t>(a + b));
      ASSERT_EQ(kern::sub(x, y), static_cast<int8_t>(a - b));
      ASSERT_EQ(kern::mul(x, y), static_cast<int8_t>(a * b));
    }
  }
  EXPECT_EQ(kern::floordiv<int64_t>(INT64_MIN, -1), INT64_MIN);
  EXPECT_EQ(kern::mod<int64_t>(INT64_MIN, -1), 0);
  EXPECT_EQ(kern::mul<int64_t>(INT64_MAX, 2), -2);
  EXPECT_EQ(kern::floordiv<uint8_t>(200, 7), 28);
  EXPECT_EQ(kern::mul<uint16_t>(65535, 65535), 1);
}

TEST(KernelSupport, FloatFloorDivisionAndModuloFollowPython) {
  EXPECT_EQ(kern::floordiv(7.5f, 2.0f), 3.0f);
  EXPECT_EQ(kern::floordiv(-7.5f, 2.0f), -4.0f);
  EXPECT_EQ(kern::floordiv(7.5f, -2.0f), -4.0f);
  EXPECT_TRUE(std::signbit(kern::floordiv(-0.0f, 3.0f)));
  EXPECT_EQ(kern::floordiv(1.0f, 0.0f), INFINITY);
  EXPECT_TRUE(std::isnan(kern::floordiv(0.0f, 0.0f)));
  EXPECT_EQ(kern::mod(-7.5f, 2.0f), 0.5f);
  EXPECT_EQ(kern::mod(7.5f, -2.0f), -0.5f);
  EXPECT_EQ(kern::mod(-5.0f, INFINITY), INFINITY);  // as Python: -5 % inf == inf
  std::mt19937 rng(22);
  std::uniform_real_distribution<double> dist(-1000, 1000);
  for (int i = 0; i < 20000; ++i) {
    const double a = dist(rng), b = dist(rng) / 7;
    const double q = kern::floordiv(a, b), m = kern::mod(a, b);
    ASSERT_EQ(q, std::floor(q)) << a << " // " << b;
    ASSERT_NEAR(q * b + m, a, 1e-9 * std::abs(a) + 1e-9) << a << ", " << b;
    ASSERT_TRUE(m == 0 || std::signbit(m) == std::signbit(b)) << a << " % " << b;
    ASSERT_LT(std::abs(m), std::abs(b)) << a << " % " << b;
  }
}

TEST(KernelSupport, ShiftsPowersAndSigns) {
  EXPECT_EQ(kern::shl<int8_t>(1, 7), -128);
  EXPECT_EQ(kern::shl<int8_t>(1, 8), 0);
  EXPECT_EQ(kern::shl<int8_t>(5, -1), 0);
  EXPECT_EQ(kern::shr<int8_t>(-128, 7), -1);
  EXPECT_EQ(kern::shr<int8_t>(-128, 100), -1);
  EXPECT_EQ(kern::shr<int8_t>(64, 100), 0);
  EXPECT_EQ(kern::shr<uint8_t>(200, 8), 0);
  EXPECT_EQ(kern::shl<int64_t>(3, 62), static_cast<int64_t>(0xC000000000000000ull));
  EXPECT_EQ(kern::pow<int32_t>(2, 10), 1024);
  EXPECT_EQ(kern::pow<int32_t>(-1, -3), -1);
  EXPECT_EQ(kern::pow<int32_t>(-1, -4), 1);
  EXPECT_EQ(kern::pow<int32_t>(2, -1), 0);
  uint64_t wrapped = 1;
  for (int i = 0; i < 45; ++i)
    wrapped *= 3;
  EXPECT_EQ(kern::pow<int64_t>(3, 45), static_cast<int64_t>(wrapped));
  EXPECT_EQ(kern::sign(-2.5f), -1.0f);
  EXPECT_EQ(kern::sign(0.0f), 0.0f);
  EXPECT_EQ(kern::sign(std::nanf("")), 0.0f);
  EXPECT_EQ(kern::sign<int16_t>(-7), -1);
  EXPECT_EQ(kern::sign<uint8_t>(7), 1);
  EXPECT_TRUE(std::isnan(kern::maximum(1.0f, std::nanf(""))));
  EXPECT_TRUE(std::isnan(kern::minimum(std::nanf(""), 1.0f)));
  EXPECT_EQ(kern::maximum(-3, 2), 2);
  EXPECT_EQ(kern::round_half_even(2.5f), 2.0f);
  EXPECT_EQ(kern::round_half_even(3.5f), 4.0f);
  EXPECT_EQ(kern::round_half_even(-2.5), -2.0);
  EXPECT_TRUE(kern::isnan(std::nan("")) && !kern::isnan(3) && kern::isinf(-INFINITY));
  EXPECT_TRUE(kern::isfinite(7) && !kern::isfinite(INFINITY) && kern::signbit(-0.0));
}

TEST(KernelSupport, FloorCeilTruncMatchCmath) {
  auto xs = random_bit_floats(300000, 23);
  std::mt19937 rng(24);
  std::uniform_real_distribution<float> dist(-5, 5);
  for (int i = 0; i < 100000; ++i)
    xs.push_back(dist(rng));
  for (float x : {-0.0f, 0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 8388607.5f, -8388607.5f})
    xs.push_back(x);
  for (float x : xs) {
    for (auto [got, want] :
         {std::pair{kern::floor(x), std::floor(x)}, std::pair{kern::ceil(x), std::ceil(x)},
          std::pair{kern::trunc(x), std::trunc(x)}}) {
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << x;
      } else {
        ASSERT_EQ(got, want) << x;
        ASSERT_EQ(std::signbit(got), std::signbit(want)) << x;
      }
    }
  }
}

TEST(KernelSupport, FloatToIntCastsTruncateLikeX86) {
  EXPECT_EQ(kern::cast<int64_t>(-1.9f), -1);
  EXPECT_EQ(kern::cast<int64_t>(std::nanf("")), INT64_MIN);
  EXPECT_EQ(kern::cast<int64_t>(1e19), INT64_MIN);
  EXPECT_EQ(kern::cast<int32_t>(3e9f), INT32_MIN);
  EXPECT_EQ(kern::cast<uint8_t>(-1.0f), 255);
  EXPECT_EQ(kern::cast<int8_t>(300.0f), 44);
  EXPECT_EQ(kern::cast<uint8_t>(255.9), 255);
  EXPECT_TRUE(kern::cast<bool>(std::nanf("")));
  EXPECT_FALSE(kern::cast<bool>(-0.0f));
  EXPECT_TRUE(kern::cast<bool>(int64_t{-4}));
  EXPECT_EQ(kern::cast<float>(int64_t{16777217}), 16777216.0f);
}

// ulps between a float result and the exact value (as a double).
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e9;
  const float w = static_cast<float>(want);
  if (std::isinf(w)) return got == w ? 0 : 1e9;
  const double ulp = std::max<double>(std::nextafter(std::fabs(w), INFINITY) - std::fabs(w),
                                      std::numeric_limits<float>::denorm_min());
  return std::fabs(got - want) / ulp;
}

TEST(KernelSupport, VectorizableExpAndTanhStayWithinTwoUlps) {
  auto xs = random_bit_floats(400000, 25);
  std::mt19937 rng(26);
  std::uniform_real_distribution<float> dist(-110, 100);
  for (int i = 0; i < 400000; ++i)
    xs.push_back(dist(rng));
  for (float x : {0.0f, -0.0f, 88.72283172607421875f, 88.72283935546875f, -87.3f, -103.9f, -104.5f,
                  0.625f, -0.625f, 1e-30f, INFINITY, -INFINITY}) {
    xs.push_back(x);
  }
  double worst_exp = 0, worst_tanh = 0, worst_sigmoid = 0;
  for (float x : xs) {
    worst_exp = std::max(worst_exp, ulp_error(kern::exp(x), std::exp(static_cast<double>(x))));
    worst_tanh = std::max(worst_tanh, ulp_error(kern::tanh(x), std::tanh(static_cast<double>(x))));
    // sigmoid is 1 / (1 + exp(-x)) in float, as PyTorch computes it: 0 once exp(-x) overflows.
    if (x > -85) {
      worst_sigmoid = std::max(
          worst_sigmoid, ulp_error(kern::sigmoid(x), 1 / (1 + std::exp(-static_cast<double>(x)))));
    } else if (x < -88.8f) {
      ASSERT_EQ(kern::sigmoid(x), 0.0f) << x;
    }
  }
  EXPECT_LE(worst_exp, 1.0);
  EXPECT_LE(worst_tanh, 2.0);
  EXPECT_LE(worst_sigmoid, 3.0);
  EXPECT_TRUE(std::signbit(kern::tanh(-0.0f)));
  EXPECT_TRUE(std::isnan(kern::exp(std::nanf(""))) && std::isnan(kern::tanh(std::nanf(""))));
}

// erf within 3 ulp everywhere (tiny inputs keep their precision); PyTorch's own vectorized erf
// (Abramowitz & Stegun 7.1.26) is within 1.5e-7 absolute.
TEST(KernelSupport, VectorizableErfIsAccurate) {
  auto xs = random_bit_floats(200000, 27);
  std::mt19937 rng(28);
  std::uniform_real_distribution<float> dist(-6, 6);
  for (int i = 0; i < 400000; ++i)
    xs.push_back(dist(rng));
  for (float x : {0.0f, -0.0f, 0.9f, -0.9f, 0.89999998f, 1e-30f, 1e-40f, 4.0f, 10.0f, INFINITY,
                  -INFINITY}) {
    xs.push_back(x);
  }
  double worst_ulp = 0;
  for (float x : xs) {
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(kern::erf(x)));
      continue;
    }
    const double want = std::erf(static_cast<double>(x));
    const float got = kern::erf(x);
    worst_ulp = std::max(worst_ulp, ulp_error(got, want));
  }
  EXPECT_LE(worst_ulp, 3.0);
  EXPECT_EQ(kern::erf(INFINITY), 1.0f);
  EXPECT_EQ(kern::erf(-INFINITY), -1.0f);
  EXPECT_TRUE(std::signbit(kern::erf(-0.0f)));
}

TEST(KernelSupport, ErfinvInvertsErf) {
  std::mt19937 rng(27);
  std::uniform_real_distribution<double> dist(-0.999999, 0.999999);
  for (int i = 0; i < 10000; ++i) {
    const double y = dist(rng);
    ASSERT_NEAR(std::erf(kern::erfinv(y)), y, 1e-12) << y;
    const float yf = static_cast<float>(y);
    ASSERT_NEAR(std::erf(static_cast<double>(kern::erfinv(yf))), yf, 1e-6) << yf;
  }
  EXPECT_EQ(kern::erfinv(1.0f), INFINITY);
  EXPECT_EQ(kern::erfinv(-1.0), -INFINITY);
  EXPECT_TRUE(std::isnan(kern::erfinv(1.5f)));
  EXPECT_EQ(kern::erfinv(0.0), 0.0);
}

TEST(KernelSupport, FailureKeepsTheFirstRecordAcrossThreads) {
  for (int round = 0; round < 20; ++round) {
    kern::Failure failure;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&failure, t] {
        for (int i = 0; i < 100; ++i)
          failure.record(kern::kIndexOutOfRange, t * 1000 + i, t);
      });
    }
    for (auto& t : threads)
      t.join();
    ASSERT_EQ(failure.kind, kern::kIndexOutOfRange);
    // value and size come from one record.
    ASSERT_EQ(failure.value / 1000, failure.size);
  }
  EXPECT_EQ(kern::wrap_index(-1, 5), 4);
  EXPECT_TRUE(kern::in_range(4, 5) && !kern::in_range(5, 5) && !kern::in_range(-1, 5));
}

}  // namespace
}  // namespace kiln::testing
