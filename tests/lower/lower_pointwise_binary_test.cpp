// Lowering of binary and ternary pointwise ops: arithmetic with alpha and rounding modes,
// powers, comparisons, logic, bitwise ops, maximum/minimum, clamp, where, addcmul and lerp, over
// broadcast shapes, mixed dtypes (type promotion) and Python numbers in tensor slots.
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
#include "pointwise_test_util.h"
#include "ref/interpreter.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;

// Floating tensors get NaN, infinities and zeros over some elements.
ref::Tensor input_tensor(DType dtype, Sizes sizes, std::mt19937& rng, double lo = -4,
                         double hi = 4) {
  ref::Tensor t = random_tensor(dtype, std::move(sizes), rng, lo, hi);
  if (!t.is_floating()) return t;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> specials = {std::nan(""), 0.0, inf, -0.0, -inf};
  for (int64_t i = 2; i < t.numel(); i += 5)
    t.set(i, specials[static_cast<size_t>(i / 5) % specials.size()]);
  return t;
}

// Dtype pairs covering each promotion category: same dtype, float widths, int with float,
// int widths, unsigned with signed, bool with numbers.
const std::vector<std::pair<DType, DType>>& dtype_pairs() {
  static const std::vector<std::pair<DType, DType>> pairs = {
      {DType::kFloat32, DType::kFloat32},  {DType::kFloat16, DType::kFloat16},
      {DType::kBFloat16, DType::kFloat32}, {DType::kFloat16, DType::kFloat64},
      {DType::kInt32, DType::kFloat16},    {DType::kInt64, DType::kInt64},
      {DType::kInt8, DType::kInt32},       {DType::kUInt8, DType::kInt8},
      {DType::kBool, DType::kInt32},       {DType::kBool, DType::kFloat32},
  };
  return pairs;
}

bool has_bool(DType a, DType b) {
  return a == DType::kBool || b == DType::kBool;
}
bool has_float(DType a, DType b) {
  return ir::is_floating(a) || ir::is_floating(b);
}

TEST(LowerPointwiseBinary, AddSubWithAlpha) {
  std::mt19937 rng(201);
  for (const auto& [da, db] : dtype_pairs()) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      SCOPED_TRACE(std::string(ir::dtype_name(da)) + " " + std::string(ir::dtype_name(db)));
      ref::Tensor x = input_tensor(da, sa, rng, -50, 50), y = input_tensor(db, sb, rng, -50, 50);
      check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", y}});
      check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", y}, {"alpha", int64_t{3}}});
      if (has_float(da, db)) {
        check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", y}, {"alpha", -0.75}});
      }
      if (!has_bool(da, db)) {
        check_lowered_op("aten.sub.Tensor", {{"self", x}, {"other", y}, {"alpha", int64_t{2}}});
        check_lowered_op("aten.sub.Tensor", {{"self", x}, {"other", y}});
      }
    }
  }
  // bool + bool is a logical or; alpha 0 keeps self.
  ref::Tensor p = random_tensor(DType::kBool, {4, 3}, rng),
              q = random_tensor(DType::kBool, {3}, rng);
  check_lowered_op("aten.add.Tensor", {{"self", p}, {"other", q}});
  check_lowered_op("aten.add.Tensor", {{"self", p}, {"other", q}, {"alpha", false}});
}

