// Decompositions of the composite reductions into sum / amax / amin and pointwise math:
// softmax and log_softmax (max subtracted first), logsumexp, mean, the variance family (two
// passes: mean, then mean squared deviation) and the vector norms. 16-bit floats compute in
// float32 and are cast back, as PyTorch's kernels do.
#include <cmath>
#include <limits>

#include "ops/common.h"
#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::DType;
using ir::ValueId;
using Values = std::vector<ValueId>;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Drops the reduced dims of a keepdim result.
ValueId drop_dims(Decomposer& d, ValueId v, const std::vector<int64_t>& dims) {
  for (auto it = dims.rbegin(); it != dims.rend(); ++it)
    v = d.squeeze(v, *it);
  return v;
}

// ---- softmax, log_softmax ----

// The input is first converted to the result dtype (softmax.int's dtype, or float32 for
// _softmax's half_to_float), then computed in that dtype's compute dtype.
template <bool kLog>
Values softmax(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType out = result_type(a).dtype;
  int64_t dim = d.rank(x) == 0 ? -1 : wrap_dim(a.to_int("dim"), d.rank(x), a);
  ValueId xc = d.cast(d.cast(x, out), opmath(out));
  if (dim < 0) {
    // A 0-dim tensor is its own lane: softmax 1 (NaN for NaN or inf), log_softmax 0.
    ValueId z = d.sub(xc, xc);
    return {d.cast(kLog ? z : d.unary("aten.exp.default", z), out)};
  }
  ValueId shifted = d.sub(xc, d.amax(xc, {dim}, true));
  ValueId e = d.unary("aten.exp.default", shifted);
  ValueId total = d.sum(e, {dim}, true);
  ValueId r = kLog ? d.sub(shifted, d.unary("aten.log.default", total)) : d.div(e, total);
  return {d.cast(r, out)};
}

// log(sum(exp(x - m))) + m, with m the maximum taken as 0 where it is infinite (all -inf lanes
// give -inf, any +inf gives +inf, not NaN). Integer inputs compute in float32.
Values logsumexp(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType out = result_type(a).dtype;
  std::vector<int64_t> dims = reduction_dims(a, "dim", d.rank(x));
  const bool keepdim = a.to_bool("keepdim");
  ValueId xc = d.cast(x, opmath(out));
  bool empty = false;
  for (int64_t k : dims)
    empty = empty || d.size(xc, k) == sym::Expr(0);
  if (dims.empty() || empty) {
    // No maximum to subtract: log(sum(exp(x))) (-inf for an empty lane).
    ValueId s = d.sum(d.unary("aten.exp.default", xc), dims, keepdim);
    return {d.cast(d.unary("aten.log.default", s), out)};
  }
  ValueId m = d.amax(xc, dims, true);
  ValueId infinite = d.binary("aten.eq.Scalar", d.unary("aten.abs.default", m), kInf);
  m = d.emit("aten.where.ScalarSelf",
             {{"condition", tensor_arg(infinite)}, {"self", 0.0}, {"other", tensor_arg(m)}});
  ValueId s = d.sum(d.unary("aten.exp.default", d.sub(xc, m)), dims, keepdim);
  ValueId shift = keepdim ? m : drop_dims(d, m, dims);
  return {d.cast(d.add(d.unary("aten.log.default", s), shift), out)};
}

// ---- mean and the variance family ----

// mean: the sum in the compute dtype of the result, divided by the count. The input is cast to
// the result dtype first (an explicit dtype converts it, as PyTorch does).
Values mean(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType out = result_type(a).dtype;
  std::vector<int64_t> dims = reduction_dims(a, "dim", d.rank(x));
  const bool keepdim = a.schema().index_of("keepdim") >= 0 && a.to_bool("keepdim");
  ValueId xc = d.cast(d.cast(x, out), opmath(out));
  return {d.cast(d.mean(xc, dims, keepdim), out)};
}

double correction_of(const Args& a) {
  if (a.schema().index_of("unbiased") >= 0) return a.to_bool("unbiased") ? 1.0 : 0.0;
  std::optional<Scalar> c = a.optional_scalar("correction");
  return c ? c->to_double() : 1.0;
}

