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

// PyTorch's conversion of one value, written out: floats truncate into integers, any nonzero
// is true, and the target float format rounds (to nearest even).
ref::Tensor converted(const ref::Tensor& x, DType to) {
  ref::Tensor out(to, x.sizes());
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = x.get(i);
    if (to == DType::kBool) {
      out.set_int(i, v != 0 ? 1 : 0);
    } else if (ir::is_integral(to)) {
      out.set_int(i, static_cast<int64_t>(std::trunc(v)));
    } else {
      out.set(i, v);
    }
  }
  return out;
}

const DType kDTypes[] = {DType::kFloat32,  DType::kInt64,   DType::kBool,
                         DType::kBFloat16, DType::kFloat16, DType::kInt32};

TEST(ShapeCast, ToDtypeConvertsEveryPair) {
  std::mt19937 rng(61);
  for (DType from : kDTypes) {
    for (const Idx& sizes : {Idx{2, 3}, Idx{1, 5, 1}, Idx{}}) {
      ref::Tensor x = random_tensor(from, sizes, rng, -4, 4);
      for (DType to : kDTypes) {
        ref::Tensor want = converted(x, to);
        EXPECT_TRUE(
            same_values(run_op_tensor("aten.to.dtype", {{"self", x}, {"dtype", to}}), want));
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.to.dtype", {{"self", x}, {"dtype", to}, {"copy", true}}), want));
        EXPECT_TRUE(same_values(
            run_op_tensor("aten._to_copy.default", {{"self", x}, {"dtype", to}}), want));
        EXPECT_TRUE(
            same_values(run_op_tensor("aten.to.dtype_layout", {{"self", x}, {"dtype", to}}), want));
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.to.device",
                          {{"self", x}, {"device", ir::Device{"cpu", -1}}, {"dtype", to}}),
            want));
        ref::Tensor other = random_tensor(to, {3}, rng);
        EXPECT_TRUE(
            same_values(run_op_tensor("aten.to.other", {{"self", x}, {"other", other}}), want));
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.type_as.default", {{"self", x}, {"other", other}}), want));
      }
      // dtype None keeps the dtype.
      EXPECT_TRUE(same_values(run_op_tensor("aten._to_copy.default", {{"self", x}}), x));
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.to.dtype_layout", {{"self", x}, {"device", ir::Device{"cpu", -1}}}),
          x));
    }
  }
  // Float rounding: 1/3 into bf16 and f16 each rounds to its own nearest.
  ref::Tensor third = make_tensor(DType::kFloat64, {1}, {1.0 / 3});
  EXPECT_EQ(run_op_tensor("aten.to.dtype", {{"self", third}, {"dtype", DType::kBFloat16}}).get(0),
            0.333984375);
  EXPECT_EQ(run_op_tensor("aten.to.dtype", {{"self", third}, {"dtype", DType::kFloat16}}).get(0),
            0.333251953125);
  ref::Tensor neg = make_tensor(DType::kFloat32, {2}, {-2.75, 2.75});
  EXPECT_TRUE(same_values(run_op_tensor("aten.to.dtype", {{"self", neg}, {"dtype", DType::kInt64}}),
                          make_tensor(DType::kInt64, {2}, {-2, 2})));
}

// The output device as the shape rule reports it.
ir::TensorType cast_type(std::string target, ir::Device in, const std::string& arg_name,
                         ir::Argument arg) {
  ir::Graph g;
  ir::Value v;
  v.name = "x";
  v.type = ir::TensorType::contiguous(DType::kFloat32, {2}, in);
  ir::ValueId id = g.add_value(v);
  ir::Node node;
  node.name = "op";
  node.target = std::move(target);
  node.inputs = {{"self", ir::TensorArg{id}, ir::ArgKindHint::kKeyword},
                 {arg_name, std::move(arg), ir::ArgKindHint::kKeyword}};
  const ops::OpDef* op = ops::find_op(node.target);
  ops::GraphValueSource source(g);
  ops::Args args(*op, node, source);
  return op->shape(args)[0].tensor;
}

TEST(ShapeCast, DeviceAndLayoutArguments) {
  ir::Device cuda{"cuda", 0};
  EXPECT_EQ(cast_type("aten._to_copy.default", ir::Device{}, "device", cuda).device, cuda);
  EXPECT_EQ(cast_type("aten.to.dtype_layout", ir::Device{}, "device", cuda).device, cuda);
  EXPECT_EQ(
      cast_type("aten._to_copy.default", cuda, "dtype", ir::ScalarTypeArg{DType::kInt8}).device,
      cuda);
  EXPECT_EQ(cast_type("aten._to_copy.default", {}, "layout", ir::Layout::kStrided).str(), "f32[2]");
  EXPECT_THROW(cast_type("aten._to_copy.default", {}, "layout", ir::Layout::kSparse), Error);
}

