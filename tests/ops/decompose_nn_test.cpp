// Decompositions of the convolution variants into aten.convolution, the 1-D and index-free
// poolings into their 2-D forms, and scaled_dot_product_attention into matmuls and a softmax,
// against the reference kernels.
#include <gtest/gtest.h>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

TEST(DecomposeNn, ConvolutionsOfEachRank) {
  std::mt19937 rng(41);
  struct Case {
    const char* target;
    Dims x, w;
    TestArgs params;
  };
  const std::vector<Case> cases = {
      {"aten.conv1d.default", {2, 4, 9}, {6, 4, 3}, {}},
      {"aten.conv1d.default",
       {4, 9},
       {6, 2, 3},
       {{"stride", Dims{2}}, {"padding", Dims{1}}, {"dilation", Dims{2}}, {"groups", int64_t{2}}}},
      {"aten.conv2d.default", {1, 3, 6, 5}, {4, 3, 3, 2}, {{"padding", Dims{1, 0}}}},
      {"aten.conv2d.default",
       {2, 4, 7, 7},
       {4, 1, 3, 3},
       {{"stride", Dims{2}}, {"padding", Dims{1}}, {"groups", int64_t{4}}}},
      {"aten.conv2d.default", {3, 5, 5}, {2, 3, 1, 1}, {}},
      {"aten.conv3d.default", {1, 2, 4, 5, 3}, {3, 2, 2, 3, 1}, {{"padding", Dims{1, 0, 0}}}},
      {"aten.conv1d.padding", {2, 3, 8}, {4, 3, 4}, {{"padding", std::string("same")}}},
      {"aten.conv1d.padding",
       {2, 3, 8},
       {4, 3, 3},
       {{"padding", std::string("same")}, {"dilation", Dims{2}}}},
      {"aten.conv1d.padding", {3, 8}, {4, 3, 5}, {{"padding", std::string("valid")}}},
      {"aten.conv2d.padding", {1, 2, 6, 5}, {3, 2, 2, 3}, {{"padding", std::string("same")}}},
      {"aten.conv2d.padding",
       {1, 2, 6, 5},
       {3, 2, 2, 3},
       {{"padding", std::string("valid")}, {"stride", Dims{2, 1}}}},
      {"aten.conv_transpose1d.default", {2, 4, 5}, {4, 3, 3}, {}},
      {"aten.conv_transpose1d.default",
       {4, 5},
       {4, 1, 3},
       {{"stride", Dims{2}},
        {"padding", Dims{1}},
        {"output_padding", Dims{1}},
        {"groups", int64_t{2}}}},
      {"aten.conv_transpose2d.input",
       {1, 2, 4, 3},
       {2, 3, 3, 2},
       {{"stride", Dims{2, 1}}, {"padding", Dims{1, 0}}, {"dilation", Dims{1, 2}}}},
  };
  DecomposeOptions weights_known;  // padding='same' needs the kernel's sizes
  weights_known.concrete_args = {"weight", "bias"};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.target) + " on rank " + std::to_string(c.x.size()));
    ref::Tensor x = random_tensor(DType::kFloat32, c.x, rng);
    ref::Tensor w = random_tensor(DType::kFloat32, c.w, rng);
    int64_t out_channels = c.target == std::string("aten.conv_transpose1d.default") ||
                                   c.target == std::string("aten.conv_transpose2d.input")
                               ? 0
                               : c.w[0];
    TestArgs args{{"input", x}, {"weight", w}};
    args.insert(args.end(), c.params.begin(), c.params.end());
    EXPECT_TRUE(decomposes(c.target, args, weights_known));
    if (out_channels > 0) {
      args.emplace_back("bias", random_tensor(DType::kFloat32, {out_channels}, rng));
      EXPECT_TRUE(decomposes(c.target, args, weights_known));
    }
  }
}

