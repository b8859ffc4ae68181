#include <gtest/gtest.h>

#include <cmath>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Idx = std::vector<int64_t>;

ref::Tensor filled(DType dtype, const Idx& sizes, double v) {
  ref::Tensor t(dtype, sizes);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, v);
  return t;
}

TEST(Factory, FullInfersDtypeFromTheFillValue) {
  for (const Idx& sizes : {Idx{2, 3}, Idx{1}, Idx{}, Idx{0, 4}}) {
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.full.default", {{"size", sizes}, {"fill_value", 2.5}}),
                    filled(DType::kFloat32, sizes, 2.5)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.full.default", {{"size", sizes}, {"fill_value", int64_t{-7}}}),
        filled(DType::kInt64, sizes, -7)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.full.default", {{"size", sizes}, {"fill_value", true}}),
                    filled(DType::kBool, sizes, 1)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.full.default",
                                  {{"size", sizes}, {"fill_value", 2.7}, {"dtype", DType::kInt32}}),
                    filled(DType::kInt32, sizes, 2)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.full.default",
                      {{"size", sizes}, {"fill_value", 0.1}, {"dtype", DType::kBFloat16}}),
        filled(DType::kBFloat16, sizes, 0.10009765625)));
  }
  EXPECT_THROW(run_op("aten.full.default", {{"size", Idx{-1}}, {"fill_value", 1.0}}), Error);
}

TEST(Factory, ZerosOnesEmpty) {
  for (const Idx& sizes : {Idx{2, 3}, Idx{1, 1}, Idx{}}) {
    EXPECT_TRUE(same_values(run_op_tensor("aten.zeros.default", {{"size", sizes}}),
                            filled(DType::kFloat32, sizes, 0)));
    EXPECT_TRUE(same_values(run_op_tensor("aten.ones.default", {{"size", sizes}}),
                            filled(DType::kFloat32, sizes, 1)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.ones.default", {{"size", sizes}, {"dtype", DType::kBool}}),
                    filled(DType::kBool, sizes, 1)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.zeros.default", {{"size", sizes}, {"dtype", DType::kInt64}}),
        filled(DType::kInt64, sizes, 0)));
    EXPECT_TRUE(same_values(run_op_tensor("aten.empty.memory_format", {{"size", sizes}}),
                            filled(DType::kFloat32, sizes, 0)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.empty.memory_format", {{"size", sizes}, {"dtype", DType::kFloat16}}),
        filled(DType::kFloat16, sizes, 0)));
  }
}

TEST(Factory, LikeAndNewTakeSelfsDtypeUnlessGiven) {
  std::mt19937 rng(71);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBool, DType::kBFloat16}) {
    ref::Tensor x = random_tensor(dtype, {3, 1, 2}, rng);
    const Idx& s = x.sizes();
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.zeros_like.default", {{"self", x}}), filled(dtype, s, 0)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.ones_like.default", {{"self", x}}), filled(dtype, s, 1)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.empty_like.default", {{"self", x}}), filled(dtype, s, 0)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.full_like.default", {{"self", x}, {"fill_value", 3.5}}),
                    filled(dtype, s, 3.5)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.full_like.default",
                                  {{"self", x}, {"fill_value", 3.5}, {"dtype", DType::kFloat64}}),
                    filled(DType::kFloat64, s, 3.5)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.ones_like.default", {{"self", x}, {"dtype", DType::kInt32}}),
        filled(DType::kInt32, s, 1)));
    const Idx other = {4, 1};
    EXPECT_TRUE(same_values(run_op_tensor("aten.new_zeros.default", {{"self", x}, {"size", other}}),
                            filled(dtype, other, 0)));
    EXPECT_TRUE(same_values(run_op_tensor("aten.new_ones.default", {{"self", x}, {"size", other}}),
                            filled(dtype, other, 1)));
    EXPECT_TRUE(same_values(run_op_tensor("aten.new_empty.default", {{"self", x}, {"size", other}}),
                            filled(dtype, other, 0)));
    // new_full takes self's dtype, not the fill value's.
    EXPECT_TRUE(same_values(run_op_tensor("aten.new_full.default",
                                          {{"self", x}, {"size", other}, {"fill_value", -2.25}}),
                            filled(dtype, other, -2.25)));
    EXPECT_TRUE(same_values(
        run_op_tensor(
            "aten.new_full.default",
            {{"self", x}, {"size", other}, {"fill_value", int64_t{5}}, {"dtype", DType::kInt64}}),
        filled(DType::kInt64, other, 5)));
  }
}

TEST(Factory, ScalarTensor) {
  EXPECT_TRUE(same_values(run_op_tensor("aten.scalar_tensor.default", {{"s", int64_t{3}}}),
                          filled(DType::kFloat32, {}, 3)));
  EXPECT_TRUE(same_values(run_op_tensor("aten.scalar_tensor.default", {{"s", 0.1}}),
                          filled(DType::kFloat32, {}, 0.1)));
  EXPECT_TRUE(same_values(run_op_tensor("aten.scalar_tensor.default", {{"s", true}}),
                          filled(DType::kFloat32, {}, 1)));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.scalar_tensor.default", {{"s", -4.5}, {"dtype", DType::kInt64}}),
      filled(DType::kInt64, {}, -4)));
}

// start + i * step for i < count, in dtype.
ref::Tensor range(DType dtype, int64_t count, double start, double step) {
  ref::Tensor t(dtype, {count});
  for (int64_t i = 0; i < count; ++i)
    t.set(i, start + static_cast<double>(i) * step);
  return t;
}