// The divisor max(0, N - correction) as div's `other`: a literal when N is known, else a
// SymInt (integral corrections), else a 0-dim tensor.
ir::Argument divisor(Decomposer& d, ValueId x, const std::vector<int64_t>& dims,
                     double correction) {
  ir::SymIntArg n = d.count(x, dims);
  if (!n.value) return std::max(0.0, static_cast<double>(n.literal) - correction);
  if (correction == std::trunc(correction)) {
    ir::SymIntArg diff = d.add(n, literal(-static_cast<int64_t>(correction)));
    ir::ValueId clamped = d.emit("torch.sym_max", {{"a", diff}, {"b", int64_t{0}}});
    return ir::SymIntArg{clamped, 0};
  }
  DType t = d.dtype(x);
  ValueId count = d.scalar_tensor(n, t, d.type(x).device);
  ValueId diff = d.sub_n(count, correction);
  return tensor_arg(d.emit("aten.clamp.default",
                           {{"self", tensor_arg(diff)}, {"min", 0.0}, {"max", ir::NoneArg{}}}));
}

// var, std, var_mean: (sum of squared deviations) / max(0, N - correction).
template <bool kStd>
Values variance(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType out = result_type(a).dtype;
  std::vector<int64_t> dims = reduction_dims(a, "dim", d.rank(x));
  const bool keepdim = a.to_bool("keepdim");
  ValueId xc = d.cast(x, opmath(out));
  ValueId m = d.mean(xc, dims, true);
  ValueId dev = d.sub(xc, m);
  ValueId m2 = d.sum(d.mul(dev, dev), dims, keepdim);
  ValueId var = d.div_n(m2, divisor(d, xc, dims, correction_of(a)));
  ValueId r = d.cast(kStd ? d.unary("aten.sqrt.default", var) : var, out);
  if (a.op().target != "aten.var_mean.correction") return {r};
  return {r, d.cast(keepdim ? m : drop_dims(d, m, dims), out)};
}

// ---- Vector norms ----

double ord_of(const Args& a) {
  if (a.schema().index_of("ord") >= 0) return a.scalar("ord").to_double();
  std::optional<Scalar> p = a.optional_scalar("p");
  return p ? p->to_double() : 2.0;
}

// ord 0 counts nonzeros, +-inf is the largest / smallest |x|, 1 the sum of |x|, 2 the root of
// the sum of squares, p the p-th root of the sum of |x|^p.
Values vector_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  DType out = result_type(a).dtype;
  std::vector<int64_t> dims = reduction_dims(a, "dim", d.rank(x));
  const bool keepdim = a.schema().index_of("keepdim") >= 0 && a.to_bool("keepdim");
  const double p = ord_of(a);
  ValueId xc = d.cast(x, opmath(out));
  auto reduce = [&](std::string_view target, ValueId v) {
    if (dims.empty()) return v;
    return d.emit(target, {{"self", tensor_arg(v)}, {"dim", dims}, {"keepdim", keepdim}});
  };
  ValueId r;
  if (p == 0) {
    ValueId nonzero = d.cast(d.binary("aten.ne.Scalar", xc, int64_t{0}), opmath(out));
    r = reduce("aten.sum.dim_IntList", nonzero);
  } else if (std::isinf(p)) {
    r = reduce(p > 0 ? "aten.amax.default" : "aten.amin.default", d.unary("aten.abs.default", xc));
  } else if (p == 1) {
    r = reduce("aten.sum.dim_IntList", d.unary("aten.abs.default", xc));
  } else if (p == 2) {
    r = d.unary("aten.sqrt.default", reduce("aten.sum.dim_IntList", d.mul(xc, xc)));
  } else {
    ValueId powered =
        d.emit("aten.pow.Tensor_Scalar",
               {{"self", tensor_arg(d.unary("aten.abs.default", xc))}, {"exponent", p}});
    r = d.emit(
        "aten.pow.Tensor_Scalar",
        {{"self", tensor_arg(reduce("aten.sum.dim_IntList", powered))}, {"exponent", 1.0 / p}});
  }
  return {d.cast(r, out)};
}

const Decomposition kDecompositions[] = {
    {"aten.softmax.int", softmax<false>},
    {"aten._softmax.default", softmax<false>},
    {"aten.log_softmax.int", softmax<true>},
    {"aten._log_softmax.default", softmax<true>},
    {"aten.logsumexp.default", logsumexp},
    {"aten.mean.default", mean},
    {"aten.mean.dim", mean},
    {"aten.var.dim", variance<false>},
    {"aten.var.correction", variance<false>},
    {"aten.std.dim", variance<true>},
    {"aten.std.correction", variance<true>},
    {"aten.var_mean.correction", variance<false>},
    {"aten.norm.Scalar", vector_norm},
    {"aten.norm.ScalarOpt_dim", vector_norm},
    {"aten.linalg_vector_norm.default", vector_norm},
};

}  // namespace

std::span<const Decomposition> reduction_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
