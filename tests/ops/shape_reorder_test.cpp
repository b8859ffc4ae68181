#include <gtest/gtest.h>

#include "op_harness.h"
#include "shape_test_util.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

const DType kDTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kBFloat16};

TEST(ShapeReorder, Flip) {
  std::mt19937 rng(51);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 1, 3}, rng);
    EXPECT_TRUE(same_values(run_op_tensor("aten.flip.default", {{"self", x}, {"dims", Idx{0, -1}}}),
                            build(dtype, {2, 1, 3}, [&](const Idx& o) {
                              return at(x, {1 - o[0], o[1], 2 - o[2]});
                            })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.flip.default", {{"self", x}, {"dims", Idx{1}}}), x));
    EXPECT_TRUE(same_values(run_op_tensor("aten.flip.default", {{"self", x}, {"dims", Idx{}}}), x));
    EXPECT_THROW(run_op("aten.flip.default", {{"self", x}, {"dims", Idx{0, -3}}}), Error);
    EXPECT_THROW(run_op("aten.flip.default", {{"self", x}, {"dims", Idx{3}}}), Error);
  }
}

TEST(ShapeReorder, Roll) {
  std::mt19937 rng(52);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3}, rng);
    // No dims: the flattened tensor rolls by one.
    EXPECT_TRUE(same_values(run_op_tensor("aten.roll.default", {{"self", x}, {"shifts", Idx{1}}}),
                            build(dtype, {2, 3}, [&](const Idx& o) {
                              int64_t f = (o[0] * 3 + o[1] + 5) % 6;
                              return x.get(f);
                            })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.roll.default", {{"self", x}, {"shifts", Idx{-4}}, {"dims", Idx{1}}}),
        build(dtype, {2, 3}, [&](const Idx& o) {
          return at(x, {o[0], (o[1] + 4) % 3});
        })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.roll.default",
                                  {{"self", x}, {"shifts", Idx{1, 2}}, {"dims", Idx{0, -1}}}),
                    build(dtype, {2, 3}, [&](const Idx& o) {
                      return at(x, {(o[0] + 1) % 2, (o[1] + 1) % 3});
                    })));
    EXPECT_THROW(
        run_op("aten.roll.default", {{"self", x}, {"shifts", Idx{1, 2}}, {"dims", Idx{0}}}), Error);
    EXPECT_THROW(run_op("aten.roll.default", {{"self", x}, {"shifts", Idx{1, 2}}}), Error);
  }
  ref::Tensor s = random_tensor(DType::kFloat32, {}, rng);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.roll.default", {{"self", s}, {"shifts", Idx{3}}}), s));
  ref::Tensor empty(DType::kFloat32, {0, 3});
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.roll.default", {{"self", empty}, {"shifts", Idx{1}}, {"dims", Idx{0}}}),
      empty));
}

TEST(ShapeReorder, DiffOrdersAndPrependAppend) {
  std::mt19937 rng(53);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    ref::Tensor x = random_tensor(dtype, {3, 5}, rng, -20, 20);
    // First and second differences along the last dim, closed form.
    EXPECT_TRUE(same_values(run_op_tensor("aten.diff.default", {{"self", x}}),
                            build(dtype, {3, 4}, [&](const Idx& o) {
                              return at(x, {o[0], o[1] + 1}) - at(x, {o[0], o[1]});
                            })));
    ref::Tensor second = run_op_tensor("aten.diff.default", {{"self", x}, {"n", int64_t{2}}});
    ref::Tensor want2 = build(dtype, {3, 3}, [&](const Idx& o) {
      double a = at(x, {o[0], o[1]}), b = at(x, {o[0], o[1] + 1}), c = at(x, {o[0], o[1] + 2});
      return c - 2 * b + a;
    });
    EXPECT_TENSOR_NEAR(second, want2, dtype == DType::kBFloat16 ? 2e-2 : 1e-6);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.diff.default", {{"self", x}, {"n", int64_t{0}}}), x));
    EXPECT_EQ(run_op_tensor("aten.diff.default", {{"self", x}, {"n", int64_t{7}}}).str(),
              ref::Tensor(dtype, {3, 0}).str());
    // Along dim 0 with a prepended row: the first difference is x[0] - prepend.
    ref::Tensor pre = random_tensor(dtype, {1, 5}, rng, -20, 20);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.diff.default", {{"self", x}, {"dim", int64_t{0}}, {"prepend", pre}}),
        build(dtype, {3, 5}, [&](const Idx& o) {
          double lo = o[0] == 0 ? at(pre, {0, o[1]}) : at(x, {o[0] - 1, o[1]});
          return at(x, o) - lo;
        })));
    EXPECT_THROW(
        run_op("aten.diff.default", {{"self", x}, {"prepend", random_tensor(dtype, {5}, rng)}}),
        Error);
    EXPECT_THROW(run_op("aten.diff.default", {{"self", x}, {"n", int64_t{-1}}}), Error);
  }
  // bool: consecutive elements differ (logical xor).
  ref::Tensor b = random_tensor(DType::kBool, {6}, rng);
  EXPECT_TRUE(same_values(run_op_tensor("aten.diff.default", {{"self", b}}),
                          build(DType::kBool, {5}, [&](const Idx& o) {
                            return b.get_int(o[0]) != b.get_int(o[0] + 1) ? 1 : 0;
                          })));
  // prepend/append promote: int64 input with a float64 appended gives float64.
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {1, 2, 4});
  ref::Tensor app = make_tensor(DType::kFloat64, {1}, {4.5});
  EXPECT_TRUE(same_values(run_op_tensor("aten.diff.default", {{"self", i}, {"append", app}}),
                          make_tensor(DType::kFloat64, {3}, {1, 2, 0.5})));
  // uint8 wraps.
  ref::Tensor u = make_tensor(DType::kUInt8, {3}, {1, 5, 2});
  EXPECT_TRUE(same_values(run_op_tensor("aten.diff.default", {{"self", u}}),
                          make_tensor(DType::kUInt8, {2}, {4, 253})));
  EXPECT_THROW(run_op("aten.diff.default", {{"self", make_tensor(DType::kFloat32, {}, {1})}}),
               Error);
}

TEST(ShapeReorder, TrilTriuWithDiagonalOffsets) {
  std::mt19937 rng(54);
  for (DType dtype : kDTypes) {
    for (const Idx& sizes : {Idx{4, 4}, Idx{2, 3, 5}, Idx{5, 1}}) {
      ref::Tensor x = random_tensor(dtype, sizes, rng);
      for (int64_t diag : {0, 1, -2, 7}) {
        auto want = [&](bool lower) {
          return build(dtype, sizes, [&](const Idx& o) {
            int64_t r = o[o.size() - 2], c = o.back();
            bool keep = lower ? c <= r + diag : c >= r + diag;
            return keep ? at(x, o) : 0.0;
          });
        };
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.tril.default", {{"self", x}, {"diagonal", diag}}), want(true)));
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.triu.default", {{"self", x}, {"diagonal", diag}}), want(false)));
      }
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.tril.default", {{"self", x}}),
                      run_op_tensor("aten.tril.default", {{"self", x}, {"diagonal", int64_t{0}}})));
    }
    EXPECT_THROW(run_op("aten.triu.default", {{"self", random_tensor(dtype, {3}, rng)}}), Error);
  }
}

}  // namespace
}  // namespace kiln::testing
