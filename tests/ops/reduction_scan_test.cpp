// cumsum, cumprod, softmax and log_softmax against loops along the dim written here.
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

// Applies f to every line along `dim` (a rank-0 tensor is one line of one element): f maps the
// line's values to the new values. Lines are found through strides: outer * size * inner.
template <typename F>
ref::Tensor along(const ref::Tensor& x, int64_t dim, DType dt, F f) {
  ref::Tensor out(dt, x.sizes());
  int64_t size = x.dim() == 0 ? 1 : x.size(dim);
  int64_t inner = 1, outer = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.size(d);
    if (d > dim) inner *= x.size(d);
  }
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      std::vector<double> line;
      for (int64_t k = 0; k < size; ++k)
        line.push_back(x.get((o * size + k) * inner + in));
      std::vector<double> r = f(line);
      for (int64_t k = 0; k < size; ++k)
        out.set((o * size + k) * inner + in, r[static_cast<size_t>(k)]);
    }
  }
  return out;
}

std::vector<double> prefix_sums(std::vector<double> v) {
  for (size_t i = 1; i < v.size(); ++i)
    v[i] += v[i - 1];
  return v;
}

std::vector<double> prefix_products(std::vector<double> v) {
  for (size_t i = 1; i < v.size(); ++i)
    v[i] *= v[i - 1];
  return v;
}

std::vector<double> softmax(const std::vector<double>& v) {
  double m = -kInf;
  for (double e : v)
    m = std::max(m, e);
  double s = 0;
  for (double e : v)
    s += std::exp(e - m);
  std::vector<double> r;
  for (double e : v)
    r.push_back(std::exp(e - m) / s);
  return r;
}

std::vector<double> log_softmax(const std::vector<double>& v) {
  std::vector<double> r = softmax(v);
  for (double& e : r)
    e = std::log(e);
  return r;
}

const std::vector<Dims> kShapes = {{2, 3, 4}, {1, 5}, {3, 1, 2}, {6}, {}};

int64_t wrap(int64_t d, int64_t rank) {
  return rank == 0 ? 0 : (d + rank) % rank;
}

TEST(ReductionScan, CumsumCumprodPerDtype) {
  std::mt19937 rng(51);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt :
         {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kBool, DType::kFloat16}) {
      ref::Tensor x = ir::is_floating(dt) ? random_tensor(dt, shape, rng, 0.5, 1.5)
                                          : random_tensor(dt, shape, rng, -3, 4);
      DType want_dt = ir::is_floating(dt) ? dt : DType::kInt64;
      double tol = dt == DType::kFloat16 ? 1e-2 : 1e-6;
      for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.cumsum.default", {{"self", x}, {"dim", d}}),
                           along(x, wrap(d, rank), want_dt, prefix_sums), tol);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.cumprod.default", {{"self", x}, {"dim", d}}),
                           along(x, wrap(d, rank), want_dt, prefix_products), tol);
      }
    }
  }
}

TEST(ReductionScan, ScanDtypeArgument) {
  std::mt19937 rng(52);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng, -3, 3);
  // An integer dtype truncates each element before accumulating.
  ref::Tensor got = run_op_tensor("aten.cumsum.default",
                                  {{"self", x}, {"dim", int64_t{1}}, {"dtype", DType::kInt64}});
  EXPECT_TRUE(same_values(got, along(x, 1, DType::kInt64, [](std::vector<double> v) {
                            for (double& e : v)
                              e = std::trunc(e);
                            return prefix_sums(v);
                          })));
  ref::Tensor xi = random_tensor(DType::kInt32, {2, 3}, rng, -9, 9);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.cumprod.default",
                                   {{"self", xi}, {"dim", int64_t{0}}, {"dtype", DType::kFloat64}}),
                     along(xi, 0, DType::kFloat64, prefix_products), 1e-12);
  // int8 accumulation wraps.
  ref::Tensor b = make_tensor(DType::kInt8, {3}, {100, 100, 50});
  ref::Tensor w = run_op_tensor("aten.cumsum.default",
                                {{"self", b}, {"dim", int64_t{0}}, {"dtype", DType::kInt8}});
  EXPECT_TRUE(same_values(w, make_tensor(DType::kInt8, {3}, {100, -56, -6})));
  EXPECT_THROW(run_op("aten.cumsum.default", {{"self", x}, {"dim", int64_t{2}}}), Error);
}