TEST(Factory, ArangeDtypeAndLength) {
  EXPECT_TRUE(same_values(run_op_tensor("aten.arange.default", {{"end", int64_t{5}}}),
                          range(DType::kInt64, 5, 0, 1)));
  EXPECT_TRUE(same_values(run_op_tensor("aten.arange.default", {{"end", 2.5}}),
                          range(DType::kFloat32, 3, 0, 1)));
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.arange.start", {{"start", int64_t{-3}}, {"end", int64_t{4}}}),
                  range(DType::kInt64, 7, -3, 1)));
  // (end - start) / step = 10 / 3: ceil gives 4.
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.arange.start_step",
                    {{"start", int64_t{1}}, {"end", int64_t{11}}, {"step", int64_t{3}}}),
      range(DType::kInt64, 4, 1, 3)));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.arange.start_step",
                    {{"start", int64_t{10}}, {"end", int64_t{0}}, {"step", int64_t{-4}}}),
      range(DType::kInt64, 3, 10, -4)));
  ref::Tensor f = run_op_tensor("aten.arange.start_step",
                                {{"start", int64_t{1}}, {"end", int64_t{10}}, {"step", 3.5}});
  EXPECT_TENSOR_NEAR(f, range(DType::kFloat32, 3, 1, 3.5), 1e-7);
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.arange.start_step", {{"start", 0.0}, {"end", 1.0}, {"step", 0.1}}),
      range(DType::kFloat32, 10, 0, 0.1), 1e-6);
  // An integral dtype with float bounds: the size from the float range, the values stepping
  // from the truncated start by the truncated step.
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.arange.start",
                                {{"start", -1.5}, {"end", int64_t{3}}, {"dtype", DType::kInt64}}),
                  range(DType::kInt64, 5, -1, 1)));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.arange.start_step",
                    {{"start", 0.5}, {"end", int64_t{5}}, {"step", 1.5}, {"dtype", DType::kInt32}}),
      range(DType::kInt32, 3, 0, 1)));
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.arange.default", {{"end", int64_t{6}}, {"dtype", DType::kBFloat16}}),
      range(DType::kBFloat16, 6, 0, 1), 0);
  EXPECT_EQ(run_op_tensor("aten.arange.start", {{"start", int64_t{4}}, {"end", int64_t{4}}}).str(),
            "i64[0]");
  EXPECT_THROW(run_op("aten.arange.start_step",
                      {{"start", int64_t{0}}, {"end", int64_t{4}}, {"step", int64_t{0}}}),
               Error);
  EXPECT_THROW(run_op("aten.arange.start_step",
                      {{"start", int64_t{0}}, {"end", int64_t{4}}, {"step", int64_t{-1}}}),
               Error);
}

TEST(Factory, ShapesOverSymbolicSizes) {
  ir::Graph g;
  ir::Value n;
  n.name = "n";
  n.kind = ir::ValueKind::kSymInt;
  n.sym = sym::Expr::symbol("s0") * 2;
  ir::ValueId id = g.add_value(n);
  auto shape_of = [&](const char* target, std::vector<ir::NamedArgument> inputs) {
    ir::Node node;
    node.name = "op";
    node.target = target;
    node.inputs = std::move(inputs);
    const ops::OpDef* op = ops::find_op(target);
    ops::GraphValueSource source(g);
    ops::Args args(*op, node, source);
    return op->shape(args)[0].tensor;
  };
  const auto kw = ir::ArgKindHint::kKeyword;
  // arange(1, 2*s0, 2): ceil((2*s0 - 1) / 2) = s0 elements.
  auto t = shape_of(
      "aten.arange.start_step",
      {{"start", int64_t{1}, kw}, {"end", ir::SymIntArg{id, 0}, kw}, {"step", int64_t{2}, kw}});
  EXPECT_EQ(t.str(), "i64[" + sym::ceil_div(sym::Expr::symbol("s0") * 2 - 1, 2).str() + "]");
  for (int64_t s0 : {1, 2, 5})
    EXPECT_EQ(t.sizes[0].eval({{"s0", s0}}), s0);
  auto z = shape_of("aten.zeros.default",
                    {{"size", std::vector<ir::SymIntArg>{{id, 0}, {std::nullopt, 3}}, kw}});
  EXPECT_EQ(z.str(), "f32[2*s0, 3]");
  EXPECT_THROW(shape_of("aten.full.default", {{"size", std::vector<int64_t>{2}, kw},
                                              {"fill_value", 1.0, kw},
                                              {"layout", ir::Layout::kSparse, kw}}),
               Error);
  EXPECT_EQ(shape_of("aten.full.default", {{"size", std::vector<int64_t>{2}, kw},
                                           {"fill_value", 1.0, kw},
                                           {"layout", ir::Layout::kStrided, kw}})
                .str(),
            "f32[2]");
  // A symbolic fill value: an int, so int64, whatever its value.
  EXPECT_EQ(shape_of("aten.full.default", {{"size", std::vector<int64_t>{2}, kw},
                                           {"fill_value", ir::SymIntArg{id, 0}, kw}})
                .str(),
            "i64[2]");
  EXPECT_EQ(shape_of("aten.scalar_tensor.default", {{"s", ir::SymIntArg{id, 0}, kw}}).str(),
            "f32[]");
  // A float bound with a symbolic one cannot be sized.
  EXPECT_THROW(
      shape_of("aten.arange.start", {{"start", 0.5, kw}, {"end", ir::SymIntArg{id, 0}, kw}}),
      Error);
}

}  // namespace
}  // namespace kiln::testing
