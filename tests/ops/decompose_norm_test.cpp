// Decompositions of the normalization layers: layer_norm / native_layer_norm, rms_norm,
// group_norm / native_group_norm, batch_norm (eval and training), the no-training native form
// and instance_norm, with and without affine parameters, against their reference kernels.
#include <gtest/gtest.h>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

TestArg optional(const std::optional<ref::Tensor>& t) {
  return t ? TestArg(*t) : TestArg(ir::NoneArg{});
}

TEST(DecomposeNorm, LayerNormOverTrailingDims) {
  std::mt19937 rng(21);
  struct Case {
    Dims shape, normalized;
  };
  for (const Case& c : {Case{{2, 3, 4}, {4}}, Case{{2, 3, 4}, {3, 4}}, Case{{1, 5}, {5}},
                        Case{{3, 1, 2}, {1, 2}}, Case{{6}, {6}}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, c.shape, rng, -3, 5);
    ref::Tensor w = random_tensor(DType::kFloat32, c.normalized, rng);
    ref::Tensor b = random_tensor(DType::kFloat32, c.normalized, rng);
    for (bool affine : {false, true}) {
      std::optional<ref::Tensor> wo = affine ? std::optional(w) : std::nullopt;
      std::optional<ref::Tensor> bo = affine ? std::optional(b) : std::nullopt;
      TestArgs args{{"input", x},
                    {"normalized_shape", c.normalized},
                    {"weight", optional(wo)},
                    {"bias", optional(bo)}};
      EXPECT_TRUE(decomposes("aten.layer_norm.default", args));
      args.emplace_back("eps", 1e-3);
      EXPECT_TRUE(decomposes("aten.native_layer_norm.default", args));
    }
    EXPECT_TRUE(decomposes("aten.layer_norm.default",
                           {{"input", x}, {"normalized_shape", c.normalized}, {"bias", b}}));
  }
  ref::Tensor h = random_tensor(DType::kFloat16, {3, 8}, rng);
  ref::Tensor hw = random_tensor(DType::kFloat16, {8}, rng);
  EXPECT_TRUE(decomposes("aten.layer_norm.default",
                         {{"input", h}, {"normalized_shape", Dims{8}}, {"weight", hw}}, 2e-3));
  EXPECT_TRUE(decomposes(
      "aten.native_layer_norm.default",
      {{"input", h}, {"normalized_shape", Dims{8}}, {"weight", hw}, {"bias", hw}, {"eps", 1e-5}},
      2e-3));
}

