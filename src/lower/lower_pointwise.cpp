// Lowering of the pointwise family: elementwise math, comparisons, logic, selection, clamp and
// casts. Each op becomes a lazy TensorRef whose body loads its operands at the broadcast index,
// converts them to the dtype the reference kernel computes in (torch.result_type, read from the
// same helpers the op table uses), applies scalar ops, and rounds 16-bit float results to their
// dtype, so a chain of lazy ops gives what op-by-op evaluation gives.
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "lower/families.h"
#include "lower/lowering.h"
#include "ops/pointwise_util.h"
#include "ref/tensor.h"

namespace kiln::lower {
namespace {

using ir::DType;
using ops::Args;
using ops::Scalar;

bool is_half(DType t) {
  return t == DType::kFloat16 || t == DType::kBFloat16;
}

// v as a value of `dtype` (PyTorch's conversion: float->int truncates, nonzero->true, 16-bit
// floats rounded), in dtype's compute dtype.
int32_t convert(BodyBuilder& b, int32_t v, DType dtype) {
  if (is_half(dtype)) v = b.cast(v, dtype);
  return b.cast(v, compute_dtype(dtype));
}

// An exact integer constant: BodyBuilder::constant goes through a double, which holds only 53 bits.
int32_t int_constant(BodyBuilder& b, int64_t v, DType dtype) {
  constexpr int64_t kExact = int64_t{1} << 53;
  if (v >= -kExact && v <= kExact) return b.constant(static_cast<double>(v), dtype);
  return b.cast(b.index_value(sym::Expr(v)), dtype);
}

// A Python number as a value of `dtype`, as the reference kernels read it (a 0-dim bool, int64
// or float64 tensor loaded as `dtype`).
int32_t number_constant(BodyBuilder& b, const Scalar& s, DType dtype) {
  if (ir::is_floating(dtype)) {
    return b.constant(ref::round_to_dtype(dtype, s.to_double()), compute_dtype(dtype));
  }
  if (dtype == DType::kBool) return b.constant(s.to_double() != 0 ? 1 : 0, DType::kBool);
  int64_t v = s.i;
  if (s.is_floating()) {
    v = std::isfinite(s.f) && std::fabs(s.f) < 9.2e18 ? static_cast<int64_t>(s.f) : 0;
  }
  return int_constant(b, ref::wrap_to_dtype(dtype, v), dtype);
}

// A floating constant of compute dtype c, rounded to it.
int32_t real_constant(BodyBuilder& b, double v, DType c) {
  return b.constant(ref::round_to_dtype(c, v), c);
}

// An operand of an elementwise op: a tensor, or a number (known, or a SymInt known at run time).
struct Operand {
  TensorRef tensor;
  Scalar number;
  std::optional<sym::Expr> symbolic;

