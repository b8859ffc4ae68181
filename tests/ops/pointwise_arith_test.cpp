#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/args.h"
#include "ops/op_table.h"
#include "pointwise_test_util.h"
#include "ref/values.h"

namespace kiln::testing {
namespace {

using namespace pw;

TEST(PointwiseArith, AddSubRsubMulFloat32Broadcast) {
  std::mt19937 rng(11);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kFloat32, sa, rng);
    ref::Tensor y = random_tensor(DType::kFloat32, sb, rng);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.add.Tensor", {{"self", x}, {"other", y}, {"alpha", 2.5}}),
        expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] + 2.5 * v[1]; }), 1e-6);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.sub.Tensor", {{"self", x}, {"other", y}}),
        expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] - v[1]; }), 1e-6);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.rsub.Tensor", {{"self", x}, {"other", y}, {"alpha", int64_t{2}}}),
        expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[1] - 2 * v[0]; }), 1e-6);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.mul.Tensor", {{"self", x}, {"other", y}}),
        expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] * v[1]; }), 1e-6);
  }
}

TEST(PointwiseArith, ScalarOverloadsAndNumbersInTensorSlots) {
  std::mt19937 rng(12);
  for (std::vector<int64_t> s : {std::vector<int64_t>{4, 1, 3}, {1}, {}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, s, rng);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.add.Scalar", {{"self", x}, {"other", 1.25}, {"alpha", -2.0}}),
        expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] - 2.5; }), 1e-6);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.sub.Scalar", {{"self", x}, {"other", int64_t{3}}}),
                       expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] - 3; }),
                       1e-6);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.rsub.Scalar", {{"self", x}, {"other", 1.5}, {"alpha", int64_t{2}}}),
        expect_real(DType::kFloat32, {&x}, [](const V& v) { return 1.5 - 2 * v[0]; }), 1e-6);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.mul.Scalar", {{"self", x}, {"other", -3.5}}),
                       expect_real(DType::kFloat32, {&x}, [](const V& v) { return -3.5 * v[0]; }),
                       1e-6);
    // The export records x + 1 as aten.add.Tensor with a number for `other`.
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.add.Tensor", {{"self", x}, {"other", int64_t{1}}}),
                       expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] + 1; }),
                       1e-6);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.mul.Tensor", {{"self", x}, {"other", 0.5}}),
                       expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] * 0.5; }),
                       1e-6);
  }
}

TEST(PointwiseArith, IntegerArithmeticIsExactAndWraps) {
  std::mt19937 rng(13);
  for (DType t : {DType::kInt64, DType::kInt32, DType::kInt8}) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      ref::Tensor x = random_tensor(t, sa, rng, -100, 100);
      ref::Tensor y = random_tensor(t, sb, rng, -100, 100);
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.add.Tensor", {{"self", x}, {"other", y}, {"alpha", int64_t{3}}}),
          expect_int(t, {&x, &y}, [](const I& v) { return v[0] + 3 * v[1]; })));
      EXPECT_TRUE(same_values(run_op_tensor("aten.sub.Tensor", {{"self", x}, {"other", y}}),
                              expect_int(t, {&x, &y}, [](const I& v) { return v[0] - v[1]; })));
      EXPECT_TRUE(same_values(run_op_tensor("aten.mul.Tensor", {{"self", x}, {"other", y}}),
                              expect_int(t, {&x, &y}, [](const I& v) { return v[0] * v[1]; })));
    }
  }
  ref::Tensor big = make_tensor(DType::kInt32, {2}, {2147483647.0, -2147483648.0});
  ref::Tensor sum = run_op_tensor("aten.add.Scalar", {{"self", big}, {"other", int64_t{1}}});
  EXPECT_EQ(sum.get_int(0), -2147483648);
  EXPECT_EQ(sum.get_int(1), -2147483647);
  ref::Tensor i8 = make_tensor(DType::kInt8, {2}, {100, -7});
  ref::Tensor prod = run_op_tensor("aten.mul.Scalar", {{"self", i8}, {"other", int64_t{3}}});
  EXPECT_EQ(prod.get_int(0), 44);  // 300 wrapped to int8
  EXPECT_EQ(prod.get_int(1), -21);
  ref::Tensor i64 = make_tensor(DType::kInt64, {1}, {0});
  i64.set_int(0, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(run_op_tensor("aten.add.Scalar", {{"self", i64}, {"other", int64_t{1}}}).get_int(0),
            std::numeric_limits<int64_t>::min());
}

