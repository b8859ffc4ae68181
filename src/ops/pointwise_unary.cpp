// Elementwise unary math: floating functions (integer inputs compute in float32), sign-like ops
// that keep the dtype, rounding, bitwise/logical not, isnan and nan_to_num.
#include <cfloat>
#include <cmath>

#include "ops/pointwise_util.h"

namespace kiln::ops::pointwise {
namespace {

using ir::DType;

DType self_dtype(const Args& a) {
  return a.type("self").dtype;
}

// ---- Floating functions --------------------------------------------------------------------

std::vector<OutType> floating_shape(const Args& a) {
  return elementwise(a, {"self"}, to_floating(self_dtype(a)));
}

template <double (*F)(double)>
std::vector<ref::RValue> floating_ref(const Args& a) {
  return map_unary(a, to_floating(self_dtype(a)), [](Num x) { return Num::of(F(x.f)); });
}

double reciprocal(double x) {
  return 1 / x;
}
double sqrt(double x) {
  return std::sqrt(x);
}
double rsqrt(double x) {
  return 1 / std::sqrt(x);
}
double exp(double x) {
  return std::exp(x);
}
double exp2(double x) {
  return std::exp2(x);
}
double expm1(double x) {
  return std::expm1(x);
}
double log(double x) {
  return std::log(x);
}
double log2(double x) {
  return std::log2(x);
}
double log10(double x) {
  return std::log10(x);
}
double log1p(double x) {
  return std::log1p(x);
}
double sin(double x) {
  return std::sin(x);
}
double cos(double x) {
  return std::cos(x);
}
double tan(double x) {
  return std::tan(x);
}
double tanh(double x) {
  return std::tanh(x);
}
double sigmoid(double x) {
  return 1 / (1 + std::exp(-x));
}
double erf(double x) {
  return std::erf(x);
}

// ---- Ops keeping the dtype -----------------------------------------------------------------

// Ops with no bool kernel in PyTorch.
template <const char* Name>
std::vector<OutType> no_bool_shape(const Args& a) {
  DType t = self_dtype(a);
  if (t == DType::kBool) fail_dtype(a, Name, t);
  return elementwise(a, {"self"}, t);
}

std::vector<OutType> neg_shape(const Args& a) {
  if (self_dtype(a) == DType::kBool) {
    a.fail(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return elementwise(a, {"self"}, self_dtype(a));
}

std::vector<OutType> same_shape(const Args& a) {
  return elementwise(a, {"self"}, self_dtype(a));
}

std::vector<ref::RValue> abs_ref(const Args& a) {
  return map_unary(a, self_dtype(a), [](Num x) {
    if (x.real) return Num::of(std::fabs(x.f));
    return Num::of_int(x.i < 0 ? wrap_sub(0, x.i) : x.i);
  });
}

std::vector<ref::RValue> neg_ref(const Args& a) {
  return map_unary(a, self_dtype(a),
                   [](Num x) { return x.real ? Num::of(-x.f) : Num::of_int(wrap_sub(0, x.i)); });
}

// sign(nan) is 0, as in PyTorch.
std::vector<ref::RValue> sign_ref(const Args& a) {
  return map_unary(a, self_dtype(a), [](Num x) {
    if (x.real) return Num::of(static_cast<double>((0 < x.f) - (x.f < 0)));
    return Num::of_int((0 < x.i) - (x.i < 0));
  });
}

// Integer inputs are returned unchanged.
template <double (*F)(double)>
std::vector<ref::RValue> rounding_ref(const Args& a) {
  return map_unary(a, self_dtype(a), [](Num x) { return x.real ? Num::of(F(x.f)) : x; });
}

double floor(double x) {
  return std::floor(x);
}
double ceil(double x) {
  return std::ceil(x);
}
double round_half_even(double x) {
  return std::nearbyint(x);
}
double trunc(double x) {
  return std::trunc(x);
}

std::vector<OutType> round_decimals_shape(const Args& a) {
  DType t = self_dtype(a);
  if (!ir::is_floating(t)) fail_dtype(a, "round", t);
  return elementwise(a, {"self"}, t);
}

// PyTorch scales by 10^decimals in the tensor's dtype, rounds half to even and scales back,
// rounding to the dtype after each step.
std::vector<ref::RValue> round_decimals_ref(const Args& a) {
  DType t = self_dtype(a);
  int64_t decimals = a.to_int("decimals");
  bool negative = decimals < 0;
  double scale =
      ref::round_to_dtype(t, std::pow(10.0, static_cast<double>(negative ? -decimals : decimals)));
  return map_unary(a, t, [&](Num x) {
    double scaled = ref::round_to_dtype(t, negative ? x.f / scale : x.f * scale);
    double r = ref::round_to_dtype(t, std::nearbyint(scaled));
    return Num::of(negative ? r * scale : r / scale);
  });
}

std::vector<OutType> bitwise_not_shape(const Args& a) {
  DType t = self_dtype(a);
  if (ir::is_floating(t)) fail_dtype(a, "bitwise_not", t);
  return elementwise(a, {"self"}, t);
}

std::vector<ref::RValue> bitwise_not_ref(const Args& a) {
  DType t = self_dtype(a);
  return map_unary(a, t, [&](Num x) { return Num::of_int(t == DType::kBool ? !x.i : ~x.i); });
}

// ---- Bool results --------------------------------------------------------------------------

std::vector<OutType> bool_shape(const Args& a) {
  return elementwise(a, {"self"}, DType::kBool);
}

std::vector<ref::RValue> logical_not_ref(const Args& a) {
  return map_unary(a, DType::kBool, [](Num x) { return Num::of_int(!x.i); });
}

std::vector<ref::RValue> isnan_ref(const Args& a) {
  return map_unary(a, self_dtype(a),
                   [](Num x) { return Num::of_int(x.real && std::isnan(x.f) ? 1 : 0); });
}

// ---- nan_to_num ----------------------------------------------------------------------------

double largest(DType t) {
  switch (t) {
    case DType::kFloat16:
      return 65504.0;
    case DType::kBFloat16:
      return 3.3895313892515355e38;
    case DType::kFloat32:
      return FLT_MAX;
    case DType::kFloat8E4M3FN:
      return 448.0;
    case DType::kFloat8E4M3FNUZ:
      return 240.0;
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
      return 57344.0;
    default:
      return DBL_MAX;
  }
}

// Infinities default to the dtype's largest finite values; integer tensors are copied.
std::vector<ref::RValue> nan_to_num_ref(const Args& a) {
  DType t = self_dtype(a);
  double nan = a.optional_double("nan").value_or(0.0);
  double posinf = a.optional_double("posinf").value_or(largest(t));
  double neginf = a.optional_double("neginf").value_or(-largest(t));
  return map_unary(a, t, [&](Num x) {
    if (!x.real) return x;
    if (std::isnan(x.f)) return Num::of(nan);
    if (std::isinf(x.f)) return Num::of(x.f > 0 ? posinf : neginf);
    return x;
  });
}

constexpr char kAbs[] = "abs";
constexpr char kFloor[] = "floor";
constexpr char kCeil[] = "ceil";
constexpr char kRound[] = "round";
constexpr char kTrunc[] = "trunc";

// Table rows for a floating function and its in-place form.
#define KILN_FLOATING(name)                                                                        \
  {"aten." #name ".default", #name "(Tensor self) -> Tensor", floating_shape, floating_ref<name>}, \
  {                                                                                                \
    "aten." #name "_.default", #name "_(Tensor(a!) self) -> Tensor(a!)", inplace<floating_shape>,  \
        floating_ref<name>, "aten." #name ".default"                                               \
  }

const OpDef kOps[] = {
    KILN_FLOATING(reciprocal),
    KILN_FLOATING(sqrt),
    KILN_FLOATING(rsqrt),
    KILN_FLOATING(exp),
    KILN_FLOATING(exp2),
    KILN_FLOATING(expm1),
    KILN_FLOATING(log),
    KILN_FLOATING(log2),
    KILN_FLOATING(log10),
    KILN_FLOATING(log1p),
    KILN_FLOATING(sin),
    KILN_FLOATING(cos),
    KILN_FLOATING(tan),
    KILN_FLOATING(tanh),
    KILN_FLOATING(sigmoid),
    KILN_FLOATING(erf),
    {"aten.abs.default", "abs(Tensor self) -> Tensor", no_bool_shape<kAbs>, abs_ref},
    {"aten.abs_.default", "abs_(Tensor(a!) self) -> Tensor(a!)", inplace<no_bool_shape<kAbs>>,
     abs_ref, "aten.abs.default"},
    {"aten.neg.default", "neg(Tensor self) -> Tensor", neg_shape, neg_ref},
    {"aten.neg_.default", "neg_(Tensor(a!) self) -> Tensor(a!)", inplace<neg_shape>, neg_ref,
     "aten.neg.default"},
    {"aten.sign.default", "sign(Tensor self) -> Tensor", same_shape, sign_ref},
    {"aten.floor.default", "floor(Tensor self) -> Tensor", no_bool_shape<kFloor>,
     rounding_ref<floor>},
    {"aten.floor_.default", "floor_(Tensor(a!) self) -> Tensor(a!)", inplace<no_bool_shape<kFloor>>,
     rounding_ref<floor>, "aten.floor.default"},
    {"aten.ceil.default", "ceil(Tensor self) -> Tensor", no_bool_shape<kCeil>, rounding_ref<ceil>},
    {"aten.round.default", "round(Tensor self) -> Tensor", no_bool_shape<kRound>,
     rounding_ref<round_half_even>},
    {"aten.round.decimals", "round.decimals(Tensor self, *, int decimals) -> Tensor",
     round_decimals_shape, round_decimals_ref},
    {"aten.trunc.default", "trunc(Tensor self) -> Tensor", no_bool_shape<kTrunc>,
     rounding_ref<trunc>},
    {"aten.bitwise_not.default", "bitwise_not(Tensor self) -> Tensor", bitwise_not_shape,
     bitwise_not_ref},
    {"aten.logical_not.default", "logical_not(Tensor self) -> Tensor", bool_shape, logical_not_ref},
    {"aten.logical_not_.default", "logical_not_(Tensor(a!) self) -> Tensor(a!)",
     inplace<bool_shape>, logical_not_ref, "aten.logical_not.default"},
    {"aten.isnan.default", "isnan(Tensor self) -> Tensor", bool_shape, isnan_ref},
    {"aten.nan_to_num.default",
     "nan_to_num(Tensor self, float? nan=None, float? posinf=None, float? neginf=None) -> Tensor",
     same_shape, nan_to_num_ref},
    {"aten.nan_to_num_.default",
     "nan_to_num_(Tensor(a!) self, float? nan=None, float? posinf=None, float? neginf=None) -> "
     "Tensor(a!)",
     inplace<same_shape>, nan_to_num_ref, "aten.nan_to_num.default"},
};

#undef KILN_FLOATING

}  // namespace

std::span<const OpDef> unary_ops() {
  return kOps;
}

}  // namespace kiln::ops::pointwise
