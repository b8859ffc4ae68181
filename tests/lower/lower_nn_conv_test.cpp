// Lowering of convolutions to "conv" extern calls: convolution.default (1-3 spatial dims,
// groups, stride, padding, dilation, transposed with output padding, bias or none), and the
// conv*d / conv_transpose*d ops directly and through their decompositions (unbatched inputs,
// 'same'/'valid' padding), against the reference interpreter with static and symbolic dims.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lower/lower_harness.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;

ref::Tensor sample(DType dtype, Sizes sizes, std::mt19937& rng) {
  double r = ir::is_floating(dtype) ? 2.0 : 6.0;
  return random_tensor(dtype, std::move(sizes), rng, -r, r);
}

struct Geometry {
  Sizes in;  // spatial sizes
  Sizes k;   // kernel sizes
  Sizes stride, padding, dilation, output_padding;
};

TestArgs convolution_args(DType dtype, int64_t batch, int64_t cin, int64_t cout, int64_t groups,
                          bool transposed, bool bias, const Geometry& g, std::mt19937& rng) {
  Sizes x = {batch, cin};
  x.insert(x.end(), g.in.begin(), g.in.end());
  Sizes w = transposed ? Sizes{cin, cout / groups} : Sizes{cout, cin / groups};
  w.insert(w.end(), g.k.begin(), g.k.end());
  TestArgs args = {{"input", sample(dtype, x, rng)}, {"weight", sample(dtype, w, rng)}};
  if (bias) {
    args.emplace_back("bias", sample(dtype, {cout}, rng));
  } else {
    args.emplace_back("bias", ir::NoneArg{});
  }
  args.emplace_back("stride", g.stride);
  args.emplace_back("padding", g.padding);
  args.emplace_back("dilation", g.dilation);
  args.emplace_back("transposed", transposed);
  args.emplace_back("output_padding", g.output_padding);
  args.emplace_back("groups", groups);
  return args;
}

TEST(LowerNnConv, Convolution2dGeometries) {
  std::mt19937 rng(601);
  const Geometry geos[] = {
      {{6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {0, 0}},
      {{8, 5}, {3, 2}, {2, 1}, {1, 0}, {1, 1}, {0, 0}},
      {{9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {0, 0}},
      {{5, 4}, {1, 1}, {1, 1}, {0, 0}, {1, 1}, {0, 0}},
      {{1, 1}, {1, 1}, {1, 1}, {0, 0}, {1, 1}, {0, 0}},
  };
  for (const Geometry& g : geos) {
    for (int64_t groups : {1, 2}) {
      for (bool bias : {false, true}) {
        check_lowered_op("aten.convolution.default",
                         convolution_args(DType::kFloat32, 2, 4, 6, groups, false, bias, g, rng));
      }
    }
  }
}

TEST(LowerNnConv, DepthwiseOneAndThreeSpatialDims) {
  std::mt19937 rng(602);
  check_lowered_op("aten.convolution.default",
                   convolution_args(DType::kFloat32, 2, 4, 8, 4, false, true,
                                    {{7, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 0}}, rng));
  check_lowered_op("aten.convolution.default",
                   convolution_args(DType::kFloat32, 3, 2, 3, 1, false, true,
                                    {{11}, {4}, {2}, {1}, {2}, {0}}, rng));
  check_lowered_op(
      "aten.convolution.default",
      convolution_args(DType::kFloat32, 1, 2, 2, 1, false, false,
                       {{3, 4, 5}, {2, 3, 3}, {1, 1, 2}, {1, 0, 1}, {1, 1, 1}, {0, 0, 0}}, rng));
}

TEST(LowerNnConv, TransposedWithOutputPadding) {
  std::mt19937 rng(603);
  const Geometry geos[] = {
      {{4, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
      {{3, 3}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, {0, 0}},
      {{4, 3}, {3, 3}, {1, 1}, {1, 1}, {2, 2}, {0, 0}},
  };
  for (const Geometry& g : geos) {
    for (int64_t groups : {1, 2}) {
      check_lowered_op(
          "aten.convolution.default",
          convolution_args(DType::kFloat32, 2, 4, 6, groups, true, groups == 2, g, rng));
    }
  }
  check_lowered_op("aten.convolution.default",
                   convolution_args(DType::kFloat32, 1, 3, 2, 1, true, true,
                                    {{7}, {3}, {2}, {1}, {1}, {1}}, rng));
}

TEST(LowerNnConv, OtherDtypes) {
  std::mt19937 rng(604);
  const Geometry g = {{5, 6}, {3, 3}, {2, 1}, {1, 1}, {1, 1}, {0, 0}};
  for (DType dtype : {DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt64}) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    check_lowered_op("aten.convolution.default",
                     convolution_args(dtype, 2, 4, 4, 2, false, true, g, rng));
  }
}

TEST(LowerNnConv, ConvOpsDirectlyAndDecomposed) {
  std::mt19937 rng(605);
  for (bool passes : {true, false}) {
    LowerCheckOptions options;
    options.run_backend_passes = passes;
    // Batched and unbatched conv2d.
    for (const Sizes& xs : {Sizes{2, 3, 7, 6}, Sizes{3, 7, 6}}) {
      check_lowered_op("aten.conv2d.default",
                       {{"input", sample(DType::kFloat32, xs, rng)},
                        {"weight", sample(DType::kFloat32, {4, 3, 3, 2}, rng)},
                        {"bias", sample(DType::kFloat32, {4}, rng)},
                        {"stride", Sizes{2}},
                        {"padding", Sizes{1, 0}}},
                       options);
    }
    check_lowered_op("aten.conv1d.default",
                     {{"input", sample(DType::kFloat32, {2, 4, 9}, rng)},
                      {"weight", sample(DType::kFloat32, {6, 2, 3}, rng)},
                      {"groups", int64_t{2}},
                      {"dilation", Sizes{2}}},
                     options);
    // 'same' with an even kernel and dilation pads unevenly; 'valid' pads nothing. The
    // decomposition needs a static kernel for 'same'; the direct lowering does not.
    for (const char* mode : {"same", "valid"}) {
      LowerCheckOptions o = options;
      o.symbolic = !passes || std::string(mode) == "valid";
      check_lowered_op("aten.conv2d.padding",
                       {{"input", sample(DType::kFloat32, {1, 2, 8, 7}, rng)},
                        {"weight", sample(DType::kFloat32, {3, 2, 4, 3}, rng)},
                        {"padding", std::string(mode)},
                        {"dilation", Sizes{2, 1}}},
                       o);
    }
    check_lowered_op("aten.conv_transpose2d.input",
                     {{"input", sample(DType::kFloat32, {2, 4, 3, 4}, rng)},
                      {"weight", sample(DType::kFloat32, {4, 3, 3, 3}, rng)},
                      {"bias", sample(DType::kFloat32, {3}, rng)},
                      {"stride", Sizes{2}},
                      {"padding", Sizes{1}},
                      {"output_padding", Sizes{1}}},
                     options);
    check_lowered_op("aten.conv_transpose1d.default",
                     {{"input", sample(DType::kFloat32, {4, 5}, rng)},
                      {"weight", sample(DType::kFloat32, {4, 1, 3}, rng)},
                      {"stride", Sizes{3}},
                      {"groups", int64_t{2}}},
                     options);
  }
}

}  // namespace
}  // namespace kiln::testing
