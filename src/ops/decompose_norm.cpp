// Decompositions of the normalization layers into means (two passes: mean, then mean squared
// deviation, as the reference computes them), rsqrt and the affine mul / add. Statistics and
// the normalized value are computed in float32 for 16-bit inputs, and the result is cast back
// to the input's dtype (weights and running statistics are cast to the compute dtype first).
#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::DType;
using ir::ValueId;
using Values = std::vector<ValueId>;

std::vector<int64_t> dims_from(int64_t first, int64_t rank) {
  std::vector<int64_t> dims;
  for (int64_t k = first; k < rank; ++k)
    dims.push_back(k);
  return dims;
}

// A per-channel parameter [C] shaped to broadcast against [N, C, *] (rank `rank`), in `t`.
ValueId per_channel(Decomposer& d, ValueId p, int64_t rank, DType t) {
  ValueId c = d.cast(p, t);
  if (rank == 2 && d.rank(c) == 1) return c;
  std::vector<ir::SymIntArg> sizes{literal(-1)};
  for (int64_t k = 2; k < rank; ++k)
    sizes.push_back(literal(1));
  return d.reshape(c, sizes);
}

// (x - mean) * rstd, then * weight + bias where given.
ValueId affine(Decomposer& d, ValueId normalized, std::optional<ValueId> w,
               std::optional<ValueId> b) {
  ValueId y = normalized;
  if (w) y = d.mul(y, *w);
  if (b) y = d.add(y, *b);
  return y;
}

ValueId rstd_of(Decomposer& d, ValueId var, double eps) {
  return d.unary("aten.rsqrt.default", d.add_n(var, eps));
}

// ---- layer_norm, native_layer_norm, rms_norm: over the trailing normalized_shape dims ----

Values layer_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  const DType t = d.dtype(x), c = opmath(t);
  const int64_t rank = d.rank(x);
  const auto normalized = static_cast<int64_t>(a.syms("normalized_shape").size());
  std::vector<int64_t> dims = dims_from(rank - normalized, rank);
  ValueId xc = d.cast(x, c);
  Decomposer::Moments m = d.moments(xc, dims);
  ValueId rstd = rstd_of(d, m.var, a.to_double("eps"));
  auto param = [&](std::string_view name) -> std::optional<ValueId> {
    auto p = optional_tensor_id(a, name);
    if (p) return d.cast(*p, c);
    return std::nullopt;
  };
  ValueId y = affine(d, d.mul(*m.centered, rstd), param("weight"), param("bias"));
  Values out{d.cast(y, t)};
  if (a.op().target == "aten.layer_norm.default") return out;
  const DType stat = result_type(a, 1).dtype;
  out.push_back(d.cast(m.mean, stat));
  out.push_back(d.cast(rstd, stat));
  return out;
}

// x * rsqrt(mean(x^2) + eps) * weight; eps None is the compute dtype's machine epsilon.
Values rms_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  const DType t = d.dtype(x), c = opmath(t);
  const int64_t rank = d.rank(x);
  const auto normalized = static_cast<int64_t>(a.syms("normalized_shape").size());
  double eps = a.optional_double("eps").value_or(c == DType::kFloat64 ? 0x1p-52 : 0x1p-23);
  ValueId xc = d.cast(x, c);
  ValueId ms = d.mean(d.mul(xc, xc), dims_from(rank - normalized, rank), true);
  ValueId y = d.mul(xc, rstd_of(d, ms, eps));
  if (auto w = optional_tensor_id(a, "weight")) y = d.mul(y, d.cast(*w, c));
  return {d.cast(y, t)};
}

// ---- group_norm, native_group_norm: over each group of channels and the spatial dims ----

// x viewed as [N, G, C/G * HxW], normalized over the last dim, viewed back, then the affine
// per-channel parameters. Returns out, mean[N, G], rstd[N, G].
Values group_norm_of(Decomposer& d, const Args& a, ValueId x, const ir::SymIntArg& n,
                     int64_t groups, double eps) {
  const DType t = d.dtype(x), c = opmath(t);
  const int64_t rank = d.rank(x);
  ValueId xc = d.cast(x, c);
  ValueId grouped = d.reshape(xc, {n, literal(groups), literal(-1)});
  Decomposer::Moments m = d.moments(grouped, {2});
  ValueId rstd = rstd_of(d, m.var, eps);
  ValueId y = d.reshape(d.mul(*m.centered, rstd), d.sizes(x));
  auto param = [&](std::string_view name) -> std::optional<ValueId> {
    auto p = optional_tensor_id(a, name);
    if (p) return per_channel(d, *p, rank, c);
    return std::nullopt;
  };
  y = affine(d, y, param("weight"), param("bias"));
  return {d.cast(y, t), d.cast(d.squeeze(m.mean, 2), t), d.cast(d.squeeze(rstd, 2), t)};
}