TEST(PointwiseArith, BoolAddIsOrAndMulIsAnd) {
  std::mt19937 rng(14);
  ref::Tensor x = random_tensor(DType::kBool, {3, 5}, rng);
  ref::Tensor y = random_tensor(DType::kBool, {1, 5}, rng);
  for (int64_t alpha : {1, 2, -1}) {
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.add.Tensor", {{"self", x}, {"other", y}, {"alpha", alpha}}),
                    expect_int(DType::kBool, {&x, &y}, [](const I& v) { return v[0] || v[1]; })));
  }
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.mul.Tensor", {{"self", x}, {"other", y}}),
                  expect_int(DType::kBool, {&x, &y}, [](const I& v) { return v[0] && v[1]; })));
  // bool + int promotes to int64
  ref::Tensor r =
      run_op_tensor("aten.add.Scalar", {{"self", x}, {"other", int64_t{2}}, {"alpha", int64_t{3}}});
  EXPECT_TRUE(same_values(r, expect_int(DType::kInt64, {&x}, [](const I& v) { return v[0] + 6; })));
}

TEST(PointwiseArith, TypePromotion) {
  std::mt19937 rng(15);
  auto dtype_of = [](const char* op, const TestArgs& args) {
    return run_op_tensor(op, args).dtype();
  };
  ref::Tensor i64 = random_tensor(DType::kInt64, {2, 3}, rng, -5, 5);
  ref::Tensor i32 = random_tensor(DType::kInt32, {2, 3}, rng, -5, 5);
  ref::Tensor u8 = random_tensor(DType::kUInt8, {3}, rng, 0, 9);
  ref::Tensor i8 = random_tensor(DType::kInt8, {3}, rng, -5, 5);
  ref::Tensor f16 = random_tensor(DType::kFloat16, {2, 3}, rng);
  ref::Tensor f32 = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor f32_0d = random_tensor(DType::kFloat32, {}, rng);
  ref::Tensor i64_0d = random_tensor(DType::kInt64, {}, rng, 1, 5);
  EXPECT_EQ(dtype_of("aten.add.Scalar", {{"self", i64}, {"other", 2.5}}), DType::kFloat32);
  EXPECT_EQ(dtype_of("aten.add.Tensor", {{"self", i64}, {"other", f32}}), DType::kFloat32);
  EXPECT_EQ(dtype_of("aten.add.Tensor", {{"self", f16}, {"other", f32_0d}}), DType::kFloat16);
  EXPECT_EQ(dtype_of("aten.add.Tensor", {{"self", f16}, {"other", f32}}), DType::kFloat32);
  EXPECT_EQ(dtype_of("aten.mul.Tensor", {{"self", i32}, {"other", i64_0d}}), DType::kInt32);
  EXPECT_EQ(dtype_of("aten.mul.Tensor", {{"self", i32}, {"other", f32_0d}}), DType::kFloat32);
  EXPECT_EQ(dtype_of("aten.add.Tensor", {{"self", u8}, {"other", i8}}), DType::kInt16);
  EXPECT_EQ(dtype_of("aten.add.Tensor", {{"self", i64}, {"other", true}}), DType::kInt64);
  // int64 + 2.5: the int values convert to float32 first
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.add.Scalar", {{"self", i64}, {"other", 2.5}}),
                     expect_real(DType::kFloat32, {&i64}, [](const V& v) { return v[0] + 2.5; }),
                     0);
}

