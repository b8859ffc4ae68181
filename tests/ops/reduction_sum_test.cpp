// sum, mean, prod, var, std, var_mean against brute-force reductions computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

// The values each output element reduces: every input element is sorted by its coordinates
// outside `dims` (an empty set reduces everything), so map order is the output's row-major order.
std::map<Dims, std::vector<double>> brute_groups(const ref::Tensor& x, std::set<int64_t> dims) {
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d)
      dims.insert(d);
  }
  std::map<Dims, std::vector<double>> groups;
  for (int64_t i = 0; i < x.numel(); ++i) {
    Dims key;
    int64_t rest = i;
    Dims coord(static_cast<size_t>(x.dim()));
    for (int64_t d = x.dim() - 1; d >= 0; --d) {
      coord[static_cast<size_t>(d)] = rest % x.size(d);
      rest /= x.size(d);
    }
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (!dims.count(d)) key.push_back(coord[static_cast<size_t>(d)]);
    }
    groups[key].push_back(x.get(i));
  }
  return groups;
}

Dims out_sizes(const ref::Tensor& x, std::set<int64_t> dims, bool keepdim) {
  Dims out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    bool reduced = dims.empty() || dims.count(d);
    if (!reduced) out.push_back(x.size(d));
    if (reduced && keepdim) out.push_back(1);
  }
  return out;
}

std::set<int64_t> wrapped(const Dims& dims, int64_t rank) {
  std::set<int64_t> out;
  for (int64_t d : dims)
    out.insert(d < 0 ? d + std::max<int64_t>(rank, 1) : d);
  if (rank == 0) out.clear();
  return out;
}

template <typename F>
ref::Tensor brute(const ref::Tensor& x, const Dims& dims, bool keepdim, DType dt, F f) {
  auto set = wrapped(dims, x.dim());
  ref::Tensor want(dt, out_sizes(x, set, keepdim));
  int64_t k = 0;
  for (const auto& [key, values] : brute_groups(x, set))
    want.set(k++, f(values));
  return want;
}

double total(const std::vector<double>& v) {
  double s = 0;
  for (double e : v)
    s += e;
  return s;
}

double product(const std::vector<double>& v) {
  double s = 1;
  for (double e : v)
    s *= e;
  return s;
}

const std::vector<Dims> kShapes = {{2, 3, 4}, {1, 5}, {3, 1, 2}, {4}, {}, {2, 1, 3, 2}};

// Dim lists to try on a shape of the given rank: single dims (negative too), pairs, all.
std::vector<Dims> dim_lists(int64_t rank) {
  if (rank == 0) return {{0}, {-1}};
  std::vector<Dims> out = {{0}, {-1}, {rank - 1}};
  if (rank >= 2) out.push_back({0, -1});
  if (rank >= 3) out.push_back({-3, 2});
  return out;
}

TEST(ReductionSum, SumOfWholeTensorPerDtype) {
  std::mt19937 rng(11);
  for (const Dims& shape : kShapes) {
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kBool, DType::kFloat16,
                     DType::kBFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -5, 5);
      ref::Tensor got = run_op_tensor("aten.sum.default", {{"self", x}});
      DType want_dt = ir::is_floating(dt) ? dt : DType::kInt64;
      ref::Tensor want = brute(x, {}, false, want_dt, total);
      if (ir::is_floating(dt)) {
        EXPECT_TENSOR_NEAR(got, want, dt == DType::kFloat32 ? 1e-6 : 1e-2);
      } else {
        EXPECT_TRUE(same_values(got, want)) << got.str();
      }
    }
  }
}

TEST(ReductionSum, SumOverDimListsWithKeepdim) {
  std::mt19937 rng(12);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -5, 5);
      for (const Dims& dims : dim_lists(rank)) {
        for (bool keepdim : {false, true}) {
          ref::Tensor got = run_op_tensor("aten.sum.dim_IntList",
                                          {{"self", x}, {"dim", dims}, {"keepdim", keepdim}});
          DType want_dt = ir::is_floating(dt) ? dt : DType::kInt64;
          ref::Tensor want = brute(x, dims, keepdim, want_dt, total);
          EXPECT_TENSOR_NEAR(got, want, 1e-6);
        }
      }
    }
  }
}