TEST(LowerPointwiseBinary, NumbersInTensorSlots) {
  std::mt19937 rng(202);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt32,
                      DType::kInt8, DType::kUInt8}) {
    for (const Sizes& s : {Sizes{3, 4}, Sizes{}, Sizes{1, 5}}) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      ref::Tensor x = input_tensor(dtype, s, rng, -60, 60);
      check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", int64_t{300}}});
      check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", 0.1}});
      check_lowered_op("aten.add.Scalar", {{"self", x}, {"other", 2.5}, {"alpha", int64_t{2}}});
      check_lowered_op("aten.sub.Scalar", {{"self", x}, {"other", int64_t{7}}});
      check_lowered_op("aten.rsub.Scalar", {{"self", x}, {"other", 1.5}});
      check_lowered_op(
          "aten.rsub.Tensor",
          {{"self", x}, {"other", input_tensor(dtype, s, rng)}, {"alpha", int64_t{2}}});
      check_lowered_op("aten.mul.Scalar", {{"self", x}, {"other", 0.1}});
      check_lowered_op("aten.mul.Tensor", {{"self", x}, {"other", int64_t{-3}}});
      check_lowered_op("aten.mul.Tensor", {{"self", x}, {"other", true}});
      // A 0-dim float64 tensor does not promote a float16 or integer tensor with dims.
      check_lowered_op("aten.mul.Tensor",
                       {{"self", x}, {"other", random_tensor(DType::kFloat64, {}, rng)}});
    }
  }
}

// Integer constants beyond 2^53 stay exact.
TEST(LowerPointwiseBinary, LargeIntegerNumbers) {
  std::mt19937 rng(213);
  ref::Tensor x = random_tensor(DType::kInt64, {3, 4}, rng, -1000, 1000);
  const int64_t big = (int64_t{1} << 60) + 12345;
  check_lowered_op("aten.add.Tensor", {{"self", x}, {"other", big}});
  check_lowered_op("aten.sub.Tensor", {{"self", x}, {"other", -big}});
  check_lowered_op("aten.eq.Scalar", {{"self", x}, {"other", big}});
  check_lowered_op("aten.clamp.default", {{"self", x}, {"min", -big}, {"max", big}});
}

// A SymInt argument (x * x.size(1)) is read at run time: lowered with dims made symbolic, its
// value is an index expression over the shape symbols.
TEST(LowerPointwiseBinary, SymbolicNumbersAreReadAtRunTime) {
  std::mt19937 rng(214);
  for (bool symbolic : {false, true}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32}) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + (symbolic ? " symbolic" : " static"));
      ref::Tensor x = random_tensor(dtype, {3, 5}, rng, -9, 9);
      OpProgram op =
          build_op_program("aten.sym_size.int", {{"self", x}, {"dim", int64_t{1}}}, symbolic);
      ir::ExportedProgram& p = op.program;
      const ir::ValueId size = ir::node_outputs(p.graph.nodes.at(0)).at(0);
      const ir::Argument self = p.graph.nodes.at(0).input("self")->arg;
      std::vector<ir::ValueId> prod = ir::append_node(
          p.graph, "aten.mul.Tensor", {{"self", self}, {"other", ir::SymIntArg{size, 0}}}, "prod");
      std::vector<ir::ValueId> quot = ir::append_node(
          p.graph, "aten.div.Tensor",
          {{"self", ir::TensorArg{prod.at(0)}}, {"other", ir::SymIntArg{size, 0}}}, "quot");
      p.graph.outputs = {ir::TensorArg{prod.at(0)}, ir::TensorArg{quot.at(0)}};
      p.signature.outputs = {{ir::OutputKind::kUserOutput, ir::TensorArg{prod.at(0)}, ""},
                             {ir::OutputKind::kUserOutput, ir::TensorArg{quot.at(0)}, ""}};

      std::vector<ref::RValue> inputs(op.inputs.begin(), op.inputs.end());
      ref::Interpreter interpreter(p, std::vector<std::optional<ref::Tensor>>(inputs.size()));
      const std::vector<ref::RValue> want = interpreter.run_user_outputs(inputs);
      ir::ExportedProgram prepared = p;
      passes::prepare_for_backend(prepared);
      const std::vector<ref::Tensor> got =
          lower::evaluate(lower::lower_program(prepared), op.inputs, {});
      ASSERT_EQ(got.size(), 2u);
      for (size_t i = 0; i < 2; ++i) {
        EXPECT_TENSOR_NEAR(got[i], as_tensor(want[i]), ir::is_floating(dtype) ? 1e-3 : 0);
      }
    }
  }
}

