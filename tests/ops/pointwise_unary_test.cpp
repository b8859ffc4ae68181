#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "ops/op_table.h"
#include "pointwise_test_util.h"

namespace kiln::testing {
namespace {

using namespace pw;

struct FloatingCase {
  const char* op;
  double (*fn)(double);
  double lo, hi;  // the domain the random inputs are drawn from
};

const FloatingCase kFloatingCases[] = {
    {"reciprocal", [](double x) { return 1.0 / x; }, 0.2, 3},
    {"sqrt", [](double x) { return std::sqrt(x); }, 0.01, 4},
    {"rsqrt", [](double x) { return std::pow(x, -0.5); }, 0.01, 4},
    {"exp", [](double x) { return std::exp(x); }, -3, 3},
    {"exp2", [](double x) { return std::pow(2.0, x); }, -3, 3},
    {"expm1", [](double x) { return std::exp(x) - 1; }, -3, 3},
    {"log", [](double x) { return std::log(x); }, 0.01, 5},
    {"log2", [](double x) { return std::log(x) / std::log(2.0); }, 0.01, 5},
    {"log10", [](double x) { return std::log(x) / std::log(10.0); }, 0.01, 5},
    {"log1p", [](double x) { return std::log(1 + x); }, -0.9, 3},
    {"sin", [](double x) { return std::sin(x); }, -4, 4},
    {"cos", [](double x) { return std::cos(x); }, -4, 4},
    {"tan", [](double x) { return std::sin(x) / std::cos(x); }, -1.2, 1.2},
    {"tanh", [](double x) { return (std::exp(2 * x) - 1) / (std::exp(2 * x) + 1); }, -3, 3},
    {"sigmoid", [](double x) { return std::exp(x) / (1 + std::exp(x)); }, -6, 6},
    {"erf", [](double x) { return std::erf(x); }, -2.5, 2.5},
};

TEST(PointwiseUnary, FloatingFunctionsOnEachFloatDtype) {
  std::mt19937 rng(31);
  for (const auto& c : kFloatingCases) {
    std::string target = std::string("aten.") + c.op + ".default";
    for (auto [dtype, tol] : {std::pair{DType::kFloat32, 1e-6},
                              {DType::kFloat64, 1e-12},
                              {DType::kFloat16, 1e-3},
                              {DType::kBFloat16, 1e-2}}) {
      for (std::vector<int64_t> s : {std::vector<int64_t>{}, {1}, {3, 1, 4}}) {
        SCOPED_TRACE(target + " " + std::string(ir::dtype_name(dtype)));
        ref::Tensor x = random_tensor(dtype, s, rng, c.lo, c.hi);
        EXPECT_TENSOR_NEAR(run_op_tensor(target, {{"self", x}}),
                           expect_real(dtype, {&x}, [&](const V& v) { return c.fn(v[0]); }), tol);
      }
    }
    // Integer inputs compute in float32.
    ref::Tensor i = random_tensor(DType::kInt64, {2, 3}, rng, std::max(c.lo, 1.0), c.hi + 1);
    EXPECT_TENSOR_NEAR(run_op_tensor(target, {{"self", i}}),
                       expect_real(DType::kFloat32, {&i}, [&](const V& v) { return c.fn(v[0]); }),
                       1e-6);
  }
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 0, 1});
  EXPECT_TRUE(same_values(run_op_tensor("aten.sqrt.default", {{"self", b}}),
                          make_tensor(DType::kFloat32, {3}, {1, 0, 1})));
  ref::Tensor z = make_tensor(DType::kInt32, {3}, {4, -2, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.reciprocal.default", {{"self", z}}),
                          make_tensor(DType::kFloat32, {3}, {0.25, -0.5, INFINITY})));
}

