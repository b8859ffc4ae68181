#include <gtest/gtest.h>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "shape_test_util.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

const DType kDTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kBFloat16};

// The same elements in row-major order with other sizes.
ref::Tensor same_order(const ref::Tensor& in, const Idx& sizes) {
  ref::Tensor t(in.dtype(), sizes);
  EXPECT_EQ(t.numel(), in.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, in.get(i));
  return t;
}

std::vector<sym::Expr> exprs(std::initializer_list<int64_t> v) {
  return {v.begin(), v.end()};
}

TEST(ShapeView, ViewReshapeKeepRowMajorOrderAndInferMinusOne) {
  std::mt19937 rng(11);
  struct Case {
    Idx in, shape, want;
  };
  const Case cases[] = {{{2, 3, 4}, {6, -1}, {6, 4}}, {{2, 3, 4}, {-1}, {24}},
                        {{1, 5}, {5, 1}, {5, 1}},     {{3, 1, 2}, {2, 3}, {2, 3}},
                        {{4}, {2, 1, -1}, {2, 1, 2}}, {{2, 2}, {1, 4, 1}, {1, 4, 1}},
                        {{6}, {-1, 3}, {2, 3}}};
  for (DType dtype : kDTypes) {
    for (const Case& c : cases) {
      ref::Tensor x = random_tensor(dtype, c.in, rng);
      for (const char* op : {"aten.view.default", "aten._unsafe_view.default"}) {
        EXPECT_TRUE(
            same_values(run_op_tensor(op, {{"self", x}, {"size", c.shape}}), same_order(x, c.want)))
            << op;
      }
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.reshape.default", {{"self", x}, {"shape", c.shape}}),
                      same_order(x, c.want)));
      ref::Tensor other = random_tensor(DType::kFloat32, c.want, rng);
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.view_as.default", {{"self", x}, {"other", other}}),
                      same_order(x, c.want)));
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  EXPECT_THROW(run_op("aten.view.default", {{"self", x}, {"size", Idx{5}}}), Error);
  EXPECT_THROW(run_op("aten.view.default", {{"self", x}, {"size", Idx{-1, -1}}}), Error);
  EXPECT_THROW(run_op("aten.view.default", {{"self", x}, {"size", Idx{4, -1}}}), Error);
  EXPECT_THROW(run_op("aten.reshape.default", {{"self", x}, {"shape", Idx{0, -1}}}), Error);
}

