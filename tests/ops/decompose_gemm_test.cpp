// Decompositions of linear, matmul (every rank pairing torch.matmul distinguishes), dot, outer,
// baddbmm and einsum into mm / bmm / addmm and reshapes, against the reference kernels.
#include <gtest/gtest.h>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

TEST(DecomposeGemm, MatmulOfEveryRankPairing) {
  std::mt19937 rng(31);
  struct Case {
    Dims x, y;
  };
  const std::vector<Case> cases = {
      {{4}, {4}},
      {{3, 4}, {4}},
      {{4}, {4, 5}},
      {{3, 4}, {4, 5}},
      {{2, 3, 4}, {4}},
      {{2, 3, 4}, {4, 5}},
      {{4}, {2, 4, 5}},
      {{3, 4}, {2, 4, 5}},
      {{2, 3, 4}, {2, 4, 5}},
      {{2, 1, 3, 4}, {5, 4, 2}},
      {{1, 3, 4}, {6, 4, 1}},
      {{2, 2, 1, 4}, {4, 3}},
      {{1, 4}, {4, 1}},
      {{6, 1, 1, 4}, {1, 3, 4, 2}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.x.size()) + "-D @ " + std::to_string(c.y.size()) + "-D");
    for (DType t : {DType::kFloat32, DType::kInt64}) {
      ref::Tensor x = random_tensor(t, c.x, rng, -4, 4);
      ref::Tensor y = random_tensor(t, c.y, rng, -4, 4);
      EXPECT_TRUE(decomposes("aten.matmul.default", {{"self", x}, {"other", y}}));
    }
  }
}

TEST(DecomposeGemm, LinearWithAndWithoutBias) {
  std::mt19937 rng(32);
  for (const Dims& in : {Dims{5}, Dims{3, 5}, Dims{2, 3, 5}, Dims{2, 1, 4, 5}, Dims{1, 5}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, in, rng);
    ref::Tensor w = random_tensor(DType::kFloat32, {6, 5}, rng);
    ref::Tensor b = random_tensor(DType::kFloat32, {6}, rng);
    EXPECT_TRUE(decomposes("aten.linear.default", {{"input", x}, {"weight", w}}));
    EXPECT_TRUE(decomposes("aten.linear.default", {{"input", x}, {"weight", w}, {"bias", b}}));
    ref::Tensor one = random_tensor(DType::kFloat32, {1}, rng);
    EXPECT_TRUE(decomposes("aten.linear.default", {{"input", x}, {"weight", w}, {"bias", one}}));
    ref::Tensor v = random_tensor(DType::kFloat32, {5}, rng);
    EXPECT_TRUE(decomposes("aten.linear.default", {{"input", x}, {"weight", v}}));
    if (in.size() != 2 && in.size() != 3) {  // addmm's paths need a matrix weight with a bias
      ref::Tensor scalar = random_tensor(DType::kFloat32, {}, rng);
      EXPECT_TRUE(
          decomposes("aten.linear.default", {{"input", x}, {"weight", v}, {"bias", scalar}}));
    }
  }
  // A bias of full rank is added after the GEMM.
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 5}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {4, 5}, rng);
  ref::Tensor b = random_tensor(DType::kFloat32, {2, 1, 4}, rng);
  EXPECT_TRUE(decomposes("aten.linear.default", {{"input", x}, {"weight", w}, {"bias", b}}));
  ref::Tensor h = random_tensor(DType::kFloat16, {3, 8}, rng);
  ref::Tensor hw = random_tensor(DType::kFloat16, {2, 8}, rng);
  ref::Tensor hb = random_tensor(DType::kFloat16, {2}, rng);
  EXPECT_TRUE(
      decomposes("aten.linear.default", {{"input", h}, {"weight", hw}, {"bias", hb}}, 2e-3));
}