TEST(ReductionScan, SoftmaxAndLogSoftmaxPerFloatDtype) {
  std::mt19937 rng(53);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64}) {
      // Large values: exp without the max subtracted would overflow.
      ref::Tensor x = random_tensor(dt, shape, rng, -100, 100);
      double tol = dt == DType::kFloat32 || dt == DType::kFloat64 ? 1e-6 : 1e-2;
      for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
        int64_t w = wrap(d, rank);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.softmax.int", {{"self", x}, {"dim", d}}),
                           along(x, w, dt, softmax), tol);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten._softmax.default",
                                         {{"self", x}, {"dim", d}, {"half_to_float", false}}),
                           along(x, w, dt, softmax), tol);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.log_softmax.int", {{"self", x}, {"dim", d}}),
                           along(x, w, dt, log_softmax), tol);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten._log_softmax.default",
                                         {{"self", x}, {"dim", d}, {"half_to_float", false}}),
                           along(x, w, dt, log_softmax), tol);
      }
    }
  }
}

TEST(ReductionScan, SoftmaxDtypeArguments) {
  std::mt19937 rng(54);
  ref::Tensor h = random_tensor(DType::kFloat16, {2, 5}, rng, -4, 4);
  // half_to_float: float16 in, float32 out, computed from the float16 values.
  EXPECT_TENSOR_NEAR(run_op_tensor("aten._softmax.default",
                                   {{"self", h}, {"dim", int64_t{1}}, {"half_to_float", true}}),
                     along(h, 1, DType::kFloat32, softmax), 1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten._log_softmax.default",
                                   {{"self", h}, {"dim", int64_t{-1}}, {"half_to_float", true}}),
                     along(h, 1, DType::kFloat32, log_softmax), 1e-6);
  ref::Tensor f = random_tensor(DType::kFloat32, {2, 5}, rng);
  EXPECT_THROW(
      run_op("aten._softmax.default", {{"self", f}, {"dim", int64_t{1}}, {"half_to_float", true}}),
      Error);
  // dtype casts the input first; integer inputs need one.
  ref::Tensor i = random_tensor(DType::kInt64, {3, 4}, rng, -5, 5);
  EXPECT_THROW(run_op("aten.softmax.int", {{"self", i}, {"dim", int64_t{1}}}), Error);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.softmax.int",
                                   {{"self", i}, {"dim", int64_t{0}}, {"dtype", DType::kFloat32}}),
                     along(i, 0, DType::kFloat32, softmax), 1e-6);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.log_softmax.int",
                                   {{"self", f}, {"dim", int64_t{1}}, {"dtype", DType::kFloat64}}),
                     along(f, 1, DType::kFloat64, log_softmax), 1e-12);
  EXPECT_THROW(
      run_op("aten.softmax.int", {{"self", f}, {"dim", int64_t{1}}, {"dtype", DType::kInt64}}),
      Error);
  EXPECT_THROW(run_op("aten.softmax.int", {{"self", f}, {"dim", int64_t{2}}}), Error);
}

TEST(ReductionScan, SoftmaxEdgeCases) {
  // A size-0 dim is fine.
  ref::Tensor e(DType::kFloat32, {2, 0});
  EXPECT_EQ(run_op_tensor("aten.softmax.int", {{"self", e}, {"dim", int64_t{1}}}).sizes(),
            (Dims{2, 0}));
  // Rows: a -inf entry, all -inf (NaN), +inf (NaN), NaN (NaN).
  ref::Tensor x = make_tensor(DType::kFloat32, {4, 2}, {-kInf, 1, -kInf, -kInf, kInf, 1, kNaN, 2});
  ref::Tensor s = run_op_tensor("aten._softmax.default",
                                {{"self", x}, {"dim", int64_t{1}}, {"half_to_float", false}});
  EXPECT_EQ(s.get(0), 0);
  EXPECT_EQ(s.get(1), 1);
  for (int64_t i = 2; i < 8; ++i)
    EXPECT_TRUE(std::isnan(s.get(i))) << i;
  ref::Tensor l = run_op_tensor("aten._log_softmax.default",
                                {{"self", x}, {"dim", int64_t{1}}, {"half_to_float", false}});
  EXPECT_EQ(l.get(0), -kInf);
  EXPECT_EQ(l.get(1), 0);
  for (int64_t i = 2; i < 8; ++i)
    EXPECT_TRUE(std::isnan(l.get(i))) << i;
}

}  // namespace
}  // namespace kiln::testing
