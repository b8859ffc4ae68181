// norm, linalg_vector_norm and logsumexp against closed forms over explicit index loops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The p-norm of a list of values, written out per case.
double pnorm(const std::vector<double>& v, double p) {
  if (p == 0) {
    double n = 0;
    for (double e : v)
      n += (e != 0);
    return n;
  }
  if (p == kInf || p == -kInf) {
    double r = std::fabs(v.at(0));
    for (double e : v)
      r = p > 0 ? std::fmax(r, std::fabs(e)) : std::fmin(r, std::fabs(e));
    return r;
  }
  double s = 0;
  for (double e : v)
    s += std::pow(std::fabs(e), p);
  return std::pow(s, 1 / p);
}

// A 3-d input [A, B, C] reduced over one dim (0, 1, 2) or every dim (-1), with keepdim.
template <typename F>
ref::Tensor reduce3(const ref::Tensor& x, int64_t dim, bool keepdim, DType dt, F f) {
  int64_t A = x.size(0), B = x.size(1), C = x.size(2);
  auto at = [&](int64_t a, int64_t b, int64_t c) { return x.get((a * B + b) * C + c); };
  if (dim < 0) {
    std::vector<double> v;
    for (int64_t i = 0; i < x.numel(); ++i)
      v.push_back(x.get(i));
    ref::Tensor out(dt, keepdim ? Dims{1, 1, 1} : Dims{});
    out.set(0, f(v));
    return out;
  }
  Dims sizes = {A, B, C};
  sizes[static_cast<size_t>(dim)] = 1;
  ref::Tensor out(dt, sizes);
  for (int64_t a = 0; a < sizes[0]; ++a) {
    for (int64_t b = 0; b < sizes[1]; ++b) {
      for (int64_t c = 0; c < sizes[2]; ++c) {
        std::vector<double> v;
        for (int64_t k = 0; k < x.size(dim); ++k)
          v.push_back(dim == 0 ? at(k, b, c) : dim == 1 ? at(a, k, c) : at(a, b, k));
        out.set((a * sizes[1] + b) * sizes[2] + c, f(v));
      }
    }
  }
  if (!keepdim) {
    Dims kept;
    for (int64_t d = 0; d < 3; ++d) {
      if (d != dim) kept.push_back(sizes[static_cast<size_t>(d)]);
    }
    out = out.reshaped(kept);
  }
  return out;
}

const std::vector<double> kOrders = {2, 1, 3, 0.5, 0, kInf, -kInf, -1};

TEST(ReductionVectorNorm, LinalgVectorNormOrdersDimsAndDtypes) {
  std::mt19937 rng(41);
  for (const Dims& shape : std::vector<Dims>{{2, 3, 4}, {1, 5, 1}, {3, 1, 2}}) {
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat16 ? 1e-2 : 1e-6;
      for (double p : kOrders) {
        SCOPED_TRACE(p);
        for (bool keepdim : {false, true}) {
          auto f = [&](const std::vector<double>& v) { return pnorm(v, p); };
          EXPECT_TENSOR_NEAR(run_op_tensor("aten.linalg_vector_norm.default",
                                           {{"self", x}, {"ord", p}, {"keepdim", keepdim}}),
                             reduce3(x, -1, keepdim, dt, f), tol);
          for (int64_t d = -3; d < 3; ++d) {
            EXPECT_TENSOR_NEAR(
                run_op_tensor("aten.linalg_vector_norm.default",
                              {{"self", x}, {"ord", p}, {"dim", Dims{d}}, {"keepdim", keepdim}}),
                reduce3(x, (d + 3) % 3, keepdim, dt, f), tol);
          }
        }
      }
    }
  }
}

