#include <gtest/gtest.h>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "shape_test_util.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

const DType kDTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kFloat16};

TEST(ShapeCopy, CloneContiguousLiftFreshCopy) {
  std::mt19937 rng(41);
  for (DType dtype : kDTypes) {
    for (const Idx& sizes : {Idx{2, 3}, Idx{1, 4, 1}, Idx{}}) {
      ref::Tensor x = random_tensor(dtype, sizes, rng);
      for (const char* op :
           {"aten.clone.default", "aten.contiguous.default", "aten.lift_fresh_copy.default"}) {
        EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}}), x)) << op;
      }
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4, 5}, rng);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.clone.default",
                                {{"self", x}, {"memory_format", ir::MemoryFormat::kChannelsLast}}),
                  x));
}

TEST(ShapeCopy, ChannelsLastCloneHasChannelsLastStrides) {
  ir::Graph g;
  ir::Value v;
  v.name = "x";
  v.type = ir::TensorType::contiguous(DType::kFloat32, {sym::Expr::symbol("s0"), 3, 4, 5});
  ir::ValueId id = g.add_value(v);
  ir::Node node;
  node.name = "op";
  node.target = "aten.clone.default";
  node.inputs = {{"self", ir::TensorArg{id}, ir::ArgKindHint::kKeyword},
                 {"memory_format", ir::MemoryFormat::kChannelsLast, ir::ArgKindHint::kKeyword}};
  const ops::OpDef* op = ops::find_op(node.target);
  ops::GraphValueSource source(g);
  ops::Args args(*op, node, source);
  auto out = op->shape(args);
  std::vector<sym::Expr> want = {60, 1, 15, 3};
  EXPECT_EQ(out[0].tensor.strides, want);
}

TEST(ShapeCopy, CopyBroadcastsAndConvertsToSelf) {
  std::mt19937 rng(42);
  for (DType dtype : kDTypes) {
    for (DType src_dtype : {DType::kFloat32, DType::kInt64, DType::kBool}) {
      ref::Tensor self = random_tensor(dtype, {2, 3}, rng);
      ref::Tensor src = random_tensor(src_dtype, {1, 3}, rng, -3, 3);
      ref::Tensor want = build(dtype, {2, 3}, [&](const Idx& o) {
        double v = at(src, {0, o[1]});
        // Floats into integers truncate toward zero.
        return ir::is_integral(dtype) ? std::trunc(v) : v;
      });
      for (const char* op : {"aten.copy.default", "aten.copy_.default"}) {
        EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", self}, {"src", src}}), want)) << op;
      }
      ref::Tensor full_src = random_tensor(src_dtype, {2, 3}, rng, -3, 3);
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.copy.default", {{"self", self}, {"src", full_src}}),
                      build(dtype, {2, 3}, [&](const Idx& o) {
                        double v = at(full_src, o);
                        return ir::is_integral(dtype) ? std::trunc(v) : v;
                      })));
      EXPECT_THROW(run_op("aten.copy.default",
                          {{"self", self}, {"src", random_tensor(src_dtype, {3, 3}, rng)}}),
                   Error);
      EXPECT_THROW(run_op("aten.copy_.default", {{"self", src}, {"src", self}}), Error);
    }
  }
}

TEST(ShapeCopy, FillScalarAndTensor) {
  std::mt19937 rng(43);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {3, 1, 2}, rng);
    for (double v : {2.75, -1.25}) {
      ref::Tensor want = build(
          dtype, {3, 1, 2}, [&](const Idx&) { return ir::is_integral(dtype) ? std::trunc(v) : v; });
      for (const char* op : {"aten.fill.Scalar", "aten.fill_.Scalar"}) {
        EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"value", v}}), want)) << op;
      }
      ref::Tensor value = make_tensor(DType::kFloat64, {}, {v});
      for (const char* op : {"aten.fill.Tensor", "aten.fill_.Tensor"}) {
        EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"value", value}}), want)) << op;
      }
    }
    EXPECT_TRUE(same_values(run_op_tensor("aten.fill.Scalar", {{"self", x}, {"value", int64_t{7}}}),
                            build(dtype, {3, 1, 2}, [](const Idx&) { return 7; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.fill.Scalar", {{"self", x}, {"value", false}}),
                            ref::Tensor(dtype, {3, 1, 2})));
    EXPECT_THROW(
        run_op("aten.fill.Tensor", {{"self", x}, {"value", random_tensor(dtype, {1}, rng)}}),
        Error);
  }
}