TEST(LowerPointwiseBinary, MulAndDivisions) {
  std::mt19937 rng(203);
  for (const auto& [da, db] : dtype_pairs()) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      SCOPED_TRACE(std::string(ir::dtype_name(da)) + " " + std::string(ir::dtype_name(db)));
      ref::Tensor x = input_tensor(da, sa, rng, -40, 40);
      check_lowered_op("aten.mul.Tensor", {{"self", x}, {"other", input_tensor(db, sb, rng)}});
      // Integer division by zero is an error: integer divisors avoid 0.
      ref::Tensor y = has_float(da, db) ? input_tensor(db, sb, rng, -6, 6)
                                        : pw::nonzero_tensor(db, sb, rng, -6, 6);
      check_lowered_op("aten.div.Tensor", {{"self", x}, {"other", y}});
      for (const char* mode : {"trunc", "floor"}) {
        check_lowered_op("aten.div.Tensor_mode",
                         {{"self", x}, {"other", y}, {"rounding_mode", std::string(mode)}});
      }
      check_lowered_op("aten.floor_divide.default", {{"self", x}, {"other", y}});
    }
  }
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt32}) {
    ref::Tensor x = input_tensor(dtype, {4, 5}, rng, -40, 40);
    check_lowered_op("aten.div.Scalar", {{"self", x}, {"other", 0.3}});
    check_lowered_op("aten.div.Scalar", {{"self", x}, {"other", int64_t{-3}}});
    check_lowered_op("aten.div.Scalar_mode",
                     {{"self", x}, {"other", int64_t{4}}, {"rounding_mode", std::string("floor")}});
    check_lowered_op(
        "aten.div.Scalar_mode",
        {{"self", x}, {"other", int64_t{-4}}, {"rounding_mode", std::string("trunc")}});
    check_lowered_op("aten.floor_divide.Scalar", {{"self", x}, {"other", int64_t{-3}}});
    // 16-bit results read a 0-dim `other` in float32.
    check_lowered_op("aten.div.Tensor",
                     {{"self", x}, {"other", pw::nonzero_tensor(DType::kFloat32, {}, rng, 1, 3)}});
  }
}

// PyTorch's mul and div kernels for 16-bit floats read a number or 0-dim tensor `other` in
// float32, not rounded to the result dtype. `other` is 1 + half an ulp of the dtype, which
// rounding would turn into 1; the products are exact in float32, so they must match exactly.
TEST(LowerPointwiseBinary, HalfResultsReadScalarOtherInFloat32) {
  std::mt19937 rng(212);
  LowerCheckOptions exact;
  exact.tol = 0;
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    SCOPED_TRACE(ir::dtype_name(dtype));
    const double other = 1 + std::ldexp(1.0, dtype == DType::kFloat16 ? -11 : -8);
    ref::Tensor x = random_tensor(dtype, {256}, rng, -40, 40);
    check_lowered_op("aten.mul.Scalar", {{"self", x}, {"other", other}}, exact);
    check_lowered_op("aten.mul.Tensor",
                     {{"self", x}, {"other", make_tensor(DType::kFloat32, {}, {other})}}, exact);
    LowerCheckOptions close;
    close.tol = 1e-4;
    check_lowered_op("aten.div.Scalar", {{"self", x}, {"other", other}}, close);
    check_lowered_op("aten.div.Tensor_mode",
                     {{"self", x}, {"other", other}, {"rounding_mode", std::string("trunc")}},
                     close);
  }
}