TEST(ShapeCast, AssertTensorMetadataChecksWhatItIsGiven) {
  std::mt19937 rng(62);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  EXPECT_TRUE(run_op("aten._assert_tensor_metadata.default", {{"a", x}}).empty());
  EXPECT_TRUE(
      run_op("aten._assert_tensor_metadata.default",
             {{"a", x}, {"size", Idx{2, 3}}, {"stride", Idx{3, 1}}, {"dtype", DType::kFloat32}})
          .empty());
  EXPECT_THROW(run_op("aten._assert_tensor_metadata.default", {{"a", x}, {"dtype", DType::kInt64}}),
               Error);
  EXPECT_THROW(run_op("aten._assert_tensor_metadata.default", {{"a", x}, {"size", Idx{3, 2}}}),
               Error);
  EXPECT_THROW(run_op("aten._assert_tensor_metadata.default", {{"a", x}, {"size", Idx{6}}}), Error);
}

TEST(ShapeCast, AssertScalar) {
  EXPECT_TRUE(
      run_op("aten._assert_scalar.default", {{"self", true}, {"assert_msg", std::string("ok")}})
          .empty());
  EXPECT_TRUE(run_op("aten._assert_scalar.default",
                     {{"self", int64_t{3}}, {"assert_msg", std::string("ok")}})
                  .empty());
  try {
    run_op("aten._assert_scalar.default",
           {{"self", false}, {"assert_msg", std::string("u0 >= 2")}});
    ADD_FAILURE() << "a false assertion passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("u0 >= 2"), std::string::npos);
  }
  // A SymBool over a symbol: unknown at compile time, so the shape rule lets it through.
  ir::Graph g;
  ir::Value cond;
  cond.name = "ge";
  cond.kind = ir::ValueKind::kSymBool;
  cond.sym = sym::le(2, sym::Expr::symbol("u0"));
  ir::ValueId id = g.add_value(cond);
  ir::Node node;
  node.name = "op";
  node.target = "aten._assert_scalar.default";
  node.inputs = {{"self", ir::SymBoolArg{id, false}, ir::ArgKindHint::kKeyword},
                 {"assert_msg", std::string("u0 >= 2"), ir::ArgKindHint::kKeyword}};
  const ops::OpDef* op = ops::find_op(node.target);
  ops::GraphValueSource source(g);
  ops::Args args(*op, node, source);
  EXPECT_TRUE(op->shape(args).empty());
  EXPECT_THROW(op->reference(args), Error);  // the reference needs a known value
  // A SymInt condition (nonzero is true) is accepted symbolically too.
  ir::Value n;
  n.name = "n";
  n.kind = ir::ValueKind::kSymInt;
  n.sym = sym::Expr::symbol("u1");
  node.inputs[0].arg = ir::SymIntArg{g.add_value(n), 0};
  ops::Args int_args(*op, node, source);
  EXPECT_TRUE(op->shape(int_args).empty());
}

TEST(ShapeCast, DropoutIsIdentityInEval) {
  std::mt19937 rng(63);
  for (DType dtype : {DType::kFloat32, DType::kBFloat16, DType::kInt64}) {
    ref::Tensor x = random_tensor(dtype, {2, 1, 3}, rng);
    for (const char* op : {"aten.dropout.default", "aten.feature_dropout.default"}) {
      EXPECT_TRUE(same_values(run_op_tensor(op, {{"input", x}, {"p", 0.5}, {"train", false}}), x))
          << op;
      EXPECT_TRUE(same_values(run_op_tensor(op, {{"input", x}, {"p", 0.0}, {"train", true}}), x))
          << op;
      EXPECT_THROW(run_op(op, {{"input", x}, {"p", 0.5}, {"train", true}}), Error);
      EXPECT_THROW(run_op(op, {{"input", x}, {"p", 1.5}, {"train", false}}), Error);
    }
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.dropout_.default", {{"self", x}, {"p", 0.1}, {"train", false}}), x));
    EXPECT_THROW(run_op("aten.dropout_.default", {{"self", x}, {"p", 0.1}, {"train", true}}),
                 Error);
  }
}

}  // namespace
}  // namespace kiln::testing