TEST(ShapeCopy, FillWithASymbolicValue) {
  ir::Graph g;
  ir::Value x;
  x.name = "x";
  x.type = ir::TensorType::contiguous(DType::kFloat32, {sym::Expr::symbol("s0"), 2});
  ir::ValueId xid = g.add_value(x);
  ir::Value n;
  n.name = "n";
  n.kind = ir::ValueKind::kSymInt;
  n.sym = sym::Expr::symbol("s0");
  ir::ValueId nid = g.add_value(n);
  ir::Node node;
  node.name = "op";
  node.target = "aten.fill_.Scalar";
  node.inputs = {{"self", ir::TensorArg{xid}, ir::ArgKindHint::kKeyword},
                 {"value", ir::SymIntArg{nid, 0}, ir::ArgKindHint::kKeyword}};
  const ops::OpDef* op = ops::find_op(node.target);
  ops::GraphValueSource source(g);
  ops::Args args(*op, node, source);
  EXPECT_EQ(op->shape(args)[0].tensor.str(), "f32[s0, 2]");
}

TEST(ShapeCopy, InPlaceEntriesNameTheirFunctionalOps) {
  for (const auto& [inplace, functional] :
       {std::pair{"aten.copy_.default", "aten.copy.default"},
        std::pair{"aten.fill_.Scalar", "aten.fill.Scalar"},
        std::pair{"aten.fill_.Tensor", "aten.fill.Tensor"},
        std::pair{"aten.index_put_.default", "aten.index_put.default"}}) {
    const ops::OpDef* op = ops::find_op(inplace);
    ASSERT_NE(op, nullptr) << inplace;
    EXPECT_EQ(op->functional, functional);
    EXPECT_NE(ops::find_op(functional), nullptr);
  }
}

using OptTensors = std::vector<std::optional<ref::Tensor>>;

TEST(ShapeCopy, IndexPutWithIndexTensors) {
  std::mt19937 rng(44);
  for (DType dtype : kDTypes) {
    ref::Tensor self = random_tensor(dtype, {4, 3}, rng);
    // Rows 2 and 0 (the latter as -4) get the value rows.
    ref::Tensor rows = make_tensor(DType::kInt64, {2}, {2, -4});
    ref::Tensor values = random_tensor(dtype, {2, 3}, rng);
    ref::Tensor want = build(dtype, {4, 3}, [&](const Idx& o) {
      if (o[0] == 2) return at(values, {0, o[1]});
      if (o[0] == 0) return at(values, {1, o[1]});
      return at(self, o);
    });
    for (const char* op : {"aten.index_put.default", "aten.index_put_.default"}) {
      EXPECT_TRUE(same_values(
          run_op_tensor(op, {{"self", self}, {"indices", OptTensors{rows}}, {"values", values}}),
          want))
          << op;
    }
    // Point writes with broadcast values: self[[1, 3], [2, 0]] = v.
    ref::Tensor r = make_tensor(DType::kInt32, {2}, {1, 3});
    ref::Tensor c = make_tensor(DType::kInt64, {2}, {2, 0});
    ref::Tensor v = random_tensor(dtype, {}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.index_put.default",
                                  {{"self", self}, {"indices", OptTensors{r, c}}, {"values", v}}),
                    build(dtype, {4, 3}, [&](const Idx& o) {
                      bool hit = (o[0] == 1 && o[1] == 2) || (o[0] == 3 && o[1] == 0);
                      return hit ? v.get(0) : at(self, o);
                    })));
    // None first: self[:, [1]] = column values.
    ref::Tensor col_values = random_tensor(dtype, {4, 1}, rng);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.index_put.default",
                      {{"self", self},
                       {"indices", OptTensors{std::nullopt, make_tensor(DType::kInt64, {1}, {1})}},
                       {"values", col_values}}),
        build(dtype, {4, 3}, [&](const Idx& o) {
          return o[1] == 1 ? at(col_values, {o[0], 0}) : at(self, o);
        })));
    EXPECT_THROW(run_op("aten.index_put.default",
                        {{"self", self},
                         {"indices", OptTensors{make_tensor(DType::kInt64, {1}, {4})}},
                         {"values", v}}),
                 Error);
    EXPECT_THROW(run_op("aten.index_put.default",
                        {{"self", self}, {"indices", OptTensors{rows, c, c}}, {"values", v}}),
                 Error);
    EXPECT_THROW(run_op("aten.index_put.default", {{"self", self},
                                                   {"indices", OptTensors{rows}},
                                                   {"values", random_tensor(dtype, {3, 3}, rng)}}),
                 Error);
  }
  ref::Tensor f = random_tensor(DType::kFloat32, {2}, rng);
  EXPECT_THROW(run_op("aten.index_put.default",
                      {{"self", f},
                       {"indices", OptTensors{make_tensor(DType::kInt64, {1}, {0})}},
                       {"values", make_tensor(DType::kInt64, {}, {1})}}),
               Error);
}