TEST(PointwiseArith, AlphaAndBoolSubtractionChecks) {
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  ref::Tensor f = make_tensor(DType::kFloat32, {3}, {1.5, -2.5, 0.5});
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 0, 1});
  expect_error(
      [&] {
        run_op("aten.add.Tensor", {{"self", i}, {"other", i}, {"alpha", 2.5}});
      },
      "alpha must not be a floating point number");
  expect_error(
      [&] {
        run_op("aten.add.Scalar", {{"self", i}, {"other", int64_t{2}}, {"alpha", 1.5}});
      },
      "alpha must not be a floating point number");
  expect_error(
      [&] {
        run_op("aten.add.Tensor", {{"self", f}, {"other", f}, {"alpha", true}});
      },
      "Boolean alpha only supported for Boolean results");
  expect_error(
      [&] {
        run_op("aten.sub.Tensor", {{"self", b}, {"other", b}});
      },
      "with two bool tensors");
  expect_error(
      [&] {
        run_op("aten.sub.Tensor", {{"self", i}, {"other", b}});
      },
      "with a bool tensor");
  expect_error(
      [&] {
        run_op("aten.sub.Scalar", {{"self", f}, {"other", true}});
      },
      "with a bool tensor");
  expect_error(
      [&] {
        run_op("aten.rsub.Scalar", {{"self", b}, {"other", int64_t{1}}});
      },
      "with a bool tensor");
  expect_error(
      [&] {
        run_op("aten.add.Tensor",
               {{"self", f}, {"other", make_tensor(DType::kFloat32, {2}, {1, 2})}});
      },
      "broadcast");
}

TEST(PointwiseArith, ReducedPrecisionRoundsTheResult) {
  std::mt19937 rng(16);
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    ref::Tensor x = random_tensor(t, {4, 1, 3}, rng, -8, 8);
    ref::Tensor y = random_tensor(t, {5, 1}, rng, -8, 8);
    EXPECT_TRUE(same_values(run_op_tensor("aten.add.Tensor", {{"self", x}, {"other", y}}),
                            expect_real(t, {&x, &y}, [](const V& v) { return v[0] + v[1]; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.mul.Tensor", {{"self", x}, {"other", y}}),
                            expect_real(t, {&x, &y}, [](const V& v) { return v[0] * v[1]; })));
    // add rounds a scalar to the tensor's dtype; mul and div read it in float32, as
    // PyTorch's CPU kernels for reduced precision do.
    const double s = 0.1234567;
    const double s_t = ref::round_to_dtype(t, s);
    const double s_f32 = ref::round_to_dtype(DType::kFloat32, s);
    EXPECT_TRUE(same_values(run_op_tensor("aten.add.Scalar", {{"self", x}, {"other", s}}),
                            expect_real(t, {&x}, [&](const V& v) { return v[0] + s_t; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.mul.Scalar", {{"self", x}, {"other", s}}),
                            expect_real(t, {&x}, [&](const V& v) { return v[0] * s_f32; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.div.Scalar", {{"self", x}, {"other", s}}),
                            expect_real(t, {&x}, [&](const V& v) { return v[0] / s_f32; })));
  }
}

TEST(PointwiseArith, TrueDivision) {
  std::mt19937 rng(17);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kFloat32, sa, rng);
    ref::Tensor y = pw::nonzero_tensor(DType::kFloat32, sb, rng, -3, 3);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.div.Tensor", {{"self", x}, {"other", y}}),
        expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] / v[1]; }), 1e-6);
    ref::Tensor i = random_tensor(DType::kInt64, sa, rng, -20, 20);
    ref::Tensor j = pw::nonzero_tensor(DType::kInt32, sb, rng, -6, 6);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.div.Tensor", {{"self", i}, {"other", j}}),
        expect_real(DType::kFloat32, {&i, &j}, [](const V& v) { return v[0] / v[1]; }), 1e-6);
  }
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  ref::Tensor r = run_op_tensor("aten.div.Scalar", {{"self", i}, {"other", int64_t{0}}});
  EXPECT_EQ(r.dtype(), DType::kFloat32);
  EXPECT_EQ(r.get(0), INFINITY);
  EXPECT_EQ(r.get(1), -INFINITY);
  EXPECT_TRUE(std::isnan(r.get(2)));
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 1});
  EXPECT_EQ(run_op_tensor("aten.div.Tensor", {{"self", b}, {"other", b}}).dtype(), DType::kFloat32);
}