TEST(LowerPointwiseBinary, RemainderAndFmod) {
  std::mt19937 rng(204);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32,
                      DType::kInt64, DType::kInt8}) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      ref::Tensor x = input_tensor(dtype, sa, rng, -30, 30);
      ref::Tensor y = ir::is_floating(dtype) ? input_tensor(dtype, sb, rng, -7, 7)
                                             : pw::nonzero_tensor(dtype, sb, rng, -7, 7);
      check_lowered_op("aten.remainder.Tensor", {{"self", x}, {"other", y}});
      check_lowered_op("aten.fmod.Tensor", {{"self", x}, {"other", y}});
    }
    ref::Tensor x = input_tensor(dtype, {3, 5}, rng, -30, 30);
    for (int64_t d : {3, -3, -1}) {
      check_lowered_op("aten.remainder.Scalar", {{"self", x}, {"other", d}});
      check_lowered_op("aten.fmod.Scalar", {{"self", x}, {"other", d}});
    }
  }
}

TEST(LowerPointwiseBinary, Powers) {
  std::mt19937 rng(205);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
      check_lowered_op("aten.pow.Tensor_Tensor",
                       {{"self", input_tensor(dtype, sa, rng, -3, 3)},
                        {"exponent", input_tensor(dtype, sb, rng, -3, 3)}});
    }
    // Integer powers, negative exponents included (0 except for bases 1 and -1).
    for (DType dtype : {DType::kInt32, DType::kInt64, DType::kInt8}) {
      check_lowered_op("aten.pow.Tensor_Tensor",
                       {{"self", random_tensor(dtype, sa, rng, -4, 5)},
                        {"exponent", random_tensor(dtype, sb, rng, -2, 6)}});
    }
  }
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32}) {
    check_lowered_op("aten.pow.Scalar",
                     {{"self", 2.5}, {"exponent", random_tensor(dtype, {3, 4}, rng, -3, 4)}});
    check_lowered_op("aten.pow.Scalar",
                     {{"self", int64_t{3}}, {"exponent", random_tensor(dtype, {5}, rng, 0, 5)}});
  }
  // The exponents PyTorch computes as sqrt, rsqrt, products and reciprocals, and others.
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    for (double e : {0.5, -0.5, 2.0, 3.0, -1.0, -2.0, 1.7, 0.0}) {
      for (const Sizes& s : {Sizes{4, 5}, Sizes{}}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " ** " + std::to_string(e));
        check_lowered_op("aten.pow.Tensor_Scalar",
                         {{"self", input_tensor(dtype, s, rng, -3, 3)}, {"exponent", e}});
      }
    }
  }
  for (DType dtype : {DType::kInt32, DType::kInt64, DType::kUInt8}) {
    for (int64_t e : {0, 1, 2, 3, 5}) {
      check_lowered_op("aten.pow.Tensor_Scalar",
                       {{"self", random_tensor(dtype, {3, 4}, rng, -6, 6)}, {"exponent", e}});
    }
    // A float exponent makes the result float32.
    check_lowered_op("aten.pow.Tensor_Scalar",
                     {{"self", random_tensor(dtype, {3, 4}, rng, 0, 6)}, {"exponent", 0.5}});
  }
}

TEST(LowerPointwiseBinary, Comparisons) {
  std::mt19937 rng(206);
  for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"}) {
    for (const auto& [da, db] : dtype_pairs()) {
      for (const auto& [sa, sb] : pw::shape_pairs()) {
        SCOPED_TRACE(std::string(op) + " " + std::string(ir::dtype_name(da)) + " " +
                     std::string(ir::dtype_name(db)));
        // Small integer ranges, so that equal values occur.
        check_lowered_op(std::string("aten.") + op + ".Tensor",
                         {{"self", input_tensor(da, sa, rng, -3, 3)},
                          {"other", input_tensor(db, sb, rng, -3, 3)}});
      }
    }
    for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt8, DType::kUInt8}) {
      ref::Tensor x = input_tensor(dtype, {4, 6}, rng, -50, 50);
      // 300 wraps to the int8/uint8 dtype before comparing, as in PyTorch.
      check_lowered_op(std::string("aten.") + op + ".Scalar",
                       {{"self", x}, {"other", int64_t{300}}});
      check_lowered_op(std::string("aten.") + op + ".Scalar", {{"self", x}, {"other", 0.5}});
      check_lowered_op(std::string("aten.") + op + ".Tensor", {{"self", x}, {"other", int64_t{2}}});
    }
  }
}