TEST(PointwiseUnary, FloatingInPlace) {
  std::mt19937 rng(32);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 1, 3}, rng);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.tanh_.default", {{"self", x}}),
                     expect_real(DType::kFloat32, {&x}, [](const V& v) { return std::tanh(v[0]); }),
                     1e-6);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.sigmoid_.default", {{"self", x}}),
      expect_real(DType::kFloat32, {&x}, [](const V& v) { return 1 / (1 + std::exp(-v[0])); }),
      1e-6);
  ref::Tensor i = random_tensor(DType::kInt64, {3}, rng, -5, 5);
  expect_error(
      [&] {
        run_op("aten.tanh_.default", {{"self", i}});
      },
      "result type Float can't be cast to the desired output type Long");
  expect_error([&] { run_op("aten.sigmoid_.default", {{"self", i}}); }, "can't be cast");
  EXPECT_EQ(ops::find_op("aten.tanh_.default")->functional, "aten.tanh.default");
  EXPECT_EQ(ops::find_op("aten.sigmoid_.default")->functional, "aten.sigmoid.default");
}

TEST(PointwiseUnary, AbsNegSign) {
  std::mt19937 rng(33);
  for (std::vector<int64_t> s : {std::vector<int64_t>{}, {1, 1}, {4, 1, 3}}) {
    ref::Tensor f = random_tensor(DType::kFloat32, s, rng, -5, 5);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.abs.default", {{"self", f}}),
        expect_real(DType::kFloat32, {&f}, [](const V& v) { return v[0] < 0 ? -v[0] : v[0]; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.neg.default", {{"self", f}}),
                            expect_real(DType::kFloat32, {&f}, [](const V& v) { return -v[0]; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.sign.default", {{"self", f}}),
                            expect_real(DType::kFloat32, {&f}, [](const V& v) {
                              return v[0] > 0 ? 1.0 : v[0] < 0 ? -1.0 : 0.0;
                            })));
    for (DType t : {DType::kInt64, DType::kInt8, DType::kInt32}) {
      ref::Tensor i = random_tensor(t, s, rng, -100, 100);
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.abs.default", {{"self", i}}),
                      expect_int(t, {&i}, [](const I& v) { return v[0] < 0 ? -v[0] : v[0]; })));
      EXPECT_TRUE(same_values(run_op_tensor("aten.neg.default", {{"self", i}}),
                              expect_int(t, {&i}, [](const I& v) { return -v[0]; })));
      EXPECT_TRUE(same_values(run_op_tensor("aten.sign.default", {{"self", i}}),
                              expect_int(t, {&i}, [](const I& v) {
                                return v[0] > 0 ? 1 : v[0] < 0 ? -1 : 0;
                              })));
    }
  }
  // abs(int8 -128) wraps, as in PyTorch; sign(nan) is 0; neg(0) is -0.
  ref::Tensor i8 = make_tensor(DType::kInt8, {2}, {-128, -3});
  EXPECT_TRUE(same_values(run_op_tensor("aten.abs.default", {{"self", i8}}),
                          make_tensor(DType::kInt8, {2}, {-128, 3})));
  ref::Tensor special = make_tensor(DType::kFloat32, {4}, {NAN, -0.0, 0.0, -INFINITY});
  EXPECT_TRUE(same_values(run_op_tensor("aten.sign.default", {{"self", special}}),
                          make_tensor(DType::kFloat32, {4}, {0, 0, 0, -1})));
  EXPECT_TRUE(std::signbit(run_op_tensor("aten.neg.default", {{"self", special}}).get(2)));
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 0, 1});
  EXPECT_TRUE(same_values(run_op_tensor("aten.sign.default", {{"self", b}}), b));
  expect_error([&] { run_op("aten.abs.default", {{"self", b}}); }, "Bool");
  expect_error(
      [&] {
        run_op("aten.neg.default", {{"self", b}});
      },
      "Negation, the `-` operator, on a bool tensor");
  ref::Tensor f = random_tensor(DType::kFloat16, {3}, rng);
  EXPECT_TRUE(same_values(run_op_tensor("aten.neg_.default", {{"self", f}}),
                          expect_real(DType::kFloat16, {&f}, [](const V& v) { return -v[0]; })));
}