TEST(PointwiseArith, DivisionRoundingModes) {
  std::mt19937 rng(18);
  for (DType t : {DType::kInt64, DType::kInt32}) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      ref::Tensor x = random_tensor(t, sa, rng, -50, 50);
      ref::Tensor y = pw::nonzero_tensor(t, sb, rng, -7, 7);
      auto truncated =
          run_op_tensor("aten.div.Tensor_mode",
                        {{"self", x}, {"other", y}, {"rounding_mode", std::string("trunc")}});
      EXPECT_TRUE(
          same_values(truncated, expect_int(t, {&x, &y}, [](const I& v) { return v[0] / v[1]; })));
      auto python_floor = [](const I& v) {
        return static_cast<int64_t>(
            std::floor(static_cast<double>(v[0]) / static_cast<double>(v[1])));
      };
      auto floored =
          run_op_tensor("aten.div.Tensor_mode",
                        {{"self", x}, {"other", y}, {"rounding_mode", std::string("floor")}});
      EXPECT_TRUE(same_values(floored, expect_int(t, {&x, &y}, python_floor)));
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.floor_divide.default", {{"self", x}, {"other", y}}),
                      expect_int(t, {&x, &y}, python_floor)));
      // No mode: true division
      EXPECT_EQ(run_op_tensor("aten.div.Tensor_mode", {{"self", x}, {"other", y}}).dtype(),
                DType::kFloat32);
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng, -10, 10);
  ref::Tensor y = pw::nonzero_tensor(DType::kFloat32, {4}, rng, -3, 3);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.div.Tensor_mode",
                    {{"self", x}, {"other", y}, {"rounding_mode", std::string("trunc")}}),
      expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return std::trunc(v[0] / v[1]); }),
      1e-6);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.floor_divide.default", {{"self", x}, {"other", y}}),
      expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return std::floor(v[0] / v[1]); }),
      1e-6);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.div.Scalar_mode",
                    {{"self", x}, {"other", -1.5}, {"rounding_mode", std::string("floor")}}),
      expect_real(DType::kFloat32, {&x}, [](const V& v) { return std::floor(v[0] / -1.5); }), 1e-6);
  ref::Tensor i = random_tensor(DType::kInt64, {2, 5}, rng, -30, 30);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.floor_divide.Scalar", {{"self", i}, {"other", int64_t{-4}}}),
                  expect_int(DType::kInt64, {&i}, [](const I& v) {
                    return static_cast<int64_t>(std::floor(static_cast<double>(v[0]) / -4.0));
                  })));
  // Known values: signs, float division by zero, -0
  ref::Tensor a = make_tensor(DType::kFloat32, {5}, {-7.5, 7.5, -0.5, 0.5, 3});
  ref::Tensor d = make_tensor(DType::kFloat32, {5}, {2, -2, 2, 2, 0});
  ref::Tensor q = run_op_tensor("aten.floor_divide.default", {{"self", a}, {"other", d}});
  EXPECT_TRUE(same_values(q, make_tensor(DType::kFloat32, {5}, {-4, -4, -1, 0, INFINITY})));
  ref::Tensor t = run_op_tensor(
      "aten.div.Tensor_mode", {{"self", a}, {"other", d}, {"rounding_mode", std::string("trunc")}});
  EXPECT_TRUE(same_values(t, make_tensor(DType::kFloat32, {5}, {-3, -3, 0, 0, INFINITY})));
  EXPECT_TRUE(std::signbit(t.get(2)));
}

TEST(PointwiseArith, DivisionErrors) {
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  for (const char* mode : {"trunc", "floor"}) {
    expect_error(
        [&] {
          run_op("aten.div.Scalar_mode",
                 {{"self", i}, {"other", int64_t{0}}, {"rounding_mode", std::string(mode)}});
        },
        "ZeroDivisionError");
    expect_error(
        [&] {
          run_op("aten.div.Tensor_mode",
                 {{"self", b}, {"other", b}, {"rounding_mode", std::string(mode)}});
        },
        "Bool");
  }
  expect_error(
      [&] {
        run_op("aten.floor_divide.Scalar", {{"self", i}, {"other", int64_t{0}}});
      },
      "ZeroDivisionError");
  expect_error(
      [&] {
        run_op("aten.remainder.Scalar", {{"self", i}, {"other", int64_t{0}}});
      },
      "ZeroDivisionError");
  expect_error(
      [&] {
        run_op("aten.fmod.Tensor", {{"self", i}, {"other", make_tensor(DType::kInt64, {1}, {0})}});
      },
      "ZeroDivisionError");
  expect_error([&] { run_op("aten.floor_divide.default", {{"self", b}, {"other", b}}); }, "Bool");
  expect_error([&] { run_op("aten.remainder.Tensor", {{"self", b}, {"other", b}}); }, "Bool");
  expect_error(
      [&] {
        run_op("aten.div.Tensor_mode",
               {{"self", i}, {"other", i}, {"rounding_mode", std::string("round")}});
      },
      "rounding_mode");
}

