// amax/amin, max/min, argmax/argmin, all/any against brute-force scans computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The input coordinates of flat index i.
Dims coords(const ref::Tensor& x, int64_t i) {
  Dims c(static_cast<size_t>(x.dim()));
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    c[static_cast<size_t>(d)] = i % x.size(d);
    i /= x.size(d);
  }
  return c;
}

// Reference extreme along one dim (or, with dim < 0 meaning "all", the whole tensor): for each
// output element, a scan over the whole input picking elements on the same line. Returns the
// values and the index (along dim, or flat) of the first extreme; NaN wins.
struct Extreme {
  ref::Tensor values;
  ref::Tensor indices;
};

Extreme brute_extreme(const ref::Tensor& x, std::optional<int64_t> dim, bool keepdim, bool max) {
  Dims out_sizes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (dim && d != *dim) out_sizes.push_back(x.size(d));
    if ((!dim || d == *dim) && keepdim) out_sizes.push_back(1);
  }
  Extreme e{ref::Tensor(x.dtype(), out_sizes), ref::Tensor(DType::kInt64, out_sizes)};
  int64_t out_numel = e.values.numel();
  for (int64_t o = 0; o < out_numel; ++o) {
    bool found = false;
    double best = 0;
    int64_t best_index = 0;
    int64_t seen = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      // Does input i belong to output o? Compare the coordinates outside dim.
      Dims c = coords(x, i);
      int64_t flat = 0;
      for (int64_t d = 0; d < x.dim(); ++d) {
        if (dim && d != *dim) flat = flat * x.size(d) + c[static_cast<size_t>(d)];
      }
      if (flat != o) continue;
      double v = x.get(i);
      int64_t pos = dim ? c[static_cast<size_t>(*dim)] : seen;
      ++seen;
      bool better = max ? v > best : v < best;
      if (!found || (!std::isnan(best) && (std::isnan(v) || better))) {
        best = v;
        best_index = pos;
        found = true;
      }
    }
    e.values.set(o, best);
    e.indices.set_int(o, best_index);
  }
  return e;
}

const std::vector<Dims> kShapes = {{2, 3, 4}, {1, 5}, {3, 1, 2}, {6}, {}};

// Random data with ties (few distinct values) so the first-index rule matters.
ref::Tensor tie_tensor(DType dt, const Dims& shape, std::mt19937& rng) {
  ref::Tensor t(dt, shape);
  std::uniform_int_distribution<int> pick(-2, 2);
  std::uniform_real_distribution<double> jitter(0, 1);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = pick(rng);
    if (ir::is_floating(dt) && jitter(rng) < 0.3) v += 0.25;
    t.set(i, dt == DType::kBool ? (v > 0) : v);
  }
  return t;
}

TEST(ReductionMinMax, AmaxAminOverDimsPerDtype) {
  std::mt19937 rng(31);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool, DType::kBFloat16}) {
      ref::Tensor x = tie_tensor(dt, shape, rng);
      for (bool keepdim : {false, true}) {
        for (bool is_max : {true, false}) {
          const char* op = is_max ? "aten.amax.default" : "aten.amin.default";
          // dim=[] (the default) reduces everything.
          EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"keepdim", keepdim}}),
                                  brute_extreme(x, std::nullopt, keepdim, is_max).values));
          for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
            int64_t w = rank == 0 ? 0 : (d + rank) % rank;
            auto want =
                brute_extreme(x, rank == 0 ? std::nullopt : std::optional(w), keepdim, is_max);
            EXPECT_TRUE(same_values(
                run_op_tensor(op, {{"self", x}, {"dim", Dims{d}}, {"keepdim", keepdim}}),
                want.values))
                << op << " dim " << d;
          }
        }
      }
    }
  }
}

TEST(ReductionMinMax, AmaxOverSeveralDims) {
  std::mt19937 rng(32);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor got = run_op_tensor("aten.amax.default", {{"self", x}, {"dim", Dims{0, -1}}});
  ASSERT_EQ(got.sizes(), Dims{3});
  for (int64_t j = 0; j < 3; ++j) {
    double best = -INFINITY;
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t k = 0; k < 4; ++k)
        best = std::max(best, x.get((i * 3 + j) * 4 + k));
    }
    EXPECT_EQ(got.get(j), best);
  }
  EXPECT_THROW(run_op("aten.amax.default", {{"self", x}, {"dim", Dims{1, -2}}}), Error);
}