TEST(ShapeCopy, IndexPutNonAdjacentIndicesGoFirst) {
  std::mt19937 rng(45);
  ref::Tensor self = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor i0 = make_tensor(DType::kInt64, {2}, {1, 0});
  ref::Tensor i2 = make_tensor(DType::kInt64, {2}, {0, 3});
  // The indexing result is [2 (the index shape), 3]: self[i0[k], j, i2[k]] = values[k, j].
  ref::Tensor values = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor got = run_op_tensor(
      "aten.index_put.default",
      {{"self", self}, {"indices", OptTensors{i0, std::nullopt, i2}}, {"values", values}});
  EXPECT_TRUE(same_values(got, build(DType::kFloat32, {2, 3, 4}, [&](const Idx& o) {
                            for (int64_t k = 0; k < 2; ++k) {
                              if (o[0] == i0.get_int(k) && o[2] == i2.get_int(k))
                                return at(values, {k, o[1]});
                            }
                            return at(self, o);
                          })));
}

TEST(ShapeCopy, IndexPutWithMasksAndAccumulate) {
  std::mt19937 rng(46);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    ref::Tensor self = random_tensor(dtype, {2, 3, 2}, rng);
    ref::Tensor mask = make_tensor(DType::kBool, {2, 3}, {1, 0, 1, 0, 0, 1});
    // Three selected (i, j) pairs in row-major order: (0,0), (0,2), (1,2).
    ref::Tensor values = random_tensor(dtype, {2}, rng);
    ref::Tensor got =
        run_op_tensor("aten.index_put.default",
                      {{"self", self}, {"indices", OptTensors{mask}}, {"values", values}});
    EXPECT_TRUE(same_values(got, build(dtype, {2, 3, 2}, [&](const Idx& o) {
                              return mask.get_int(o[0] * 3 + o[1]) ? values.get(o[2]) : at(self, o);
                            })));
    // Accumulate sums repeated indices.
    ref::Tensor idx = make_tensor(DType::kInt64, {3}, {1, 1, 0});
    ref::Tensor add = random_tensor(dtype, {3, 3, 2}, rng);
    for (const char* op : {"aten.index_put.default", "aten.index_put_.default"}) {
      ref::Tensor acc = run_op_tensor(
          op,
          {{"self", self}, {"indices", OptTensors{idx}}, {"values", add}, {"accumulate", true}});
      ref::Tensor want = build(dtype, {2, 3, 2}, [&](const Idx& o) {
        double s = at(self, o);
        for (int64_t k = 0; k < 3; ++k) {
          if (idx.get_int(k) == o[0]) s += at(add, {k, o[1], o[2]});
        }
        return s;
      });
      EXPECT_TENSOR_NEAR(acc, want, dtype == DType::kBFloat16 ? 1e-2 : 1e-6);
    }
    ref::Tensor bad_mask = make_tensor(DType::kBool, {3}, {1, 0, 1});
    EXPECT_THROW(run_op("aten.index_put.default",
                        {{"self", self}, {"indices", OptTensors{bad_mask}}, {"values", values}}),
                 Error);
  }
  ref::Tensor self = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_THROW(run_op("aten.index_put.default",
                      {{"self", self},
                       {"indices", OptTensors{make_tensor(DType::kFloat32, {1}, {0})}},
                       {"values", make_tensor(DType::kFloat32, {}, {1})}}),
               Error);
  EXPECT_THROW(run_op("aten.index_put.default",
                      {{"self", self}, {"indices", OptTensors{std::nullopt}}, {"values", self}}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