TEST(ReductionVectorNorm, DefaultsDtypeAndIntOrders) {
  std::mt19937 rng(42);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  auto l2 = [](const std::vector<double>& v) { return pnorm(v, 2); };
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.linalg_vector_norm.default", {{"self", x}}),
                     reduce3(x, -1, false, DType::kFloat32, l2), 1e-6);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.linalg_vector_norm.default", {{"self", x}, {"dim", Dims{}}}),
      reduce3(x, -1, false, DType::kFloat32, l2), 1e-6);
  // The archive writes integer orders as ints.
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.linalg_vector_norm.default",
                                   {{"self", x}, {"ord", int64_t{1}}, {"dim", Dims{1}}}),
                     reduce3(x, 1, false, DType::kFloat32,
                             [](const std::vector<double>& v) { return pnorm(v, 1); }),
                     1e-6);
  // dtype: the input is upcast without narrowing.
  ref::Tensor h = random_tensor(DType::kFloat16, {2, 3, 4}, rng);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.linalg_vector_norm.default",
                                   {{"self", h}, {"dim", Dims{2}}, {"dtype", DType::kFloat32}}),
                     reduce3(h, 2, false, DType::kFloat32, l2), 1e-6);
  EXPECT_THROW(run_op("aten.linalg_vector_norm.default", {{"self", x}, {"dtype", DType::kFloat16}}),
               Error);
  ref::Tensor i = random_tensor(DType::kInt64, {3}, rng, -4, 4);
  EXPECT_THROW(run_op("aten.linalg_vector_norm.default", {{"self", i}}), Error);
  EXPECT_THROW(run_op("aten.linalg_vector_norm.default", {{"self", i}, {"dtype", DType::kFloat32}}),
               Error);
  EXPECT_THROW(run_op("aten.linalg_vector_norm.default", {{"self", x}, {"dim", Dims{0, -3}}}),
               Error);
}

TEST(ReductionVectorNorm, NaNAndEmptyInputs) {
  ref::Tensor v = make_tensor(DType::kFloat32, {4}, {1, kNaN, 0, -3});
  for (double p : {1.0, 2.0, kInf, -kInf, -1.0, 0.5}) {
    EXPECT_TRUE(std::isnan(
        run_op_tensor("aten.linalg_vector_norm.default", {{"self", v}, {"ord", p}}).get(0)))
        << p;
  }
  // The 0-"norm" counts NaN as nonzero.
  EXPECT_EQ(run_op_tensor("aten.linalg_vector_norm.default", {{"self", v}, {"ord", 0.0}}).get(0),
            3);
  // Zero entries under a negative order: |0|^-1 is inf, so the norm is 0.
  ref::Tensor z = make_tensor(DType::kFloat32, {2}, {0, 1.5});
  EXPECT_EQ(run_op_tensor("aten.linalg_vector_norm.default", {{"self", z}, {"ord", -2.0}}).get(0),
            0);
  ref::Tensor e(DType::kFloat32, {0, 3});
  for (double p : {kInf, -kInf, -1.0}) {
    EXPECT_THROW(
        run_op("aten.linalg_vector_norm.default", {{"self", e}, {"ord", p}, {"dim", Dims{0}}}),
        Error);
    EXPECT_THROW(run_op("aten.norm.Scalar", {{"self", e}, {"p", p}}), Error);
    EXPECT_EQ(run_op_tensor("aten.linalg_vector_norm.default",
                            {{"self", e}, {"ord", p}, {"dim", Dims{1}}})
                  .sizes(),
              Dims{0});
  }
  for (double p : {0.0, 2.0}) {
    EXPECT_TRUE(same_values(run_op_tensor("aten.linalg_vector_norm.default",
                                          {{"self", e}, {"ord", p}, {"dim", Dims{0}}}),
                            ref::Tensor(DType::kFloat32, {3})));
  }
}

TEST(ReductionVectorNorm, NormOverloads) {
  std::mt19937 rng(43);
  for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
    ref::Tensor x = random_tensor(dt, {3, 2, 4}, rng, -3, 3);
    double tol = dt == DType::kFloat32 ? 1e-6 : 1e-2;
    auto norm_p = [](double p) {
      return [p](const std::vector<double>& v) { return pnorm(v, p); };
    };
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.norm.Scalar", {{"self", x}}),
                       reduce3(x, -1, false, dt, norm_p(2)), tol);
    for (double p : kOrders) {
      EXPECT_TENSOR_NEAR(run_op_tensor("aten.norm.Scalar", {{"self", x}, {"p", p}}),
                         reduce3(x, -1, false, dt, norm_p(p)), tol);
      for (bool keepdim : {false, true}) {
        EXPECT_TENSOR_NEAR(
            run_op_tensor("aten.norm.ScalarOpt_dim",
                          {{"self", x}, {"p", p}, {"dim", Dims{-2}}, {"keepdim", keepdim}}),
            reduce3(x, 1, keepdim, dt, norm_p(p)), tol);
      }
    }
    // p=None is 2; dim=[] reduces everything.
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.norm.ScalarOpt_dim",
                                     {{"self", x}, {"p", ir::NoneArg{}}, {"dim", Dims{0}}}),
                       reduce3(x, 0, false, dt, norm_p(2)), tol);
    EXPECT_TENSOR_NEAR(
        run_op_tensor("aten.norm.ScalarOpt_dim",
                      {{"self", x}, {"p", int64_t{1}}, {"dim", Dims{}}, {"keepdim", true}}),
        reduce3(x, -1, true, dt, norm_p(1)), tol);
  }
  ref::Tensor i = random_tensor(DType::kInt64, {3}, rng, -4, 4);
  EXPECT_THROW(run_op("aten.norm.Scalar", {{"self", i}}), Error);
}

