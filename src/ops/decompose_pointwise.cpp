// Decompositions of elementwise ops: activations into primitive math (computed in float32 for
// 16-bit inputs and cast back, as PyTorch's kernels do), rsub, masked_fill, the one-sided
// clamps and the dtype conversions.
//
// where.Scalar / ScalarSelf / ScalarOther stay primitive: a Python number operand promotes
// differently from any 0-dim tensor standing in for it, and the backend reads numbers as
// constants anyway.
#include <cmath>
#include <numbers>

#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::DType;
using ir::ValueId;
using Values = std::vector<ValueId>;

// body(x) on self in its compute dtype, cast back to self's dtype.
template <typename Body>
Values in_opmath(Decomposer& d, const Args& a, Body body) {
  ValueId x = tensor_id(a, "self");
  DType t = d.dtype(x);
  return {d.cast(body(d.cast(x, opmath(t))), t)};
}

ValueId gt_zero(Decomposer& d, ValueId x) {
  return d.binary("aten.gt.Scalar", x, int64_t{0});
}

ValueId clamp(Decomposer& d, ValueId x, const ir::Argument& lo, const ir::Argument& hi) {
  return d.emit("aten.clamp.default", {{"self", tensor_arg(x)}, {"min", lo}, {"max", hi}});
}

ValueId sigmoid(Decomposer& d, ValueId x) {
  return d.unary("aten.sigmoid.default", x);
}

// relu6(x + 3) / 6
ValueId hard_gate(Decomposer& d, ValueId x) {
  return d.div_n(clamp(d, d.add_n(x, 3.0), 0.0, 6.0), 6.0);
}

Values silu(Decomposer& d, const Args& a) {
  return in_opmath(d, a, [&](ValueId x) { return d.mul(x, sigmoid(d, x)); });
}

// 0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2 / pi) (x + 0.044715 x^3)) for "tanh".
Values gelu(Decomposer& d, const Args& a) {
  const bool tanh = a.str("approximate") == "tanh";
  return in_opmath(d, a, [&](ValueId x) {
    ValueId inner;
    if (tanh) {
      ValueId cube = d.mul(d.mul(x, x), x);
      ValueId poly = d.add(x, d.mul_n(cube, 0.044715));
      inner = d.unary("aten.tanh.default", d.mul_n(poly, std::sqrt(2 / std::numbers::pi)));
    } else {
      inner = d.unary("aten.erf.default", d.mul_n(x, 1 / std::numbers::sqrt2));
    }
    return d.mul(d.mul_n(x, 0.5), d.add_n(inner, 1.0));
  });
}

Values hardswish(Decomposer& d, const Args& a) {
  return in_opmath(d, a, [&](ValueId x) { return d.mul(x, hard_gate(d, x)); });
}

Values hardsigmoid(Decomposer& d, const Args& a) {
  return in_opmath(d, a, [&](ValueId x) { return hard_gate(d, x); });
}

// log1p(exp(x)): softplus without beta or threshold (mish needs no threshold: tanh(inf) is 1).
ValueId softplus_of(Decomposer& d, ValueId x) {
  return d.unary("aten.log1p.default", d.unary("aten.exp.default", x));
}

Values mish(Decomposer& d, const Args& a) {
  return in_opmath(
      d, a, [&](ValueId x) { return d.mul(x, d.unary("aten.tanh.default", softplus_of(d, x))); });
}

// x > 0 ? x * scale : expm1(x * input_scale) * alpha * scale
ValueId elu_of(Decomposer& d, ValueId x, double alpha, double scale, double input_scale) {
  ValueId pos = scale == 1 ? x : d.mul_n(x, scale);
  ValueId in = input_scale == 1 ? x : d.mul_n(x, input_scale);
  ValueId neg = d.mul_n(d.unary("aten.expm1.default", in), alpha * scale);
  return d.where(gt_zero(d, x), pos, neg);
}

Values elu(Decomposer& d, const Args& a) {
  double alpha = a.to_double("alpha"), scale = a.to_double("scale");
  double input_scale = a.to_double("input_scale");
  return in_opmath(d, a, [&](ValueId x) { return elu_of(d, x, alpha, scale, input_scale); });
}

Values selu(Decomposer& d, const Args& a) {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  return in_opmath(d, a, [&](ValueId x) { return elu_of(d, x, kAlpha, kScale, 1); });
}