TEST(DecomposeNorm, RmsNormWithDefaultAndGivenEps) {
  std::mt19937 rng(22);
  for (const Dims& shape : {Dims{2, 3, 4}, Dims{1, 7}, Dims{5}}) {
    Dims normalized{shape.back()};
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    ref::Tensor w = random_tensor(DType::kFloat32, normalized, rng);
    EXPECT_TRUE(
        decomposes("aten.rms_norm.default", {{"input", x}, {"normalized_shape", normalized}}));
    EXPECT_TRUE(
        decomposes("aten.rms_norm.default",
                   {{"input", x}, {"normalized_shape", normalized}, {"weight", w}, {"eps", 0.1}}));
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_TRUE(
      decomposes("aten.rms_norm.default", {{"input", x}, {"normalized_shape", Dims{3, 4}}}));
  ref::Tensor h = random_tensor(DType::kBFloat16, {3, 16}, rng);
  EXPECT_TRUE(
      decomposes("aten.rms_norm.default", {{"input", h}, {"normalized_shape", Dims{16}}}, 1e-2));
  ref::Tensor d = random_tensor(DType::kFloat64, {3, 16}, rng);
  EXPECT_TRUE(
      decomposes("aten.rms_norm.default", {{"input", d}, {"normalized_shape", Dims{16}}}, 1e-12));
}

TEST(DecomposeNorm, GroupNormAndNativeGroupNorm) {
  std::mt19937 rng(23);
  struct Case {
    Dims shape;
    int64_t groups;
  };
  for (const Case& c :
       {Case{{2, 6, 3, 2}, 3}, Case{{1, 4, 5}, 2}, Case{{3, 4}, 4}, Case{{2, 4, 1, 3}, 1}}) {
    int64_t channels = c.shape[1];
    ref::Tensor x = random_tensor(DType::kFloat32, c.shape, rng, -2, 4);
    ref::Tensor w = random_tensor(DType::kFloat32, {channels}, rng);
    ref::Tensor b = random_tensor(DType::kFloat32, {channels}, rng);
    EXPECT_TRUE(decomposes("aten.group_norm.default", {{"input", x}, {"num_groups", c.groups}}));
    EXPECT_TRUE(decomposes(
        "aten.group_norm.default",
        {{"input", x}, {"num_groups", c.groups}, {"weight", w}, {"bias", b}, {"eps", 0.01}}));
    int64_t hw = 1;
    for (size_t k = 2; k < c.shape.size(); ++k)
      hw *= c.shape[k];
    EXPECT_TRUE(decomposes("aten.native_group_norm.default", {{"input", x},
                                                              {"weight", w},
                                                              {"bias", ir::NoneArg{}},
                                                              {"N", c.shape[0]},
                                                              {"C", channels},
                                                              {"HxW", hw},
                                                              {"group", c.groups},
                                                              {"eps", 1e-5}}));
  }
  ref::Tensor h = random_tensor(DType::kFloat16, {2, 4, 3}, rng);
  EXPECT_TRUE(
      decomposes("aten.group_norm.default", {{"input", h}, {"num_groups", int64_t{2}}}, 2e-3));
}

TEST(DecomposeNorm, BatchNormFromRunningAndBatchStatistics) {
  std::mt19937 rng(24);
  for (const Dims& shape : {Dims{2, 3, 4, 5}, Dims{4, 3}, Dims{1, 3, 6}, Dims{2, 3, 1, 1}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -2, 4);
    ref::Tensor w = random_tensor(DType::kFloat32, {3}, rng);
    ref::Tensor b = random_tensor(DType::kFloat32, {3}, rng);
    ref::Tensor mean = random_tensor(DType::kFloat32, {3}, rng);
    ref::Tensor var = random_tensor(DType::kFloat32, {3}, rng, 0.5, 2);
    for (bool training : {false, true}) {
      for (bool affine : {false, true}) {
        TestArgs args{{"input", x},
                      {"weight", optional(affine ? std::optional(w) : std::nullopt)},
                      {"bias", optional(affine ? std::optional(b) : std::nullopt)},
                      {"running_mean", mean},
                      {"running_var", var},
                      {"training", training},
                      {"momentum", 0.1},
                      {"eps", 1e-5},
                      {"cudnn_enabled", false}};
        EXPECT_TRUE(decomposes("aten.batch_norm.default", args));
      }
    }
    EXPECT_TRUE(
        decomposes("aten._native_batch_norm_legit_no_training.default", {{"input", x},
                                                                         {"weight", w},
                                                                         {"bias", b},
                                                                         {"running_mean", mean},
                                                                         {"running_var", var},
                                                                         {"momentum", 0.1},
                                                                         {"eps", 1e-3}}));
  }
  // Half input with float32 statistics and parameters, as mixed-precision models hold them.
  ref::Tensor h = random_tensor(DType::kFloat16, {2, 3, 4}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {3}, rng);
  ref::Tensor var = random_tensor(DType::kFloat32, {3}, rng, 0.5, 2);
  EXPECT_TRUE(decomposes("aten.batch_norm.default",
                         {{"input", h},
                          {"weight", w},
                          {"bias", w},
                          {"running_mean", w},
                          {"running_var", var},
                          {"training", false},
                          {"momentum", 0.1},
                          {"eps", 1e-5},
                          {"cudnn_enabled", false}},
                         2e-3));
}

TEST(DecomposeNorm, InstanceNormWithInputOrRunningStatistics) {
  std::mt19937 rng(25);
  for (const Dims& shape : {Dims{2, 3, 4, 5}, Dims{1, 3, 6}, Dims{2, 3}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng, -2, 4);
    ref::Tensor w = random_tensor(DType::kFloat32, {3}, rng);
    ref::Tensor mean = random_tensor(DType::kFloat32, {3}, rng);
    ref::Tensor var = random_tensor(DType::kFloat32, {3}, rng, 0.5, 2);
    for (bool input_stats : {true, false}) {
      EXPECT_TRUE(decomposes("aten.instance_norm.default", {{"input", x},
                                                            {"weight", w},
                                                            {"bias", w},
                                                            {"running_mean", mean},
                                                            {"running_var", var},
                                                            {"use_input_stats", input_stats},
                                                            {"momentum", 0.1},
                                                            {"eps", 1e-5},
                                                            {"cudnn_enabled", false}}));
    }
    EXPECT_TRUE(decomposes("aten.instance_norm.default", {{"input", x},
                                                          {"weight", ir::NoneArg{}},
                                                          {"bias", ir::NoneArg{}},
                                                          {"running_mean", ir::NoneArg{}},
                                                          {"running_var", ir::NoneArg{}},
                                                          {"use_input_stats", true},
                                                          {"momentum", 0.1},
                                                          {"eps", 1e-2},
                                                          {"cudnn_enabled", false}}));
  }
}

}  // namespace
}  // namespace kiln::testing