TEST(ReductionSum, EmptyOrNoneDimListReducesEverything) {
  std::mt19937 rng(13);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  for (bool keepdim : {false, true}) {
    ref::Tensor want = brute(x, {}, keepdim, DType::kFloat32, total);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.sum.dim_IntList", {{"self", x}, {"dim", Dims{}}, {"keepdim", keepdim}}),
        want, 1e-6);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.sum.dim_IntList",
                                     {{"self", x}, {"dim", ir::NoneArg{}}, {"keepdim", keepdim}}),
                       want, 1e-6);
  }
}

TEST(ReductionSum, DtypeArgumentCastsEachElementFirst) {
  std::mt19937 rng(14);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng, -3, 3);
  // int64: each element truncated toward zero before the sum.
  ref::Tensor got = run_op_tensor("aten.sum.dim_IntList",
                                  {{"self", x}, {"dim", Dims{1}}, {"dtype", DType::kInt64}});
  ref::Tensor want = brute(x, {1}, false, DType::kInt64, [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v)
      s += std::trunc(e);
    return s;
  });
  EXPECT_TRUE(same_values(got, want));
  // An int tensor summed as float64, and a float tensor as float64.
  ref::Tensor xi = random_tensor(DType::kInt32, {2, 5}, rng, -50, 50);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.sum.default", {{"self", xi}, {"dtype", DType::kFloat64}}),
                     brute(xi, {}, false, DType::kFloat64, total), 1e-12);
  ref::Tensor xh = random_tensor(DType::kFloat16, {4, 3}, rng);
  EXPECT_TENSOR_NEAR(
      run_op_tensor(
          "aten.sum.dim_IntList",
          {{"self", xh}, {"dim", Dims{0}}, {"keepdim", true}, {"dtype", DType::kFloat32}}),
      brute(xh, {0}, true, DType::kFloat32, total), 1e-6);
  // int8 accumulation wraps like the dtype.
  ref::Tensor x8 = make_tensor(DType::kInt64, {3}, {100, 100, 90});
  EXPECT_EQ(run_op_tensor("aten.sum.default", {{"self", x8}, {"dtype", DType::kInt8}}).get_int(0),
            static_cast<int8_t>(290));
}

TEST(ReductionSum, SumChecksDims) {
  std::mt19937 rng(15);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  EXPECT_THROW(run_op("aten.sum.dim_IntList", {{"self", x}, {"dim", Dims{0, -2}}}), Error);
  EXPECT_THROW(run_op("aten.sum.dim_IntList", {{"self", x}, {"dim", Dims{2}}}), Error);
  ref::Tensor s = random_tensor(DType::kFloat32, {}, rng);
  EXPECT_THROW(run_op("aten.sum.dim_IntList", {{"self", s}, {"dim", Dims{0, 0}}}), Error);
  EXPECT_THROW(run_op("aten.sum.dim_IntList", {{"self", s}, {"dim", Dims{1}}}), Error);
}

TEST(ReductionSum, SumAndProdOverEmptyDimAreIdentities) {
  ref::Tensor x(DType::kFloat32, {2, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.sum.dim_IntList", {{"self", x}, {"dim", Dims{1}}}),
                          make_tensor(DType::kFloat32, {2}, {0, 0})));
  EXPECT_TRUE(same_values(run_op_tensor("aten.prod.dim_int", {{"self", x}, {"dim", int64_t{1}}}),
                          make_tensor(DType::kFloat32, {2}, {1, 1})));
}

TEST(ReductionSum, MeanOverDimsPerFloatDtype) {
  std::mt19937 rng(16);
  auto mean = [](const std::vector<double>& v) { return total(v) / static_cast<double>(v.size()); };
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64}) {
      ref::Tensor x = random_tensor(dt, shape, rng);
      double tol = dt == DType::kFloat32 || dt == DType::kFloat64 ? 1e-6 : 1e-2;
      EXPECT_TENSOR_NEAR(run_op_tensor("aten.mean.default", {{"self", x}}),
                         brute(x, {}, false, dt, mean), tol);
      for (const Dims& dims : dim_lists(rank)) {
        for (bool keepdim : {false, true}) {
          EXPECT_TENSOR_NEAR(
              run_op_tensor("aten.mean.dim", {{"self", x}, {"dim", dims}, {"keepdim", keepdim}}),
              brute(x, dims, keepdim, dt, mean), tol);
        }
      }
    }
  }
}

