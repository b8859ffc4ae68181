#include "ops/pointwise_util.h"

#include <cfloat>
#include <cmath>
#include <limits>

namespace kiln::ops::pointwise {
namespace {

std::string sizes_str(const std::vector<sym::Expr>& sizes) {
  std::string s = "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    s += (d ? ", " : "") + sizes[d].str();
  return s + "]";
}

// The C++ type PyTorch's overflow message names.
std::string_view ctype_name(ir::DType t) {
  switch (t) {
    case ir::DType::kBool:
      return "bool";
    case ir::DType::kUInt8:
      return "uint8_t";
    case ir::DType::kInt8:
      return "int8_t";
    case ir::DType::kInt16:
      return "int16_t";
    case ir::DType::kUInt16:
      return "uint16_t";
    case ir::DType::kInt32:
      return "int";
    case ir::DType::kInt64:
      return "int64_t";
    case ir::DType::kFloat16:
      return "c10::Half";
    case ir::DType::kBFloat16:
      return "c10::BFloat16";
    case ir::DType::kFloat32:
      return "float";
    case ir::DType::kFloat64:
      return "double";
    default:
      return ir::dtype_name(t);
  }
}

// The largest finite value of a floating dtype.
double float_max(ir::DType t) {
  switch (t) {
    case ir::DType::kFloat16:
      return 65504.0;
    case ir::DType::kBFloat16:
      return 3.3895313892515355e38;
    case ir::DType::kFloat32:
      return FLT_MAX;
    case ir::DType::kFloat8E4M3FN:
      return 448.0;
    case ir::DType::kFloat8E4M3FNUZ:
      return 240.0;
    case ir::DType::kFloat8E5M2:
    case ir::DType::kFloat8E5M2FNUZ:
      return 57344.0;
    default:
      return DBL_MAX;
  }
}

// [min, max] of an integral dtype.
std::pair<int64_t, int64_t> int_range(ir::DType t) {
  switch (t) {
    case ir::DType::kUInt8:
      return {0, 255};
    case ir::DType::kInt8:
      return {-128, 127};
    case ir::DType::kInt16:
      return {-32768, 32767};
    case ir::DType::kUInt16:
      return {0, 65535};
    case ir::DType::kInt32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

}  // namespace

std::string_view c10_name(ir::DType t) {
  switch (t) {
    case ir::DType::kBool:
      return "Bool";
    case ir::DType::kUInt8:
      return "Byte";
    case ir::DType::kInt8:
      return "Char";
    case ir::DType::kInt16:
      return "Short";
    case ir::DType::kUInt16:
      return "UInt16";
    case ir::DType::kInt32:
      return "Int";
    case ir::DType::kInt64:
      return "Long";
    case ir::DType::kFloat16:
      return "Half";
    case ir::DType::kBFloat16:
      return "BFloat16";
    case ir::DType::kFloat32:
      return "Float";
    case ir::DType::kFloat64:
      return "Double";
    case ir::DType::kComplex32:
      return "ComplexHalf";
    case ir::DType::kComplex64:
      return "ComplexFloat";
    case ir::DType::kComplex128:
      return "ComplexDouble";
    case ir::DType::kFloat8E4M3FN:
      return "Float8_e4m3fn";
    case ir::DType::kFloat8E5M2:
      return "Float8_e5m2";
    case ir::DType::kFloat8E4M3FNUZ:
      return "Float8_e4m3fnuz";
    case ir::DType::kFloat8E5M2FNUZ:
      return "Float8_e5m2fnuz";
    case ir::DType::kUndefined:
      break;
  }
  return "Undefined";
}

bool can_cast(ir::DType from, ir::DType to) {
  auto is_complex = [](ir::DType t) {
    return t == ir::DType::kComplex32 || t == ir::DType::kComplex64 || t == ir::DType::kComplex128;
  };
  if (is_complex(from) && !is_complex(to)) return false;
  if (ir::is_floating(from) && ir::is_integral(to)) return false;
  return from == ir::DType::kBool || to != ir::DType::kBool;
}

void fail_dtype(const Args& a, std::string_view op, ir::DType t) {
  a.fail("\"", op, "\" is not implemented for '", c10_name(t), "'");
}

OperandType operand_type(const Args& a, std::string_view name) {
  OperandType o;
  if (a.is_tensor(name)) {
    const ir::TensorType& t = a.type(name);
    o.dtype = t.dtype;
    o.sizes = t.sizes;
    o.device = t.device;
  } else {
    o.is_number = true;
    o.kind = a.number_kind(name);
  }
  return o;
}

ir::DType result_type(const Args& a, Names names) {
  ResultType rt;
  for (std::string_view name : names) {
    if (a.is_none(name)) continue;
    OperandType o = operand_type(a, name);
    if (o.is_number) {
      Scalar s;
      s.kind = o.kind;
      rt.add_scalar(s);
    } else {
      rt.add_tensor(a.type(name));
    }
  }
  return rt.result();
}

std::vector<sym::Expr> broadcast_all(const Args& a, Names names) {
  std::vector<sym::Expr> sizes;
  for (std::string_view name : names) {
    if (a.is_none(name) || !a.is_tensor(name)) continue;
    sizes = broadcast_shapes(sizes, a.type(name).sizes, a);
  }
  return sizes;
}

std::vector<OutType> elementwise(const Args& a, Names names, ir::DType dtype) {
  ir::Device device;
  for (std::string_view name : names) {
    if (!a.is_none(name) && a.is_tensor(name)) {
      device = a.type(name).device;
      break;
    }
  }
  return {make_type(dtype, broadcast_all(a, names), device)};
}

std::vector<OutType> inplace_result(const Args& a, std::vector<OutType> functional) {
  const ir::TensorType& self = a.type("self");
  const ir::TensorType& result = functional.at(0).tensor;
  if (!can_cast(result.dtype, self.dtype)) {
    a.fail("result type ", c10_name(result.dtype), " can't be cast to the desired output type ",
           c10_name(self.dtype));
  }
  // Unequal symbolic dims were proven equal by the export; a known mismatch, or a size-1 dim
  // of self that the other operands stretch, is an error as in PyTorch.
  bool ok = result.rank() == self.rank();
  for (size_t d = 0; ok && d < self.rank(); ++d) {
    const sym::Expr& s = self.sizes[d];
    const sym::Expr& r = result.sizes[d];
    if (s == r) continue;
    if ((s.is_const() && r.is_const()) || s == sym::Expr(1)) ok = false;
  }
  if (!ok) {
    a.fail("output with shape ", sizes_str(self.sizes), " doesn't match the broadcast shape ",
           sizes_str(result.sizes));
  }
  return {make_type(self.dtype, self.sizes, self.device)};
}

void check_fits(const Args& a, const Scalar& value, ir::DType dtype) {
  bool overflows = false;
  if (value.kind == Scalar::Kind::kBool || dtype == ir::DType::kBool) {
    overflows = false;
  } else if (ir::is_floating(dtype)) {
    double v = value.to_double();
    overflows = std::isfinite(v) && std::fabs(v) > float_max(dtype);
  } else if (ir::is_integral(dtype)) {
    auto [lo, hi] = int_range(dtype);
    if (value.is_floating()) {
      overflows = !(value.f >= static_cast<double>(lo) && value.f <= static_cast<double>(hi));
    } else if (lo == 0) {
      // Negative ints may wrap into unsigned types (two's complement), down to -max.
      overflows = value.i > hi || value.i < -hi;
    } else {
      overflows = value.i < lo || value.i > hi;
    }
  }
  if (overflows) {
    a.fail("value cannot be converted to type ", ctype_name(dtype), " without overflow");
  }
}

void check_clamp_bound(const Args& a, std::string_view which, const Scalar& bound,
                       ir::DType dtype) {
  if (ir::is_floating(dtype)) {
    check_fits(a, bound, dtype);
    return;
  }
  if (!ir::is_integral(dtype) || bound.is_floating()) return;
  auto [lo, hi] = int_range(dtype);
  if (which == "min" ? bound.i > hi : bound.i < lo) {
    a.fail("Clamp ", which, " value ", bound.i, " is outside the representable range of ",
           c10_name(dtype));
  }
}

OperandValue operand_value(const Args& a, std::string_view name) {
  if (a.is_tensor(name)) return a.tensor(name);
  auto s = a.known_scalar(name);
  if (!s) a.fail("argument '", name, "' has no known value");
  ir::DType dtype = s->kind == Scalar::Kind::kBool    ? ir::DType::kBool
                    : s->kind == Scalar::Kind::kFloat ? ir::DType::kFloat64
                                                      : ir::DType::kInt64;
  ref::Tensor t(dtype, {});
  if (s->is_floating()) {
    t.set(0, s->f);
  } else {
    t.set_int(0, s->i);
  }
  return OperandValue(std::move(t));
}

Num load(const ref::Tensor& t, int64_t index, ir::DType as) {
  if (ir::is_floating(as)) return Num::of(ref::round_to_dtype(as, t.get(index)));
  if (as == ir::DType::kBool) return Num::of_int(t.get(index) != 0);
  return Num::of_int(ref::wrap_to_dtype(as, t.get_int(index)));
}

}  // namespace kiln::ops::pointwise
