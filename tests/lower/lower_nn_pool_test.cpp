// Lowering of pooling to windowed reductions: max pooling (values and indices, padding,
// dilation, ceil_mode, NaN and tie rules), average pooling (count_include_pad,
// divisor_override, integer inputs), and the adaptive forms, batched and unbatched, against the
// reference interpreter with static and symbolic dims.
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

ref::Tensor sample(DType dtype, Sizes sizes, std::mt19937& rng, double lo = -3, double hi = 3) {
  return random_tensor(dtype, std::move(sizes), rng, lo, hi);
}

// Puts NaN at every `step`-th element, and -inf at others, so that windows hold several NaNs
// (the index is the last one) or only -inf values.
ref::Tensor with_specials(ref::Tensor t, int64_t nan_step, int64_t inf_step) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (nan_step > 0 && i % nan_step == 1) t.set(i, std::nan(""));
    if (inf_step > 0 && i % inf_step == 2) t.set(i, -INFINITY);
  }
  return t;
}

struct MaxCase {
  Sizes kernel, stride, padding, dilation;
  bool ceil_mode;
};

TestArgs max_args(const ref::Tensor& x, const MaxCase& c) {
  return {{"self", x},
          {"kernel_size", c.kernel},
          {"stride", c.stride},
          {"padding", c.padding},
          {"dilation", c.dilation},
          {"ceil_mode", c.ceil_mode}};
}

const MaxCase kMaxCases[] = {
    {{2, 2}, {2, 2}, {0, 0}, {1, 1}, false}, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, false},
    {{3, 2}, {2, 1}, {1, 0}, {2, 1}, false}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true},
    {{2, 3}, {3, 2}, {0, 1}, {1, 2}, true},  {{3, 3}, {}, {1, 1}, {1, 1}, false},
};

TEST(LowerNnPool, MaxPool2dWithIndices) {
  std::mt19937 rng(701);
  for (const MaxCase& c : kMaxCases) {
    for (const Sizes& xs : {Sizes{2, 3, 7, 8}, Sizes{3, 6, 5}, Sizes{1, 1, 4, 4}}) {
      for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
        check_lowered_op("aten.max_pool2d_with_indices.default",
                         max_args(sample(dtype, xs, rng), c));
      }
      // Integers in a small range tie often: the first position of the max wins.
      check_lowered_op("aten.max_pool2d_with_indices.default",
                       max_args(sample(DType::kInt32, xs, rng, -2, 2), c));
    }
  }
}

TEST(LowerNnPool, MaxPoolNaNAndInfinityRules) {
  std::mt19937 rng(702);
  for (const MaxCase& c : kMaxCases) {
    // Dense NaNs: windows with several NaNs report the last; dense -inf: all -inf windows
    // report their first tap.
    check_lowered_op("aten.max_pool2d_with_indices.default",
                     max_args(with_specials(sample(DType::kFloat32, {2, 6, 7}, rng), 3, 0), c));
    ref::Tensor all_inf = sample(DType::kFloat32, {1, 2, 5, 6}, rng);
    for (int64_t i = 0; i < all_inf.numel(); ++i)
      if (i % 7 != 3) all_inf.set(i, -INFINITY);
    check_lowered_op("aten.max_pool2d_with_indices.default", max_args(all_inf, c));
    check_lowered_op("aten.max_pool2d_with_indices.default",
                     max_args(with_specials(sample(DType::kFloat16, {2, 5, 6}, rng), 5, 4), c));
  }
}

TEST(LowerNnPool, MaxPoolValuesOnlyAndOneDim) {
  std::mt19937 rng(703);
  for (bool passes : {true, false}) {
    LowerCheckOptions options;
    options.run_backend_passes = passes;
    check_lowered_op("aten.max_pool2d.default",
                     {{"self", sample(DType::kFloat32, {2, 3, 9, 7}, rng)},
                      {"kernel_size", Sizes{3}},
                      {"stride", Sizes{2}},
                      {"padding", Sizes{1}},
                      {"ceil_mode", true}},
                     options);
    check_lowered_op("aten.max_pool1d.default",
                     {{"self", with_specials(sample(DType::kFloat32, {2, 3, 11}, rng), 4, 0)},
                      {"kernel_size", Sizes{3}},
                      {"stride", Sizes{2}},
                      {"padding", Sizes{1}},
                      {"dilation", Sizes{2}}},
                     options);
    check_lowered_op("aten.max_pool1d.default",
                     {{"self", sample(DType::kFloat64, {3, 8}, rng)}, {"kernel_size", Sizes{2}}},
                     options);
  }
}

