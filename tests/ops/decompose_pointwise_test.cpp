// Decompositions of the activations, rsub, masked_fill, the one-sided clamps and the dtype
// conversions: each computes what the op's reference kernel computes, on random inputs at
// several shapes (size-1 dims and 0-dim tensors among them), concrete and symbolic.
#include <gtest/gtest.h>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

const std::vector<Dims> kShapes = {{2, 3}, {1, 5}, {4, 1, 3}, {}, {7}};

// Floating tolerances: the decomposed program rounds each step to the dtype (16-bit inputs
// compute in float32 and round once at the end, as the reference does).
double tolerance(DType t) {
  switch (t) {
    case DType::kFloat16:
      return 2e-3;
    case DType::kBFloat16:
      return 1e-2;
    case DType::kFloat64:
      return 1e-12;
    default:
      return 1e-5;
  }
}

void check_unary(std::string_view target, const TestArgs& extra = {},
                 std::initializer_list<DType> dtypes = {DType::kFloat32, DType::kFloat64,
                                                        DType::kFloat16, DType::kBFloat16}) {
  std::mt19937 rng(17);
  for (DType t : dtypes) {
    for (const Dims& shape : kShapes) {
      SCOPED_TRACE(std::string(target) + " " + std::string(ir::dtype_name(t)) + " rank " +
                   std::to_string(shape.size()));
      TestArgs args{{"self", random_tensor(t, shape, rng, -6, 6)}};
      args.insert(args.end(), extra.begin(), extra.end());
      EXPECT_TRUE(decomposes(target, args, tolerance(t)));
    }
  }
}

TEST(DecomposePointwise, Silu) {
  check_unary("aten.silu.default");
}

TEST(DecomposePointwise, GeluExactAndTanh) {
  check_unary("aten.gelu.default");
  check_unary("aten.gelu.default", {{"approximate", std::string("tanh")}});
}

TEST(DecomposePointwise, HardswishAndHardsigmoid) {
  check_unary("aten.hardswish.default");
  check_unary("aten.hardsigmoid.default");
}

TEST(DecomposePointwise, Mish) {
  check_unary("aten.mish.default");
}

TEST(DecomposePointwise, EluWithScalesAndSelu) {
  check_unary("aten.elu.default");
  check_unary("aten.elu.default", {{"alpha", 0.7}, {"scale", 1.3}, {"input_scale", 2.0}},
              {DType::kFloat32});
  check_unary("aten.selu.default");
}

TEST(DecomposePointwise, SoftplusAcrossItsThreshold) {
  check_unary("aten.softplus.default");
  check_unary("aten.softplus.default", {{"beta", 2.0}, {"threshold", 3.0}}, {DType::kFloat32});
  check_unary("aten.softplus.default", {{"beta", int64_t{3}}, {"threshold", int64_t{1}}},
              {DType::kFloat64});
}

TEST(DecomposePointwise, LogSigmoid) {
  check_unary("aten.log_sigmoid.default");
}

TEST(DecomposePointwise, LeakyRelu) {
  check_unary("aten.leaky_relu.default");
  check_unary("aten.leaky_relu.default", {{"negative_slope", 0.2}}, {DType::kFloat32});
}

TEST(DecomposePointwise, HardtanhAndRelu6OnFloatsAndIntegers) {
  check_unary("aten.hardtanh.default");
  check_unary("aten.hardtanh.default", {{"min_val", -2.5}, {"max_val", 1.5}},
              {DType::kFloat32, DType::kInt32, DType::kInt64});
  check_unary("aten.relu6.default", {}, {DType::kFloat32, DType::kFloat16, DType::kInt64});
}

TEST(DecomposePointwise, OneSidedClamps) {
  check_unary("aten.clamp_min.default", {{"min", -1.5}}, {DType::kFloat32, DType::kFloat16});
  check_unary("aten.clamp_min.default", {{"min", int64_t{2}}}, {DType::kInt32, DType::kFloat32});
  check_unary("aten.clamp_max.default", {{"max", 0.25}}, {DType::kFloat32});
  check_unary("aten.clamp_max.default", {{"max", int64_t{-1}}}, {DType::kInt64});
}

