// Lowering of unary pointwise ops and casts: each op is lowered as a one-node program (with
// concrete and symbolic dims), the kernel IR is evaluated, and its outputs must match the
// reference interpreter's on random data with NaN, infinities, signed zeros and halves mixed in.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ir/graph_edit.h"
#include "lower/evaluate.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "ref/interpreter.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;

const std::vector<Sizes>& unary_shapes() {
  static const std::vector<Sizes> shapes = {{2, 3, 4}, {1, 5}, {}, {3, 1, 1}, {7}};
  return shapes;
}

// Random values with special ones (NaN, +-inf, +-0, exact halves) written over some elements of
// floating tensors.
ref::Tensor with_specials(ref::Tensor t) {
  if (!t.is_floating()) return t;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> specials = {std::nan(""), inf, -inf, -0.0, 0.0, 0.5, -2.5, 1.5};
  for (int64_t i = 0; i < t.numel(); i += 3)
    t.set(i, specials[static_cast<size_t>(i / 3) % specials.size()]);
  return t;
}

ref::Tensor input_tensor(DType dtype, Sizes sizes, std::mt19937& rng, double lo = -3,
                         double hi = 3) {
  return with_specials(random_tensor(dtype, std::move(sizes), rng, lo, hi));
}

TEST(LowerPointwise, FloatingFunctions) {
  std::mt19937 rng(101);
  for (const char* op : {"reciprocal", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2",
                         "log10", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "erf"}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                        DType::kInt32, DType::kBool}) {
      for (const Sizes& s : unary_shapes()) {
        SCOPED_TRACE(std::string(op) + " " + std::string(ir::dtype_name(dtype)));
        check_lowered_op(std::string("aten.") + op + ".default",
                         {{"self", input_tensor(dtype, s, rng)}});
      }
    }
  }
}

TEST(LowerPointwise, SignAndRoundingKeepTheDtype) {
  std::mt19937 rng(102);
  for (const char* op : {"abs", "neg", "sign", "floor", "ceil", "round", "trunc"}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                        DType::kInt8, DType::kInt32, DType::kInt64, DType::kUInt8}) {
      for (const Sizes& s : unary_shapes()) {
        SCOPED_TRACE(std::string(op) + " " + std::string(ir::dtype_name(dtype)));
        check_lowered_op(std::string("aten.") + op + ".default",
                         {{"self", input_tensor(dtype, s, rng, -200, 200)}});
      }
    }
  }
  // sign of bools is the identity
  check_lowered_op("aten.sign.default", {{"self", random_tensor(DType::kBool, {4, 3}, rng)}});
}

TEST(LowerPointwise, RoundHalfToEven) {
  ref::Tensor x = make_tensor(DType::kFloat32, {8}, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 4.5});
  check_lowered_op("aten.round.default", {{"self", x}});
}

TEST(LowerPointwise, RoundDecimals) {
  std::mt19937 rng(103);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    for (int64_t decimals : {0, 1, 2, -1, -2}) {
      for (const Sizes& s : {Sizes{3, 5}, Sizes{}, Sizes{1, 4}}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " decimals " + std::to_string(decimals));
        check_lowered_op("aten.round.decimals", {{"self", input_tensor(dtype, s, rng, -300, 300)},
                                                 {"decimals", decimals}});
      }
    }
  }
}

// The scaled value is rounded to the dtype before rounding to an integer: with float16 values
// in the hundreds, x * 100 is a multiple of 16 or 32, which decides the result.
TEST(LowerPointwise, RoundDecimalsRoundsTheScaledValue) {
  std::mt19937 rng(112);
  LowerCheckOptions tight;
  tight.tol = 1e-5;
  for (int64_t decimals : {1, 2}) {
    check_lowered_op(
        "aten.round.decimals",
        {{"self", random_tensor(DType::kFloat16, {64}, rng, -300, 300)}, {"decimals", decimals}},
        tight);
  }
}

TEST(LowerPointwise, BitwiseAndLogicalNot) {
  std::mt19937 rng(104);
  for (DType dtype : {DType::kInt8, DType::kInt32, DType::kInt64, DType::kUInt8, DType::kBool}) {
    for (const Sizes& s : unary_shapes()) {
      check_lowered_op("aten.bitwise_not.default",
                       {{"self", random_tensor(dtype, s, rng, -100, 100)}});
    }
  }
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kBool}) {
    for (const Sizes& s : unary_shapes()) {
      // small integers so that zeros occur; NaN is nonzero
      check_lowered_op("aten.logical_not.default", {{"self", input_tensor(dtype, s, rng, -2, 2)}});
    }
  }
}

TEST(LowerPointwise, IsNan) {
  std::mt19937 rng(105);
  for (DType dtype :
       {DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kInt32, DType::kBool}) {
    for (const Sizes& s : unary_shapes())
      check_lowered_op("aten.isnan.default", {{"self", input_tensor(dtype, s, rng)}});
  }
}