TEST(ReductionMinMax, NaNPropagates) {
  ref::Tensor x = make_tensor(DType::kFloat32, {2, 3}, {1.5, kNaN, 3, -2, 0.5, -4});
  ref::Tensor amax = run_op_tensor("aten.amax.default", {{"self", x}, {"dim", Dims{1}}});
  EXPECT_TRUE(std::isnan(amax.get(0)));
  EXPECT_EQ(amax.get(1), 0.5);
  ref::Tensor amin = run_op_tensor("aten.amin.default", {{"self", x}, {"dim", Dims{0}}});
  EXPECT_TRUE(same_values(amin, make_tensor(DType::kFloat32, {3}, {-2, kNaN, -4})));
  EXPECT_TRUE(std::isnan(run_op_tensor("aten.max.default", {{"self", x}}).get(0)));
  EXPECT_TRUE(std::isnan(run_op_tensor("aten.min.default", {{"self", x}}).get(0)));
  // The index of the first NaN, even after a larger value or a second NaN.
  ref::Tensor y = make_tensor(DType::kFloat32, {5}, {1, 3, kNaN, 7, kNaN});
  EXPECT_EQ(run_op_tensor("aten.argmax.default", {{"self", y}}).get_int(0), 2);
  EXPECT_EQ(run_op_tensor("aten.argmin.default", {{"self", y}}).get_int(0), 2);
  auto mx = run_op("aten.max.dim", {{"self", y}, {"dim", int64_t{0}}});
  EXPECT_TRUE(std::isnan(as_tensor(mx[0]).get(0)));
  EXPECT_EQ(as_tensor(mx[1]).get_int(0), 2);
}

TEST(ReductionMinMax, MaxMinWholeTensorPerDtype) {
  std::mt19937 rng(33);
  for (const Dims& shape : kShapes) {
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool, DType::kFloat16}) {
      ref::Tensor x = tie_tensor(dt, shape, rng);
      EXPECT_TRUE(same_values(run_op_tensor("aten.max.default", {{"self", x}}),
                              brute_extreme(x, std::nullopt, false, true).values));
      EXPECT_TRUE(same_values(run_op_tensor("aten.min.default", {{"self", x}}),
                              brute_extreme(x, std::nullopt, false, false).values));
    }
  }
  EXPECT_THROW(run_op("aten.max.default", {{"self", ref::Tensor(DType::kFloat32, {0})}}), Error);
  EXPECT_THROW(run_op("aten.amax.default", {{"self", ref::Tensor(DType::kFloat32, {0, 3})}}),
               Error);
}

TEST(ReductionMinMax, MaxMinDimGiveFirstIndex) {
  std::mt19937 rng(34);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool}) {
      ref::Tensor x = tie_tensor(dt, shape, rng);
      for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
        int64_t w = rank == 0 ? 0 : (d + rank) % rank;
        for (bool keepdim : {false, true}) {
          for (bool is_max : {true, false}) {
            auto out = run_op(is_max ? "aten.max.dim" : "aten.min.dim",
                              {{"self", x}, {"dim", d}, {"keepdim", keepdim}});
            ASSERT_EQ(out.size(), 2u);
            auto want =
                brute_extreme(x, rank == 0 ? std::nullopt : std::optional(w), keepdim, is_max);
            EXPECT_TRUE(same_values(as_tensor(out[0]), want.values));
            EXPECT_TRUE(same_values(as_tensor(out[1]), want.indices)) << "dim " << d;
          }
        }
      }
    }
  }
}

TEST(ReductionMinMax, ReductionsWithoutIdentityRejectEmptyDims) {
  ref::Tensor e(DType::kFloat32, {0, 3});
  EXPECT_THROW(run_op("aten.max.dim", {{"self", e}, {"dim", int64_t{0}}}), Error);
  EXPECT_THROW(run_op("aten.amin.default", {{"self", e}, {"dim", Dims{0}}}), Error);
  EXPECT_THROW(run_op("aten.argmax.default", {{"self", e}}), Error);
  EXPECT_THROW(run_op("aten.argmin.default", {{"self", e}, {"dim", int64_t{0}}}), Error);
  // Reducing the non-empty dim of an empty tensor is fine.
  auto out = run_op("aten.max.dim", {{"self", e}, {"dim", int64_t{1}}});
  EXPECT_EQ(as_tensor(out[0]).sizes(), Dims{0});
  EXPECT_EQ(run_op_tensor("aten.argmax.default", {{"self", e}, {"dim", int64_t{1}}}).sizes(),
            Dims{0});
}

