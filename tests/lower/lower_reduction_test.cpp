// Lowering of reductions: sum, prod, amax/amin, max/min (whole tensor and with indices),
// argmax/argmin and all/any, over dim lists, keepdim, dtype arguments, 0-dim and size-1 inputs,
// empty reductions, ties and NaN. Each is checked against the reference interpreter with
// concrete and symbolic dims.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lower/lower_harness.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;

// Floating tensors get a NaN now and then when `nans`.
ref::Tensor input_tensor(DType dtype, Sizes sizes, std::mt19937& rng, double lo, double hi,
                         bool nans = false) {
  ref::Tensor t = random_tensor(dtype, std::move(sizes), rng, lo, hi);
  if (nans && t.is_floating()) {
    for (int64_t i = 5; i < t.numel(); i += 11)
      t.set(i, std::nan(""));
  }
  return t;
}

// Dim lists valid for a rank-3 input, None (nullopt) included.
const std::vector<std::optional<Sizes>>& dim_lists() {
  static const std::vector<std::optional<Sizes>> lists = {
      std::nullopt, Sizes{}, Sizes{0}, Sizes{-1}, Sizes{0, 2}, Sizes{1, 0, 2}, Sizes{1}};
  return lists;
}

TestArgs with_dims(TestArgs args, const std::optional<Sizes>& dims, bool keepdim) {
  if (dims) args.emplace_back("dim", *dims);
  args.emplace_back("keepdim", keepdim);
  return args;
}

TEST(LowerReduction, SumOverDimLists) {
  std::mt19937 rng(301);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                      DType::kInt32, DType::kInt8, DType::kBool}) {
    for (const Sizes& s : {Sizes{2, 3, 4}, Sizes{1, 5, 1}, Sizes{3, 1, 6}}) {
      for (const auto& dims : dim_lists()) {
        for (bool keepdim : {false, true}) {
          SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " keepdim " + std::to_string(keepdim));
          ref::Tensor x = input_tensor(dtype, s, rng, -20, 20);
          check_lowered_op("aten.sum.dim_IntList", with_dims({{"self", x}}, dims, keepdim));
        }
      }
      check_lowered_op("aten.sum.default", {{"self", input_tensor(dtype, s, rng, -20, 20)}});
    }
  }
}

TEST(LowerReduction, SumOfSmallRanksAndEmptyDims) {
  std::mt19937 rng(302);
  for (DType dtype : {DType::kFloat32, DType::kInt64}) {
    check_lowered_op("aten.sum.default", {{"self", input_tensor(dtype, {}, rng, -5, 5)}});
    check_lowered_op(
        "aten.sum.dim_IntList",
        {{"self", input_tensor(dtype, {}, rng, -5, 5)}, {"dim", Sizes{0}}, {"keepdim", true}});
    check_lowered_op("aten.sum.dim_IntList",
                     {{"self", input_tensor(dtype, {9}, rng, -5, 5)}, {"dim", Sizes{0}}});
    check_lowered_op("aten.sum.dim_IntList",
                     {{"self", input_tensor(dtype, {1, 1}, rng, -5, 5)}, {"dim", Sizes{1}}});
    // Sums over a size-0 dim are 0.
    check_lowered_op("aten.sum.dim_IntList",
                     {{"self", input_tensor(dtype, {0, 3}, rng, -5, 5)}, {"dim", Sizes{0}}});
    check_lowered_op("aten.prod.dim_int",
                     {{"self", input_tensor(dtype, {3, 0}, rng, -5, 5)}, {"dim", int64_t{1}}});
  }
}

TEST(LowerReduction, SumWithDtype) {
  std::mt19937 rng(303);
  const std::vector<std::pair<DType, DType>> casts = {
      {DType::kFloat16, DType::kFloat32}, {DType::kFloat32, DType::kFloat64},
      {DType::kFloat32, DType::kFloat16}, {DType::kFloat32, DType::kInt32},
      {DType::kInt32, DType::kFloat32},   {DType::kBool, DType::kInt32},
      {DType::kInt64, DType::kInt8},      {DType::kBFloat16, DType::kBFloat16}};
  for (const auto& [from, to] : casts) {
    SCOPED_TRACE(std::string(ir::dtype_name(from)) + " -> " + std::string(ir::dtype_name(to)));
    // Fractions truncate when the dtype is integral; int8 sums wrap.
    ref::Tensor x = input_tensor(from, {4, 5, 3}, rng, -40, 40);
    check_lowered_op("aten.sum.dim_IntList",
                     {{"self", x}, {"dim", Sizes{1}}, {"keepdim", true}, {"dtype", to}});
    check_lowered_op("aten.sum.default", {{"self", x}, {"dtype", to}});
    check_lowered_op(
        "aten.prod.dim_int",
        {{"self", input_tensor(from, {4, 5, 3}, rng, -2, 2)}, {"dim", int64_t{2}}, {"dtype", to}});
  }
}

TEST(LowerReduction, Prod) {
  std::mt19937 rng(304);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32,
                      DType::kInt64, DType::kBool}) {
    for (const Sizes& s : {Sizes{3, 4, 5}, Sizes{1, 6}, Sizes{}}) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      // Values near 1 keep products of floats in range; integers in [-3, 3) overflow and wrap.
      const bool floating = ir::is_floating(dtype);
      ref::Tensor x = input_tensor(dtype, s, rng, floating ? 0.6 : -3, floating ? 1.6 : 3);
      check_lowered_op("aten.prod.default", {{"self", x}});
      for (int64_t dim = -static_cast<int64_t>(s.size()); dim < static_cast<int64_t>(s.size());
           ++dim) {
        for (bool keepdim : {false, true}) {
          check_lowered_op("aten.prod.dim_int", {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
        }
      }
    }
  }
}

