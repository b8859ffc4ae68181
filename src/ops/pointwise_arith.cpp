// Elementwise arithmetic: add, sub, rsub, mul, the divisions, remainder, fmod, pow, addcmul and
// lerp. Operands are promoted with torch.result_type and cast to it before computing; integer
// results wrap as two's complement.
#include <cmath>
#include <string>

#include "ops/pointwise_util.h"

namespace kiln::ops::pointwise {
namespace {

using ir::DType;

bool is_bool_operand(const Args& a, std::string_view name) {
  OperandType o = operand_type(a, name);
  return o.is_number ? o.kind == Scalar::Kind::kBool : o.dtype == DType::kBool;
}

// ---- add, sub, rsub ------------------------------------------------------------------------

void check_alpha(const Args& a, DType result) {
  Scalar::Kind k = a.number_kind("alpha");
  if (k == Scalar::Kind::kBool && result != DType::kBool) {
    a.fail("Boolean alpha only supported for Boolean results.");
  }
  if (k == Scalar::Kind::kFloat && !ir::is_floating(result)) {
    a.fail("For integral input tensors, argument alpha must not be a floating point number.");
  }
}

std::vector<OutType> add_shape(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  check_alpha(a, t);
  return elementwise(a, {"self", "other"}, t);
}

std::vector<OutType> sub_shape(const Args& a) {
  bool x = is_bool_operand(a, "self");
  bool y = is_bool_operand(a, "other");
  if (x && y) {
    a.fail(
        "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
        "`logical_xor()` operator instead.");
  }
  if (x || y) {
    a.fail(
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
        "to invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return add_shape(a);
}

// x + alpha * y (Sign 1) or x - alpha * y (Sign -1); rsub swaps self and other.
template <int Sign, bool Reverse>
std::vector<ref::RValue> add_ref(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  Scalar alpha = a.scalar("alpha");
  double alpha_f = Sign * alpha.to_double();
  return map_binary(a, Reverse ? "other" : "self", Reverse ? "self" : "other", t,
                    [&](Num x, Num y) {
                      if (x.real) return Num::of(x.f + alpha_f * y.f);
                      // bool: alpha acts as true, so the sum is x || y
                      if (t == DType::kBool) return Num::of_int(x.i || (alpha.i != 0 && y.i));
                      int64_t ay = wrap_mul(alpha.i, y.i);
                      return Num::of_int(Sign > 0 ? wrap_add(x.i, ay) : wrap_sub(x.i, ay));
                    });
}

// ---- mul, div ------------------------------------------------------------------------------

std::vector<OutType> mul_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, result_type(a, {"self", "other"}));
}

// For half and bfloat16 results, PyTorch's CPU kernels for mul and div read a scalar `other`
// (a number or a 0-dim tensor) in float32 rather than rounding it to the result dtype.
DType other_dtype(const Args& a, DType compute) {
  if (compute != DType::kFloat16 && compute != DType::kBFloat16) return compute;
  OperandType o = operand_type(a, "other");
  return o.is_number || o.sizes.empty() ? DType::kFloat32 : compute;
}

template <typename Fn>
std::vector<ref::RValue> scalar_other_binary(const Args& a, DType compute, Fn fn) {
  return ref::single_result(map_elements<2>(
      a, {operand_value(a, "self"), operand_value(a, "other")}, {compute, other_dtype(a, compute)},
      [&](const std::array<Num, 2>& v) { return fn(v[0], v[1]); }));
}

std::vector<ref::RValue> mul_ref(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  return scalar_other_binary(a, t, [](Num x, Num y) {
    return x.real ? Num::of(x.f * y.f) : Num::of_int(wrap_mul(x.i, y.i));
  });
}

enum class Rounding { kNone, kTrunc, kFloor };

Rounding rounding_mode(const Args& a) {
  if (a.schema().index_of("rounding_mode") < 0) return Rounding::kNone;
  auto mode = a.optional_str("rounding_mode");
  if (!mode) return Rounding::kNone;
  if (*mode == "trunc") return Rounding::kTrunc;
  if (*mode == "floor") return Rounding::kFloor;
  a.fail("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '", *mode,
         "'");
}

DType div_dtype(const Args& a, Rounding mode) {
  DType t = result_type(a, {"self", "other"});
  if (mode == Rounding::kNone) return to_floating(t);
  if (t == DType::kBool) fail_dtype(a, mode == Rounding::kTrunc ? "div_trunc" : "div_floor", t);
  return t;
}

std::vector<OutType> div_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, div_dtype(a, rounding_mode(a)));
}