TEST(LowerPointwiseBinary, LogicalAndBitwise) {
  std::mt19937 rng(207);
  for (const auto& [da, db] : dtype_pairs()) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      ref::Tensor x = input_tensor(da, sa, rng, -2, 2), y = input_tensor(db, sb, rng, -2, 2);
      for (const char* op : {"logical_and", "logical_or", "logical_xor"}) {
        check_lowered_op(std::string("aten.") + op + ".default", {{"self", x}, {"other", y}});
      }
      if (has_float(da, db)) continue;
      ref::Tensor u = random_tensor(da, sa, rng, -100, 100),
                  v = random_tensor(db, sb, rng, -100, 100);
      for (const char* op :
           {"aten.bitwise_and.Tensor", "aten.bitwise_or.Tensor", "aten.bitwise_xor.Tensor",
            "aten.__and__.Tensor", "aten.__or__.Tensor", "aten.__xor__.Tensor"}) {
        SCOPED_TRACE(op);
        check_lowered_op(op, {{"self", u}, {"other", v}});
      }
    }
  }
  for (DType dtype : {DType::kInt8, DType::kInt64, DType::kBool}) {
    ref::Tensor x = random_tensor(dtype, {3, 4}, rng, -100, 100);
    for (const char* op :
         {"aten.bitwise_and.Scalar", "aten.bitwise_or.Scalar", "aten.bitwise_xor.Scalar"}) {
      check_lowered_op(op, {{"self", x}, {"other", int64_t{0x5a}}});
      check_lowered_op(op, {{"self", x}, {"other", true}});
    }
  }
}

TEST(LowerPointwiseBinary, MaximumMinimumPropagateNan) {
  std::mt19937 rng(208);
  for (const auto& [da, db] : dtype_pairs()) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      ref::Tensor x = input_tensor(da, sa, rng), y = input_tensor(db, sb, rng);
      for (const char* op :
           {"aten.maximum.default", "aten.minimum.default", "aten.max.other", "aten.min.other"}) {
        SCOPED_TRACE(op);
        check_lowered_op(op, {{"self", x}, {"other", y}});
      }
    }
  }
}

TEST(LowerPointwiseBinary, Clamp) {
  std::mt19937 rng(209);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                      DType::kInt32, DType::kInt8, DType::kUInt8}) {
    for (const Sizes& s : {Sizes{4, 5}, Sizes{}, Sizes{1, 3}}) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      ref::Tensor x = input_tensor(dtype, s, rng, -50, 50);
      check_lowered_op("aten.clamp.default",
                       {{"self", x}, {"min", int64_t{-5}}, {"max", int64_t{20}}});
      check_lowered_op("aten.clamp.default", {{"self", x}, {"min", int64_t{3}}});
      // (uint8 refuses a negative max)
      const int64_t low_max = dtype == DType::kUInt8 ? 2 : -2;
      check_lowered_op("aten.clamp.default", {{"self", x}, {"max", low_max}});
      // min > max gives max everywhere.
      check_lowered_op("aten.clamp.default",
                       {{"self", x}, {"min", int64_t{9}}, {"max", int64_t{1}}});
      check_lowered_op("aten.clamp.default", {{"self", x}, {"min", -1.5}, {"max", 2.5}});
      check_lowered_op("aten.clamp_min.default", {{"self", x}, {"min", int64_t{0}}});
      check_lowered_op("aten.clamp_max.default", {{"self", x}, {"max", int64_t{4}}});
      if (dtype == DType::kInt8) {
        // A bound beyond the dtype's range on the near side clamps nothing.
        check_lowered_op("aten.clamp.default", {{"self", x}, {"min", int64_t{-1000}}});
        check_lowered_op("aten.clamp.default", {{"self", x}, {"max", int64_t{1000}}});
      }
      // Tensor bounds broadcast and promote.
      const Sizes bound = s.empty() ? Sizes{} : Sizes{s.back()};
      check_lowered_op("aten.clamp.Tensor",
                       {{"self", x},
                        {"min", input_tensor(dtype, bound, rng, -60, 0)},
                        {"max", input_tensor(DType::kFloat32, {1}, rng, 0, 60)}});
      check_lowered_op("aten.clamp.Tensor",
                       {{"self", x}, {"max", input_tensor(dtype, {1, 1}, rng, -9, 9)}});
    }
  }
  // NaN bounds give NaN.
  ref::Tensor x = random_tensor(DType::kFloat32, {6}, rng);
  check_lowered_op("aten.clamp.default", {{"self", x}, {"min", std::nan("")}});
}