Values group_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  Values out = group_norm_of(d, a, x, d.dim(x, 0), a.to_int("num_groups"), a.to_double("eps"));
  return {out[0]};
}

Values native_group_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  ir::SymIntArg n = sym_list(a, "N").at(0);
  return group_norm_of(d, a, x, n, a.to_int("group"), a.to_double("eps"));
}

// ---- batch_norm, instance_norm: per channel, from running or batch statistics ----

// (x - mean) * rstd * weight + bias with the statistics shaped to broadcast against x.
ValueId channel_normalize(Decomposer& d, const Args& a, ValueId xc, const Decomposer::Moments& m) {
  const int64_t rank = d.rank(xc);
  const DType c = d.dtype(xc);
  ValueId centered = m.centered ? *m.centered : d.sub(xc, m.mean);
  ValueId y = d.mul(centered, rstd_of(d, m.var, a.to_double("eps")));
  auto param = [&](std::string_view name) -> std::optional<ValueId> {
    auto p = optional_tensor_id(a, name);
    if (p) return per_channel(d, *p, rank, c);
    return std::nullopt;
  };
  return affine(d, y, param("weight"), param("bias"));
}

// Running statistics, shaped per channel.
Decomposer::Moments running(Decomposer& d, const Args& a, int64_t rank, DType c) {
  return {per_channel(d, tensor_id(a, "running_mean"), rank, c),
          per_channel(d, tensor_id(a, "running_var"), rank, c), std::nullopt};
}

// training=True normalizes by the batch's statistics over N and the spatial dims (the running
// buffers' update is not part of the functional result).
Values batch_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  const DType t = d.dtype(x), c = opmath(t);
  const int64_t rank = d.rank(x);
  ValueId xc = d.cast(x, c);
  std::vector<int64_t> dims = dims_from(2, rank);
  dims.insert(dims.begin(), 0);
  Decomposer::Moments m = a.to_bool("training") ? d.moments(xc, dims) : running(d, a, rank, c);
  return {d.cast(channel_normalize(d, a, xc, m), t)};
}

// Also returns save_mean and save_rstd: empty on the CPU (as PyTorch's CPU kernel returns
// them), else the running mean and 1 / sqrt(running_var + eps) in the compute dtype.
Values batch_norm_no_training(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  const DType t = d.dtype(x), c = opmath(t);
  ValueId xc = d.cast(x, c);
  Decomposer::Moments m = running(d, a, d.rank(x), c);
  Values out{d.cast(channel_normalize(d, a, xc, m), t)};
  ir::TensorType saved = result_type(a, 1);
  if (saved.sizes.size() == 1 && saved.sizes[0] == sym::Expr(0)) {
    ValueId empty = d.full({literal(0)}, int64_t{0}, saved.dtype, saved.device);
    return {out[0], empty, empty};
  }
  ValueId mean = d.cast(tensor_id(a, "running_mean"), c);
  ValueId var = d.cast(tensor_id(a, "running_var"), c);
  out.push_back(d.cast(mean, saved.dtype));
  out.push_back(d.cast(rstd_of(d, var, a.to_double("eps")), saved.dtype));
  return out;
}

// use_input_stats: statistics of each (sample, channel) plane; otherwise the running ones.
Values instance_norm(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  const DType t = d.dtype(x), c = opmath(t);
  const int64_t rank = d.rank(x);
  ValueId xc = d.cast(x, c);
  Decomposer::Moments m =
      a.to_bool("use_input_stats") ? d.moments(xc, dims_from(2, rank)) : running(d, a, rank, c);
  return {d.cast(channel_normalize(d, a, xc, m), t)};
}

const Decomposition kDecompositions[] = {
    {"aten.layer_norm.default", layer_norm},
    {"aten.native_layer_norm.default", layer_norm},
    {"aten.rms_norm.default", rms_norm},
    {"aten.group_norm.default", group_norm},
    {"aten.native_group_norm.default", native_group_norm},
    {"aten.batch_norm.default", batch_norm},
    {"aten._native_batch_norm_legit_no_training.default", batch_norm_no_training},
    {"aten.instance_norm.default", instance_norm},
};

}  // namespace

std::span<const Decomposition> norm_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