// log(sum(exp(v))) written with the maximum factored out by hand.
double lse(const std::vector<double>& v) {
  double m = -kInf;
  for (double e : v)
    m = std::max(m, e);
  double s = 0;
  for (double e : v)
    s += std::exp(e - m);
  return m + std::log(s);
}

TEST(ReductionVectorNorm, LogsumexpOverDims) {
  std::mt19937 rng(44);
  for (const Dims& shape : std::vector<Dims>{{2, 3, 4}, {1, 5, 1}, {4, 1, 3}}) {
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
      // Large values: a naive exp would overflow float32.
      ref::Tensor x = random_tensor(dt, shape, rng, dt == DType::kFloat16 ? -8 : -200, 200);
      double tol = dt == DType::kFloat16 ? 1e-2 : 1e-6;
      for (int64_t d = -3; d < 3; ++d) {
        for (bool keepdim : {false, true}) {
          EXPECT_TENSOR_NEAR(run_op_tensor("aten.logsumexp.default",
                                           {{"self", x}, {"dim", Dims{d}}, {"keepdim", keepdim}}),
                             reduce3(x, (d + 3) % 3, keepdim, dt, lse), tol);
        }
      }
    }
  }
}

TEST(ReductionVectorNorm, LogsumexpDtypesAndInfinities) {
  std::mt19937 rng(45);
  // Integer and bool inputs give float32.
  for (DType dt : {DType::kInt64, DType::kBool}) {
    ref::Tensor x = random_tensor(dt, {2, 3, 2}, rng, -5, 5);
    EXPECT_TENSOR_NEAR(run_op_tensor("aten.logsumexp.default", {{"self", x}, {"dim", Dims{1}}}),
                       reduce3(x, 1, false, DType::kFloat32, lse), 1e-6);
  }
  ref::Tensor x = make_tensor(DType::kFloat32, {3, 2}, {-kInf, -kInf, kInf, 1, kNaN, 2});
  ref::Tensor got = run_op_tensor("aten.logsumexp.default", {{"self", x}, {"dim", Dims{1}}});
  EXPECT_EQ(got.get(0), -kInf);
  EXPECT_EQ(got.get(1), kInf);
  EXPECT_TRUE(std::isnan(got.get(2)));
  // Several dims at once, and an empty reduction (-inf).
  ref::Tensor y = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor all = run_op_tensor("aten.logsumexp.default", {{"self", y}, {"dim", Dims{0, 1, 2}}});
  EXPECT_TENSOR_NEAR(all, reduce3(y, -1, false, DType::kFloat32, lse), 1e-6);
  ref::Tensor e(DType::kFloat32, {0, 3});
  EXPECT_TRUE(same_values(run_op_tensor("aten.logsumexp.default", {{"self", e}, {"dim", Dims{0}}}),
                          make_tensor(DType::kFloat32, {3}, {-kInf, -kInf, -kInf})));
  EXPECT_THROW(run_op("aten.logsumexp.default", {{"self", y}, {"dim", Dims{}}}), Error);
  ref::Tensor s = make_tensor(DType::kFloat32, {}, {2.5});
  EXPECT_EQ(run_op_tensor("aten.logsumexp.default", {{"self", s}, {"dim", Dims{0}}}).get(0), 2.5);
}

}  // namespace
}  // namespace kiln::testing