TEST(DecomposeGemm, DotAndOuter) {
  std::mt19937 rng(33);
  for (int64_t n : {1, 7}) {
    for (DType t : {DType::kFloat32, DType::kInt32}) {
      ref::Tensor x = random_tensor(t, {n}, rng, -5, 5);
      ref::Tensor y = random_tensor(t, {n}, rng, -5, 5);
      EXPECT_TRUE(decomposes("aten.dot.default", {{"self", x}, {"tensor", y}}));
      ref::Tensor z = random_tensor(t, {3}, rng, -5, 5);
      EXPECT_TRUE(decomposes("aten.outer.default", {{"self", x}, {"vec2", z}}));
    }
  }
  ref::Tensor i = random_tensor(DType::kInt32, {4}, rng, -5, 5);
  ref::Tensor f = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_TRUE(decomposes("aten.outer.default", {{"self", i}, {"vec2", f}}));
}

TEST(DecomposeGemm, BaddbmmScalesAndIgnoresSelfForZeroBeta) {
  std::mt19937 rng(34);
  ref::Tensor b1 = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor b2 = random_tensor(DType::kFloat32, {2, 4, 5}, rng);
  for (const Dims& s : {Dims{2, 3, 5}, Dims{5}, Dims{1, 3, 1}}) {
    ref::Tensor self = random_tensor(DType::kFloat32, s, rng);
    EXPECT_TRUE(
        decomposes("aten.baddbmm.default", {{"self", self}, {"batch1", b1}, {"batch2", b2}}));
    EXPECT_TRUE(decomposes(
        "aten.baddbmm.default",
        {{"self", self}, {"batch1", b1}, {"batch2", b2}, {"beta", 0.5}, {"alpha", -2.0}}));
  }
  ref::Tensor nan = make_tensor(DType::kFloat32, {1}, {std::nan("")});
  EXPECT_TRUE(decomposes("aten.baddbmm.default",
                         {{"self", nan}, {"batch1", b1}, {"batch2", b2}, {"beta", int64_t{0}}}));
  ref::Tensor i1 = random_tensor(DType::kInt64, {2, 3, 4}, rng, -5, 5);
  ref::Tensor i2 = random_tensor(DType::kInt64, {2, 4, 5}, rng, -5, 5);
  ref::Tensor is = random_tensor(DType::kInt64, {2, 3, 5}, rng, -5, 5);
  EXPECT_TRUE(decomposes(
      "aten.baddbmm.default",
      {{"self", is}, {"batch1", i1}, {"batch2", i2}, {"beta", int64_t{2}}, {"alpha", int64_t{3}}}));
}

TEST(DecomposeGemm, EinsumContractsPairwiseWithBmm) {
  std::mt19937 rng(35);
  struct Case {
    std::string equation;
    std::vector<Dims> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{3, 4}, {4, 5}}},
      {"bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}},
      {"bhqd,bhkd->bhqk", {{2, 3, 4, 5}, {2, 3, 6, 5}}},
      {"i,j->ij", {{3}, {4}}},
      {"ij->ji", {{3, 4}}},
      {"ij->", {{3, 4}}},
      {"ii->i", {{4, 4}}},
      {"ii", {{3, 3}}},
      {"iij->j", {{3, 3, 2}}},
      {"ij,ij->i", {{3, 4}, {3, 4}}},
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}},
      {"...ij,...jk->...ik", {{2, 1, 3, 4}, {5, 4, 2}}},
      {"b...,b->...", {{2, 3, 4}, {2}}},
      {"ij,jk", {{3, 4}, {4, 2}}},
      {"i,i->i", {{1}, {5}}},
      {"ab,cd->", {{2, 3}, {4, 5}}},
      {"ijk,ikl->jl", {{2, 3, 4}, {2, 4, 1}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.equation);
    for (DType t : {DType::kFloat32, DType::kInt32}) {
      std::vector<ref::Tensor> operands;
      for (const Dims& s : c.shapes)
        operands.push_back(random_tensor(t, s, rng, -4, 4));
      EXPECT_TRUE(
          decomposes("aten.einsum.default", {{"equation", c.equation}, {"tensors", operands}}));
    }
  }
}

}  // namespace
}  // namespace kiln::testing