TEST(ShapeView, ViewOfNonContiguousInputFollowsStrides) {
  // A transposed [2, 3]: sizes [3, 2], strides [1, 3].
  auto transposed = ir::TensorType::contiguous(DType::kFloat32, exprs({3, 2}));
  transposed.strides = exprs({1, 3});
  {
    ManualCall call("aten.view.default");
    call.tensor("self", transposed);
    call.arg("size", Idx{6});
    EXPECT_THROW(call.shape(), Error);  // spans two non-contiguous chunks
  }
  {
    ManualCall call("aten.reshape.default");
    call.tensor("self", transposed);
    call.arg("shape", Idx{6});
    auto out = call.shape();
    EXPECT_EQ(out[0].tensor.strides, exprs({1}));  // a fresh copy
  }
  {
    ManualCall call("aten.view.default");
    call.tensor("self", transposed);
    call.arg("size", Idx{3, 1, 2});
    auto out = call.shape();
    EXPECT_EQ(out[0].tensor.str(), "f32[3, 1, 2]");
    EXPECT_EQ(out[0].tensor.strides[0], sym::Expr(1));
    EXPECT_EQ(out[0].tensor.strides[2], sym::Expr(3));
  }
  {
    // A symbolic transposed [s0, 4]: sizes [4, s0], strides [1, 4]. Adding a unit dim is a
    // view with strides followed exactly.
    const sym::Expr s0 = sym::Expr::symbol("s0");
    auto t = ir::TensorType::contiguous(DType::kFloat32, {4, s0});
    t.strides = exprs({1, 4});
    ManualCall call("aten.view.default");
    call.tensor("self", t);
    call.arg("size",
             std::vector<ir::SymIntArg>{{std::nullopt, 4}, {std::nullopt, 1}, {std::nullopt, 1}});
    ir::Value n;
    n.name = "n";
    n.kind = ir::ValueKind::kSymInt;
    n.sym = s0;
    call.node.inputs.back().arg = std::vector<ir::SymIntArg>{
        {std::nullopt, 4}, {std::nullopt, 1}, {call.graph.add_value(n), 0}};
    auto out = call.shape();
    EXPECT_EQ(out[0].tensor.str(), "f32[4, 1, s0]");
    EXPECT_EQ(out[0].tensor.strides[0], sym::Expr(1));
    EXPECT_EQ(out[0].tensor.strides[2], sym::Expr(4));
    ManualCall flat("aten.view.default");
    flat.tensor("self", t);
    flat.arg("size", Idx{-1});
    EXPECT_THROW(flat.shape(), Error);  // not viewable as one dim
  }
  {
    // A size-1 dim's stride does not make a tensor non-contiguous.
    auto t = ir::TensorType::contiguous(DType::kFloat32, exprs({1, 6}));
    t.strides = exprs({1, 1});
    ManualCall call("aten.view.default");
    call.tensor("self", t);
    call.arg("size", Idx{2, 3});
    EXPECT_EQ(call.shape()[0].tensor.strides, exprs({3, 1}));
  }
  {
    // A symbolic batch: view(-1) infers s0*3 and keeps the expression exact.
    ManualCall call("aten.view.default");
    call.tensor("self", ir::TensorType::contiguous(DType::kFloat32,
                                                   {sym::Expr::symbol("s0"), sym::Expr(3)}));
    call.arg("size", Idx{-1, 1});
    auto out = call.shape();
    EXPECT_EQ(out[0].tensor.sizes[0], sym::Expr::symbol("s0") * 3);
  }
  {
    // view(s0, -1) of [s0, 3, 4] infers exactly 12.
    ManualCall call("aten.view.default");
    const sym::Expr s0 = sym::Expr::symbol("s0");
    call.tensor("self", ir::TensorType::contiguous(DType::kFloat32, {s0, 3, 4}));
    ir::Value n;
    n.name = "n";
    n.kind = ir::ValueKind::kSymInt;
    n.sym = s0;
    ir::ValueId id = call.graph.add_value(n);
    call.arg("size", std::vector<ir::SymIntArg>{{id, 0}, {std::nullopt, -1}});
    auto out = call.shape();
    EXPECT_EQ(out[0].tensor.str(), "f32[s0, 12]");
  }
}

// out index -> in index for an output dim order `perm` (output dim d is input dim perm[d]).
ref::Tensor permuted(const ref::Tensor& in, const Idx& perm) {
  Idx sizes;
  for (int64_t p : perm)
    sizes.push_back(in.sizes()[static_cast<size_t>(p)]);
  return build(in.dtype(), sizes, [&](const Idx& o) {
    Idx i(o.size());
    for (size_t d = 0; d < o.size(); ++d)
      i[static_cast<size_t>(perm[d])] = o[d];
    return at(in, i);
  });
}

