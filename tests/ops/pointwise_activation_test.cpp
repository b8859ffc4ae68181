#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "ops/op_table.h"
#include "pointwise_test_util.h"

namespace kiln::testing {
namespace {

using namespace pw;

const std::vector<int64_t> kShapes[] = {{}, {1}, {4, 1, 5}, {2, 3}};

TEST(PointwiseActivation, ReluRelu6HardtanhOnFloatsAndInts) {
  std::mt19937 rng(51);
  auto hardtanh = [](double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; };
  for (const auto& s : kShapes) {
    for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
      ref::Tensor x = random_tensor(t, s, rng, -8, 8);
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.relu.default", {{"self", x}}),
                      expect_real(t, {&x}, [](const V& v) { return v[0] > 0 ? v[0] : 0; })));
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.relu6.default", {{"self", x}}),
                      expect_real(t, {&x}, [&](const V& v) { return hardtanh(v[0], 0, 6); })));
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.hardtanh.default", {{"self", x}}),
                      expect_real(t, {&x}, [&](const V& v) { return hardtanh(v[0], -1, 1); })));
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.hardtanh.default",
                                    {{"self", x}, {"min_val", -2.5}, {"max_val", int64_t{3}}}),
                      expect_real(t, {&x}, [&](const V& v) { return hardtanh(v[0], -2.5, 3); })));
    }
    for (DType t : {DType::kInt64, DType::kInt32, DType::kUInt8}) {
      ref::Tensor i = random_tensor(t, s, rng, t == DType::kUInt8 ? 0 : -10, 10);
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.relu.default", {{"self", i}}),
                      expect_int(t, {&i}, [](const I& v) { return std::max<int64_t>(v[0], 0); })));
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.relu6.default", {{"self", i}}),
          expect_int(t, {&i}, [](const I& v) { return std::clamp<int64_t>(v[0], 0, 6); })));
      // Integer tensors truncate the bounds: [-1.5, 2.5] acts as [-1, 2] (for uint8, a bound
      // below the range clamps nothing).
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.hardtanh.default",
                        {{"self", i}, {"min_val", -1.5}, {"max_val", 2.5}}),
          expect_int(t, {&i}, [](const I& v) { return std::clamp<int64_t>(v[0], -1, 2); })));
    }
  }
  // NaN and -0 pass through; min_val > max_val gives max_val.
  ref::Tensor special = make_tensor(DType::kFloat32, {3}, {NAN, -0.0, 7});
  ref::Tensor r = run_op_tensor("aten.relu.default", {{"self", special}});
  EXPECT_TRUE(std::isnan(r.get(0)));
  EXPECT_TRUE(std::signbit(r.get(1)));
  EXPECT_TRUE(same_values(run_op_tensor("aten.relu6.default", {{"self", special}}),
                          make_tensor(DType::kFloat32, {3}, {NAN, 0, 6})));
  EXPECT_TRUE(same_values(run_op_tensor("aten.hardtanh.default",
                                        {{"self", special}, {"min_val", 2.0}, {"max_val", 1.0}}),
                          make_tensor(DType::kFloat32, {3}, {NAN, 1, 1})));
  ref::Tensor u8 = make_tensor(DType::kUInt8, {3}, {3, 0, 200});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.hardtanh.default",
                                {{"self", u8}, {"min_val", int64_t{-300}}, {"max_val", 2.5}}),
                  make_tensor(DType::kUInt8, {3}, {2, 0, 2})));
  expect_error(
      [&] {
        run_op("aten.hardtanh.default", {{"self", u8}, {"min_val", 2.0}, {"max_val", -1.0}});
      },
      "Clamp max value -1 is outside the representable range of Byte");
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  expect_error(
      [&] {
        run_op("aten.relu.default", {{"self", b}});
      },
      "Boolean inputs not supported for relu");
  expect_error(
      [&] {
        run_op("aten.hardtanh.default", {{"self", b}});
      },
      "Bool inputs not supported for hardtanh");
  expect_error([&] { run_op("aten.relu6.default", {{"self", b}}); }, "hardtanh");
}

struct ActivationCase {
  const char* op;
  TestArgs params;  // besides self
  std::function<double(double)> fn;
};