TEST(DecomposePointwise, RsubSwapsTheOperands) {
  std::mt19937 rng(3);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    ref::Tensor y = random_tensor(DType::kFloat32, {1}, rng);
    ref::Tensor i = random_tensor(DType::kInt32, shape, rng, -9, 9);
    EXPECT_TRUE(decomposes("aten.rsub.Tensor", {{"self", x}, {"other", y}}));
    EXPECT_TRUE(decomposes("aten.rsub.Tensor", {{"self", x}, {"other", y}, {"alpha", 2.5}}));
    EXPECT_TRUE(decomposes("aten.rsub.Tensor", {{"self", i}, {"other", x}}));
    EXPECT_TRUE(decomposes("aten.rsub.Scalar", {{"self", x}, {"other", 1.5}}));
    EXPECT_TRUE(decomposes("aten.rsub.Scalar",
                           {{"self", i}, {"other", int64_t{4}}, {"alpha", int64_t{3}}}));
    // An int tensor and a float number promote to the default float dtype.
    EXPECT_TRUE(decomposes("aten.rsub.Scalar", {{"self", i}, {"other", 0.5}}));
  }
}

TEST(DecomposePointwise, MaskedFillIsAWhereInSelfsDtype) {
  std::mt19937 rng(5);
  for (const Dims& shape : kShapes) {
    ref::Tensor mask = random_tensor(DType::kBool, shape, rng);
    for (DType t : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kBool}) {
      ref::Tensor x = random_tensor(t, shape, rng, -9, 9);
      EXPECT_TRUE(decomposes("aten.masked_fill.Scalar",
                             {{"self", x}, {"mask", mask}, {"value", int64_t{1}}}));
      ref::Tensor v = random_tensor(DType::kFloat64, {}, rng, -9, 9);
      if (t != DType::kBool && ir::is_floating(t)) {
        EXPECT_TRUE(
            decomposes("aten.masked_fill.Scalar", {{"self", x}, {"mask", mask}, {"value", -0.75}}));
        EXPECT_TRUE(
            decomposes("aten.masked_fill.Tensor", {{"self", x}, {"mask", mask}, {"value", v}}));
      }
    }
  }
  // The mask broadcasts against self.
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng);
  ref::Tensor row = random_tensor(DType::kBool, {4}, rng);
  EXPECT_TRUE(decomposes("aten.masked_fill.Scalar", {{"self", x}, {"mask", row}, {"value", 2.0}}));
}

TEST(DecomposePointwise, ConversionsBecomeToCopy) {
  std::mt19937 rng(7);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -100, 100);
    ref::Tensor i = random_tensor(DType::kInt64, shape, rng, -100, 100);
    EXPECT_TRUE(decomposes("aten.to.dtype", {{"self", x}, {"dtype", DType::kInt32}}));
    EXPECT_TRUE(decomposes("aten.to.dtype", {{"self", x}, {"dtype", DType::kFloat16}}, 1e-3));
    EXPECT_TRUE(decomposes("aten.to.dtype", {{"self", x}, {"dtype", DType::kFloat32}}));
    EXPECT_TRUE(decomposes("aten.to.device",
                           {{"self", i}, {"device", ir::Device{}}, {"dtype", DType::kFloat64}}));
    EXPECT_TRUE(decomposes("aten.to.dtype_layout", {{"self", i}, {"dtype", DType::kBool}}));
    EXPECT_TRUE(decomposes("aten.to.other", {{"self", x}, {"other", i}}));
    EXPECT_TRUE(decomposes("aten.type_as.default", {{"self", i}, {"other", x}}));
  }
}

}  // namespace
}  // namespace kiln::testing