std::vector<OutType> floor_divide_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, div_dtype(a, Rounding::kFloor));
}

// c10's div_floor_floating: floor(x / y) computed so that x == y * q + fmod(x, y) holds.
double floor_div(double x, double y) {
  if (y == 0) return x / y;
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0 && (y < 0) != (mod < 0)) div -= 1;
  if (div == 0) return std::copysign(0.0, x / y);
  double q = std::floor(div);
  if (div - q > 0.5) q += 1;
  return q;
}

// Integer division by zero is an error in PyTorch; INT_MIN / -1 wraps.
int64_t int_div(const Args& a, int64_t x, int64_t y, Rounding mode) {
  if (y == 0) a.fail("ZeroDivisionError");
  if (y == -1) return wrap_sub(0, x);
  int64_t q = x / y;
  if (mode == Rounding::kFloor && x % y != 0 && (x < 0) != (y < 0)) --q;
  return q;
}

std::vector<ref::RValue> div_with(const Args& a, Rounding mode) {
  DType t = div_dtype(a, mode);
  return scalar_other_binary(a, t, [&](Num x, Num y) {
    if (!x.real) return Num::of_int(int_div(a, x.i, y.i, mode));
    switch (mode) {
      case Rounding::kTrunc:
        return Num::of(std::trunc(x.f / y.f));
      case Rounding::kFloor:
        return Num::of(floor_div(x.f, y.f));
      case Rounding::kNone:
        break;
    }
    return Num::of(x.f / y.f);
  });
}

std::vector<ref::RValue> div_ref(const Args& a) {
  return div_with(a, rounding_mode(a));
}
std::vector<ref::RValue> floor_divide_ref(const Args& a) {
  return div_with(a, Rounding::kFloor);
}

// ---- remainder, fmod -----------------------------------------------------------------------

template <const char* Name>
std::vector<OutType> modulo_shape(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  if (t == DType::kBool) fail_dtype(a, Name, t);
  return elementwise(a, {"self", "other"}, t);
}

// Python's %: the result takes the divisor's sign.
std::vector<ref::RValue> remainder_ref(const Args& a) {
  return map_binary(a, "self", "other", result_type(a, {"self", "other"}), [&](Num x, Num y) {
    if (x.real) {
      double m = std::fmod(x.f, y.f);
      if (m != 0 && (y.f < 0) != (m < 0)) m += y.f;
      return Num::of(m);
    }
    if (y.i == 0) a.fail("ZeroDivisionError");
    if (y.i == -1) return Num::of_int(0);
    int64_t r = x.i % y.i;
    if (r != 0 && (r < 0) != (y.i < 0)) r += y.i;
    return Num::of_int(r);
  });
}

// C's fmod: the result takes the dividend's sign.
std::vector<ref::RValue> fmod_ref(const Args& a) {
  return map_binary(a, "self", "other", result_type(a, {"self", "other"}), [&](Num x, Num y) {
    if (x.real) return Num::of(std::fmod(x.f, y.f));
    if (y.i == 0) a.fail("ZeroDivisionError");
    return Num::of_int(y.i == -1 ? 0 : x.i % y.i);
  });
}

constexpr char kRemainder[] = "remainder";
constexpr char kFmod[] = "fmod";

// ---- pow -----------------------------------------------------------------------------------

// c10's powi: negative exponents give 0 except for bases 1 and -1.
int64_t powi(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 1) return 1;
    if (base == -1) return exp % 2 != 0 ? -1 : 1;
    return 0;
  }
  int64_t r = 1;
  while (exp != 0) {
    if (exp & 1) r = wrap_mul(r, base);
    exp /= 2;
    base = wrap_mul(base, base);
  }
  return r;
}

std::vector<OutType> pow_shape(const Args& a) {
  DType t = result_type(a, {"self", "exponent"});
  if (t == DType::kBool) fail_dtype(a, "pow", t);
  return elementwise(a, {"self", "exponent"}, t);
}

std::vector<OutType> pow_tensor_scalar_shape(const Args& a) {
  DType t = result_type(a, {"self", "exponent"});
  auto e = a.known_scalar("exponent");
  if (!ir::is_floating(t) && e && e->kind == Scalar::Kind::kInt && e->i < 0) {
    a.fail("Integers to negative integer powers are not allowed.");
  }
  return elementwise(a, {"self", "exponent"}, t);
}