TEST(ShapeView, PermuteTransposeTMovedim) {
  std::mt19937 rng(12);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 4}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.permute.default", {{"self", x}, {"dims", Idx{2, 0, 1}}}),
                    build(dtype, {4, 2, 3}, [&](const Idx& o) {
                      return at(x, {o[1], o[2], o[0]});
                    })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.permute.default", {{"self", x}, {"dims", Idx{-1, -3, 1}}}),
                    permuted(x, {2, 0, 1})));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.transpose.int",
                                  {{"self", x}, {"dim0", int64_t{0}}, {"dim1", int64_t{-1}}}),
                    build(dtype, {4, 3, 2}, [&](const Idx& o) {
                      return at(x, {o[2], o[1], o[0]});
                    })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.transpose.int",
                                  {{"self", x}, {"dim0", int64_t{1}}, {"dim1", int64_t{1}}}),
                    x));
    // movedim(0 -> 2): [3, 4, 2]; movedim(-1 -> 0): [4, 2, 3].
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.movedim.int",
                      {{"self", x}, {"source", int64_t{0}}, {"destination", int64_t{2}}}),
        build(dtype, {3, 4, 2}, [&](const Idx& o) {
          return at(x, {o[2], o[0], o[1]});
        })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.movedim.int",
                      {{"self", x}, {"source", int64_t{-1}}, {"destination", int64_t{0}}}),
        build(dtype, {4, 2, 3}, [&](const Idx& o) {
          return at(x, {o[1], o[2], o[0]});
        })));
    ref::Tensor m = random_tensor(dtype, {1, 5}, rng);
    EXPECT_TRUE(same_values(run_op_tensor("aten.t.default", {{"self", m}}),
                            build(dtype, {5, 1}, [&](const Idx& o) {
                              return at(m, {0, o[0]});
                            })));
    ref::Tensor v = random_tensor(dtype, {4}, rng);
    EXPECT_TRUE(same_values(run_op_tensor("aten.t.default", {{"self", v}}), v));
    EXPECT_THROW(run_op("aten.t.default", {{"self", x}}), Error);
    EXPECT_THROW(run_op("aten.permute.default", {{"self", x}, {"dims", Idx{0, 0, 1}}}), Error);
    EXPECT_THROW(run_op("aten.permute.default", {{"self", x}, {"dims", Idx{0, 1}}}), Error);
    EXPECT_THROW(
        run_op("aten.transpose.int", {{"self", x}, {"dim0", int64_t{3}}, {"dim1", int64_t{0}}}),
        Error);
  }
  ref::Tensor s = make_tensor(DType::kFloat32, {}, {2.5});
  EXPECT_TRUE(same_values(run_op_tensor("aten.transpose.int",
                                        {{"self", s}, {"dim0", int64_t{0}}, {"dim1", int64_t{-1}}}),
                          s));
}

TEST(ShapeView, PermuteTracksStrides) {
  ManualCall call("aten.permute.default");
  call.tensor("self", ir::TensorType::contiguous(
                          DType::kFloat32, {sym::Expr::symbol("s0"), sym::Expr(3), sym::Expr(4)}));
  call.arg("dims", Idx{2, 0, 1});
  auto out = call.shape();
  EXPECT_EQ(out[0].tensor.str(), "f32[4, s0, 3]");
  EXPECT_EQ(out[0].tensor.strides, exprs({1, 12, 4}));
}

TEST(ShapeView, ExpandBroadcastsSizeOneAndNewDims) {
  std::mt19937 rng(13);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {3, 1}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.expand.default", {{"self", x}, {"size", Idx{2, 3, 4}}}),
                    build(dtype, {2, 3, 4}, [&](const Idx& o) {
                      return at(x, {o[1], 0});
                    })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.expand.default", {{"self", x}, {"size", Idx{-1, 5}}}),
                    build(dtype, {3, 5}, [&](const Idx& o) {
                      return at(x, {o[0], 0});
                    })));
    ref::Tensor other = random_tensor(DType::kInt64, {2, 3, 2}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.expand_as.default", {{"self", x}, {"other", other}}),
                    build(dtype, {2, 3, 2}, [&](const Idx& o) {
                      return at(x, {o[1], 0});
                    })));
    ref::Tensor s = random_tensor(dtype, {}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.expand.default", {{"self", s}, {"size", Idx{2, 2}}}),
                    build(dtype, {2, 2}, [&](const Idx&) { return s.get(0); })));
    EXPECT_THROW(run_op("aten.expand.default", {{"self", x}, {"size", Idx{4, 2}}}), Error);
    EXPECT_THROW(run_op("aten.expand.default", {{"self", x}, {"size", Idx{-1, 3, 2}}}), Error);
    EXPECT_THROW(run_op("aten.expand.default", {{"self", x}, {"size", Idx{2}}}), Error);
  }
}