TEST(PointwiseUnary, Rounding) {
  std::mt19937 rng(34);
  struct Case {
    const char* op;
    double (*fn)(double);
  };
  const Case cases[] = {
      {"aten.floor.default", [](double x) { return std::floor(x); }},
      {"aten.ceil.default", [](double x) { return std::ceil(x); }},
      {"aten.trunc.default", [](double x) { return x < 0 ? std::ceil(x) : std::floor(x); }},
      {"aten.round.default",
       [](double x) {
         double r = std::floor(x + 0.5);
         if (r - x == 0.5 && std::fmod(r, 2.0) != 0) r -= 1;  // ties to even
         return r;
       }},
  };
  for (const auto& c : cases) {
    for (DType t : {DType::kFloat32, DType::kFloat16}) {
      ref::Tensor x = random_tensor(t, {3, 1, 5}, rng, -6, 6);
      EXPECT_TRUE(same_values(run_op_tensor(c.op, {{"self", x}}),
                              expect_real(t, {&x}, [&](const V& v) { return c.fn(v[0]); })))
          << c.op;
    }
    ref::Tensor i = random_tensor(DType::kInt32, {2, 3}, rng, -50, 50);
    EXPECT_TRUE(same_values(run_op_tensor(c.op, {{"self", i}}), i)) << c.op;
    expect_error([&] { run_op(c.op, {{"self", make_tensor(DType::kBool, {1}, {1})}}); }, "Bool");
  }
  ref::Tensor halves = make_tensor(DType::kFloat32, {6}, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5});
  ref::Tensor r = run_op_tensor("aten.round.default", {{"self", halves}});
  EXPECT_TRUE(same_values(r, make_tensor(DType::kFloat32, {6}, {0, 2, 2, 0, -2, -2})));
  EXPECT_TRUE(std::signbit(r.get(3)));
  ref::Tensor f = make_tensor(DType::kFloat32, {2}, {2.5, -3.5});
  EXPECT_TRUE(same_values(run_op_tensor("aten.floor_.default", {{"self", f}}),
                          make_tensor(DType::kFloat32, {2}, {2, -4})));
}

TEST(PointwiseUnary, RoundDecimalsRoundsEachStepInTheDtype) {
  // Expected values are PyTorch's.
  ref::Tensor x = make_tensor(DType::kFloat32, {5}, {1.25, 0.125, -2.675, 123.456, 0.0051});
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.round.decimals", {{"self", x}, {"decimals", int64_t{2}}}),
                     make_tensor(DType::kFloat32, {5}, {1.25, 0.12, -2.68, 123.46, 0.01}), 1e-7);
  ref::Tensor tens = make_tensor(DType::kFloat32, {4}, {125, 135, -15, 7});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.round.decimals", {{"self", tens}, {"decimals", int64_t{-1}}}),
                  make_tensor(DType::kFloat32, {4}, {120, 140, -20, 10})));
  ref::Tensor h = pw::cast(x, DType::kFloat16);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.round.decimals", {{"self", h}, {"decimals", int64_t{1}}}),
      make_tensor(DType::kFloat16, {5}, {1.2001953125, 0.0999755859375, -2.69921875, 123.375, 0})));
  std::mt19937 rng(35);
  ref::Tensor y = random_tensor(DType::kFloat64, {2, 3}, rng, -10, 10);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.round.decimals", {{"self", y}, {"decimals", int64_t{3}}}),
                     expect_real(DType::kFloat64, {&y},
                                 [](const V& v) { return std::nearbyint(v[0] * 1000) / 1000; }),
                     1e-15);
  expect_error(
      [&] {
        run_op("aten.round.decimals",
               {{"self", make_tensor(DType::kInt64, {1}, {3})}, {"decimals", int64_t{1}}});
      },
      "Long");
}