std::vector<ref::RValue> pow_ref(const Args& a) {
  DType t = result_type(a, {"self", "exponent"});
  return map_binary(a, "self", "exponent", t, [](Num x, Num y) {
    return x.real ? Num::of(std::pow(x.f, y.f)) : Num::of_int(powi(x.i, y.i));
  });
}

// The exponent is cast to the result dtype. Except for half, PyTorch takes sqrt, rsqrt,
// reciprocal and products for these exponents, which differ from std::pow at -0 and -inf.
std::vector<ref::RValue> pow_tensor_scalar_ref(const Args& a) {
  DType t = result_type(a, {"self", "exponent"});
  Num e = load(operand_value(a, "exponent").get(), 0, t);
  bool special = t != DType::kFloat16;
  return map_unary(a, t, [&](Num x) {
    if (!x.real) return Num::of_int(powi(x.i, e.i));
    double v = x.f;
    if (special) {
      if (e.f == 0.5) return Num::of(std::sqrt(v));
      if (e.f == -0.5) return Num::of(1 / std::sqrt(v));
      if (e.f == 2) return Num::of(v * v);
      if (e.f == 3) return Num::of(v * v * v);
      if (e.f == -1) return Num::of(1 / v);
      if (e.f == -2) return Num::of(1 / (v * v));
    }
    return Num::of(std::pow(v, e.f));
  });
}

// ---- addcmul, lerp -------------------------------------------------------------------------

std::vector<OutType> addcmul_shape(const Args& a) {
  DType t = result_type(a, {"self", "tensor1", "tensor2"});
  if (t == DType::kBool) fail_dtype(a, "addcmul", t);
  return elementwise(a, {"self", "tensor1", "tensor2"}, t);
}

// self + value * tensor1 * tensor2, value cast to the result dtype (2.5 is 2 for ints).
std::vector<ref::RValue> addcmul_ref(const Args& a) {
  DType t = result_type(a, {"self", "tensor1", "tensor2"});
  Scalar value = a.scalar("value");
  int64_t value_i = value.is_floating() ? static_cast<int64_t>(value.f) : value.i;
  return ref::single_result(map_elements<3>(
      a, {operand_value(a, "self"), operand_value(a, "tensor1"), operand_value(a, "tensor2")},
      {t, t, t}, [&](const std::array<Num, 3>& v) {
        if (v[0].real) return Num::of(v[0].f + value.to_double() * v[1].f * v[2].f);
        return Num::of_int(wrap_add(v[0].i, wrap_mul(wrap_mul(value_i, v[1].i), v[2].i)));
      }));
}

std::vector<OutType> lerp_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (!ir::is_floating(self.dtype)) fail_dtype(a, "lerp_kernel_scalar", self.dtype);
  OperandType end = operand_type(a, "end");
  if (!end.is_number && end.dtype != self.dtype) {
    a.fail("expected dtype ", c10_name(self.dtype), " for `end` but got dtype ",
           c10_name(end.dtype));
  }
  return elementwise(a, {"self", "end"}, self.dtype);
}

// PyTorch's two-sided form, exact at weight 0 and 1.
std::vector<ref::RValue> lerp_ref(const Args& a) {
  double w = a.to_double("weight");
  return map_binary(a, "self", "end", a.type("self").dtype, [&](Num x, Num y) {
    return Num::of(std::fabs(w) < 0.5 ? x.f + w * (y.f - x.f) : y.f - (y.f - x.f) * (1 - w));
  });
}

