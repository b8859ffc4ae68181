// extern_cumsum / extern_cumprod against naive scans (double accumulation rounded per output,
// wrapping int64), and the 16-bit float conversions the routines share.
#include <cstring>

#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

template <bool kProduct>
void run_scan(int64_t dtype, int64_t outer, int64_t length, int64_t inner, std::mt19937& rng) {
  const bool fl = ext::is_floating(dtype);
  Buf x = random_buf(dtype, outer * length * inner, rng, fl ? -1.5 : -3, fl ? 1.5 : 4);
  Buf y = poisoned(dtype, x.count);
  CallResult r = call(kProduct ? extern_cumprod : extern_cumsum, {&x}, {&y},
                      {dtype, outer, length, inner}, {}, 3);
  std::string what = std::string(kProduct ? "cumprod " : "cumsum ") + ext::dtype_name(dtype) +
                     " [" + std::to_string(outer) + ", " + std::to_string(length) + ", " +
                     std::to_string(inner) + "]";
  ASSERT_TRUE(r.ok) << r.sink.message << " " << what;
  Buf want(dtype, x.count);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      double f = kProduct ? 1 : 0;
      uint64_t i = kProduct ? 1 : 0;
      for (int64_t l = 0; l < length; ++l) {
        int64_t at = (o * length + l) * inner + j;
        f = kProduct ? f * x.get(at) : f + x.get(at);
        auto v = static_cast<uint64_t>(x.get_int(at));
        i = kProduct ? i * v : i + v;
        if (fl) {
          want.set(at, f);
        } else {
          want.set_int(at, static_cast<int64_t>(i));
        }
      }
    }
  }
  // Both round the same double once: equal bits expected.
  for (int64_t k = 0; k < x.count; ++k) {
    if (fl) {
      ASSERT_EQ(y.get(k), want.get(k)) << what << " at " << k;
    } else {
      ASSERT_EQ(y.get_int(k), want.get_int(k)) << what << " at " << k;
    }
  }
}

TEST(ExternScan, CumsumShapesAndDtypes) {
  std::mt19937 rng(31);
  const int64_t shapes[][3] = {{1, 1, 1}, {1, 9, 1}, {3, 7, 5}, {4, 1, 6}, {2, 33, 1}, {1, 0, 3}};
  for (const auto& s : shapes) {
    for (int64_t dtype : {kExtFloat32, kExtFloat64, kExtFloat16, kExtBFloat16, kExtInt64, kExtInt32,
                          kExtInt8, kExtUInt8, kExtBool}) {
      run_scan<false>(dtype, s[0], s[1], s[2], rng);
    }
  }
}

TEST(ExternScan, CumprodShapesAndDtypes) {
  std::mt19937 rng(32);
  const int64_t shapes[][3] = {{1, 1, 1}, {2, 12, 3}, {5, 4, 1}, {1, 70, 2}};
  for (const auto& s : shapes) {
    for (int64_t dtype : {kExtFloat32, kExtFloat64, kExtFloat16, kExtInt64, kExtInt32, kExtInt16}) {
      run_scan<true>(dtype, s[0], s[1], s[2], rng);
    }
  }
}

TEST(ExternScan, MalformedCallFails) {
  Buf x(kExtFloat32, 4), y(kExtFloat32, 4);
  CallResult r = call(extern_cumsum, {&x}, {&y}, {kExtFloat32, 1, 4});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "cumsum: expected at least 4 int parameters"), nullptr)
      << r.sink.message;
}

TEST(ExternCommon, HalfAndBFloat16Rounding) {
  using ext::float_to_bfloat16;
  using ext::float_to_half;
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.5f), 0xC100);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // the tie rounds to even: infinity
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);      // tie to even (zero)
  EXPECT_EQ(float_to_half(3 * std::ldexp(1.0f, -25)), 0x0002);  // tie to even (two)
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24) + std::ldexp(1.0f, -25)), 0x0400);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(INFINITY), 0x7C00);
  EXPECT_TRUE(std::isnan(ext::half_to_float(float_to_half(std::nanf("")))));
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie to even (down)
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(float_to_bfloat16(-INFINITY), 0xFF80);
  EXPECT_EQ(float_to_bfloat16(std::ldexp(1.0f, -133)), 0x0001);
  EXPECT_TRUE(std::isnan(ext::bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
  std::mt19937 rng(33);
  std::uniform_real_distribution<float> u(-70000.0f, 70000.0f);
  for (int i = 0; i < 2000; ++i) {
    float v = u(rng) * (i % 2 == 0 ? 1.0f : 1e-6f);
    // Decoding then encoding is the identity, and the decoded value is the nearest.
    uint16_t h = float_to_half(v);
    float back = ext::half_to_float(h);
    EXPECT_EQ(float_to_half(back), h);
    if (std::isfinite(back) && h != 0x7BFF && h != 0xFBFF) {
      float up = ext::half_to_float(static_cast<uint16_t>(h + 1));
      EXPECT_LE(std::fabs(back - v), std::fabs(up - v) + 1e-12f) << v;
    }
    uint16_t b = float_to_bfloat16(v);
    EXPECT_EQ(float_to_bfloat16(ext::bfloat16_to_float(b)), b);
  }
}

TEST(ExternCommon, StoresWrapAndTruncate) {
  Buf b(kExtInt8, 3);
  b.set_int(0, 300);
  b.set(1, -2.9);
  b.set_int(2, -129);
  EXPECT_EQ(b.get_int(0), 44);
  EXPECT_EQ(b.get_int(1), -2);
  EXPECT_EQ(b.get_int(2), 127);
  Buf flag(kExtBool, 2);
  flag.set(0, 0.25);
  flag.set_int(1, 0);
  EXPECT_EQ(flag.get_int(0), 1);
  EXPECT_EQ(flag.get_int(1), 0);
}

}  // namespace
}  // namespace kiln::rt::test