TEST(PointwiseUnary, BitwiseAndLogicalNot) {
  std::mt19937 rng(36);
  for (DType t : {DType::kInt64, DType::kInt8, DType::kUInt8}) {
    ref::Tensor x = random_tensor(t, {3, 1, 4}, rng, t == DType::kUInt8 ? 0 : -100, 100);
    EXPECT_TRUE(same_values(run_op_tensor("aten.bitwise_not.default", {{"self", x}}),
                            expect_int(t, {&x}, [](const I& v) { return -v[0] - 1; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.logical_not.default", {{"self", x}}),
                            expect_int(DType::kBool, {&x}, [](const I& v) { return v[0] == 0; })));
  }
  ref::Tensor u8 = make_tensor(DType::kUInt8, {3}, {3, 2, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.bitwise_not.default", {{"self", u8}}),
                          make_tensor(DType::kUInt8, {3}, {252, 253, 255})));
  ref::Tensor b = random_tensor(DType::kBool, {2, 5}, rng);
  EXPECT_TRUE(same_values(run_op_tensor("aten.bitwise_not.default", {{"self", b}}),
                          expect_int(DType::kBool, {&b}, [](const I& v) { return !v[0]; })));
  ref::Tensor f = make_tensor(DType::kFloat32, {4}, {NAN, 0.0, -0.0, 0.25});
  EXPECT_TRUE(same_values(run_op_tensor("aten.logical_not.default", {{"self", f}}),
                          make_tensor(DType::kBool, {4}, {0, 1, 1, 0})));
  expect_error([&] { run_op("aten.bitwise_not.default", {{"self", f}}); }, "Float");
}

TEST(PointwiseUnary, IsnanAndNanToNum) {
  std::mt19937 rng(37);
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 5}, rng);
  for (int64_t k : {0, 3, 7, 19})
    x.set(k, NAN);
  x.set(5, INFINITY);
  x.set(6, -INFINITY);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.isnan.default", {{"self", x}}),
      expect_real(DType::kBool, {&x}, [](const V& v) { return v[0] != v[0] ? 1.0 : 0.0; })));
  ref::Tensor i = random_tensor(DType::kInt64, {3}, rng, -5, 5);
  EXPECT_TRUE(same_values(run_op_tensor("aten.isnan.default", {{"self", i}}),
                          make_tensor(DType::kBool, {3}, {0, 0, 0})));
  auto replace = [](double nan, double pos, double neg) {
    return [=](const V& v) {
      return v[0] != v[0] ? nan : v[0] == INFINITY ? pos : v[0] == -INFINITY ? neg : v[0];
    };
  };
  EXPECT_TRUE(same_values(run_op_tensor("aten.nan_to_num.default", {{"self", x}}),
                          expect_real(DType::kFloat32, {&x}, replace(0, FLT_MAX, -FLT_MAX))));
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.nan_to_num.default",
                                {{"self", x}, {"nan", 1.0}, {"posinf", 2.0}, {"neginf", -3.0}}),
                  expect_real(DType::kFloat32, {&x}, replace(1, 2, -3))));
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.nan_to_num_.default", {{"self", x}, {"posinf", 1e39}}),
                  expect_real(DType::kFloat32, {&x}, replace(0, INFINITY, -FLT_MAX))));
  ref::Tensor h = pw::cast(x, DType::kFloat16);
  EXPECT_TRUE(same_values(run_op_tensor("aten.nan_to_num.default", {{"self", h}}),
                          expect_real(DType::kFloat16, {&h}, replace(0, 65504, -65504))));
  ref::Tensor bf = pw::cast(x, DType::kBFloat16);
  ref::Tensor r = run_op_tensor("aten.nan_to_num.default", {{"self", bf}});
  EXPECT_EQ(r.get(5), 3.3895313892515355e38);
  EXPECT_TRUE(same_values(run_op_tensor("aten.nan_to_num.default", {{"self", i}}), i));
}

}  // namespace
}  // namespace kiln::testing