const OpDef kOps[] = {
    {"aten.add.Tensor", "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
     add_shape, add_ref<1, false>},
    {"aten.add.Scalar", "add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
     add_shape, add_ref<1, false>},
    {"aten.add_.Tensor",
     "add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
     inplace<add_shape>, add_ref<1, false>, "aten.add.Tensor"},
    {"aten.add_.Scalar", "add_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)",
     inplace<add_shape>, add_ref<1, false>, "aten.add.Scalar"},
    {"aten.sub.Tensor", "sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
     sub_shape, add_ref<-1, false>},
    {"aten.sub.Scalar", "sub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
     sub_shape, add_ref<-1, false>},
    {"aten.sub_.Tensor",
     "sub_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
     inplace<sub_shape>, add_ref<-1, false>, "aten.sub.Tensor"},
    {"aten.sub_.Scalar", "sub_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)",
     inplace<sub_shape>, add_ref<-1, false>, "aten.sub.Scalar"},
    {"aten.rsub.Tensor", "rsub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
     sub_shape, add_ref<-1, true>},
    {"aten.rsub.Scalar", "rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
     sub_shape, add_ref<-1, true>},
    {"aten.mul.Tensor", "mul.Tensor(Tensor self, Tensor other) -> Tensor", mul_shape, mul_ref},
    {"aten.mul.Scalar", "mul.Scalar(Tensor self, Scalar other) -> Tensor", mul_shape, mul_ref},
    {"aten.mul_.Tensor", "mul_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)",
     inplace<mul_shape>, mul_ref, "aten.mul.Tensor"},
    {"aten.mul_.Scalar", "mul_.Scalar(Tensor(a!) self, Scalar other) -> Tensor(a!)",
     inplace<mul_shape>, mul_ref, "aten.mul.Scalar"},
    {"aten.div.Tensor", "div.Tensor(Tensor self, Tensor other) -> Tensor", div_shape, div_ref},
    {"aten.div.Scalar", "div.Scalar(Tensor self, Scalar other) -> Tensor", div_shape, div_ref},
    {"aten.div.Tensor_mode",
     "div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor", div_shape,
     div_ref},
    {"aten.div.Scalar_mode",
     "div.Scalar_mode(Tensor self, Scalar other, *, str? rounding_mode) -> Tensor", div_shape,
     div_ref},
    {"aten.div_.Tensor", "div_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)",
     inplace<div_shape>, div_ref, "aten.div.Tensor"},
    {"aten.div_.Scalar", "div_.Scalar(Tensor(a!) self, Scalar other) -> Tensor(a!)",
     inplace<div_shape>, div_ref, "aten.div.Scalar"},
    {"aten.div_.Tensor_mode",
     "div_.Tensor_mode(Tensor(a!) self, Tensor other, *, str? rounding_mode) -> Tensor(a!)",
     inplace<div_shape>, div_ref, "aten.div.Tensor_mode"},
    {"aten.floor_divide.default", "floor_divide(Tensor self, Tensor other) -> Tensor",
     floor_divide_shape, floor_divide_ref},
    {"aten.floor_divide.Scalar", "floor_divide.Scalar(Tensor self, Scalar other) -> Tensor",
     floor_divide_shape, floor_divide_ref},
    {"aten.remainder.Tensor", "remainder.Tensor(Tensor self, Tensor other) -> Tensor",
     modulo_shape<kRemainder>, remainder_ref},
    {"aten.remainder.Scalar", "remainder.Scalar(Tensor self, Scalar other) -> Tensor",
     modulo_shape<kRemainder>, remainder_ref},
    {"aten.fmod.Tensor", "fmod.Tensor(Tensor self, Tensor other) -> Tensor", modulo_shape<kFmod>,
     fmod_ref},
    {"aten.fmod.Scalar", "fmod.Scalar(Tensor self, Scalar other) -> Tensor", modulo_shape<kFmod>,
     fmod_ref},
    {"aten.pow.Tensor_Tensor", "pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor",
     pow_shape, pow_ref},
    {"aten.pow.Scalar", "pow.Scalar(Scalar self, Tensor exponent) -> Tensor", pow_shape, pow_ref},
    {"aten.pow.Tensor_Scalar", "pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor",
     pow_tensor_scalar_shape, pow_tensor_scalar_ref},
    {"aten.pow_.Scalar", "pow_.Scalar(Tensor(a!) self, Scalar exponent) -> Tensor(a!)",
     inplace<pow_tensor_scalar_shape>, pow_tensor_scalar_ref, "aten.pow.Tensor_Scalar"},
    {"aten.addcmul.default",
     "addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor",
     addcmul_shape, addcmul_ref},
    {"aten.addcmul_.default",
     "addcmul_(Tensor(a!) self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor(a!)",
     inplace<addcmul_shape>, addcmul_ref, "aten.addcmul.default"},
    {"aten.lerp.Scalar", "lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor",
     lerp_shape, lerp_ref},
};

}  // namespace

std::span<const OpDef> arithmetic_ops() {
  return kOps;
}

}  // namespace kiln::ops::pointwise