TEST(ShapeView, UnsqueezeAndSqueeze) {
  std::mt19937 rng(14);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unsqueeze.default", {{"self", x}, {"dim", int64_t{0}}}),
                    same_order(x, {1, 2, 3})));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unsqueeze.default", {{"self", x}, {"dim", int64_t{-1}}}),
                    same_order(x, {2, 3, 1})));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unsqueeze.default", {{"self", x}, {"dim", int64_t{1}}}),
                    same_order(x, {2, 1, 3})));
    EXPECT_THROW(run_op("aten.unsqueeze.default", {{"self", x}, {"dim", int64_t{3}}}), Error);
    ref::Tensor y = random_tensor(dtype, {1, 3, 1, 2}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.squeeze.default", {{"self", y}}), same_order(y, {3, 2})));
    EXPECT_TRUE(same_values(run_op_tensor("aten.squeeze.dim", {{"self", y}, {"dim", int64_t{-2}}}),
                            same_order(y, {1, 3, 2})));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.squeeze.dim", {{"self", y}, {"dim", int64_t{1}}}), y));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.squeeze.dims", {{"self", y}, {"dim", Idx{0, 1, -1}}}),
                    same_order(y, {3, 1, 2})));
    EXPECT_THROW(run_op("aten.squeeze.dims", {{"self", y}, {"dim", Idx{0, -4}}}), Error);
    ref::Tensor s = random_tensor(dtype, {}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.squeeze.dim", {{"self", s}, {"dim", int64_t{0}}}), s));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unsqueeze.default", {{"self", s}, {"dim", int64_t{0}}}),
                    same_order(s, {1})));
  }
}

TEST(ShapeView, FlattenAndUnflatten) {
  std::mt19937 rng(15);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 4}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.flatten.using_ints", {{"self", x}}), same_order(x, {24})));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.flatten.using_ints",
                      {{"self", x}, {"start_dim", int64_t{1}}, {"end_dim", int64_t{2}}}),
        same_order(x, {2, 12})));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.flatten.using_ints",
                      {{"self", x}, {"start_dim", int64_t{-2}}, {"end_dim", int64_t{-2}}}),
        x));
    EXPECT_THROW(run_op("aten.flatten.using_ints",
                        {{"self", x}, {"start_dim", int64_t{2}}, {"end_dim", int64_t{0}}}),
                 Error);
    ref::Tensor s = random_tensor(dtype, {}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.flatten.using_ints", {{"self", s}}), same_order(s, {1})));
    ref::Tensor y = random_tensor(dtype, {2, 12}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unflatten.int",
                                  {{"self", y}, {"dim", int64_t{-1}}, {"sizes", Idx{3, -1}}}),
                    same_order(y, {2, 3, 4})));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.unflatten.int",
                                  {{"self", y}, {"dim", int64_t{0}}, {"sizes", Idx{1, 2, 1}}}),
                    same_order(y, {1, 2, 1, 12})));
    EXPECT_THROW(
        run_op("aten.unflatten.int", {{"self", y}, {"dim", int64_t{1}}, {"sizes", Idx{5, -1}}}),
        Error);
    EXPECT_THROW(run_op("aten.unflatten.int", {{"self", y}, {"dim", int64_t{1}}, {"sizes", Idx{}}}),
                 Error);
  }
}

TEST(ShapeView, AliasDetachAndAsStrided) {
  std::mt19937 rng(16);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {3, 4}, rng);
    EXPECT_TRUE(same_values(run_op_tensor("aten.alias.default", {{"self", x}}), x));
    EXPECT_TRUE(same_values(run_op_tensor("aten.detach.default", {{"self", x}}), x));
    // out[a, b] = flat[1 + a + 4 b]
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.as_strided.default", {{"self", x},
                                                  {"size", Idx{2, 2}},
                                                  {"stride", Idx{1, 4}},
                                                  {"storage_offset", int64_t{1}}}),
        build(dtype, {2, 2}, [&](const Idx& o) { return x.get(1 + o[0] + 4 * o[1]); })));
    // Overlapping windows, offset from self.
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.as_strided.default",
                                  {{"self", x}, {"size", Idx{5, 3}}, {"stride", Idx{2, 1}}}),
                    build(dtype, {5, 3}, [&](const Idx& o) { return x.get(2 * o[0] + o[1]); })));
    EXPECT_THROW(run_op("aten.as_strided.default",
                        {{"self", x}, {"size", Idx{4, 4}}, {"stride", Idx{4, 1}}}),
                 Error);
    EXPECT_THROW(
        run_op("aten.as_strided.default", {{"self", x}, {"size", Idx{4}}, {"stride", Idx{4, 1}}}),
        Error);
  }
}

}  // namespace
}  // namespace kiln::testing