TEST(PointwiseArith, RemainderAndFmodSigns) {
  std::mt19937 rng(19);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kInt64, sa, rng, -40, 40);
    ref::Tensor y = pw::nonzero_tensor(DType::kInt64, sb, rng, -9, 9);
    EXPECT_TRUE(same_values(run_op_tensor("aten.remainder.Tensor", {{"self", x}, {"other", y}}),
                            expect_int(DType::kInt64, {&x, &y}, [](const I& v) {
                              auto q =
                                  static_cast<int64_t>(std::floor(double(v[0]) / double(v[1])));
                              return v[0] - q * v[1];
                            })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.fmod.Tensor", {{"self", x}, {"other", y}}),
                            expect_int(DType::kInt64, {&x, &y}, [](const I& v) {
                              auto q =
                                  static_cast<int64_t>(std::trunc(double(v[0]) / double(v[1])));
                              return v[0] - q * v[1];
                            })));
    ref::Tensor f = random_tensor(DType::kFloat32, sa, rng, -10, 10);
    ref::Tensor g = pw::nonzero_tensor(DType::kFloat32, sb, rng, -3, 3);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.remainder.Tensor", {{"self", f}, {"other", g}}),
        expect_real(DType::kFloat32, {&f, &g},
                    [](const V& v) { return v[0] - v[1] * std::floor(v[0] / v[1]); }),
        1e-5);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.fmod.Tensor", {{"self", f}, {"other", g}}),
        expect_real(DType::kFloat32, {&f, &g},
                    [](const V& v) { return v[0] - v[1] * std::trunc(v[0] / v[1]); }),
        1e-5);
  }
  ref::Tensor x = make_tensor(DType::kFloat32, {4}, {-7.5, 7.5, -2, 5});
  ref::Tensor r = run_op_tensor("aten.remainder.Scalar", {{"self", x}, {"other", 2.0}});
  EXPECT_TRUE(same_values(r, make_tensor(DType::kFloat32, {4}, {0.5, 1.5, 0, 1})));
  EXPECT_TRUE(std::signbit(r.get(2)));  // fmod's -0 is kept
  EXPECT_TRUE(same_values(run_op_tensor("aten.fmod.Scalar", {{"self", x}, {"other", -2.0}}),
                          make_tensor(DType::kFloat32, {4}, {-1.5, 1.5, 0, 1})));
  // int tensor % 1.5 promotes to float
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.remainder.Scalar", {{"self", i}, {"other", 1.5}}),
                          make_tensor(DType::kFloat32, {3}, {0, 1, 0})));
}

