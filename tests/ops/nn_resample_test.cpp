// Upsampling against hand formulas written here, and against values PyTorch 2.15 printed for
// fixed inputs (the scale-factor conventions are easy to get subtly wrong).
#include <gtest/gtest.h>

#include <cmath>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

// A [1, 1, 3, 4] input: (arange(12) * 0.37) % 1.7 in float32.
ref::Tensor small_input() {
  return make_tensor(DType::kFloat32, {1, 1, 3, 4},
                     {0.0, 0.37, 0.74, 1.11, 1.48, 0.15, 0.52, 0.89, 1.26, 1.63, 0.3, 0.67});
}

// Scale factors such as 1.7 give floor(s * 1.7), which has no closed form over a symbolic size:
// the shape rule then takes the size from the graph's recorded output, which a one-op test does
// not have. Those cases check concrete shapes only.
const RunOptions kConcrete{.symbolic_shapes = false};

void expect_values(const ref::Tensor& got, std::vector<int64_t> sizes,
                   const std::vector<double>& want, double tol = 2e-6) {
  ASSERT_EQ(got.sizes(), sizes);
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_NEAR(got.get(i), want[static_cast<size_t>(i)], tol) << "element " << i;
}

// Gathers x [N, C, H, W] at per-row and per-column source indices.
ref::Tensor gather2d(const ref::Tensor& x, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols) {
  int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  int64_t oh = static_cast<int64_t>(rows.size()), ow = static_cast<int64_t>(cols.size());
  ref::Tensor out(x.dtype(), {x.size(0), x.size(1), oh, ow});
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        out.set((p * oh + i) * ow + j,
                x.get(p * h * w + rows[static_cast<size_t>(i)] * w + cols[static_cast<size_t>(j)]));
      }
    }
  }
  return out;
}

// Nearest: src = min(floor(dst * scale), in - 1) in float; a 2-d dim of unchanged size copies.
std::vector<int64_t> nearest_rows(int64_t in, int64_t out, float scale) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < out; ++i) {
    v.push_back(
        in == out
            ? i
            : std::min(static_cast<int64_t>(std::floor(static_cast<float>(i) * scale)), in - 1));
  }
  return v;
}

TEST(NnResample, Nearest2dByOutputSizeAndScale) {
  std::mt19937 rng(51);
  for (DType dt : {DType::kFloat32, DType::kUInt8, DType::kBFloat16}) {
    for (auto [n, c, h, w, oh, ow] : {std::tuple{2, 3, 4, 5, 8, 10},
                                      {1, 1, 3, 4, 7, 2},
                                      {1, 2, 1, 1, 3, 1},
                                      {2, 1, 6, 6, 4, 9}}) {
      ref::Tensor x = random_tensor(dt, {n, c, h, w}, rng, 0, 50);
      ref::Tensor got = run_op_tensor("aten.upsample_nearest2d.vec",
                                      {{"input", x},
                                       {"output_size", std::vector<int64_t>{oh, ow}},
                                       {"scale_factors", ir::NoneArg{}}});
      ref::Tensor want =
          gather2d(x, nearest_rows(h, oh, static_cast<float>(h) / static_cast<float>(oh)),
                   nearest_rows(w, ow, static_cast<float>(w) / static_cast<float>(ow)));
      EXPECT_TRUE(same_values(got, want)) << got.str();
      ref::Tensor got_default =
          run_op_tensor("aten.upsample_nearest2d.default",
                        {{"self", x}, {"output_size", std::vector<int64_t>{oh, ow}}});
      EXPECT_TRUE(same_values(got_default, want));
    }
  }
  // Scale factors: output floor(in * s), source index floor(dst / s).
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 2, 5, 3}, rng);
  ref::Tensor got = run_op_tensor("aten.upsample_nearest2d.vec",
                                  {{"input", x},
                                   {"output_size", ir::NoneArg{}},
                                   {"scale_factors", std::vector<double>{2.0, 1.5}}});
  EXPECT_TRUE(
      same_values(got, gather2d(x, nearest_rows(5, 10, 0.5f), nearest_rows(3, 4, 1 / 1.5f))));
}