TEST(ReductionSum, MeanDtypeRules) {
  std::mt19937 rng(17);
  ref::Tensor xi = random_tensor(DType::kInt64, {3, 4}, rng, -9, 9);
  EXPECT_THROW(run_op("aten.mean.default", {{"self", xi}}), Error);
  EXPECT_THROW(run_op("aten.mean.dim", {{"self", xi}, {"dim", Dims{0}}}), Error);
  ref::Tensor xb = random_tensor(DType::kBool, {3}, rng);
  EXPECT_THROW(run_op("aten.mean.default", {{"self", xb}}), Error);
  auto mean = [](const std::vector<double>& v) { return total(v) / static_cast<double>(v.size()); };
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.mean.dim", {{"self", xi}, {"dim", Dims{1}}, {"dtype", DType::kFloat32}}),
      brute(xi, {1}, false, DType::kFloat32, mean), 1e-6);
  ref::Tensor xf = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_THROW(run_op("aten.mean.default", {{"self", xf}, {"dtype", DType::kInt64}}), Error);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.mean.default", {{"self", xf}, {"dtype", DType::kFloat64}}),
                     brute(xf, {}, false, DType::kFloat64, mean), 1e-12);
  // An empty reduction is 0/0.
  ref::Tensor e(DType::kFloat32, {0, 3});
  ref::Tensor m = run_op_tensor("aten.mean.dim", {{"self", e}, {"dim", Dims{0}}});
  ASSERT_EQ(m.numel(), 3);
  EXPECT_TRUE(std::isnan(m.get(0)));
}

TEST(ReductionSum, ProdPerDtype) {
  std::mt19937 rng(18);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool, DType::kFloat16}) {
      ref::Tensor x = ir::is_floating(dt) ? random_tensor(dt, shape, rng, 0.5, 1.5)
                                          : random_tensor(dt, shape, rng, -3, 4);
      DType want_dt = ir::is_floating(dt) ? dt : DType::kInt64;
      double tol = dt == DType::kFloat16 ? 1e-2 : 1e-6;
      EXPECT_TENSOR_NEAR(run_op_tensor("aten.prod.default", {{"self", x}}),
                         brute(x, {}, false, want_dt, product), tol);
      for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
        for (bool keepdim : {false, true}) {
          EXPECT_TENSOR_NEAR(
              run_op_tensor("aten.prod.dim_int", {{"self", x}, {"dim", d}, {"keepdim", keepdim}}),
              brute(x, {d}, keepdim, want_dt, product), tol);
        }
      }
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng, 0.5, 1.5);
  EXPECT_TENSOR_NEAR(
      run_op_tensor(
          "aten.prod.dim_int",
          {{"self", x}, {"dim", int64_t{1}}, {"keepdim", true}, {"dtype", DType::kFloat64}}),
      brute(x, {1}, true, DType::kFloat64, product), 1e-12);
}

// Variance by the one-pass closed form sum(x^2) - n * mean^2, over max(0, n - correction).
double variance(const std::vector<double>& v, double correction) {
  auto n = static_cast<double>(v.size());
  double s = 0, s2 = 0;
  for (double e : v) {
    s += e;
    s2 += e * e;
  }
  return (s2 - s * s / n) / std::max(0.0, n - correction);
}

