// Scalar printing for CPU kernels. Float arithmetic prints as C++ operators and <cmath> calls;
// everything where C++ and PyTorch disagree (integer wrap-around, division, NaN handling,
// casts) goes through the helpers of runtime/kernel_support.h, namespace kern.

#include "codegen/cpu/scalar_printer.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "util/error.h"
#include "util/float_formats.h"

namespace kiln::codegen::cpu::detail {
namespace {

using ir::DType;
using lower::ScalarNode;
using lower::ScalarOp;

bool is_int(DType t) {
  return ir::is_integral(t);
}

std::string shortest(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string shortest(float v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// "1" -> "1.0": a literal that stays floating.
std::string with_point(std::string s) {
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string call(std::string_view fn, const std::string& a) {
  std::string s(fn);
  s += '(';
  s += a;
  s += ')';
  return s;
}

std::string call(std::string_view fn, const std::string& a, const std::string& b) {
  std::string s(fn);
  s += '(';
  s += a;
  s += ", ";
  s += b;
  s += ')';
  return s;
}

std::string infix(const std::string& a, std::string_view op, const std::string& b) {
  std::string s = a;
  s += ' ';
  s += op;
  s += ' ';
  s += b;
  return s;
}

// A value of type `dtype` ("1.0f" for float compute types, "1.0" for double).
std::string one(DType dtype) {
  return dtype == DType::kFloat64 ? "1.0" : "1.0f";
}

[[noreturn]] void unsupported(const ScalarNode& n, const std::string& where) {
  throw error(where, ": ", op_name(n.op), " is not defined for dtype ", ir::dtype_name(n.dtype));
}

// Float-only math: `fn(a)` for float dtypes.
std::string float_unary(std::string_view fn, const ScalarNode& n, const Operands& o,
                        const std::string& where) {
  if (!is_float(n.dtype)) unsupported(n, where);
  return call(fn, o.a);
}

std::string float_binary(std::string_view fn, const ScalarNode& n, const Operands& o,
                         const std::string& where) {
  if (!is_float(n.dtype)) unsupported(n, where);
  return call(fn, o.a, o.b);
}

std::string unary_expr(const ScalarNode& n, const Operands& o, const std::string& where) {
  const bool fl = is_float(n.dtype);
  const bool boolean = n.dtype == DType::kBool;
  switch (n.op) {
    case ScalarOp::kNeg:
      if (boolean) unsupported(n, where);
      return fl ? "-" + o.a : call("kern::neg", o.a);
    case ScalarOp::kAbs:
      return fl ? call("std::fabs", o.a) : call("kern::abs", o.a);
    case ScalarOp::kNot:
      return "!" + o.a;
    case ScalarOp::kBitNot:
      if (fl) unsupported(n, where);
      if (boolean) return "!" + o.a;
      return "static_cast<" + std::string(compute_ctype(n.dtype)) + ">(~" + o.a + ")";
    case ScalarOp::kSign:
      return call("kern::sign", o.a);
    case ScalarOp::kExp:
      return float_unary("kern::exp", n, o, where);
    case ScalarOp::kExp2:
      return float_unary("std::exp2", n, o, where);
    case ScalarOp::kExpm1:
      return float_unary("std::expm1", n, o, where);
    case ScalarOp::kLog:
      return float_unary("std::log", n, o, where);
    case ScalarOp::kLog2:
      return float_unary("std::log2", n, o, where);
    case ScalarOp::kLog10:
      return float_unary("std::log10", n, o, where);
    case ScalarOp::kLog1p:
      return float_unary("std::log1p", n, o, where);
    case ScalarOp::kSqrt:
      return float_unary("std::sqrt", n, o, where);
    case ScalarOp::kRsqrt:
      return one(n.dtype) + " / " + float_unary("std::sqrt", n, o, where);
    case ScalarOp::kReciprocal:
      if (!fl) unsupported(n, where);
      return one(n.dtype) + " / " + o.a;
    case ScalarOp::kSin:
      return float_unary("std::sin", n, o, where);
    case ScalarOp::kCos:
      return float_unary("std::cos", n, o, where);
    case ScalarOp::kTan:
      return float_unary("std::tan", n, o, where);
    case ScalarOp::kAsin:
      return float_unary("std::asin", n, o, where);
    case ScalarOp::kAcos:
      return float_unary("std::acos", n, o, where);
    case ScalarOp::kAtan:
      return float_unary("std::atan", n, o, where);
    case ScalarOp::kSinh:
      return float_unary("std::sinh", n, o, where);
    case ScalarOp::kCosh:
      return float_unary("std::cosh", n, o, where);
    case ScalarOp::kTanh:
      return float_unary("kern::tanh", n, o, where);
    case ScalarOp::kAsinh:
      return float_unary("std::asinh", n, o, where);
    case ScalarOp::kAcosh:
      return float_unary("std::acosh", n, o, where);
    case ScalarOp::kAtanh:
      return float_unary("std::atanh", n, o, where);
    case ScalarOp::kErf:
      return float_unary("kern::erf", n, o, where);
    case ScalarOp::kErfc:
      return float_unary("std::erfc", n, o, where);
    case ScalarOp::kErfinv:
      return float_unary("kern::erfinv", n, o, where);
    case ScalarOp::kSigmoid:
      return float_unary("kern::sigmoid", n, o, where);
    // Rounding keeps integers as they are.
    case ScalarOp::kFloor:
      return fl ? call("kern::floor", o.a) : o.a;
    case ScalarOp::kCeil:
      return fl ? call("kern::ceil", o.a) : o.a;
    case ScalarOp::kRound:
      return fl ? call("kern::round_half_even", o.a) : o.a;
    case ScalarOp::kTrunc:
      return fl ? call("kern::trunc", o.a) : o.a;
    case ScalarOp::kFrac:
      if (!fl) unsupported(n, where);
      return o.a + " - " + call("kern::trunc", o.a);
    case ScalarOp::kIsNan:
      return call("kern::isnan", o.a);
    case ScalarOp::kIsInf:
      return call("kern::isinf", o.a);
    case ScalarOp::kIsFinite:
      return call("kern::isfinite", o.a);
    case ScalarOp::kSignbit:
      return call("kern::signbit", o.a);
    default:
      break;
  }
  throw error(where, ": ", op_name(n.op), " is not a unary op");
}

std::string binary_expr(const ScalarNode& n, const Operands& o, const std::string& where) {
  const bool fl = is_float(n.dtype);
  const bool boolean = n.dtype == DType::kBool;
  const std::string ct(compute_ctype(n.dtype));
  switch (n.op) {
    case ScalarOp::kAdd:
      return fl ? infix(o.a, "+", o.b) : call("kern::add", o.a, o.b);
    case ScalarOp::kSub:
      if (boolean) unsupported(n, where);
      return fl ? infix(o.a, "-", o.b) : call("kern::sub", o.a, o.b);
    case ScalarOp::kMul:
      return fl ? infix(o.a, "*", o.b) : call("kern::mul", o.a, o.b);
    case ScalarOp::kDiv:
      if (boolean) unsupported(n, where);
      return fl ? infix(o.a, "/", o.b) : call("kern::div_trunc", o.a, o.b);
    case ScalarOp::kFloorDiv:
      if (boolean) unsupported(n, where);
      return call("kern::floordiv", o.a, o.b);
    case ScalarOp::kMod:
      if (boolean) unsupported(n, where);
      return call("kern::mod", o.a, o.b);
    case ScalarOp::kFmod:
      if (boolean) unsupported(n, where);
      return fl ? call("std::fmod", o.a, o.b) : call("kern::fmod", o.a, o.b);
    case ScalarOp::kPow:
      if (boolean) unsupported(n, where);
      return fl ? call("std::pow", o.a, o.b) : call("kern::pow", o.a, o.b);
    case ScalarOp::kAtan2:
      return float_binary("std::atan2", n, o, where);
    case ScalarOp::kHypot:
      return float_binary("std::hypot", n, o, where);
    case ScalarOp::kCopysign:
      return float_binary("std::copysign", n, o, where);
    case ScalarOp::kNextafter:
      return float_binary("std::nextafter", n, o, where);
    case ScalarOp::kMax:
      return call("kern::maximum", o.a, o.b);
    case ScalarOp::kMin:
      return call("kern::minimum", o.a, o.b);
    case ScalarOp::kEq:
      return infix(o.a, "==", o.b);
    case ScalarOp::kNe:
      return infix(o.a, "!=", o.b);
    case ScalarOp::kLt:
      return infix(o.a, "<", o.b);
    case ScalarOp::kLe:
      return infix(o.a, "<=", o.b);
    case ScalarOp::kGt:
      return infix(o.a, ">", o.b);
    case ScalarOp::kGe:
      return infix(o.a, ">=", o.b);
    case ScalarOp::kAnd:
      return infix(o.a, "&&", o.b);
    case ScalarOp::kOr:
      return infix(o.a, "||", o.b);
    case ScalarOp::kXor:
      return infix(o.a, "!=", o.b);
    case ScalarOp::kBitAnd:
      if (fl) unsupported(n, where);
      return "static_cast<" + ct + ">(" + infix(o.a, "&", o.b) + ")";
    case ScalarOp::kBitOr:
      if (fl) unsupported(n, where);
      return "static_cast<" + ct + ">(" + infix(o.a, "|", o.b) + ")";
    case ScalarOp::kBitXor:
      if (fl) unsupported(n, where);
      return "static_cast<" + ct + ">(" + infix(o.a, "^", o.b) + ")";
    case ScalarOp::kShl:
      if (!is_int(n.dtype)) unsupported(n, where);
      return call("kern::shl", o.a, o.b);
    case ScalarOp::kShr:
      if (!is_int(n.dtype)) unsupported(n, where);
      return call("kern::shr", o.a, o.b);
    default:
      break;
  }
  throw error(where, ": ", op_name(n.op), " is not a binary op");
}

bool is_comparison(ScalarOp op) {
  return op == ScalarOp::kEq || op == ScalarOp::kNe || op == ScalarOp::kLt || op == ScalarOp::kLe ||
         op == ScalarOp::kGt || op == ScalarOp::kGe;
}

bool is_logic(ScalarOp op) {
  return op == ScalarOp::kAnd || op == ScalarOp::kOr || op == ScalarOp::kXor;
}

bool is_classification(ScalarOp op) {
  return op == ScalarOp::kIsNan || op == ScalarOp::kIsInf || op == ScalarOp::kIsFinite ||
         op == ScalarOp::kSignbit;
}

bool is_unary(ScalarOp op) {
  return op >= ScalarOp::kNeg && op <= ScalarOp::kSignbit;
}

bool is_binary(ScalarOp op) {
  return op >= ScalarOp::kAdd && op <= ScalarOp::kShr;
}

}  // namespace

std::string_view compute_ctype(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "bool";
    case DType::kUInt8:
      return "uint8_t";
    case DType::kInt8:
      return "int8_t";
    case DType::kInt16:
      return "int16_t";
    case DType::kUInt16:
      return "uint16_t";
    case DType::kInt32:
      return "int32_t";
    case DType::kInt64:
      return "int64_t";
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kFloat32:
      return "float";
    case DType::kFloat64:
      return "double";
    default:
      break;
  }
  throw error("dtype ", ir::dtype_name(dtype), " is not supported by CPU kernels");
}

std::string_view storage_ctype(DType dtype) {
  if (is_narrow_float(dtype)) return "uint16_t";
  return compute_ctype(dtype);
}

bool is_narrow_float(DType dtype) {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

bool is_float(DType dtype) {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16 || dtype == DType::kFloat32 ||
         dtype == DType::kFloat64;
}

std::string float_literal(double value, DType dtype) {
  if (!is_float(dtype)) throw error("a float literal of dtype ", ir::dtype_name(dtype));
  const bool f64 = dtype == DType::kFloat64;
  if (is_narrow_float(dtype)) value = util::round_to_float_format(dtype, value);
  const std::string limits = f64 ? "std::numeric_limits<double>::" : "std::numeric_limits<float>::";
  if (std::isnan(value)) return limits + "quiet_NaN()";
  if (std::isinf(value)) return (value < 0 ? "-" : "") + limits + "infinity()";
  if (f64) return with_point(shortest(value));
  const float f = static_cast<float>(value);
  if (std::isinf(f)) return (f < 0 ? "-" : "") + limits + "infinity()";
  return with_point(shortest(f)) + "f";
}

std::string int_literal(int64_t value, DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return value != 0 ? "true" : "false";
    case DType::kUInt8:
      return std::to_string(static_cast<uint8_t>(value));
    case DType::kInt8:
      return std::to_string(static_cast<int8_t>(value));
    case DType::kInt16:
      return std::to_string(static_cast<int16_t>(value));
    case DType::kUInt16:
      return std::to_string(static_cast<uint16_t>(value));
    case DType::kInt32: {
      const auto v = static_cast<int32_t>(value);
      return v == std::numeric_limits<int32_t>::min() ? "(-2147483647 - 1)" : std::to_string(v);
    }
    case DType::kInt64:
      return value == std::numeric_limits<int64_t>::min() ? "(-9223372036854775807LL - 1)"
                                                          : std::to_string(value);
    default:
      break;
  }
  if (is_float(dtype)) return float_literal(static_cast<double>(value), dtype);
  throw error("an integer literal of dtype ", ir::dtype_name(dtype));
}

std::string convert(const std::string& expr, DType from, DType to) {
  if (from == to) return expr;
  compute_ctype(from);  // rejects unsupported dtypes
  if (is_narrow_float(to)) {
    // Round through float: doubles round twice, as c10::Half(double) does.
    std::string f = compute_ctype(from) == "float" ? expr : convert(expr, from, DType::kFloat32);
    return call(to == DType::kFloat16 ? "kern::round_f16" : "kern::round_bf16", f);
  }
  if (compute_ctype(from) == compute_ctype(to)) return expr;  // f16/bf16 held as float -> f32
  return "kern::cast<" + std::string(compute_ctype(to)) + ">(" + expr + ")";
}

std::string load_value(const std::string& element, DType buffer_dtype, DType to) {
  if (buffer_dtype == DType::kFloat16) {
    return convert(call("kern::f16_to_f32", element), DType::kFloat16, to);
  }
  if (buffer_dtype == DType::kBFloat16) {
    return convert(call("kern::bf16_to_f32", element), DType::kBFloat16, to);
  }
  if (buffer_dtype == DType::kBool) {
    // A bool read as a byte compared with zero: GCC vectorizes a comparison, not a bool load.
    return convert("(reinterpret_cast<const uint8_t&>(" + element + ") != 0)", DType::kBool, to);
  }
  return convert(element, buffer_dtype, to);
}

std::string store_value(const std::string& expr, DType from, DType buffer_dtype) {
  if (buffer_dtype == DType::kFloat16 || buffer_dtype == DType::kBFloat16) {
    // f16 values held as float are already exact; others round in the conversion.
    const std::string f =
        compute_ctype(from) == "float" ? expr : convert(expr, from, DType::kFloat32);
    return call(buffer_dtype == DType::kFloat16 ? "kern::f32_to_f16" : "kern::f32_to_bf16", f);
  }
  return convert(expr, from, buffer_dtype);
}

DType operand_dtype(const ScalarNode& n, DType a_dtype, DType b_dtype) {
  if (is_comparison(n.op)) {
    // Compare in the wider of the two when they differ (lowering normally casts first).
    if (a_dtype == b_dtype) return a_dtype;
    if (is_float(a_dtype) != is_float(b_dtype)) return is_float(a_dtype) ? a_dtype : b_dtype;
    return ir::dtype_size(a_dtype) >= ir::dtype_size(b_dtype) ? a_dtype : b_dtype;
  }
  if (is_logic(n.op) || n.op == ScalarOp::kNot) return DType::kBool;
  if (is_classification(n.op)) return DType::kUndefined;
  if (n.op == ScalarOp::kWhere) return n.dtype;  // b and c; a is the condition
  if (is_unary(n.op) || is_binary(n.op)) {
    // f16/bf16 nodes compute in float and round their result.
    return is_narrow_float(n.dtype) ? DType::kFloat32 : n.dtype;
  }
  return DType::kUndefined;
}

std::string node_expr(const ScalarNode& n, const Operands& o, const std::string& where) {
  std::string e;
  if (n.op == ScalarOp::kWhere) {
    e = o.a + " ? " + o.b + " : " + o.c;
  } else if (is_unary(n.op)) {
    // Math on f16/bf16 nodes runs in float.
    ScalarNode m = n;
    if (is_narrow_float(n.dtype) && !is_classification(n.op) && n.op != ScalarOp::kNot) {
      m.dtype = DType::kFloat32;
    }
    e = unary_expr(m, o, where);
  } else if (is_binary(n.op)) {
    ScalarNode m = n;
    if (is_narrow_float(n.dtype)) m.dtype = DType::kFloat32;
    if (is_comparison(n.op) || is_logic(n.op)) m.dtype = o.a_dtype;
    e = binary_expr(m, o, where);
  } else {
    throw error(where, ": ", op_name(n.op), " has no scalar expression");
  }
  if (is_narrow_float(n.dtype) && n.op != ScalarOp::kWhere) {
    e = call(n.dtype == DType::kFloat16 ? "kern::round_f16" : "kern::round_bf16", e);
  }
  return e;
}

bool divides_integers(const ScalarNode& n) {
  const bool div = n.op == ScalarOp::kDiv || n.op == ScalarOp::kFloorDiv ||
                   n.op == ScalarOp::kMod || n.op == ScalarOp::kFmod;
  return div && is_int(n.dtype);
}

std::string_view op_name(ScalarOp op) {
  switch (op) {
    // clang-format off
    case ScalarOp::kLoad: return "load";
    case ScalarOp::kConst: return "const";
    case ScalarOp::kIndex: return "index";
    case ScalarOp::kCast: return "cast";
    case ScalarOp::kIndirect: return "indirect";
    case ScalarOp::kLoopResult: return "loop_result";
    case ScalarOp::kLoopIndex: return "loop_index";
    case ScalarOp::kNeg: return "neg";
    case ScalarOp::kAbs: return "abs";
    case ScalarOp::kNot: return "not";
    case ScalarOp::kBitNot: return "bitwise_not";
    case ScalarOp::kSign: return "sign";
    case ScalarOp::kExp: return "exp";
    case ScalarOp::kExp2: return "exp2";
    case ScalarOp::kExpm1: return "expm1";
    case ScalarOp::kLog: return "log";
    case ScalarOp::kLog2: return "log2";
    case ScalarOp::kLog10: return "log10";
    case ScalarOp::kLog1p: return "log1p";
    case ScalarOp::kSqrt: return "sqrt";
    case ScalarOp::kRsqrt: return "rsqrt";
    case ScalarOp::kReciprocal: return "reciprocal";
    case ScalarOp::kSin: return "sin";
    case ScalarOp::kCos: return "cos";
    case ScalarOp::kTan: return "tan";
    case ScalarOp::kAsin: return "asin";
    case ScalarOp::kAcos: return "acos";
    case ScalarOp::kAtan: return "atan";
    case ScalarOp::kSinh: return "sinh";
    case ScalarOp::kCosh: return "cosh";
    case ScalarOp::kTanh: return "tanh";
    case ScalarOp::kAsinh: return "asinh";
    case ScalarOp::kAcosh: return "acosh";
    case ScalarOp::kAtanh: return "atanh";
    case ScalarOp::kErf: return "erf";
    case ScalarOp::kErfc: return "erfc";
    case ScalarOp::kErfinv: return "erfinv";
    case ScalarOp::kSigmoid: return "sigmoid";
    case ScalarOp::kFloor: return "floor";
    case ScalarOp::kCeil: return "ceil";
    case ScalarOp::kRound: return "round";
    case ScalarOp::kTrunc: return "trunc";
    case ScalarOp::kFrac: return "frac";
    case ScalarOp::kIsNan: return "isnan";
    case ScalarOp::kIsInf: return "isinf";
    case ScalarOp::kIsFinite: return "isfinite";
    case ScalarOp::kSignbit: return "signbit";
    case ScalarOp::kAdd: return "add";
    case ScalarOp::kSub: return "sub";
    case ScalarOp::kMul: return "mul";
    case ScalarOp::kDiv: return "div";
    case ScalarOp::kFloorDiv: return "floor_div";
    case ScalarOp::kMod: return "mod";
    case ScalarOp::kFmod: return "fmod";
    case ScalarOp::kPow: return "pow";
    case ScalarOp::kAtan2: return "atan2";
    case ScalarOp::kHypot: return "hypot";
    case ScalarOp::kCopysign: return "copysign";
    case ScalarOp::kNextafter: return "nextafter";
    case ScalarOp::kMax: return "maximum";
    case ScalarOp::kMin: return "minimum";
    case ScalarOp::kEq: return "eq";
    case ScalarOp::kNe: return "ne";
    case ScalarOp::kLt: return "lt";
    case ScalarOp::kLe: return "le";
    case ScalarOp::kGt: return "gt";
    case ScalarOp::kGe: return "ge";
    case ScalarOp::kAnd: return "logical_and";
    case ScalarOp::kOr: return "logical_or";
    case ScalarOp::kXor: return "logical_xor";
    case ScalarOp::kBitAnd: return "bitwise_and";
    case ScalarOp::kBitOr: return "bitwise_or";
    case ScalarOp::kBitXor: return "bitwise_xor";
    case ScalarOp::kShl: return "shift_left";
    case ScalarOp::kShr: return "shift_right";
    case ScalarOp::kWhere: return "where";
      // clang-format on
  }
  return "?";
}

}  // namespace kiln::codegen::cpu::detail