TEST(PointwiseArith, PowTensorScalar) {
  std::mt19937 rng(20);
  for (std::vector<int64_t> s : {std::vector<int64_t>{3, 4}, {1, 5}, {}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, s, rng, 0.1, 3);
    for (double e : {2.0, 0.5, 3.0, -1.0, 1.7, -0.5, -2.0, 0.0, 1.0}) {
      SCOPED_TRACE(e);
      EXPECT_TENSOR_NEAR(
          run_op_tensor("aten.pow.Tensor_Scalar", {{"self", x}, {"exponent", e}}),
          expect_real(DType::kFloat32, {&x}, [&](const V& v) { return std::pow(v[0], e); }), 1e-6);
    }
    ref::Tensor i = random_tensor(DType::kInt32, s, rng, -9, 9);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.pow.Tensor_Scalar", {{"self", i}, {"exponent", int64_t{3}}}),
        expect_int(DType::kInt32, {&i}, [](const I& v) { return v[0] * v[0] * v[0]; })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.pow.Tensor_Scalar", {{"self", i}, {"exponent", int64_t{0}}}),
        expect_int(DType::kInt32, {&i}, [](const I&) { return 1; })));
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.pow.Tensor_Scalar", {{"self", i}, {"exponent", 2.0}}),
                       expect_real(DType::kFloat32, {&i}, [](const V& v) { return v[0] * v[0]; }),
                       0);
  }
  // sqrt, not std::pow, at -0 and -inf
  ref::Tensor special = make_tensor(DType::kFloat32, {3}, {-0.0, -INFINITY, 4});
  ref::Tensor r = run_op_tensor("aten.pow.Tensor_Scalar", {{"self", special}, {"exponent", 0.5}});
  EXPECT_TRUE(std::signbit(r.get(0)));
  EXPECT_TRUE(std::isnan(r.get(1)));
  EXPECT_EQ(r.get(2), 2);
  // Half calls pow; the exponent is rounded to the dtype.
  ref::Tensor h = make_tensor(DType::kFloat16, {3}, {-0.0, -INFINITY, 1e-3});
  EXPECT_TRUE(same_values(run_op_tensor("aten.pow.Tensor_Scalar", {{"self", h}, {"exponent", 0.5}}),
                          make_tensor(DType::kFloat16, {3}, {0, INFINITY, std::sqrt(h.get(2))})));
  ref::Tensor bf = make_tensor(DType::kBFloat16, {1}, {1e-8});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.pow.Tensor_Scalar", {{"self", bf}, {"exponent", 1.3}}),
                  make_tensor(DType::kBFloat16, {1},
                              {std::pow(bf.get(0), ref::round_to_dtype(DType::kBFloat16, 1.3))})));
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.pow.Tensor_Scalar", {{"self", b}, {"exponent", true}}), b));
  EXPECT_EQ(
      run_op_tensor("aten.pow.Tensor_Scalar", {{"self", b}, {"exponent", int64_t{2}}}).dtype(),
      DType::kInt64);
  expect_error(
      [&] {
        run_op("aten.pow.Tensor_Scalar",
               {{"self", make_tensor(DType::kInt64, {2}, {2, 3})}, {"exponent", int64_t{-1}}});
      },
      "Integers to negative integer powers are not allowed");
}

TEST(PointwiseArith, PowTensorTensorAndScalarBase) {
  std::mt19937 rng(21);
  auto int_pow = [](const I& v) -> int64_t {
    int64_t base = v[0], e = v[1];
    if (e < 0) return base == 1 ? 1 : base == -1 ? (e % 2 != 0 ? -1 : 1) : 0;
    int64_t r = 1;
    for (int64_t k = 0; k < e; ++k)
      r *= base;
    return r;
  };
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kInt64, sa, rng, -3, 4);
    ref::Tensor e = random_tensor(DType::kInt64, sb, rng, -3, 6);
    EXPECT_TRUE(same_values(run_op_tensor("aten.pow.Tensor_Tensor", {{"self", x}, {"exponent", e}}),
                            expect_int(DType::kInt64, {&x, &e}, int_pow)));
    ref::Tensor f = random_tensor(DType::kFloat32, sa, rng, 0.1, 2);
    ref::Tensor g = random_tensor(DType::kFloat32, sb, rng, -2, 2);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.pow.Tensor_Tensor", {{"self", f}, {"exponent", g}}),
        expect_real(DType::kFloat32, {&f, &g}, [](const V& v) { return std::pow(v[0], v[1]); }),
        1e-6);
  }
  ref::Tensor e = random_tensor(DType::kInt64, {2, 4}, rng, 0, 10);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.pow.Scalar", {{"self", int64_t{2}}, {"exponent", e}}),
                  expect_int(DType::kInt64, {&e}, [](const I& v) { return int64_t{1} << v[0]; })));
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.pow.Scalar", {{"self", 2.5}, {"exponent", e}}),
      expect_real(DType::kFloat32, {&e}, [](const V& v) { return std::pow(2.5, v[0]); }), 1e-6);
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.pow.Scalar", {{"self", int64_t{1}}, {"exponent", b}}),
                          make_tensor(DType::kInt64, {2}, {1, 1})));
  expect_error([&] { run_op("aten.pow.Tensor_Tensor", {{"self", b}, {"exponent", b}}); }, "Bool");
}

