// Lowering of upsampling to pointwise tensors with computed source indices: nearest (1-d, 2-d,
// .vec and .default), nearest-exact, and bilinear (align_corners both ways), by output size or
// scale factor, up and down, with infinities and NaN in the input, against the reference
// interpreter with static and symbolic dims.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lower/lower_harness.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using Doubles = std::vector<double>;

ref::Tensor sample(DType dtype, Sizes sizes, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, dtype == DType::kUInt8 ? 0 : -3,
                       3 + 200 * (dtype == DType::kUInt8));
}

TestArgs by_size(const char* input, const ref::Tensor& x, Sizes size) {
  return {{input, x}, {"output_size", size}, {"scale_factors", ir::NoneArg{}}};
}

TestArgs by_scale(const char* input, const ref::Tensor& x, Doubles scales) {
  return {{input, x}, {"output_size", ir::NoneArg{}}, {"scale_factors", scales}};
}

TEST(LowerNnResample, Nearest2d) {
  std::mt19937 rng(801);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kUInt8}) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    ref::Tensor x = sample(dtype, {2, 3, 5, 4}, rng);
    for (const Sizes& out : {Sizes{10, 8}, Sizes{7, 3}, Sizes{5, 9}, Sizes{1, 1}, Sizes{13, 4}}) {
      check_lowered_op("aten.upsample_nearest2d.vec", by_size("input", x, out));
      check_lowered_op("aten._upsample_nearest_exact2d.vec", by_size("input", x, out));
      check_lowered_op("aten.upsample_nearest2d.default", {{"self", x}, {"output_size", out}});
    }
    for (const Doubles& s : {Doubles{2, 2}, Doubles{1.5, 0.5}, Doubles{3, 1}}) {
      check_lowered_op("aten.upsample_nearest2d.vec", by_scale("input", x, s));
      check_lowered_op("aten._upsample_nearest_exact2d.vec", by_scale("input", x, s));
    }
    // Explicit scales change the source indices, not the output size.
    check_lowered_op(
        "aten.upsample_nearest2d.default",
        {{"self", x}, {"output_size", Sizes{7, 9}}, {"scales_h", 1.3}, {"scales_w", 2.5}});
  }
}

TEST(LowerNnResample, Nearest1d) {
  std::mt19937 rng(802);
  ref::Tensor x = sample(DType::kFloat32, {2, 3, 7}, rng);
  for (const Sizes& out : {Sizes{14}, Sizes{3}, Sizes{7}, Sizes{10}}) {
    check_lowered_op("aten.upsample_nearest1d.vec", by_size("input", x, out));
  }
  for (double s : {2.0, 0.5, 1.75}) {
    check_lowered_op("aten.upsample_nearest1d.vec", by_scale("input", x, {s}));
  }
}

TEST(LowerNnResample, Bilinear2d) {
  std::mt19937 rng(803);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    ref::Tensor x = sample(dtype, {2, 2, 4, 5}, rng);
    for (bool align : {false, true}) {
      for (const Sizes& out : {Sizes{8, 10}, Sizes{3, 2}, Sizes{4, 9}, Sizes{1, 1}, Sizes{7, 5}}) {
        check_lowered_op("aten.upsample_bilinear2d.vec", {{"input", x},
                                                          {"output_size", out},
                                                          {"align_corners", align},
                                                          {"scale_factors", ir::NoneArg{}}});
        check_lowered_op("aten.upsample_bilinear2d.default",
                         {{"self", x}, {"output_size", out}, {"align_corners", align}});
      }
      for (const Doubles& s : {Doubles{2, 2}, Doubles{0.5, 1.5}}) {
        check_lowered_op("aten.upsample_bilinear2d.vec", {{"input", x},
                                                          {"output_size", ir::NoneArg{}},
                                                          {"align_corners", align},
                                                          {"scale_factors", s}});
      }
      check_lowered_op("aten.upsample_bilinear2d.default", {{"self", x},
                                                            {"output_size", Sizes{6, 7}},
                                                            {"align_corners", align},
                                                            {"scales_h", 1.25},
                                                            {"scales_w", 1.5}});
    }
  }
}

TEST(LowerNnResample, BilinearKeepsZeroWeightCornersOut) {
  // An inf next to a tap with weight 0 must not turn the result into NaN (0 * inf).
  std::mt19937 rng(804);
  ref::Tensor x = sample(DType::kFloat32, {1, 2, 4, 4}, rng);
  x.set(5, INFINITY);
  x.set(10, -INFINITY);
  x.set(19, std::nan(""));
  for (bool align : {false, true}) {
    for (const Sizes& out : {Sizes{8, 8}, Sizes{7, 7}, Sizes{4, 4}}) {
      check_lowered_op("aten.upsample_bilinear2d.default",
                       {{"self", x}, {"output_size", out}, {"align_corners", align}});
    }
  }
}

}  // namespace
}  // namespace kiln::testing