TEST(ReductionMinMax, ArgmaxArgminPerDtype) {
  std::mt19937 rng(35);
  for (const Dims& shape : kShapes) {
    auto rank = static_cast<int64_t>(shape.size());
    for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat16}) {
      ref::Tensor x = tie_tensor(dt, shape, rng);
      for (bool keepdim : {false, true}) {
        for (bool is_max : {true, false}) {
          const char* op = is_max ? "aten.argmax.default" : "aten.argmin.default";
          // dim=None flattens.
          EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"keepdim", keepdim}}),
                                  brute_extreme(x, std::nullopt, keepdim, is_max).indices))
              << op;
          for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
            int64_t w = rank == 0 ? 0 : (d + rank) % rank;
            auto want =
                brute_extreme(x, rank == 0 ? std::nullopt : std::optional(w), keepdim, is_max);
            EXPECT_TRUE(same_values(
                run_op_tensor(op, {{"self", x}, {"dim", d}, {"keepdim", keepdim}}), want.indices))
                << op << " dim " << d;
          }
        }
      }
    }
  }
  ref::Tensor b = tie_tensor(DType::kBool, {3}, rng);
  EXPECT_THROW(run_op("aten.argmax.default", {{"self", b}}), Error);
}

// all/any by brute force along one dim (nullopt: whole tensor).
ref::Tensor brute_logical(const ref::Tensor& x, const std::set<int64_t>& dims, bool keepdim,
                          bool all) {
  Dims out_sizes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!dims.count(d)) out_sizes.push_back(x.size(d));
    if (dims.count(d) && keepdim) out_sizes.push_back(1);
  }
  ref::Tensor out(x.dtype() == DType::kUInt8 ? DType::kUInt8 : DType::kBool, out_sizes);
  for (int64_t o = 0; o < out.numel(); ++o)
    out.set_int(o, all ? 1 : 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    Dims c = coords(x, i);
    int64_t flat = 0;
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (!dims.count(d)) flat = flat * x.size(d) + c[static_cast<size_t>(d)];
    }
    bool nz = x.get(i) != 0;
    if (all && !nz) out.set_int(flat, 0);
    if (!all && nz) out.set_int(flat, 1);
  }
  return out;
}

TEST(ReductionMinMax, AllAnyPerDtype) {
  std::mt19937 rng(36);
  for (const Dims& shape : std::vector<Dims>{{2, 3, 4}, {1, 5}, {3, 1, 2}, {4}, {}}) {
    auto rank = static_cast<int64_t>(shape.size());
    std::set<int64_t> every;
    for (int64_t d = 0; d < rank; ++d)
      every.insert(d);
    for (DType dt : {DType::kBool, DType::kFloat32, DType::kInt64, DType::kUInt8}) {
      // Mostly nonzero so that `all` is sometimes true.
      ref::Tensor x = random_tensor(dt, shape, rng, dt == DType::kUInt8 ? 0 : -1, 6);
      for (bool is_all : {true, false}) {
        std::string base = is_all ? "aten.all." : "aten.any.";
        EXPECT_TRUE(same_values(run_op_tensor(base + "default", {{"self", x}}),
                                brute_logical(x, every, false, is_all)));
        for (bool keepdim : {false, true}) {
          EXPECT_TRUE(same_values(run_op_tensor(base + "dims", {{"self", x}, {"keepdim", keepdim}}),
                                  brute_logical(x, every, keepdim, is_all)));
          // An empty list reduces nothing (only converts to bool).
          EXPECT_TRUE(same_values(
              run_op_tensor(base + "dims", {{"self", x}, {"dim", Dims{}}, {"keepdim", keepdim}}),
              brute_logical(x, {}, keepdim, is_all)));
          for (int64_t d = -std::max<int64_t>(rank, 1); d < std::max<int64_t>(rank, 1); ++d) {
            std::set<int64_t> one;
            if (rank > 0) one.insert((d + rank) % rank);
            EXPECT_TRUE(same_values(
                run_op_tensor(base + "dim", {{"self", x}, {"dim", d}, {"keepdim", keepdim}}),
                brute_logical(x, one, keepdim, is_all)));
            EXPECT_TRUE(same_values(
                run_op_tensor(base + "dims", {{"self", x}, {"dim", Dims{d}}, {"keepdim", keepdim}}),
                brute_logical(x, one, keepdim, is_all)));
          }
        }
      }
    }
  }
}

TEST(ReductionMinMax, AllAnyEdgeCases) {
  ref::Tensor e(DType::kFloat32, {0});
  EXPECT_EQ(run_op_tensor("aten.all.default", {{"self", e}}).get_int(0), 1);
  EXPECT_EQ(run_op_tensor("aten.any.default", {{"self", e}}).get_int(0), 0);
  ref::Tensor n = make_tensor(DType::kFloat32, {2}, {kNaN, 0});
  EXPECT_EQ(run_op_tensor("aten.any.default", {{"self", n}}).get_int(0), 1);
  ref::Tensor x = make_tensor(DType::kFloat32, {2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run_op("aten.any.dims", {{"self", x}, {"dim", Dims{0, -2}}}), Error);
}

}  // namespace
}  // namespace kiln::testing