TEST(LowerPointwiseBinary, Where) {
  std::mt19937 rng(210);
  for (const auto& [da, db] : dtype_pairs()) {
    for (DType cond : {DType::kBool, DType::kUInt8}) {
      SCOPED_TRACE(std::string(ir::dtype_name(da)) + " " + std::string(ir::dtype_name(db)));
      ref::Tensor c = random_tensor(cond, {3, 1}, rng, 0, 3);
      ref::Tensor x = input_tensor(da, {4}, rng), y = input_tensor(db, {1, 4}, rng);
      check_lowered_op("aten.where.self", {{"condition", c}, {"self", x}, {"other", y}});
      check_lowered_op("aten.where.ScalarOther", {{"condition", c}, {"self", x}, {"other", 2.5}});
      check_lowered_op("aten.where.ScalarSelf",
                       {{"condition", c}, {"self", int64_t{-7}}, {"other", y}});
    }
  }
  ref::Tensor c = random_tensor(DType::kBool, {2, 3}, rng);
  check_lowered_op("aten.where.Scalar", {{"condition", c}, {"self", 1.5}, {"other", int64_t{0}}});
  check_lowered_op("aten.where.Scalar",
                   {{"condition", c}, {"self", int64_t{4}}, {"other", int64_t{-1}}});
  check_lowered_op("aten.where.self", {{"condition", random_tensor(DType::kBool, {}, rng)},
                                       {"self", random_tensor(DType::kFloat16, {2, 2}, rng)},
                                       {"other", random_tensor(DType::kFloat16, {}, rng)}});
}

TEST(LowerPointwiseBinary, AddcmulAndLerp) {
  std::mt19937 rng(211);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                      DType::kInt32, DType::kInt64}) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      SCOPED_TRACE(ir::dtype_name(dtype));
      ref::Tensor s = input_tensor(dtype, sa, rng, -9, 9), t1 = input_tensor(dtype, sb, rng, -9, 9);
      ref::Tensor t2 = input_tensor(dtype, sb, rng, -9, 9);
      check_lowered_op("aten.addcmul.default", {{"self", s}, {"tensor1", t1}, {"tensor2", t2}});
      check_lowered_op("aten.addcmul.default",
                       {{"self", s}, {"tensor1", t1}, {"tensor2", t2}, {"value", int64_t{-3}}});
      if (ir::is_floating(dtype)) {
        check_lowered_op("aten.addcmul.default",
                         {{"self", s}, {"tensor1", t1}, {"tensor2", t2}, {"value", 0.3}});
        for (double w : {0.0, 0.25, 0.5, 0.8, 1.0, -0.6, 1.7}) {
          check_lowered_op("aten.lerp.Scalar", {{"self", s}, {"end", t1}, {"weight", w}});
        }
      }
    }
  }
  // Mixed dtypes promote.
  check_lowered_op("aten.addcmul.default", {{"self", random_tensor(DType::kFloat16, {3, 4}, rng)},
                                            {"tensor1", random_tensor(DType::kFloat32, {4}, rng)},
                                            {"tensor2", random_tensor(DType::kInt32, {3, 1}, rng)},
                                            {"value", 2.0}});
}

}  // namespace
}  // namespace kiln::testing