TEST(NnResample, NearestMatchesPyTorchValues) {
  ref::Tensor x = small_input();
  auto vec = [&](const char* op, TestArg size, TestArg scales) {
    return run_op_tensor(op, {{"input", x}, {"output_size", size}, {"scale_factors", scales}},
                         kConcrete);
  };
  expect_values(
      vec("aten.upsample_nearest2d.vec", ir::NoneArg{}, std::vector<double>{1.7, 0.8}),
      {1, 1, 5, 3},
      {0.0, 0.37, 0.74, 0.0, 0.37, 0.74, 1.48, 0.15, 0.52, 1.48, 0.15, 0.52, 1.26, 1.63, 0.3});
  expect_values(
      vec("aten._upsample_nearest_exact2d.vec", std::vector<int64_t>{5, 3}, ir::NoneArg{}),
      {1, 1, 5, 3},
      {0.0, 0.74, 1.11, 0.0, 0.74, 1.11, 1.48, 0.52, 0.89, 1.26, 0.3, 0.67, 1.26, 0.3, 0.67});
  expect_values(
      vec("aten._upsample_nearest_exact2d.vec", std::vector<int64_t>{2, 7}, ir::NoneArg{}),
      {1, 1, 2, 7},
      {0.0, 0.0, 0.37, 0.74, 0.74, 1.11, 1.11, 1.26, 1.26, 1.63, 0.3, 0.3, 0.67, 0.67});
  expect_values(
      run_op_tensor("aten.upsample_nearest2d.default",
                    {{"self", x}, {"output_size", std::vector<int64_t>{5, 7}}, {"scales_h", 1.3}}),
      {1, 1, 5, 7}, {0.0,  0.0,  0.37, 0.37, 0.74, 0.74, 1.11, 0.0,  0.0,  0.37, 0.37, 0.74,
                     0.74, 1.11, 1.48, 1.48, 0.15, 0.15, 0.52, 0.52, 0.89, 1.26, 1.26, 1.63,
                     1.63, 0.3,  0.3,  0.67, 1.26, 1.26, 1.63, 1.63, 0.3,  0.3,  0.67});
  // 1-d: a scale that keeps the size still moves the indices (no copy shortcut in 1-d); in 2-d
  // the unchanged dim is copied.
  ref::Tensor r = make_tensor(DType::kFloat32, {1, 1, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  expect_values(run_op_tensor("aten.upsample_nearest1d.vec",
                              {{"input", r},
                               {"output_size", ir::NoneArg{}},
                               {"scale_factors", std::vector<double>{1.05}}},
                              kConcrete),
                {1, 1, 10}, {0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  expect_values(run_op_tensor("aten.upsample_nearest1d.vec",
                              {{"input", r},
                               {"output_size", ir::NoneArg{}},
                               {"scale_factors", std::vector<double>{1.39}}},
                              kConcrete),
                {1, 1, 13}, {0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 7, 8});
  expect_values(
      run_op_tensor("aten.upsample_nearest1d.vec", {{"input", r},
                                                    {"output_size", std::vector<int64_t>{13}},
                                                    {"scale_factors", ir::NoneArg{}}}),
      {1, 1, 13}, {0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9});
  ref::Tensor r2 = r.reshaped({1, 1, 1, 10});
  expect_values(run_op_tensor("aten.upsample_nearest2d.vec",
                              {{"input", r2},
                               {"output_size", ir::NoneArg{}},
                               {"scale_factors", std::vector<double>{1.0, 1.05}}},
                              kConcrete),
                {1, 1, 1, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  expect_values(run_op_tensor("aten._upsample_nearest_exact2d.vec",
                              {{"input", r2},
                               {"output_size", ir::NoneArg{}},
                               {"scale_factors", std::vector<double>{1.0, 1.39}}},
                              kConcrete),
                {1, 1, 1, 13}, {0, 1, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 8});
}

// Bilinear by hand: the source coordinate, its two neighbours and their weights per dim.
double bilinear_at(const ref::Tensor& x, int64_t plane, int64_t i, int64_t j, int64_t oh,
                   int64_t ow, bool align, double sh, double sw) {
  int64_t h = x.size(2), w = x.size(3);
  auto coord = [&](int64_t o, int64_t in, int64_t out, double scale) {
    if (in == out) return static_cast<double>(o);
    if (align)
      return out > 1 ? o * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    return std::max((o + 0.5) * scale - 0.5, 0.0);
  };
  double y = coord(i, h, oh, sh), z = coord(j, w, ow, sw);
  int64_t y0 = std::min(static_cast<int64_t>(y), h - 1),
          z0 = std::min(static_cast<int64_t>(z), w - 1);
  int64_t y1 = std::min(y0 + 1, h - 1), z1 = std::min(z0 + 1, w - 1);
  double fy = std::min(y - static_cast<double>(y0), 1.0),
         fz = std::min(z - static_cast<double>(z0), 1.0);
  auto at = [&](int64_t a, int64_t b) { return x.get(plane * h * w + a * w + b); };
  return (1 - fy) * ((1 - fz) * at(y0, z0) + fz * at(y0, z1)) +
         fy * ((1 - fz) * at(y1, z0) + fz * at(y1, z1));
}

TEST(NnResample, BilinearAlignCornersAndScales) {
  std::mt19937 rng(52);
  for (DType dt : {DType::kFloat32, DType::kFloat16}) {
    for (auto [n, c, h, w, oh, ow] : {std::tuple{2, 3, 4, 5, 7, 9},
                                      {1, 1, 3, 4, 2, 2},
                                      {1, 2, 1, 3, 4, 3},
                                      {1, 1, 5, 5, 1, 8}}) {
      ref::Tensor x = random_tensor(dt, {n, c, h, w}, rng);
      for (bool align : {false, true}) {
        ref::Tensor got = run_op_tensor("aten.upsample_bilinear2d.vec",
                                        {{"input", x},
                                         {"output_size", std::vector<int64_t>{oh, ow}},
                                         {"align_corners", align},
                                         {"scale_factors", ir::NoneArg{}}});
        ref::Tensor want(dt, {n, c, oh, ow});
        for (int64_t p = 0; p < n * c; ++p) {
          for (int64_t i = 0; i < oh; ++i) {
            for (int64_t j = 0; j < ow; ++j) {
              want.set((p * oh + i) * ow + j,
                       bilinear_at(x, p, i, j, oh, ow, align, double(h) / double(oh),
                                   double(w) / double(ow)));
            }
          }
        }
        EXPECT_TENSOR_NEAR(got, want, dt == DType::kFloat32 ? 1e-6 : 2e-3);
        if (align && oh > 1 && ow > 1) {  // the corners land exactly on the input's corners
          EXPECT_EQ(got.get(0), x.get(0));
          EXPECT_EQ(got.get(oh * ow - 1), x.get(h * w - 1));
        }
        ref::Tensor got_default = run_op_tensor(
            "aten.upsample_bilinear2d.default",
            {{"self", x}, {"output_size", std::vector<int64_t>{oh, ow}}, {"align_corners", align}});
        EXPECT_TRUE(same_values(got_default, got));
      }
    }
  }
  // With scale factors the source scale is 1/factor, not in/out.
  ref::Tensor x = random_tensor(DType::kFloat32, {1, 2, 5, 4}, rng);
  ref::Tensor got = run_op_tensor("aten.upsample_bilinear2d.vec",
                                  {{"input", x},
                                   {"output_size", ir::NoneArg{}},
                                   {"align_corners", false},
                                   {"scale_factors", std::vector<double>{1.5, 1.75}}});
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, 2, 7, 7}));
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t i = 0; i < 7; ++i) {
      for (int64_t j = 0; j < 7; ++j)
        EXPECT_NEAR(got.get((p * 7 + i) * 7 + j),
                    bilinear_at(x, p, i, j, 7, 7, false, 1 / 1.5, 1 / 1.75), 1e-6);
    }
  }
}

TEST(NnResample, BilinearMatchesPyTorchValues) {
  ref::Tensor x = small_input();
  auto vec = [&](TestArg size, bool align, TestArg scales) {
    return run_op_tensor(
        "aten.upsample_bilinear2d.vec",
        {{"input", x}, {"output_size", size}, {"align_corners", align}, {"scale_factors", scales}},
        kConcrete);
  };
  expect_values(vec(std::vector<int64_t>{5, 3}, false, ir::NoneArg{}), {1, 1, 5, 3},
                {0.061667, 0.555, 1.048333, 0.540333, 0.467, 0.960333, 1.258333, 0.335, 0.828333,
                 1.296333, 0.713, 0.696333, 1.321667, 0.965, 0.608333});
  expect_values(
      vec(std::vector<int64_t>{5, 3}, true, ir::NoneArg{}), {1, 1, 5, 3},
      {0.0, 0.555, 1.11, 0.74, 0.445, 1.0, 1.48, 0.335, 0.89, 1.37, 0.65, 0.78, 1.26, 0.965, 0.67});
  expect_values(vec(ir::NoneArg{}, false, std::vector<double>{1.5, 0.6}), {1, 1, 4, 2},
                {0.123333, 0.74, 0.58, 0.63, 1.094445, 0.483333, 1.325555, 0.336667});
  expect_values(run_op_tensor("aten.upsample_bilinear2d.default",
                              {{"self", x},
                               {"output_size", std::vector<int64_t>{4, 6}},
                               {"align_corners", false},
                               {"scales_h", 1.4},
                               {"scales_w", 1.7}}),
                {1, 1, 4, 6},
                {0.0,      0.141471, 0.359118, 0.576765, 0.794412, 1.012059, 0.845714, 0.615756,
                 0.261975, 0.45105,  0.668698, 0.886345, 1.417143, 1.094328, 0.597689, 0.508193,
                 0.511555, 0.729202, 1.26,     1.401471, 1.619118, 0.886765, 0.354412, 0.572059});
}

TEST(NnResample, InvalidArgumentsFail) {
  std::mt19937 rng(53);
  ref::Tensor x = random_tensor(DType::kFloat32, {1, 1, 4, 4}, rng);
  auto vec = [&](ref::Tensor t, TestArg size, TestArg scales) {
    return run_op("aten.upsample_nearest2d.vec",
                  {{"input", std::move(t)}, {"output_size", size}, {"scale_factors", scales}});
  };
  EXPECT_THROW(vec(x, std::vector<int64_t>{3, 3}, std::vector<double>{2.0, 2.0}), Error);
  EXPECT_THROW(vec(x, ir::NoneArg{}, ir::NoneArg{}), Error);
  EXPECT_THROW(vec(x, std::vector<int64_t>{3}, ir::NoneArg{}), Error);
  EXPECT_THROW(vec(x, std::vector<int64_t>{0, 3}, ir::NoneArg{}), Error);
  EXPECT_THROW(vec(x, ir::NoneArg{}, std::vector<double>{0.1, 2.0}), Error);
  EXPECT_THROW(vec(random_tensor(DType::kFloat32, {1, 4, 4}, rng), std::vector<int64_t>{3, 3},
                   ir::NoneArg{}),
               Error);
  EXPECT_THROW(vec(random_tensor(DType::kInt64, {1, 1, 4, 4}, rng), std::vector<int64_t>{3, 3},
                   ir::NoneArg{}),
               Error);
  EXPECT_THROW(run_op("aten.upsample_bilinear2d.default",
                      {{"self", random_tensor(DType::kUInt8, {1, 1, 4, 4}, rng)},
                       {"output_size", std::vector<int64_t>{3, 3}},
                       {"align_corners", false}}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