TEST(DecomposeNn, PoolingsBecomeTheirTwoDimensionalForms) {
  std::mt19937 rng(42);
  for (const Dims& shape : {Dims{2, 3, 9}, Dims{3, 8}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    EXPECT_TRUE(decomposes("aten.max_pool1d.default", {{"self", x}, {"kernel_size", Dims{3}}}));
    EXPECT_TRUE(decomposes("aten.max_pool1d.default", {{"self", x},
                                                       {"kernel_size", Dims{3}},
                                                       {"stride", Dims{2}},
                                                       {"padding", Dims{1}},
                                                       {"dilation", Dims{2}},
                                                       {"ceil_mode", true}}));
    EXPECT_TRUE(decomposes("aten.avg_pool1d.default", {{"self", x}, {"kernel_size", Dims{2}}}));
    EXPECT_TRUE(decomposes("aten.avg_pool1d.default", {{"self", x},
                                                       {"kernel_size", Dims{3}},
                                                       {"stride", Dims{2}},
                                                       {"padding", Dims{1}},
                                                       {"ceil_mode", true},
                                                       {"count_include_pad", false}}));
    for (int64_t out : {1, 3, 5}) {
      EXPECT_TRUE(decomposes("aten.adaptive_avg_pool1d.default",
                             {{"self", x}, {"output_size", Dims{out}}}));
    }
  }
  for (const Dims& shape : {Dims{2, 3, 7, 6}, Dims{3, 5, 5}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    EXPECT_TRUE(decomposes("aten.max_pool2d.default", {{"self", x}, {"kernel_size", Dims{2, 2}}}));
    EXPECT_TRUE(decomposes("aten.max_pool2d.default", {{"self", x},
                                                       {"kernel_size", Dims{3, 2}},
                                                       {"stride", Dims{2, 1}},
                                                       {"padding", Dims{1, 1}},
                                                       {"ceil_mode", true}}));
  }
  ref::Tensor i = random_tensor(DType::kInt32, {1, 2, 6, 6}, rng, -50, 50);
  EXPECT_TRUE(decomposes("aten.max_pool2d.default", {{"self", i}, {"kernel_size", Dims{3}}}));
}

TestArgs attention(const ref::Tensor& q, const ref::Tensor& k, const ref::Tensor& v,
                   TestArgs more = {}) {
  TestArgs args{{"query", q}, {"key", k}, {"value", v}};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(DecomposeNn, AttentionWithMasksScalesAndGroupedHeads) {
  std::mt19937 rng(43);
  struct Case {
    Dims q, k, v;
  };
  for (const Case& c :
       {Case{{2, 3, 4, 8}, {2, 3, 5, 8}, {2, 3, 5, 6}}, Case{{4, 8}, {6, 8}, {6, 8}},
        Case{{2, 1, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}},
        Case{{1, 2, 1, 4}, {1, 2, 1, 4}, {1, 2, 1, 4}}}) {
    SCOPED_TRACE("query rank " + std::to_string(c.q.size()));
    ref::Tensor q = random_tensor(DType::kFloat32, c.q, rng);
    ref::Tensor k = random_tensor(DType::kFloat32, c.k, rng);
    ref::Tensor v = random_tensor(DType::kFloat32, c.v, rng);
    EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default", attention(q, k, v)));
    EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                           attention(q, k, v, {{"is_causal", true}, {"scale", 0.3}})));
    int64_t l = c.q[c.q.size() - 2], s = c.k[c.k.size() - 2];
    ref::Tensor keep = random_tensor(DType::kBool, {l, s}, rng);
    EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                           attention(q, k, v, {{"attn_mask", keep}})));
    ref::Tensor bias = random_tensor(DType::kFloat32, {1, s}, rng);
    EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                           attention(q, k, v, {{"attn_mask", bias}})));
  }
  // Every key masked in some rows: those rows are zeros.
  ref::Tensor q = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor k = random_tensor(DType::kFloat32, {2, 5, 4}, rng);
  ref::Tensor none = make_tensor(DType::kBool, {3, 1}, {1, 0, 1});
  EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                         attention(q, k, k, {{"attn_mask", none}})));
  // More queries than keys: causal rows see the first keys only.
  ref::Tensor qs = random_tensor(DType::kFloat32, {1, 6, 4}, rng);
  EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                         attention(qs, k, k, {{"is_causal", true}})));
  // Grouped-query attention: 6 query heads over 2 (and 3) key/value heads.
  ref::Tensor gq = random_tensor(DType::kFloat32, {2, 6, 3, 4}, rng);
  ref::Tensor gk = random_tensor(DType::kFloat32, {2, 2, 5, 4}, rng);
  ref::Tensor gv = random_tensor(DType::kFloat32, {2, 3, 5, 4}, rng);
  EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                         attention(gq, gk, gv, {{"enable_gqa", true}, {"is_causal", true}})));
  // Half inputs compute in float32.
  ref::Tensor hq = random_tensor(DType::kFloat16, {2, 3, 8}, rng);
  ref::Tensor hk = random_tensor(DType::kFloat16, {2, 4, 8}, rng);
  ref::Tensor hm = random_tensor(DType::kFloat16, {3, 4}, rng);
  EXPECT_TRUE(decomposes("aten.scaled_dot_product_attention.default",
                         attention(hq, hk, hk, {{"attn_mask", hm}}), 2e-3));
}

}  // namespace
}  // namespace kiln::testing