TEST(PointwiseArith, InPlaceVariants) {
  std::mt19937 rng(22);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor y = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.add_.Tensor", {{"self", x}, {"other", y}, {"alpha", 0.5}}),
      expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] + 0.5 * v[1]; }), 1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.sub_.Tensor", {{"self", x}, {"other", y}}),
                     expect_real(DType::kFloat32, {&x, &y}, [](const V& v) { return v[0] - v[1]; }),
                     1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.add_.Scalar", {{"self", x}, {"other", 2.0}}),
                     expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] + 2; }), 1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.mul_.Scalar", {{"self", x}, {"other", int64_t{-3}}}),
                     expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] * -3; }),
                     1e-6);
  ref::Tensor d = pw::nonzero_tensor(DType::kFloat32, {2, 1}, rng, -2, 2);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.div_.Tensor", {{"self", x}, {"other", d}}),
                     expect_real(DType::kFloat32, {&x, &d}, [](const V& v) { return v[0] / v[1]; }),
                     1e-6);
  // A half self computes in the promoted dtype and rounds back to half.
  ref::Tensor h = random_tensor(DType::kFloat16, {2, 3}, rng);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.mul_.Tensor", {{"self", h}, {"other", y}}),
                  expect_real(DType::kFloat16, {&h, &y}, [](const V& v) { return v[0] * v[1]; })));
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 0, 1});
  expect_error(
      [&] {
        run_op("aten.add_.Scalar", {{"self", i}, {"other", 2.5}});
      },
      "result type Float can't be cast to the desired output type Long");
  expect_error(
      [&] {
        run_op("aten.mul_.Scalar", {{"self", b}, {"other", int64_t{2}}});
      },
      "result type Long can't be cast to the desired output type Bool");
  expect_error([&] { run_op("aten.div_.Tensor", {{"self", i}, {"other", i}}); }, "can't be cast");
  ref::Tensor row = random_tensor(DType::kFloat32, {1, 3}, rng);
  expect_error(
      [&] {
        run_op("aten.add_.Tensor", {{"self", row}, {"other", x}});
      },
      "output with shape [1, 3] doesn't match the broadcast shape [2, 3]");
  expect_error([&] { run_op("aten.add_.Tensor", {{"self", y}, {"other", x}}); }, "doesn't match");
  for (auto [op, functional] : {std::pair{"aten.add_.Tensor", "aten.add.Tensor"},
                                {"aten.add_.Scalar", "aten.add.Scalar"},
                                {"aten.sub_.Tensor", "aten.sub.Tensor"},
                                {"aten.mul_.Tensor", "aten.mul.Tensor"},
                                {"aten.mul_.Scalar", "aten.mul.Scalar"},
                                {"aten.div_.Tensor", "aten.div.Tensor"}}) {
    ASSERT_NE(ops::find_op(op), nullptr) << op;
    EXPECT_EQ(ops::find_op(op)->functional, functional);
  }
}

TEST(PointwiseArith, AddcmulAndLerp) {
  std::mt19937 rng(23);
  ref::Tensor s = random_tensor(DType::kFloat32, {3, 1}, rng);
  ref::Tensor t1 = random_tensor(DType::kFloat32, {1, 4}, rng);
  ref::Tensor t2 = random_tensor(DType::kFloat32, {4}, rng);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.addcmul.default",
                                   {{"self", s}, {"tensor1", t1}, {"tensor2", t2}, {"value", 0.5}}),
                     expect_real(DType::kFloat32, {&s, &t1, &t2},
                                 [](const V& v) { return v[0] + 0.5 * v[1] * v[2]; }),
                     1e-6);
  ref::Tensor i = random_tensor(DType::kInt64, {2, 3}, rng, -9, 9);
  ref::Tensor j = random_tensor(DType::kInt64, {3}, rng, -9, 9);
  // value 2.5 is cast to the int dtype: 2
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.addcmul.default",
                    {{"self", i}, {"tensor1", j}, {"tensor2", i}, {"value", 2.5}}),
      expect_int(DType::kInt64, {&i, &j}, [](const I& v) { return v[0] + 2 * v[1] * v[0]; })));
  ref::Tensor h = random_tensor(DType::kFloat16, {4}, rng);
  EXPECT_EQ(run_op_tensor("aten.addcmul.default", {{"self", h}, {"tensor1", t2}, {"tensor2", t2}})
                .dtype(),
            DType::kFloat32);
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  expect_error(
      [&] {
        run_op("aten.addcmul.default", {{"self", b}, {"tensor1", b}, {"tensor2", b}});
      },
      "Bool");

  for (double w : {0.3, 0.7, 1.0, -0.2}) {
    ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
    ref::Tensor e = random_tensor(DType::kFloat32, {1, 3}, rng);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.lerp.Scalar", {{"self", x}, {"end", e}, {"weight", w}}),
                       expect_real(DType::kFloat32, {&x, &e},
                                   [&](const V& v) { return v[0] + w * (v[1] - v[0]); }),
                       1e-6);
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {3}, rng);
  ref::Tensor e = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.lerp.Scalar", {{"self", x}, {"end", e}, {"weight", 1.0}}), e));
  expect_error(
      [&] {
        run_op("aten.lerp.Scalar",
               {{"self", x}, {"end", random_tensor(DType::kFloat64, {3}, rng)}, {"weight", 0.5}});
      },
      "expected dtype Float for `end` but got dtype Double");
  expect_error(
      [&] {
        run_op("aten.lerp.Scalar", {{"self", i}, {"end", i}, {"weight", 0.5}});
      },
      "Long");
}