  bool is_tensor() const { return tensor.valid(); }
  // A number or a 0-dim tensor: what mul and div read in float32 for 16-bit float results.
  bool is_scalar_like() const { return !is_tensor() || tensor.rank() == 0; }
  DType dtype() const { return tensor.dtype(); }
};

Operand operand(Lowering& ctx, const Args& args, std::string_view name) {
  Operand o;
  if (args.is_tensor(name)) {
    o.tensor = ctx.tensor(args, name);
    return o;
  }
  if (auto s = args.known_scalar(name)) {
    o.number = *s;
    return o;
  }
  if (args.number_kind(name) != Scalar::Kind::kInt) {
    args.fail("argument '", name,
              "' is a symbolic float or bool known only at run time, which kiln cannot lower");
  }
  o.symbolic = ctx.sym_int(args, name);
  return o;
}

// An argument that must be a tensor (a number there fails, naming the argument).
Operand tensor_operand(Lowering& ctx, const Args& args, std::string_view name) {
  Operand o;
  o.tensor = ctx.tensor(args, name);
  return o;
}

// The operand's value at output index `idx`, as a value of `as`.
int32_t load_as(BodyBuilder& b, const Operand& o, const Index& idx, DType as) {
  if (o.symbolic) return convert(b, b.index_value(*o.symbolic), as);
  if (!o.is_tensor()) return number_constant(b, o.number, as);
  int32_t v = o.tensor.load(b, broadcast_index(idx, o.tensor.sizes()));
  return o.tensor.dtype() == as ? v : convert(b, v, as);
}

using Values = std::vector<int32_t>;
using Combine = std::function<int32_t(BodyBuilder& b, const Values& v)>;

// The node's output 0 as a lazy tensor: operand k loaded as as[k], combined by fn in the output's
// compute dtype. `exact` ops (selections, sign, rounding) return values already representable
// in the output dtype, so they skip the rounding of 16-bit float results.
TensorRef elementwise(Lowering& ctx, const ir::Node& node, std::vector<Operand> operands,
                      std::vector<DType> as, Combine fn, bool exact = false) {
  const ir::TensorType& out = ctx.output_type(node);
  const DType dtype = out.dtype;
  const int cost = static_cast<int>(operands.size()) + 2;
  return ctx.pointwise(
      dtype, out.sizes,
      [operands = std::move(operands), as = std::move(as), fn = std::move(fn), dtype, exact](
          BodyBuilder& b, const Index& idx) {
        Values v;
        for (size_t k = 0; k < operands.size(); ++k)
          v.push_back(load_as(b, operands[k], idx, as[k]));
        int32_t r = fn(b, v);
        return exact && b.dtype(r) == compute_dtype(dtype) ? r : convert(b, r, dtype);
      },
      cost);
}

void set_result(Lowering& ctx, const ir::Node& node, TensorRef t) {
  ctx.set_output(node, 0, std::move(t));
}

// ---- Unary ---------------------------------------------------------------------------------

bool is_exact(ScalarOp op) {
  switch (op) {
    case ScalarOp::kNeg:
    case ScalarOp::kAbs:
    case ScalarOp::kSign:
    case ScalarOp::kFloor:
    case ScalarOp::kCeil:
    case ScalarOp::kRound:
    case ScalarOp::kTrunc:
      return true;
    default:
      return false;
  }
}

// Ops that leave integer (and bool) tensors unchanged.
bool is_identity_on_integers(ScalarOp op) {
  return op == ScalarOp::kFloor || op == ScalarOp::kCeil || op == ScalarOp::kRound ||
         op == ScalarOp::kTrunc;
}

// op(x) with x converted to the output dtype (float32 for the floating functions of integers).
template <ScalarOp Op>
void lower_unary(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Operand x = tensor_operand(ctx, args, "self");
  const bool integral = !ir::is_floating(out);
  if (integral && (is_identity_on_integers(Op) || (Op == ScalarOp::kSign && out == DType::kBool))) {
    set_result(ctx, node, x.tensor);
    return;
  }
  set_result(ctx, node,
             elementwise(
                 ctx, node, {x}, {out},
                 [](BodyBuilder& b, const Values& v) { return b.unary(Op, v[0]); }, is_exact(Op)));
}

void lower_bitwise_not(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  const ScalarOp op = out == DType::kBool ? ScalarOp::kNot : ScalarOp::kBitNot;
  set_result(ctx, node,
             elementwise(ctx, node, {tensor_operand(ctx, args, "self")}, {out},
                         [op](BodyBuilder& b, const Values& v) { return b.unary(op, v[0]); }));
}

void lower_logical_not(Lowering& ctx, const ir::Node& node, const Args& args) {
  set_result(
      ctx, node,
      elementwise(ctx, node, {tensor_operand(ctx, args, "self")}, {DType::kBool},
                  [](BodyBuilder& b, const Values& v) { return b.unary(ScalarOp::kNot, v[0]); }));
}

// Integers are never NaN.
void lower_isnan(Lowering& ctx, const ir::Node& node, const Args& args) {
  Operand x = tensor_operand(ctx, args, "self");
  if (!ir::is_floating(x.dtype())) {
    set_result(
        ctx, node,
        ctx.pointwise(DType::kBool, ctx.output_type(node).sizes,
                      [](BodyBuilder& b, const Index&) { return b.constant(0, DType::kBool); }));
    return;
  }
  set_result(ctx, node,
             elementwise(ctx, node, {x}, {x.dtype()}, [](BodyBuilder& b, const Values& v) {
               return b.unary(ScalarOp::kIsNan, v[0]);
             }));
}

// relu(x) = x < 0 ? 0 : x, so NaN and -0 pass through.
void lower_relu(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  set_result(ctx, node,
             elementwise(
                 ctx, node, {tensor_operand(ctx, args, "self")}, {out},
                 [out](BodyBuilder& b, const Values& v) {
                   int32_t zero = b.constant(0, out);
                   return b.where(b.binary(ScalarOp::kLt, v[0], zero), zero, v[0]);
                 },
                 /*exact=*/true));
}

// The largest finite value of a floating dtype: nan_to_num's default for infinities.
double largest_finite(DType t) {
  switch (t) {
    case DType::kFloat16:
      return 65504.0;
    case DType::kBFloat16:
      return 3.3895313892515355e38;
    case DType::kFloat32:
      return 3.4028234663852886e38;
    default:
      return 1.7976931348623157e308;
  }
}

// Integer and bool tensors are returned unchanged.
void lower_nan_to_num(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Operand x = tensor_operand(ctx, args, "self");
  if (!ir::is_floating(out)) {
    set_result(ctx, node, x.tensor);
    return;
  }
  const double largest = largest_finite(out);
  const double nan = ref::round_to_dtype(out, args.optional_double("nan").value_or(0.0));
  const double posinf = ref::round_to_dtype(out, args.optional_double("posinf").value_or(largest));
  const double neginf = ref::round_to_dtype(out, args.optional_double("neginf").value_or(-largest));
  const DType c = compute_dtype(out);
  set_result(ctx, node,
             elementwise(
                 ctx, node, {x}, {out},
                 [=](BodyBuilder& b, const Values& v) {
                   const int32_t zero = b.constant(0, c);
                   int32_t inf = b.where(b.binary(ScalarOp::kGt, v[0], zero), b.constant(posinf, c),
                                         b.constant(neginf, c));
                   int32_t r = b.where(b.unary(ScalarOp::kIsInf, v[0]), inf, v[0]);
                   return b.where(b.unary(ScalarOp::kIsNan, v[0]), b.constant(nan, c), r);
                 },
                 /*exact=*/true));
}

// round(x * 10^d) / 10^d (or x / 10^-d for negative d), each step rounded to the dtype as
// PyTorch does, rounding half to even.
void lower_round_decimals(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  const int64_t decimals = args.to_int("decimals");
  const bool negative = decimals < 0;
  const double scale = ref::round_to_dtype(
      out, std::pow(10.0, static_cast<double>(negative ? -decimals : decimals)));
  const DType c = compute_dtype(out);
  set_result(ctx, node,
             elementwise(ctx, node, {tensor_operand(ctx, args, "self")}, {out},
                         [=](BodyBuilder& b, const Values& v) {
                           const int32_t s = b.constant(scale, c);
                           int32_t scaled = convert(
                               b, b.binary(negative ? ScalarOp::kDiv : ScalarOp::kMul, v[0], s),
                               out);
                           int32_t r = b.unary(ScalarOp::kRound, scaled);
                           return b.binary(negative ? ScalarOp::kMul : ScalarOp::kDiv, r, s);
                         }));
}

// ---- Binary --------------------------------------------------------------------------------

// Which dtype the operands are converted to before the op.
enum class Promote {
  kOutput,    // the output's (arithmetic, bitwise, maximum)
  kOperands,  // torch.result_type of the operands (comparisons: the output is bool)
  kBool,      // bool (logical ops)
};

std::string_view second_operand(const Args& args) {
  return args.schema().index_of("exponent") >= 0 ? "exponent" : "other";
}

template <ScalarOp Op, Promote P>
void lower_binary(Lowering& ctx, const ir::Node& node, const Args& args) {
  const std::string_view second = second_operand(args);
  DType as = ctx.output_type(node).dtype;
  if (P == Promote::kOperands) as = ops::pointwise::result_type(args, {"self", second});
  if (P == Promote::kBool) as = DType::kBool;
  const bool exact = Op == ScalarOp::kMax || Op == ScalarOp::kMin;
  set_result(ctx, node,
             elementwise(
                 ctx, node, {operand(ctx, args, "self"), operand(ctx, args, second)}, {as, as},
                 [](BodyBuilder& b, const Values& v) { return b.binary(Op, v[0], v[1]); }, exact));
}

// x + alpha * y (Sign 1) or x - alpha * y (Sign -1). Bool results (add only) are
// x || (alpha && y).
template <int Sign>
void lower_add(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Operand x = operand(ctx, args, "self"), y = operand(ctx, args, "other");
  const Scalar alpha = args.scalar("alpha");
  if (out == DType::kBool) {
    const bool use_y = alpha.to_double() != 0;
    set_result(ctx, node,
               elementwise(ctx, node, {x, y}, {out, out}, [use_y](BodyBuilder& b, const Values& v) {
                 return use_y ? b.binary(ScalarOp::kOr, v[0], v[1]) : v[0];
               }));
    return;
  }
  const bool floating = ir::is_floating(out);
  const bool unit = floating ? alpha.to_double() == 1 : alpha.i == 1;
  const ScalarOp op = Sign > 0 ? ScalarOp::kAdd : ScalarOp::kSub;
  set_result(ctx, node,
             elementwise(ctx, node, {x, y}, {out, out}, [=](BodyBuilder& b, const Values& v) {
               int32_t ay = v[1];
               if (!unit) {
                 Scalar a = alpha;
                 if (floating) {
                   a.kind = Scalar::Kind::kFloat;
                   a.f = alpha.to_double();
                 }
                 // alpha multiplies in the compute dtype, not rounded to a 16-bit result dtype
                 ay = b.binary(ScalarOp::kMul, number_constant(b, a, compute_dtype(out)), v[1]);
               }
               return b.binary(op, v[0], ay);
             }));
}

// mul and div of 16-bit floats read a number or 0-dim tensor `other` in float32.
DType other_dtype(DType out, const Operand& other) {
  return is_half(out) && other.is_scalar_like() ? DType::kFloat32 : out;
}

void lower_mul(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Operand x = operand(ctx, args, "self"), y = operand(ctx, args, "other");
  const DType oy = other_dtype(out, y);
  ScalarOp op = out == DType::kBool ? ScalarOp::kAnd : ScalarOp::kMul;
  set_result(ctx, node,
             elementwise(ctx, node, {x, y}, {out, oy}, [op](BodyBuilder& b, const Values& v) {
               return b.binary(op, v[0], v[1]);
             }));
}

enum class Rounding { kNone, kTrunc, kFloor };

Rounding rounding_mode(const Args& args) {
  if (args.schema().index_of("rounding_mode") < 0) return Rounding::kNone;
  auto mode = args.optional_str("rounding_mode");
  if (!mode) return Rounding::kNone;
  if (*mode == "trunc") return Rounding::kTrunc;
  if (*mode == "floor") return Rounding::kFloor;
  args.fail("argument 'rounding_mode' is '", *mode, "'; expected None, 'trunc' or 'floor'");
}

// True division; trunc rounds toward zero (C division for integers); floor is Python's //.
template <bool FloorDivide>
void lower_div(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  const Rounding mode = FloorDivide ? Rounding::kFloor : rounding_mode(args);
  Operand x = operand(ctx, args, "self"), y = operand(ctx, args, "other");
  const bool floating = ir::is_floating(out);
  set_result(
      ctx, node,
      elementwise(ctx, node, {x, y}, {out, other_dtype(out, y)},
                  [=](BodyBuilder& b, const Values& v) {
                    if (mode == Rounding::kFloor) {
                      return b.binary(ScalarOp::kFloorDiv, v[0], v[1]);
                    }
                    int32_t q = b.binary(ScalarOp::kDiv, v[0], v[1]);
                    return mode == Rounding::kTrunc && floating ? b.unary(ScalarOp::kTrunc, q) : q;
                  }));
}

// x ** e for a number e, converted to the result dtype. Except for half, PyTorch computes the
// exponents 0.5, -0.5, 2, 3, -1 and -2 as sqrt, rsqrt and products, which differ from pow at
// -0 and -inf.
void lower_pow_tensor_scalar(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Operand x = operand(ctx, args, "self"), e = operand(ctx, args, "exponent");
  const double ef = ref::round_to_dtype(out, e.number.to_double());
  const bool special = ir::is_floating(out) && out != DType::kFloat16 && !e.symbolic;
  set_result(ctx, node,
             elementwise(ctx, node, {x, e}, {out, out}, [=](BodyBuilder& b, const Values& v) {
               if (special) {
                 auto square = [&] { return b.binary(ScalarOp::kMul, v[0], v[0]); };
                 if (ef == 0.5) return b.unary(ScalarOp::kSqrt, v[0]);
                 if (ef == -0.5) return b.unary(ScalarOp::kRsqrt, v[0]);
                 if (ef == 2) return square();
                 if (ef == 3) return b.binary(ScalarOp::kMul, square(), v[0]);
                 if (ef == -1) return b.unary(ScalarOp::kReciprocal, v[0]);
                 if (ef == -2) return b.unary(ScalarOp::kReciprocal, square());
               }
               return b.binary(ScalarOp::kPow, v[0], v[1]);
             }));
}

// ---- Ternary -------------------------------------------------------------------------------

// self + value * tensor1 * tensor2; for integer results value is truncated to an integer.
void lower_addcmul(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  Scalar value = args.scalar("value");
  if (!ir::is_floating(out) && value.is_floating()) {
    value.kind = Scalar::Kind::kInt;
    value.i = static_cast<int64_t>(value.f);
  }
  const bool unit = value.to_double() == 1;
  const DType c = compute_dtype(out);
  set_result(ctx, node,
             elementwise(ctx, node,
                         {operand(ctx, args, "self"), operand(ctx, args, "tensor1"),
                          operand(ctx, args, "tensor2")},
                         {out, out, out}, [=](BodyBuilder& b, const Values& v) {
                           int32_t p = v[1];
                           if (!unit) p = b.binary(ScalarOp::kMul, number_constant(b, value, c), p);
                           p = b.binary(ScalarOp::kMul, p, v[2]);
                           return b.binary(ScalarOp::kAdd, v[0], p);
                         }));
}

// PyTorch's two-sided form, exact at weight 0 and 1.
void lower_lerp(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  const double w = args.to_double("weight");
  const DType c = compute_dtype(out);
  set_result(
      ctx, node,
      elementwise(ctx, node, {operand(ctx, args, "self"), operand(ctx, args, "end")}, {out, out},
                  [=](BodyBuilder& b, const Values& v) {
                    const int32_t diff = b.binary(ScalarOp::kSub, v[1], v[0]);
                    if (std::fabs(w) < 0.5) {
                      return b.binary(ScalarOp::kAdd, v[0],
                                      b.binary(ScalarOp::kMul, real_constant(b, w, c), diff));
                    }
                    return b.binary(ScalarOp::kSub, v[1],
                                    b.binary(ScalarOp::kMul, diff, real_constant(b, 1 - w, c)));
                  }));
}

bool has_argument(const Args& args, std::string_view name) {
  return args.schema().index_of(name) >= 0 && !args.is_none(name);
}

// Whether the bounds are Scalars (clamp.default) rather than tensors (clamp.Tensor).
bool number_bounds(const Args& args) {
  for (const char* name : {"min", "max"}) {
    int i = args.schema().index_of(name);
    if (i >= 0) return args.schema().args[static_cast<size_t>(i)].type == ops::ArgType::kScalar;
  }
  return false;
}

// max(x, min) then min(., max), NaN propagating, so min > max gives max. Integer results with
// number bounds compare in int64, so a bound beyond the dtype's range clamps nothing.
void lower_clamp(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  const bool has_min = has_argument(args, "min"), has_max = has_argument(args, "max");
  if (!has_min && !has_max) args.fail("at least one of 'min' and 'max' must be given");
  const DType work = number_bounds(args) && ir::is_integral(out) ? DType::kInt64 : out;
  std::vector<Operand> operands = {operand(ctx, args, "self")};
  std::vector<DType> as = {work};
  if (has_min) operands.push_back(operand(ctx, args, "min"));
  if (has_max) operands.push_back(operand(ctx, args, "max"));
  as.resize(operands.size(), work);
  set_result(ctx, node,
             elementwise(
                 ctx, node, std::move(operands), std::move(as),
                 [=](BodyBuilder& b, const Values& v) {
                   int32_t r = v[0];
                   size_t k = 1;
                   if (has_min) r = b.binary(ScalarOp::kMax, r, v[k++]);
                   if (has_max) r = b.binary(ScalarOp::kMin, r, v[k]);
                   return r;
                 },
                 /*exact=*/work == out));
}

// The condition is read as bool (uint8 conditions: nonzero).
void lower_where(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  set_result(ctx, node,
             elementwise(
                 ctx, node,
                 {tensor_operand(ctx, args, "condition"), operand(ctx, args, "self"),
                  operand(ctx, args, "other")},
                 {DType::kBool, out, out},
                 [](BodyBuilder& b, const Values& v) { return b.where(v[0], v[1], v[2]); },
                 /*exact=*/true));
}

// ---- Copies and casts ----------------------------------------------------------------------

// A copy holds the same values: the input itself, converted when the dtype changes. Devices
// and memory formats are kiln's choice (dense row-major buffers), so they change nothing here.
void lower_cast(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  TensorRef x = ctx.tensor(args, "self");
  if (x.dtype() == out) {
    set_result(ctx, node, x);
    return;
  }
  set_result(ctx, node, ctx.pointwise(out, x.sizes(), [x, out](BodyBuilder& b, const Index& idx) {
    return convert(b, x.load(b, idx), out);
  }));
}

#define KILN_UNARY(name, op) \
  { "aten." name ".default", lower_unary<ScalarOp::op> }
#define KILN_BINARY(target, op, promote) \
  { target, lower_binary<ScalarOp::op, Promote::promote> }
#define KILN_COMPARE(name, op)                        \
  KILN_BINARY("aten." name ".Tensor", op, kOperands), \
      KILN_BINARY("aten." name ".Scalar", op, kOperands)

const LowerEntry kEntries[] = {
    KILN_UNARY("reciprocal", kReciprocal),
    KILN_UNARY("sqrt", kSqrt),
    KILN_UNARY("rsqrt", kRsqrt),
    KILN_UNARY("exp", kExp),
    KILN_UNARY("exp2", kExp2),
    KILN_UNARY("expm1", kExpm1),
    KILN_UNARY("log", kLog),
    KILN_UNARY("log2", kLog2),
    KILN_UNARY("log10", kLog10),
    KILN_UNARY("log1p", kLog1p),
    KILN_UNARY("sin", kSin),
    KILN_UNARY("cos", kCos),
    KILN_UNARY("tan", kTan),
    KILN_UNARY("tanh", kTanh),
    KILN_UNARY("sigmoid", kSigmoid),
    KILN_UNARY("erf", kErf),
    KILN_UNARY("abs", kAbs),
    KILN_UNARY("neg", kNeg),
    KILN_UNARY("sign", kSign),
    KILN_UNARY("floor", kFloor),
    KILN_UNARY("ceil", kCeil),
    KILN_UNARY("round", kRound),
    KILN_UNARY("trunc", kTrunc),
    {"aten.round.decimals", lower_round_decimals},
    {"aten.bitwise_not.default", lower_bitwise_not},
    {"aten.logical_not.default", lower_logical_not},
    {"aten.isnan.default", lower_isnan},
    {"aten.nan_to_num.default", lower_nan_to_num},
    {"aten.relu.default", lower_relu},

    {"aten.add.Tensor", lower_add<1>},
    {"aten.add.Scalar", lower_add<1>},
    {"aten.sub.Tensor", lower_add<-1>},
    {"aten.sub.Scalar", lower_add<-1>},
    {"aten.mul.Tensor", lower_mul},
    {"aten.mul.Scalar", lower_mul},
    {"aten.div.Tensor", lower_div<false>},
    {"aten.div.Scalar", lower_div<false>},
    {"aten.div.Tensor_mode", lower_div<false>},
    {"aten.div.Scalar_mode", lower_div<false>},
    {"aten.floor_divide.default", lower_div<true>},
    {"aten.floor_divide.Scalar", lower_div<true>},
    KILN_BINARY("aten.remainder.Tensor", kMod, kOutput),
    KILN_BINARY("aten.remainder.Scalar", kMod, kOutput),
    KILN_BINARY("aten.fmod.Tensor", kFmod, kOutput),
    KILN_BINARY("aten.fmod.Scalar", kFmod, kOutput),
    KILN_BINARY("aten.pow.Tensor_Tensor", kPow, kOutput),
    KILN_BINARY("aten.pow.Scalar", kPow, kOutput),
    {"aten.pow.Tensor_Scalar", lower_pow_tensor_scalar},
    KILN_COMPARE("eq", kEq),
    KILN_COMPARE("ne", kNe),
    KILN_COMPARE("lt", kLt),
    KILN_COMPARE("le", kLe),
    KILN_COMPARE("gt", kGt),
    KILN_COMPARE("ge", kGe),
    KILN_BINARY("aten.logical_and.default", kAnd, kBool),
    KILN_BINARY("aten.logical_or.default", kOr, kBool),
    KILN_BINARY("aten.logical_xor.default", kXor, kBool),
    KILN_BINARY("aten.bitwise_and.Tensor", kBitAnd, kOutput),
    KILN_BINARY("aten.bitwise_and.Scalar", kBitAnd, kOutput),
    KILN_BINARY("aten.__and__.Tensor", kBitAnd, kOutput),
    KILN_BINARY("aten.bitwise_or.Tensor", kBitOr, kOutput),
    KILN_BINARY("aten.bitwise_or.Scalar", kBitOr, kOutput),
    KILN_BINARY("aten.__or__.Tensor", kBitOr, kOutput),
    KILN_BINARY("aten.bitwise_xor.Tensor", kBitXor, kOutput),
    KILN_BINARY("aten.bitwise_xor.Scalar", kBitXor, kOutput),
    KILN_BINARY("aten.__xor__.Tensor", kBitXor, kOutput),
    KILN_BINARY("aten.maximum.default", kMax, kOutput),
    KILN_BINARY("aten.minimum.default", kMin, kOutput),
    KILN_BINARY("aten.max.other", kMax, kOutput),
    KILN_BINARY("aten.min.other", kMin, kOutput),

    {"aten.addcmul.default", lower_addcmul},
    {"aten.lerp.Scalar", lower_lerp},
    {"aten.clamp.default", lower_clamp},
    {"aten.clamp.Tensor", lower_clamp},
    {"aten.where.self", lower_where},
    {"aten.where.ScalarOther", lower_where},
    {"aten.where.ScalarSelf", lower_where},
    {"aten.where.Scalar", lower_where},

    {"aten.clone.default", lower_cast},
    {"aten._to_copy.default", lower_cast},
};

#undef KILN_UNARY
#undef KILN_BINARY
#undef KILN_COMPARE

}  // namespace

std::vector<LowerEntry> pointwise_lowerings() {
  return {std::begin(kEntries), std::end(kEntries)};
}

}  // namespace kiln::lower