// x * beta > threshold ? x : log1p(exp(x * beta)) / beta
Values softplus(Decomposer& d, const Args& a) {
  ir::Argument beta = number(a, "beta");
  ir::Argument threshold = number(a, "threshold");
  const bool unit_beta = a.known_scalar("beta") && a.known_scalar("beta")->to_double() == 1;
  return in_opmath(d, a, [&](ValueId x) {
    ValueId xb = unit_beta ? x : d.mul_n(x, beta);
    ValueId soft = softplus_of(d, xb);
    if (!unit_beta) soft = d.div_n(soft, beta);
    return d.where(d.binary("aten.gt.Scalar", xb, threshold), x, soft);
  });
}

// min(x, 0) - log1p(exp(-|x|)), stable for large |x|.
Values log_sigmoid(Decomposer& d, const Args& a) {
  return in_opmath(d, a, [&](ValueId x) {
    ValueId tail = d.unary("aten.neg.default", d.unary("aten.abs.default", x));
    ValueId log_term = d.unary("aten.log1p.default", d.unary("aten.exp.default", tail));
    return d.sub(clamp(d, x, ir::NoneArg{}, 0.0), log_term);
  });
}

Values leaky_relu(Decomposer& d, const Args& a) {
  ir::Argument slope = number(a, "negative_slope");
  return in_opmath(d, a, [&](ValueId x) { return d.where(gt_zero(d, x), x, d.mul_n(x, slope)); });
}

// hardtanh on an integer tensor truncates float bounds toward zero rather than promoting.
ir::Argument hardtanh_bound(const Args& a, std::string_view name, DType t) {
  std::optional<Scalar> v = a.known_scalar(name);
  if (!v || !ir::is_integral(t) || !v->is_floating()) return number(a, name);
  return static_cast<int64_t>(std::trunc(v->f));
}

Values hardtanh(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType t = d.dtype(x);
  return {clamp(d, x, hardtanh_bound(a, "min_val", t), hardtanh_bound(a, "max_val", t))};
}

Values relu6(Decomposer& d, const Args& a) {
  return {clamp(d, tensor_id(a, "self"), int64_t{0}, int64_t{6})};
}

Values clamp_min(Decomposer& d, const Args& a) {
  return {clamp(d, tensor_id(a, "self"), a.raw("min"), ir::NoneArg{})};
}

Values clamp_max(Decomposer& d, const Args& a) {
  return {clamp(d, tensor_id(a, "self"), ir::NoneArg{}, a.raw("max"))};
}

// rsub(self, other, alpha) is other - alpha * self: sub with the operands swapped (a number
// `other` keeps its Python-number promotion as sub's first operand).
Values rsub(Decomposer& d, const Args& a) {
  return {d.emit("aten.sub.Tensor",
                 {{"self", a.raw("other")}, {"other", a.raw("self")}, {"alpha", a.raw("alpha")}})};
}

// where(mask, value, self), the value a 0-dim tensor of self's dtype.
Values masked_fill(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  ValueId mask = tensor_id(a, "mask");
  ir::TensorType t = d.type(self);
  ValueId value = a.is_tensor("value") ? d.cast(tensor_id(a, "value"), t.dtype)
                                       : d.scalar_tensor(number(a, "value"), t.dtype, t.device);
  return {d.where(mask, value, self)};
}

// The conversions: _to_copy to the node's result dtype (drop_noops has removed the ones that
// keep the dtype; a device move is the identity, kiln placing every tensor on its device).
Values to_copy(Decomposer& d, const Args& a) {
  return {d.cast(tensor_id(a, "self"), result_type(a).dtype)};
}

const Decomposition kDecompositions[] = {
    {"aten.silu.default", silu},
    {"aten.gelu.default", gelu},
    {"aten.hardswish.default", hardswish},
    {"aten.hardsigmoid.default", hardsigmoid},
    {"aten.mish.default", mish},
    {"aten.elu.default", elu},
    {"aten.selu.default", selu},
    {"aten.softplus.default", softplus},
    {"aten.log_sigmoid.default", log_sigmoid},
    {"aten.leaky_relu.default", leaky_relu},
    {"aten.hardtanh.default", hardtanh},
    {"aten.relu6.default", relu6},
    {"aten.clamp_min.default", clamp_min},
    {"aten.clamp_max.default", clamp_max},
    {"aten.rsub.Tensor", rsub},
    {"aten.rsub.Scalar", rsub},
    {"aten.masked_fill.Scalar", masked_fill},
    {"aten.masked_fill.Tensor", masked_fill},
    {"aten.to.dtype", to_copy},
    {"aten.to.device", to_copy},
    {"aten.to.dtype_layout", to_copy},
    {"aten.to.other", to_copy},
    {"aten.type_as.default", to_copy},
};

}  // namespace

std::span<const Decomposition> pointwise_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