TEST(LowerNnPool, AvgPool2dVariants) {
  std::mt19937 rng(704);
  struct AvgCase {
    Sizes kernel, stride, padding;
    bool ceil_mode, include_pad;
    std::optional<int64_t> divisor;
  };
  const AvgCase cases[] = {
      {{2, 2}, {2, 2}, {0, 0}, false, true, std::nullopt},
      {{3, 3}, {1, 1}, {1, 1}, false, true, std::nullopt},
      {{3, 3}, {1, 1}, {1, 1}, false, false, std::nullopt},
      {{3, 2}, {2, 2}, {1, 1}, true, false, std::nullopt},
      {{3, 3}, {2, 2}, {1, 0}, true, true, std::nullopt},
      {{2, 3}, {2, 1}, {1, 1}, false, true, int64_t{5}},
      {{3, 3}, {}, {0, 1}, true, false, int64_t{-2}},
  };
  for (const AvgCase& c : cases) {
    for (const Sizes& xs : {Sizes{2, 3, 7, 8}, Sizes{3, 5, 6}, Sizes{1, 1, 3, 3}}) {
      for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kInt64}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
        double r = ir::is_floating(dtype) ? 3 : 50;
        TestArgs args = {{"self", sample(dtype, xs, rng, -r, r)},
                         {"kernel_size", c.kernel},
                         {"stride", c.stride},
                         {"padding", c.padding},
                         {"ceil_mode", c.ceil_mode},
                         {"count_include_pad", c.include_pad}};
        if (c.divisor) args.emplace_back("divisor_override", *c.divisor);
        check_lowered_op("aten.avg_pool2d.default", args);
      }
    }
  }
}

TEST(LowerNnPool, AvgPool1dDirectAndDecomposed) {
  std::mt19937 rng(705);
  for (bool passes : {true, false}) {
    LowerCheckOptions options;
    options.run_backend_passes = passes;
    for (bool include_pad : {true, false}) {
      check_lowered_op("aten.avg_pool1d.default",
                       {{"self", sample(DType::kFloat32, {2, 3, 10}, rng)},
                        {"kernel_size", Sizes{4}},
                        {"stride", Sizes{3}},
                        {"padding", Sizes{2}},
                        {"ceil_mode", true},
                        {"count_include_pad", include_pad}},
                       options);
    }
  }
}

TEST(LowerNnPool, AdaptivePools) {
  std::mt19937 rng(706);
  const std::pair<Sizes, Sizes> cases[] = {{{2, 3, 7, 9}, {3, 4}},
                                           {{1, 2, 5, 5}, {5, 5}},
                                           {{2, 4, 6}, {1, 1}},
                                           {{1, 1, 3, 10}, {2, 7}},
                                           {{2, 2, 8, 4}, {3, 1}}};
  for (const auto& [xs, out] : cases) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16}) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
      ref::Tensor x = sample(dtype, xs, rng);
      check_lowered_op("aten.adaptive_avg_pool2d.default", {{"self", x}, {"output_size", out}});
      check_lowered_op("aten._adaptive_avg_pool2d.default", {{"self", x}, {"output_size", out}});
      check_lowered_op("aten.adaptive_max_pool2d.default", {{"self", x}, {"output_size", out}});
    }
    check_lowered_op(
        "aten.adaptive_max_pool2d.default",
        {{"self", with_specials(sample(DType::kFloat32, xs, rng), 3, 5)}, {"output_size", out}});
  }
  for (bool passes : {true, false}) {
    LowerCheckOptions options;
    options.run_backend_passes = passes;
    for (int64_t out : {1, 3, 5, 8}) {
      ref::Tensor x = with_specials(sample(DType::kFloat32, {2, 3, 11}, rng), 6, 0);
      check_lowered_op("aten.adaptive_avg_pool1d.default",
                       {{"self", x}, {"output_size", Sizes{out}}}, options);
      check_lowered_op("aten.adaptive_max_pool1d.default",
                       {{"self", x}, {"output_size", Sizes{out}}}, options);
    }
  }
}

}  // namespace
}  // namespace kiln::testing
