// Decompositions of softmax / log_softmax, logsumexp, mean, the variance family, the vector
// norms and the whole-tensor max / min: each computes what the op's reference kernel computes,
// over several dims and keepdim settings, concrete and symbolic.
#include <gtest/gtest.h>

#include <limits>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<Dims> kShapes = {{3, 4}, {2, 1, 5}, {1, 6}, {5}};

TEST(DecomposeReduction, SoftmaxAndLogSoftmaxAlongEveryDim) {
  std::mt19937 rng(11);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -8, 8);
    for (int64_t dim = -1; dim < static_cast<int64_t>(shape.size()); ++dim) {
      for (const char* t : {"aten.softmax.int", "aten.log_softmax.int"}) {
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"dim", dim}}));
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"dim", dim}, {"dtype", DType::kFloat64}}));
      }
      for (const char* t : {"aten._softmax.default", "aten._log_softmax.default"}) {
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"dim", dim}, {"half_to_float", false}}));
      }
    }
  }
}

TEST(DecomposeReduction, SoftmaxOfHalfComputesInFloat) {
  std::mt19937 rng(12);
  ref::Tensor h = random_tensor(DType::kFloat16, {3, 7}, rng, -8, 8);
  EXPECT_TRUE(decomposes("aten.softmax.int", {{"self", h}, {"dim", int64_t{1}}}, 2e-3));
  EXPECT_TRUE(decomposes("aten._softmax.default",
                         {{"self", h}, {"dim", int64_t{1}}, {"half_to_float", true}}));
  EXPECT_TRUE(decomposes("aten._log_softmax.default",
                         {{"self", h}, {"dim", int64_t{0}}, {"half_to_float", true}}));
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 3}, rng, -8, 8);
  EXPECT_TRUE(decomposes("aten.log_softmax.int",
                         {{"self", x}, {"dim", int64_t{1}}, {"dtype", DType::kFloat16}}, 2e-3));
}

TEST(DecomposeReduction, SoftmaxWithInfinitiesAndZeroDims) {
  ref::Tensor x = make_tensor(DType::kFloat32, {2, 3}, {-kInf, 1, 2, kInf, 0, -kInf});
  EXPECT_TRUE(decomposes("aten.softmax.int", {{"self", x}, {"dim", int64_t{1}}}));
  EXPECT_TRUE(decomposes("aten.log_softmax.int", {{"self", x}, {"dim", int64_t{1}}}));
  ref::Tensor s = make_tensor(DType::kFloat32, {}, {0.3});
  EXPECT_TRUE(decomposes("aten.softmax.int", {{"self", s}, {"dim", int64_t{0}}}));
  EXPECT_TRUE(decomposes("aten.log_softmax.int", {{"self", s}, {"dim", int64_t{-1}}}));
}

TEST(DecomposeReduction, LogsumexpKeepsInfiniteMaximaFinite) {
  std::mt19937 rng(13);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -30, 30);
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(decomposes("aten.logsumexp.default",
                             {{"self", x}, {"dim", Dims{-1}}, {"keepdim", keepdim}}));
      EXPECT_TRUE(decomposes("aten.logsumexp.default",
                             {{"self", x}, {"dim", Dims{0}}, {"keepdim", keepdim}}));
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_TRUE(decomposes("aten.logsumexp.default", {{"self", x}, {"dim", Dims{0, 2}}}));
  ref::Tensor inf = make_tensor(DType::kFloat32, {3, 2}, {-kInf, -kInf, kInf, 1, 2, 3});
  EXPECT_TRUE(decomposes("aten.logsumexp.default", {{"self", inf}, {"dim", Dims{1}}}));
  ref::Tensor ints = random_tensor(DType::kInt32, {3, 4}, rng, -5, 5);
  EXPECT_TRUE(decomposes("aten.logsumexp.default", {{"self", ints}, {"dim", Dims{1}}}));
  ref::Tensor half = random_tensor(DType::kFloat16, {3, 4}, rng);
  EXPECT_TRUE(decomposes("aten.logsumexp.default", {{"self", half}, {"dim", Dims{1}}}, 2e-3));
}