TEST(ReductionSum, VarAndStdWithUnbiasedAndCorrection) {
  std::mt19937 rng(19);
  for (const Dims& shape : std::vector<Dims>{{2, 3, 4}, {5, 1}, {3, 6}, {7}}) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng);
      double tol = dt == DType::kFloat32 ? 1e-5 : 1e-2;
      for (const Dims& dims : dim_lists(rank)) {
        for (bool keepdim : {false, true}) {
          for (bool unbiased : {false, true}) {
            double c = unbiased ? 1 : 0;
            TestArgs args = {
                {"self", x}, {"dim", dims}, {"unbiased", unbiased}, {"keepdim", keepdim}};
            EXPECT_TENSOR_NEAR(
                run_op_tensor("aten.var.dim", args),
                brute(x, dims, keepdim, dt, [&](const auto& v) { return variance(v, c); }), tol);
            EXPECT_TENSOR_NEAR(run_op_tensor("aten.std.dim", args),
                               brute(x, dims, keepdim, dt,
                                     [&](const auto& v) { return std::sqrt(variance(v, c)); }),
                               tol);
          }
          for (double c : {0.0, 1.0, 0.5}) {
            TestArgs args = {{"self", x}, {"dim", dims}, {"correction", c}, {"keepdim", keepdim}};
            EXPECT_TENSOR_NEAR(
                run_op_tensor("aten.var.correction", args),
                brute(x, dims, keepdim, dt, [&](const auto& v) { return variance(v, c); }), tol);
            EXPECT_TENSOR_NEAR(run_op_tensor("aten.std.correction", args),
                               brute(x, dims, keepdim, dt,
                                     [&](const auto& v) { return std::sqrt(variance(v, c)); }),
                               tol);
          }
        }
      }
    }
  }
}

TEST(ReductionSum, VarDefaultsAndEdgeCases) {
  std::mt19937 rng(20);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng);
  // correction=None is 1, dim=None and dim=[] reduce everything.
  ref::Tensor want =
      brute(x, {}, false, DType::kFloat32, [](const auto& v) { return variance(v, 1); });
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.var.correction", {{"self", x}}), want, 1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.var.dim", {{"self", x}, {"dim", Dims{}}}), want, 1e-6);
  // An int correction as the archive writes it.
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.var.correction",
                    {{"self", x}, {"dim", Dims{1}}, {"correction", int64_t{0}}}),
      brute(x, {1}, false, DType::kFloat32, [](const auto& v) { return variance(v, 0); }), 1e-6);
  // correction >= N divides by zero: inf for a spread row.
  ref::Tensor big = run_op_tensor("aten.var.correction",
                                  {{"self", x}, {"dim", Dims{1}}, {"correction", int64_t{5}}});
  for (int64_t i = 0; i < big.numel(); ++i)
    EXPECT_TRUE(std::isinf(big.get(i)));
  // One element with correction 1: 0/0.
  ref::Tensor one =
      run_op_tensor("aten.var.correction", {{"self", random_tensor(DType::kFloat32, {}, rng)}});
  EXPECT_TRUE(std::isnan(one.get(0)));
  ref::Tensor xi = random_tensor(DType::kInt64, {3}, rng, -5, 5);
  EXPECT_THROW(run_op("aten.var.correction", {{"self", xi}}), Error);
  EXPECT_THROW(run_op("aten.std.dim", {{"self", xi}, {"dim", Dims{0}}}), Error);
  EXPECT_THROW(run_op("aten.var_mean.correction", {{"self", xi}}), Error);
  EXPECT_THROW(run_op("aten.var.dim", {{"self", x}, {"dim", Dims{0, 0}}}), Error);
}

TEST(ReductionSum, VarMeanReturnsBoth) {
  std::mt19937 rng(21);
  for (const Dims& shape : std::vector<Dims>{{2, 3, 4}, {1, 6}, {5}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, shape, rng);
    for (bool keepdim : {false, true}) {
      auto out = run_op(
          "aten.var_mean.correction",
          {{"self", x}, {"dim", Dims{-1}}, {"correction", int64_t{0}}, {"keepdim", keepdim}});
      ASSERT_EQ(out.size(), 2u);
      EXPECT_TENSOR_NEAR(
          as_tensor(out[0]),
          brute(x, {-1}, keepdim, DType::kFloat32, [](const auto& v) { return variance(v, 0); }),
          1e-5);
      EXPECT_TENSOR_NEAR(
          as_tensor(out[1]),
          brute(x, {-1}, keepdim, DType::kFloat32,
                [](const auto& v) { return total(v) / static_cast<double>(v.size()); }),
          1e-6);
    }
  }
}

}  // namespace
}  // namespace kiln::testing