// x * s0 and x + f0 as the export records them: a SymInt or SymFloat value where the schema
// takes a Tensor or Scalar. Shape rules need only the number's kind, not its value.
TEST(PointwiseArith, SymbolicNumberOperands) {
  ir::Graph g;
  ir::Value x;
  x.name = "x";
  x.type = ir::TensorType::contiguous(DType::kInt64, {sym::Expr::symbol("s0"), 3});
  ir::ValueId xid = g.add_value(x);
  ir::Value s;
  s.name = "s0";
  s.kind = ir::ValueKind::kSymInt;
  s.sym = sym::Expr::symbol("s0");
  ir::ValueId sid = g.add_value(s);
  ir::Value f;
  f.name = "f0";
  f.kind = ir::ValueKind::kSymFloat;
  ir::ValueId fid = g.add_value(f);
  auto node = [&](const char* target, const char* number_arg, ir::Argument number) {
    ir::Node n;
    n.name = "n";
    n.target = target;
    n.inputs = {{"self", ir::TensorArg{xid}, ir::ArgKindHint::kPositional},
                {number_arg, std::move(number), ir::ArgKindHint::kPositional}};
    return n;
  };
  ir::Node mul = node("aten.mul.Tensor", "other", ir::SymIntArg{sid, 0});
  ir::Node add = node("aten.add.Scalar", "other", ir::SymFloatArg{fid, 0});
  ir::Node pow = node("aten.pow.Tensor_Scalar", "exponent", ir::SymIntArg{sid, 0});
  ops::GraphValueSource graph_source(g);
  for (const ir::Node* n : {&mul, &add, &pow}) {
    const ops::OpDef* op = ops::find_op(n->target);
    ASSERT_NE(op, nullptr);
    ops::Args args(*op, *n, graph_source);
    std::vector<ops::OutType> out = op->shape(args);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tensor.str(), n == &add ? "f32[s0, 3]" : "i64[s0, 3]") << n->target;
  }
  std::mt19937 rng(24);
  ref::Tensor xt = random_tensor(DType::kInt64, {2, 3}, rng, -9, 9);
  ref::ConcreteValues values(g);
  values.set(xid, xt);
  values.set(sid, int64_t{3});
  values.set(fid, 0.25);
  auto run = [&](const ir::Node& n) {
    const ops::OpDef* op = ops::find_op(n.target);
    ops::Args args(*op, n, values);
    return as_tensor(op->reference(args).at(0));
  };
  EXPECT_TRUE(
      same_values(run(mul), expect_int(DType::kInt64, {&xt}, [](const I& v) { return 3 * v[0]; })));
  EXPECT_TRUE(same_values(
      run(add), expect_real(DType::kFloat32, {&xt}, [](const V& v) { return v[0] + 0.25; })));
  EXPECT_TRUE(same_values(
      run(pow), expect_int(DType::kInt64, {&xt}, [](const I& v) { return v[0] * v[0] * v[0]; })));
  values.set(sid, int64_t{-1});
  expect_error([&] { run(pow); }, "Integers to negative integer powers are not allowed");
}

}  // namespace
}  // namespace kiln::testing