TEST(LowerReduction, AmaxAminPropagateNan) {
  std::mt19937 rng(305);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kInt32,
                      DType::kUInt8, DType::kBool}) {
    for (const Sizes& s : {Sizes{2, 3, 4}, Sizes{1, 7, 1}}) {
      for (const auto& dims : dim_lists()) {
        for (bool keepdim : {false, true}) {
          SCOPED_TRACE(ir::dtype_name(dtype));
          ref::Tensor x = input_tensor(dtype, s, rng, -30, 30, /*nans=*/true);
          TestArgs args = {{"self", x}, {"keepdim", keepdim}};
          if (dims) args.emplace_back("dim", *dims);
          check_lowered_op("aten.amax.default", args);
          check_lowered_op("aten.amin.default", args);
        }
      }
      ref::Tensor x = input_tensor(dtype, s, rng, -30, 30, /*nans=*/true);
      check_lowered_op("aten.max.default", {{"self", x}});
      check_lowered_op("aten.min.default", {{"self", x}});
    }
  }
  check_lowered_op("aten.amax.default", {{"self", input_tensor(DType::kFloat32, {}, rng, -3, 3)}});
}

TEST(LowerReduction, MaxMinDimGiveFirstIndex) {
  std::mt19937 rng(306);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt8}) {
    for (const Sizes& s : {Sizes{3, 5, 4}, Sizes{1, 6}, Sizes{5}}) {
      for (int64_t dim = -static_cast<int64_t>(s.size()); dim < static_cast<int64_t>(s.size());
           ++dim) {
        for (bool keepdim : {false, true}) {
          SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " dim " + std::to_string(dim));
          // Few distinct values, so that ties occur; NaN counts as the extreme.
          ref::Tensor x = input_tensor(dtype, s, rng, -3, 3, /*nans=*/true);
          if (x.is_floating()) {
            for (int64_t i = 0; i < x.numel(); ++i)
              if (!std::isnan(x.get(i))) x.set(i, std::floor(x.get(i)));
          }
          check_lowered_op("aten.max.dim", {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
          check_lowered_op("aten.min.dim", {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
        }
      }
    }
  }
  ref::Tensor scalar = input_tensor(DType::kFloat32, {}, rng, -3, 3);
  check_lowered_op("aten.max.dim", {{"self", scalar}, {"dim", int64_t{0}}});
  check_lowered_op("aten.min.dim", {{"self", scalar}, {"dim", int64_t{-1}}, {"keepdim", true}});
}

TEST(LowerReduction, ArgmaxArgmin) {
  std::mt19937 rng(307);
  for (DType dtype :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32, DType::kUInt8}) {
    for (const Sizes& s : {Sizes{3, 5, 4}, Sizes{1, 6}, Sizes{7}, Sizes{}, Sizes{2, 1}}) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " keepdim " + std::to_string(keepdim));
        ref::Tensor x = input_tensor(dtype, s, rng, -4, 4, /*nans=*/dtype == DType::kFloat32);
        // No dim: the index into the flattened tensor.
        check_lowered_op("aten.argmax.default", {{"self", x}, {"keepdim", keepdim}});
        check_lowered_op("aten.argmin.default", {{"self", x}, {"keepdim", keepdim}});
        const auto rank = static_cast<int64_t>(s.size());
        for (int64_t dim = rank == 0 ? -1 : -rank; dim < std::max<int64_t>(rank, 1); ++dim) {
          check_lowered_op("aten.argmax.default",
                           {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
          check_lowered_op("aten.argmin.default",
                           {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
        }
      }
    }
  }
}

TEST(LowerReduction, AllAny) {
  std::mt19937 rng(308);
  for (DType dtype :
       {DType::kBool, DType::kUInt8, DType::kFloat32, DType::kFloat16, DType::kInt32}) {
    for (const Sizes& s : {Sizes{3, 4, 2}, Sizes{1, 5, 1}}) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      // Mostly nonzero values (NaN counts as nonzero), so that both answers occur.
      ref::Tensor x =
          input_tensor(dtype, s, rng, dtype == DType::kUInt8 ? 0 : -1, 4, /*nans=*/true);
      for (const char* op : {"aten.all", "aten.any"}) {
        check_lowered_op(std::string(op) + ".default", {{"self", x}});
        for (int64_t dim : {0, 1, -1}) {
          for (bool keepdim : {false, true}) {
            check_lowered_op(std::string(op) + ".dim",
                             {{"self", x}, {"dim", dim}, {"keepdim", keepdim}});
          }
        }
        for (const auto& dims : dim_lists()) {
          // An empty list reduces nothing for .dims; None reduces everything.
          check_lowered_op(std::string(op) + ".dims", with_dims({{"self", x}}, dims, true));
          check_lowered_op(std::string(op) + ".dims", with_dims({{"self", x}}, dims, false));
        }
      }
    }
  }
  check_lowered_op("aten.any.default",
                   {{"self", input_tensor(DType::kFloat32, {0, 3}, rng, -1, 1)}});
  check_lowered_op("aten.all.dim",
                   {{"self", input_tensor(DType::kBool, {0, 3}, rng, 0, 1)}, {"dim", int64_t{0}}});
}

}  // namespace
}  // namespace kiln::testing