TEST(LowerPointwise, NanToNum) {
  std::mt19937 rng(106);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    for (const Sizes& s : {Sizes{4, 6}, Sizes{}, Sizes{1, 9}}) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      check_lowered_op("aten.nan_to_num.default", {{"self", input_tensor(dtype, s, rng)}});
      check_lowered_op("aten.nan_to_num.default", {{"self", input_tensor(dtype, s, rng)},
                                                   {"nan", 1.25},
                                                   {"posinf", 1e30},
                                                   {"neginf", -7.5}});
    }
  }
  // Integer tensors are copied.
  check_lowered_op("aten.nan_to_num.default",
                   {{"self", random_tensor(DType::kInt32, {3, 4}, rng, -9, 9)}});
}

TEST(LowerPointwise, Relu) {
  std::mt19937 rng(107);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                      DType::kInt32, DType::kInt8, DType::kUInt8}) {
    for (const Sizes& s : unary_shapes())
      check_lowered_op("aten.relu.default", {{"self", input_tensor(dtype, s, rng, -50, 50)}});
  }
}

TEST(LowerPointwise, CastsFollowPyTorchConversions) {
  std::mt19937 rng(108);
  const std::vector<DType> dtypes = {DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                                     DType::kBFloat16, DType::kInt8,    DType::kUInt8,
                                     DType::kInt32,    DType::kInt64,   DType::kBool};
  for (DType from : dtypes) {
    for (DType to : dtypes) {
      for (const Sizes& s : {Sizes{3, 4}, Sizes{}, Sizes{5, 1}}) {
        SCOPED_TRACE(std::string(ir::dtype_name(from)) + " -> " + std::string(ir::dtype_name(to)));
        // Finite values beyond the small integer ranges, so narrowing wraps; fractions truncate.
        ref::Tensor x = random_tensor(from, s, rng, -300, 300);
        check_lowered_op("aten._to_copy.default", {{"self", x}, {"dtype", to}});
      }
    }
  }
}

// to.dtype and type_as decompose into _to_copy.
TEST(LowerPointwise, CastVariants) {
  std::mt19937 rng(110);
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 3}, rng, -300, 300);
  check_lowered_op("aten.to.dtype", {{"self", x}, {"dtype", DType::kInt8}});
  check_lowered_op("aten.type_as.default",
                   {{"self", x}, {"other", random_tensor(DType::kFloat16, {2}, rng)}});
  check_lowered_op("aten._to_copy.default", {{"self", x}});
}

// A lazy op's value is what PyTorch would have stored: a 16-bit float result is rounded before
// the next op of a fused chain reads it. (x + y) - x with x near 1000 and y small: rounding the
// sum to 16 bits loses most of y, which the subtraction then shows.
TEST(LowerPointwise, ChainsRound16BitResultsBetweenOps) {
  std::mt19937 rng(111);
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    SCOPED_TRACE(ir::dtype_name(dtype));
    ref::Tensor x = random_tensor(dtype, {6, 5}, rng, 1000, 1100);
    ref::Tensor y = random_tensor(dtype, {5}, rng, 0.01, 0.4);
    OpProgram op = build_op_program("aten.add.Tensor", {{"self", x}, {"other", y}}, false);
    ir::ExportedProgram& p = op.program;
    const ir::Argument sum = p.graph.outputs.at(0);
    const ir::Argument self = p.graph.nodes.at(0).input("self")->arg;
    std::vector<ir::ValueId> diff =
        ir::append_node(p.graph, "aten.sub.Tensor", {{"self", sum}, {"other", self}}, "diff");
    p.graph.outputs = {ir::TensorArg{diff.at(0)}};
    p.signature.outputs.at(0).arg = ir::TensorArg{diff.at(0)};

    std::vector<ref::RValue> inputs(op.inputs.begin(), op.inputs.end());
    ref::Interpreter interpreter(p, std::vector<std::optional<ref::Tensor>>(inputs.size()));
    const ref::Tensor want = as_tensor(interpreter.run_user_outputs(inputs).at(0));
    ir::ExportedProgram prepared = p;
    passes::prepare_for_backend(prepared);
    lower::Program lowered = lower::lower_program(prepared);
    // One kernel: the sum stays lazy and is inlined into the difference.
    EXPECT_EQ(lowered.steps.size(), 1u);
    const std::vector<ref::Tensor> got = lower::evaluate(lowered, op.inputs, {});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(same_values(got[0], want)) << got[0].str();
  }
}

TEST(LowerPointwise, CloneIsTheIdentity) {
  std::mt19937 rng(109);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool}) {
    for (const Sizes& s : unary_shapes()) {
      ref::Tensor x = input_tensor(dtype, s, rng);
      check_lowered_op("aten.clone.default", {{"self", x}});
      // Without the backend passes (which drop clones) the node itself is lowered.
      LowerCheckOptions raw;
      raw.run_backend_passes = false;
      check_lowered_op("aten.clone.default", {{"self", x}}, raw);
    }
  }
}

}  // namespace
}  // namespace kiln::testing
