// Activation functions. relu and hardtanh (and relu6) also take integer tensors, keeping their
// dtype; the others have floating kernels only, as in PyTorch.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "ops/pointwise_util.h"

namespace kiln::ops::pointwise {
namespace {

using ir::DType;

DType self_dtype(const Args& a) {
  return a.type("self").dtype;
}

template <const char* Name>
std::vector<OutType> floating_only_shape(const Args& a) {
  DType t = self_dtype(a);
  if (!ir::is_floating(t)) fail_dtype(a, Name, t);
  return elementwise(a, {"self"}, t);
}

template <typename Fn>
std::vector<ref::RValue> map_floating(const Args& a, Fn fn) {
  return map_unary(a, self_dtype(a), [&](Num x) { return Num::of(fn(x.f)); });
}

// ---- relu, hardtanh, relu6 -----------------------------------------------------------------

std::vector<OutType> relu_shape(const Args& a) {
  DType t = self_dtype(a);
  if (t == DType::kBool) a.fail("Boolean inputs not supported for relu");
  return elementwise(a, {"self"}, t);
}

// clamp_min(x, 0): NaN and -0 pass through.
std::vector<ref::RValue> relu_ref(const Args& a) {
  return map_unary(a, self_dtype(a), [](Num x) {
    if (x.real) return x.f < 0 ? Num::of(0) : x;
    return x.i < 0 ? Num::of_int(0) : x;
  });
}

// hardtanh(x, lo, hi) is clamp(x, lo, hi), except that integer tensors truncate the bounds to
// int64 rather than promoting (hardtanh(int, -1.5, 2.5) clamps to [-1, 2]).
Scalar hardtanh_bound(const Scalar& v, DType t) {
  if (!ir::is_integral(t) || !v.is_floating()) return v;
  Scalar s;
  s.i = static_cast<int64_t>(std::trunc(v.f));
  return s;
}

std::vector<OutType> hardtanh_shape(const Args& a) {
  DType t = self_dtype(a);
  if (t == DType::kBool) a.fail("Bool inputs not supported for hardtanh");
  if (a.schema().index_of("min_val") >= 0) {
    for (auto [name, which] : {std::pair{"min_val", "min"}, {"max_val", "max"}}) {
      if (auto v = a.known_scalar(name)) check_clamp_bound(a, which, hardtanh_bound(*v, t), t);
    }
  }
  return elementwise(a, {"self"}, t);
}

// max(x, lo) then min(., hi): lo > hi gives hi, NaN passes through.
std::vector<ref::RValue> clamp_between(const Args& a, double lo, double hi) {
  DType t = self_dtype(a);
  ref::Tensor bounds(DType::kFloat64, {2});
  bounds.set(0, lo);
  bounds.set(1, hi);
  // Integer bounds compare unwrapped: one beyond the dtype's range clamps nothing.
  DType as = ir::is_integral(t) ? DType::kInt64 : t;
  Num l = load(bounds, 0, as), h = load(bounds, 1, as);
  return map_unary(a, t, [&](Num x) {
    if (x.real) {
      double v = x.f < l.f ? l.f : x.f;
      return Num::of(v > h.f ? h.f : v);
    }
    int64_t v = x.i < l.i ? l.i : x.i;
    return Num::of_int(v > h.i ? h.i : v);
  });
}

std::vector<ref::RValue> hardtanh_ref(const Args& a) {
  DType t = self_dtype(a);
  return clamp_between(a, hardtanh_bound(a.scalar("min_val"), t).to_double(),
                       hardtanh_bound(a.scalar("max_val"), t).to_double());
}
std::vector<ref::RValue> relu6_ref(const Args& a) {
  return clamp_between(a, 0, 6);
}

// ---- Floating activations ------------------------------------------------------------------

std::vector<ref::RValue> leaky_relu_ref(const Args& a) {
  double slope = a.to_double("negative_slope");
  return map_floating(a, [&](double x) { return x > 0 ? x : x * slope; });
}

double elu(double x, double alpha, double scale, double input_scale) {
  return x > 0 ? x * scale : std::expm1(x * input_scale) * alpha * scale;
}

std::vector<ref::RValue> elu_ref(const Args& a) {
  double alpha = a.to_double("alpha"), scale = a.to_double("scale");
  double input_scale = a.to_double("input_scale");
  return map_floating(a, [&](double x) { return elu(x, alpha, scale, input_scale); });
}

std::vector<ref::RValue> selu_ref(const Args& a) {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  return map_floating(a, [](double x) { return elu(x, kAlpha, kScale, 1); });
}

constexpr char kGelu[] = "GeluKernelImpl";

bool gelu_tanh(const Args& a) {
  std::string approximate = a.str("approximate");
  if (approximate != "none" && approximate != "tanh") {
    a.fail("approximate argument must be either none or tanh.");
  }
  return approximate == "tanh";
}

std::vector<OutType> gelu_shape(const Args& a) {
  gelu_tanh(a);
  return floating_only_shape<kGelu>(a);
}

std::vector<ref::RValue> gelu_ref(const Args& a) {
  const double kBeta = std::sqrt(2 / std::numbers::pi);
  if (gelu_tanh(a)) {
    return map_floating(
        a, [&](double x) { return 0.5 * x * (1 + std::tanh(kBeta * (x + 0.044715 * x * x * x))); });
  }
  return map_floating(a,
                      [](double x) { return 0.5 * x * (1 + std::erf(x / std::numbers::sqrt2)); });
}

std::vector<ref::RValue> silu_ref(const Args& a) {
  return map_floating(a, [](double x) { return x / (1 + std::exp(-x)); });
}

std::vector<ref::RValue> mish_ref(const Args& a) {
  return map_floating(a, [](double x) { return x * std::tanh(std::log1p(std::exp(x))); });
}

// relu6(x + 3) / 6; NaN propagates as through std::max/std::min.
double hard_gate(double x) {
  if (std::isnan(x)) return x;
  return std::min(std::max(x + 3, 0.0), 6.0) / 6;
}

std::vector<ref::RValue> hardswish_ref(const Args& a) {
  return map_floating(a, [](double x) { return x * hard_gate(x); });
}

std::vector<ref::RValue> hardsigmoid_ref(const Args& a) {
  return map_floating(a, [](double x) { return hard_gate(x); });
}

// Linear above the threshold, where log1p(exp(x)) == x to working precision.
std::vector<ref::RValue> softplus_ref(const Args& a) {
  double beta = a.to_double("beta"), threshold = a.to_double("threshold");
  return map_floating(a, [&](double x) {
    return x * beta > threshold ? x : std::log1p(std::exp(x * beta)) / beta;
  });
}

// The stable form min(x, 0) - log1p(exp(-|x|)).
std::vector<ref::RValue> log_sigmoid_ref(const Args& a) {
  return map_floating(
      a, [](double x) { return std::min(x, 0.0) - std::log1p(std::exp(-std::fabs(x))); });
}

constexpr char kLeakyRelu[] = "leaky_relu";
constexpr char kElu[] = "elu";
constexpr char kSilu[] = "silu";
constexpr char kMish[] = "mish";
constexpr char kHardswish[] = "hardswish";
constexpr char kHardsigmoid[] = "hardsigmoid";
constexpr char kSoftplus[] = "softplus";
constexpr char kLogSigmoid[] = "log_sigmoid";

const OpDef kOps[] = {
    {"aten.relu.default", "relu(Tensor self) -> Tensor", relu_shape, relu_ref},
    {"aten.relu_.default", "relu_(Tensor(a!) self) -> Tensor(a!)", inplace<relu_shape>, relu_ref,
     "aten.relu.default"},
    {"aten.relu6.default", "relu6(Tensor self) -> Tensor", hardtanh_shape, relu6_ref},
    {"aten.relu6_.default", "relu6_(Tensor(a!) self) -> Tensor(a!)", inplace<hardtanh_shape>,
     relu6_ref, "aten.relu6.default"},
    {"aten.hardtanh.default",
     "hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor", hardtanh_shape,
     hardtanh_ref},
    {"aten.hardtanh_.default",
     "hardtanh_(Tensor(a!) self, Scalar min_val=-1, Scalar max_val=1) -> Tensor(a!)",
     inplace<hardtanh_shape>, hardtanh_ref, "aten.hardtanh.default"},
    {"aten.leaky_relu.default", "leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor",
     floating_only_shape<kLeakyRelu>, leaky_relu_ref},
    {"aten.leaky_relu_.default",
     "leaky_relu_(Tensor(a!) self, Scalar negative_slope=0.01) -> Tensor(a!)",
     inplace<floating_only_shape<kLeakyRelu>>, leaky_relu_ref, "aten.leaky_relu.default"},
    {"aten.elu.default",
     "elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor",
     floating_only_shape<kElu>, elu_ref},
    {"aten.elu_.default",
     "elu_(Tensor(a!) self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor(a!)",
     inplace<floating_only_shape<kElu>>, elu_ref, "aten.elu.default"},
    {"aten.selu.default", "selu(Tensor self) -> Tensor", floating_only_shape<kElu>, selu_ref},
    {"aten.selu_.default", "selu_(Tensor(a!) self) -> Tensor(a!)",
     inplace<floating_only_shape<kElu>>, selu_ref, "aten.selu.default"},
    {"aten.gelu.default", "gelu(Tensor self, *, str approximate=\"none\") -> Tensor", gelu_shape,
     gelu_ref},
    {"aten.gelu_.default", "gelu_(Tensor(a!) self, *, str approximate=\"none\") -> Tensor(a!)",
     inplace<gelu_shape>, gelu_ref, "aten.gelu.default"},
    {"aten.silu.default", "silu(Tensor self) -> Tensor", floating_only_shape<kSilu>, silu_ref},
    {"aten.silu_.default", "silu_(Tensor(a!) self) -> Tensor(a!)",
     inplace<floating_only_shape<kSilu>>, silu_ref, "aten.silu.default"},
    {"aten.mish.default", "mish(Tensor self) -> Tensor", floating_only_shape<kMish>, mish_ref},
    {"aten.mish_.default", "mish_(Tensor(a!) self) -> Tensor(a!)",
     inplace<floating_only_shape<kMish>>, mish_ref, "aten.mish.default"},
    {"aten.hardswish.default", "hardswish(Tensor self) -> Tensor", floating_only_shape<kHardswish>,
     hardswish_ref},
    {"aten.hardswish_.default", "hardswish_(Tensor(a!) self) -> Tensor(a!)",
     inplace<floating_only_shape<kHardswish>>, hardswish_ref, "aten.hardswish.default"},
    {"aten.hardsigmoid.default", "hardsigmoid(Tensor self) -> Tensor",
     floating_only_shape<kHardsigmoid>, hardsigmoid_ref},
    {"aten.hardsigmoid_.default", "hardsigmoid_(Tensor(a!) self) -> Tensor(a!)",
     inplace<floating_only_shape<kHardsigmoid>>, hardsigmoid_ref, "aten.hardsigmoid.default"},
    {"aten.softplus.default", "softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor",
     floating_only_shape<kSoftplus>, softplus_ref},
    {"aten.log_sigmoid.default", "log_sigmoid(Tensor self) -> Tensor",
     floating_only_shape<kLogSigmoid>, log_sigmoid_ref},
};

}  // namespace

std::span<const OpDef> activation_ops() {
  return kOps;
}

}  // namespace kiln::ops::pointwise