std::vector<ActivationCase> activation_cases() {
  const double selu_alpha = 1.6732632423543772848170429916717;
  const double selu_scale = 1.0507009873554804934193349852946;
  auto softplus = [](double x, double beta, double threshold) {
    return beta * x > threshold ? x : std::log(1 + std::exp(beta * x)) / beta;
  };
  return {
      {"leaky_relu", {}, [](double x) { return x > 0 ? x : 0.01 * x; }},
      {"leaky_relu", {{"negative_slope", 0.2}}, [](double x) { return x > 0 ? x : 0.2 * x; }},
      {"elu", {}, [](double x) { return x > 0 ? x : std::exp(x) - 1; }},
      {"elu",
       {{"alpha", 2.0}, {"scale", 3.0}, {"input_scale", 0.5}},
       [](double x) { return x > 0 ? 3 * x : 2 * 3 * (std::exp(0.5 * x) - 1); }},
      {"selu",
       {},
       [=](double x) { return selu_scale * (x > 0 ? x : selu_alpha * (std::exp(x) - 1)); }},
      {"gelu", {}, [](double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }},
      {"gelu",
       {{"approximate", std::string("tanh")}},
       [](double x) {
         double inner = std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * std::pow(x, 3));
         return 0.5 * x * (1 + std::tanh(inner));
       }},
      {"silu", {}, [](double x) { return x * std::exp(x) / (1 + std::exp(x)); }},
      {"mish", {}, [](double x) { return x * std::tanh(std::log(1 + std::exp(x))); }},
      {"hardswish", {}, [](double x) { return x <= -3  ? 0
                                              : x >= 3 ? x
                                                       : x * (x + 3) / 6; }},
      {"hardsigmoid", {}, [](double x) { return x <= -3  ? 0
                                                : x >= 3 ? 1
                                                         : x / 6 + 0.5; }},
      {"softplus", {}, [=](double x) { return softplus(x, 1, 20); }},
      {"softplus",
       {{"beta", 2.0}, {"threshold", int64_t{3}}},
       [=](double x) { return softplus(x, 2, 3); }},
      {"log_sigmoid", {}, [](double x) { return -std::log(1 + std::exp(-x)); }},
  };
}

TEST(PointwiseActivation, FloatingActivations) {
  std::mt19937 rng(52);
  for (const auto& c : activation_cases()) {
    std::string target = std::string("aten.") + c.op + ".default";
    for (auto [dtype, tol] : {std::pair{DType::kFloat32, 1e-6},
                              {DType::kFloat64, 1e-12},
                              {DType::kFloat16, 1e-3},
                              {DType::kBFloat16, 1e-2}}) {
      for (const auto& s : kShapes) {
        SCOPED_TRACE(target + " " + std::string(ir::dtype_name(dtype)));
        ref::Tensor x = random_tensor(dtype, s, rng, -5, 5);
        TestArgs args = c.params;
        args.insert(args.begin(), std::pair<std::string, TestArg>{"self", x});
        EXPECT_TENSOR_NEAR(run_op_tensor(target, args),
                           expect_real(dtype, {&x}, [&](const V& v) { return c.fn(v[0]); }), tol);
      }
    }
    TestArgs int_args = c.params;
    int_args.insert(int_args.begin(), std::pair<std::string, TestArg>{
                                          "self", make_tensor(DType::kInt64, {2}, {1, -1})});
    expect_error([&] { run_op(target, int_args); }, "Long");
  }
  // Large inputs stay finite and exact.
  ref::Tensor big = make_tensor(DType::kFloat32, {4}, {-200, -30, 30, 200});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.softplus.default", {{"self", big}}),
                  make_tensor(DType::kFloat32, {4}, {0, std::log1p(std::exp(-30.0)), 30, 200})));
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.log_sigmoid.default", {{"self", big}}),
                     make_tensor(DType::kFloat32, {4}, {-200, -30, 0, 0}), 1e-6);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.mish.default", {{"self", big}}),
      make_tensor(DType::kFloat32, {4}, {0, -30 * std::tanh(std::log1p(std::exp(-30.0))), 30, 200}),
      1e-6);
  expect_error(
      [&] {
        run_op("aten.gelu.default", {{"self", big}, {"approximate", std::string("fast")}});
      },
      "approximate argument must be either none or tanh");
}

TEST(PointwiseActivation, InPlaceVariants) {
  std::mt19937 rng(53);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 1, 4}, rng, -4, 4);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.relu_.default", {{"self", x}}),
      expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] > 0 ? v[0] : 0; })));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.hardtanh_.default", {{"self", x}, {"min_val", 0.0}, {"max_val", 6.0}}),
      run_op_tensor("aten.relu6.default", {{"self", x}})));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.leaky_relu_.default", {{"self", x}, {"negative_slope", 0.1}}),
      expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] > 0 ? v[0] : 0.1 * v[0]; })));
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.silu_.default", {{"self", x}}),
      expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] / (1 + std::exp(-v[0])); }),
      1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.gelu_.default", {{"self", x}}),
                     run_op_tensor("aten.gelu.default", {{"self", x}}), 0);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.hardswish_.default", {{"self", x}}),
                     run_op_tensor("aten.hardswish.default", {{"self", x}}), 0);
  ref::Tensor i = random_tensor(DType::kInt32, {5}, rng, -5, 5);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.relu_.default", {{"self", i}}),
      expect_int(DType::kInt32, {&i}, [](const I& v) { return std::max<int64_t>(v[0], 0); })));
  expect_error([&] { run_op("aten.silu_.default", {{"self", i}}); }, "Int");
  for (auto [op, functional] : {std::pair{"aten.relu_.default", "aten.relu.default"},
                                {"aten.leaky_relu_.default", "aten.leaky_relu.default"},
                                {"aten.gelu_.default", "aten.gelu.default"},
                                {"aten.silu_.default", "aten.silu.default"},
                                {"aten.hardswish_.default", "aten.hardswish.default"},
                                {"aten.hardtanh_.default", "aten.hardtanh.default"}}) {
    ASSERT_NE(ops::find_op(op), nullptr) << op;
    EXPECT_EQ(ops::find_op(op)->functional, functional);
  }
}

}  // namespace
}  // namespace kiln::testing