TEST(DecomposeReduction, MeanOverDimsWithKeepdimAndDtype) {
  std::mt19937 rng(14);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    EXPECT_TRUE(decomposes("aten.mean.default", {{"self", x}}));
    EXPECT_TRUE(decomposes("aten.mean.default", {{"self", x}, {"dtype", DType::kFloat64}}));
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(
          decomposes("aten.mean.dim", {{"self", x}, {"dim", Dims{-1}}, {"keepdim", keepdim}}));
      EXPECT_TRUE(
          decomposes("aten.mean.dim", {{"self", x}, {"dim", Dims{}}, {"keepdim", keepdim}}));
      EXPECT_TRUE(
          decomposes("aten.mean.dim", {{"self", x}, {"dim", ir::NoneArg{}}, {"keepdim", keepdim}}));
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_TRUE(decomposes("aten.mean.dim", {{"self", x}, {"dim", Dims{0, 2}}, {"keepdim", true}}));
  ref::Tensor h = random_tensor(DType::kFloat16, {4, 5}, rng);
  EXPECT_TRUE(decomposes("aten.mean.dim", {{"self", h}, {"dim", Dims{1}}}, 2e-3));
  ref::Tensor i = random_tensor(DType::kInt64, {4, 5}, rng, -9, 9);
  EXPECT_TRUE(
      decomposes("aten.mean.dim", {{"self", i}, {"dim", Dims{0}}, {"dtype", DType::kFloat32}}));
  ref::Tensor s = make_tensor(DType::kFloat32, {}, {1.25});
  EXPECT_TRUE(decomposes("aten.mean.default", {{"self", s}}));
}

TEST(DecomposeReduction, VarianceFamilyWithCorrections) {
  std::mt19937 rng(15);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -3, 5);
    for (bool keepdim : {false, true}) {
      for (const char* t : {"aten.var.dim", "aten.std.dim"}) {
        for (bool unbiased : {false, true}) {
          EXPECT_TRUE(decomposes(
              t, {{"self", x}, {"dim", Dims{-1}}, {"unbiased", unbiased}, {"keepdim", keepdim}}));
        }
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"dim", ir::NoneArg{}}, {"keepdim", keepdim}}));
      }
      for (const char* t :
           {"aten.var.correction", "aten.std.correction", "aten.var_mean.correction"}) {
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"keepdim", keepdim}}));
        EXPECT_TRUE(decomposes(
            t, {{"self", x}, {"dim", Dims{0}}, {"correction", int64_t{0}}, {"keepdim", keepdim}}));
        EXPECT_TRUE(decomposes(
            t, {{"self", x}, {"dim", Dims{-1}}, {"correction", 1.5}, {"keepdim", keepdim}}));
        // A correction beyond the count divides by max(0, N - correction) = 0.
        EXPECT_TRUE(decomposes(t, {{"self", x}, {"dim", Dims{0}}, {"correction", int64_t{9}}}));
      }
    }
  }
  ref::Tensor h = random_tensor(DType::kFloat16, {3, 8}, rng);
  EXPECT_TRUE(decomposes("aten.var.correction", {{"self", h}, {"dim", Dims{1}}}, 2e-3));
  ref::Tensor x = random_tensor(DType::kFloat64, {2, 3, 4}, rng);
  EXPECT_TRUE(decomposes("aten.var_mean.correction", {{"self", x}, {"dim", Dims{0, 2}}}, 1e-12));
}

TEST(DecomposeReduction, VectorNormsOfEveryOrder) {
  std::mt19937 rng(16);
  for (const Dims& shape : kShapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    for (double ord : {2.0, 1.0, 0.0, 3.0, 0.5, -1.0, kInf, -kInf}) {
      EXPECT_TRUE(decomposes("aten.linalg_vector_norm.default", {{"self", x}, {"ord", ord}}));
      EXPECT_TRUE(decomposes("aten.linalg_vector_norm.default",
                             {{"self", x}, {"ord", ord}, {"dim", Dims{-1}}, {"keepdim", true}}));
      EXPECT_TRUE(
          decomposes("aten.norm.ScalarOpt_dim", {{"self", x}, {"p", ord}, {"dim", Dims{0}}}));
    }
    EXPECT_TRUE(decomposes("aten.norm.Scalar", {{"self", x}}));
    EXPECT_TRUE(decomposes("aten.norm.Scalar", {{"self", x}, {"p", int64_t{1}}}));
    EXPECT_TRUE(
        decomposes("aten.norm.ScalarOpt_dim",
                   {{"self", x}, {"p", ir::NoneArg{}}, {"dim", Dims{-1}}, {"keepdim", true}}));
  }
  ref::Tensor h = random_tensor(DType::kFloat16, {3, 8}, rng);
  EXPECT_TRUE(decomposes("aten.linalg_vector_norm.default", {{"self", h}, {"dim", Dims{1}}}, 2e-3));
  EXPECT_TRUE(decomposes("aten.linalg_vector_norm.default",
                         {{"self", h}, {"dim", Dims{1}}, {"dtype", DType::kFloat32}}));
}

TEST(DecomposeReduction, WholeTensorMaxAndMin) {
  std::mt19937 rng(18);
  for (const Dims& shape : {Dims{3, 4}, Dims{1}, Dims{}, Dims{2, 1, 3}}) {
    for (DType t : {DType::kFloat32, DType::kInt32, DType::kBool}) {
      ref::Tensor x = random_tensor(t, shape, rng, -50, 50);
      EXPECT_TRUE(decomposes("aten.max.default", {{"self", x}}));
      EXPECT_TRUE(decomposes("aten.min.default", {{"self", x}}));
    }
  }
}

}  // namespace
}  // namespace kiln::testing
