// Normalization layers: layer_norm, group_norm, batch_norm, instance_norm, rms_norm, and their
// native_* forms that also return the statistics. Statistics are computed in double with two
// passes (mean, then biased variance) and each result is rounded once.
#include <cmath>
#include <string>

#include "ops/reduction_util.h"

namespace kiln::ops::reduction {
namespace {

using ir::DType;

std::string shape_str(const std::vector<sym::Expr>& sizes) {
  std::string s = "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    s += (d ? ", " : "") + sizes[d].str();
  return s + "]";
}

void require_float_input(const Args& a, std::string_view op) {
  DType d = a.type("input").dtype;
  if (!is_float(d)) a.fail(op, " is not implemented for ", ir::dtype_name(d), " inputs");
}

// The mean and biased variance of the elements at `idx`.
struct Stats {
  double mean = 0;
  double var = 0;
};

Stats stats_of(const ref::Tensor& x, const std::vector<int64_t>& idx) {
  auto n = static_cast<double>(idx.size());
  Stats s;
  for (int64_t i : idx)
    s.mean += x.get(i);
  s.mean /= n;
  for (int64_t i : idx)
    s.var += (x.get(i) - s.mean) * (x.get(i) - s.mean);
  s.var /= n;
  return s;
}

double param(const ref::Tensor* t, int64_t i, double absent) {
  return t == nullptr ? absent : t->get(i);
}

// ---- layer_norm and rms_norm: statistics over the trailing normalized_shape dims ----

// Checks normalized_shape against the input and the affine parameters; returns the number of
// leading (not normalized) dims.
size_t check_normalized_shape(const Args& a, const std::vector<std::string_view>& params) {
  const ir::TensorType& in = a.type("input");
  std::vector<sym::Expr> shape = a.syms("normalized_shape");
  if (shape.empty()) {
    a.fail(
        "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
        "one element, but got normalized_shape = []");
  }
  for (std::string_view p : params) {
    auto t = a.optional_type(p);
    if (!t) continue;
    bool bad = t->rank() != shape.size();
    for (size_t d = 0; !bad && d < shape.size(); ++d)
      bad = known_unequal(t->sizes[d], shape[d]);
    if (bad) {
      a.fail("Expected ", p, " to be of same shape as normalized_shape, but got ", p, " of shape ",
             shape_str(t->sizes), " and normalized_shape = ", shape_str(shape));
    }
  }
  bool bad = in.rank() < shape.size();
  size_t axis = bad ? 0 : in.rank() - shape.size();
  for (size_t d = 0; !bad && d < shape.size(); ++d)
    bad = known_unequal(in.sizes[axis + d], shape[d]);
  if (bad) {
    a.fail("Given normalized_shape=", shape_str(shape), ", expected input with shape [*, ",
           shape_str(shape).substr(1), ", but got input of size", shape_str(in.sizes));
  }
  return axis;
}

std::vector<OutType> layer_norm_shape(const Args& a) {
  require_float_input(a, "layer_norm");
  size_t axis = check_normalized_shape(a, {"weight", "bias"});
  const ir::TensorType& in = a.type("input");
  std::vector<OutType> out{make_type(in.dtype, in.sizes, in.device)};
  if (a.op().target == "aten.layer_norm.default") return out;
  // mean and rstd keep the normalized dims as 1; off the CPU they stay in the computation dtype.
  std::vector<sym::Expr> stat_sizes(in.sizes.begin(), in.sizes.begin() + static_cast<long>(axis));
  stat_sizes.resize(in.rank(), sym::Expr(1));
  DType st =
      in.device.type == "cpu" || in.device.type == "mtia" ? in.dtype : computation_dtype(in.dtype);
  out.emplace_back(make_type(st, stat_sizes, in.device));
  out.emplace_back(make_type(st, stat_sizes, in.device));
  return out;
}

std::vector<bool> trailing_mask(const ref::Tensor& x, size_t count) {
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  for (size_t d = mask.size() - count; d < mask.size(); ++d)
    mask[d] = true;
  return mask;
}

std::vector<ref::RValue> layer_norm_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("input");
  const ref::Tensor* w = a.optional_tensor("weight");
  const ref::Tensor* b = a.optional_tensor("bias");
  double eps = a.to_double("eps");
  std::vector<ref::Tensor> outs = alloc_outputs(a);
  auto groups = reduction_groups(x.sizes(), trailing_mask(x, a.syms("normalized_shape").size()));
  for (size_t o = 0; o < groups.size(); ++o) {
    const auto& g = groups[o];
    Stats s = stats_of(x, g);
    double rstd = 1.0 / std::sqrt(s.var + eps);
    for (size_t j = 0; j < g.size(); ++j) {
      auto jj = static_cast<int64_t>(j);
      outs[0].set(g[j], (x.get(g[j]) - s.mean) * rstd * param(w, jj, 1) + param(b, jj, 0));
    }
    if (outs.size() == 3) {
      outs[1].set(static_cast<int64_t>(o), s.mean);
      outs[2].set(static_cast<int64_t>(o), rstd);
    }
  }
  return {outs.begin(), outs.end()};
}

std::vector<OutType> rms_norm_shape(const Args& a) {
  require_float_input(a, "rms_norm");
  check_normalized_shape(a, {"weight"});
  const ir::TensorType& in = a.type("input");
  return {make_type(in.dtype, in.sizes, in.device)};
}

// eps=None is the machine epsilon of the computation dtype (float32 for 16-bit inputs).
std::vector<ref::RValue> rms_norm_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("input");
  const ref::Tensor* w = a.optional_tensor("weight");
  double eps = a.optional_double("eps").value_or(
      computation_dtype(x.dtype()) == DType::kFloat64 ? 0x1p-52 : 0x1p-23);
  ref::Tensor out = alloc_outputs(a).at(0);
  auto groups = reduction_groups(x.sizes(), trailing_mask(x, a.syms("normalized_shape").size()));
  for (const auto& g : groups) {
    double ms = 0;
    for (int64_t i : g)
      ms += x.get(i) * x.get(i);
    double r = 1.0 / std::sqrt(ms / static_cast<double>(g.size()) + eps);
    for (size_t j = 0; j < g.size(); ++j)
      out.set(g[j], x.get(g[j]) * r * param(w, static_cast<int64_t>(j), 1));
  }
  return ref::single_result(std::move(out));
}

// ---- Channel-wise norms over inputs laid out as [N, C, *] ----

// Input of rank >= 2; returns C.
sym::Expr channels_of(const Args& a, std::string_view op) {
  const ir::TensorType& in = a.type("input");
  if (in.rank() < 2) {
    a.fail(op, ": expected an input with at least 2 dims (N, C, ...), got ", shape_str(in.sizes));
  }
  return in.sizes[1];
}

// A per-channel parameter must hold C elements (PyTorch checks numel, not rank).
void check_channel_param(const Args& a, std::string_view name, const sym::Expr& c) {
  auto t = a.optional_type(name);
  if (t && known_unequal(t->numel(), c)) {
    a.fail(name, " should contain ", c.str(), " elements not ", t->numel().str());
  }
}

// [N, C, *] sizes as concrete ints: N, C and the product of the rest.
struct Layout {
  int64_t n = 0, c = 0, hw = 1;
  explicit Layout(const ref::Tensor& x) : n(x.size(0)), c(x.size(1)) {
    for (int64_t d = 2; d < x.dim(); ++d)
      hw *= x.size(d);
  }
  int64_t channel(int64_t i) const { return (i / hw) % c; }
  // The flat indices of one (n, c) plane.
  std::vector<int64_t> plane(int64_t ni, int64_t ci) const {
    std::vector<int64_t> idx;
    for (int64_t k = 0; k < hw; ++k)
      idx.push_back((ni * c + ci) * hw + k);
    return idx;
  }
};

// out = (x - mean[stat]) / sqrt(var[stat] + eps) * weight[c] + bias[c], with `stat_of` picking
// each element's statistics.
template <typename StatOf>
void normalize(const Args& a, const ref::Tensor& x, const std::vector<Stats>& stats, StatOf stat_of,
               double eps, ref::Tensor& out) {
  const ref::Tensor* w = a.optional_tensor("weight");
  const ref::Tensor* b = a.optional_tensor("bias");
  Layout l(x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const Stats& s = stats[static_cast<size_t>(stat_of(i))];
    int64_t c = l.channel(i);
    out.set(i, (x.get(i) - s.mean) / std::sqrt(s.var + eps) * param(w, c, 1) + param(b, c, 0));
  }
}

// Per-channel statistics from the running buffers.
std::vector<Stats> running_stats(const Args& a, int64_t channels) {
  const ref::Tensor& rm = a.tensor("running_mean");
  const ref::Tensor& rv = a.tensor("running_var");
  std::vector<Stats> stats(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    stats[static_cast<size_t>(c)] = {rm.get(c), rv.get(c)};
  return stats;
}

// Per-channel statistics of the batch (over N and the spatial dims).
std::vector<Stats> batch_stats(const ref::Tensor& x) {
  Layout l(x);
  std::vector<Stats> stats;
  for (int64_t c = 0; c < l.c; ++c) {
    std::vector<int64_t> idx;
    for (int64_t n = 0; n < l.n; ++n) {
      auto p = l.plane(n, c);
      idx.insert(idx.end(), p.begin(), p.end());
    }
    stats.push_back(stats_of(x, idx));
  }
  return stats;
}

std::vector<OutType> batch_norm_shape(const Args& a) {
  require_float_input(a, "batch_norm");
  sym::Expr c = channels_of(a, "batch_norm");
  for (auto p : {"weight", "bias", "running_mean", "running_var"})
    check_channel_param(a, p, c);
  if (!a.to_bool("training")) {
    if (a.is_none("running_mean")) a.fail("running_mean must be defined in evaluation mode");
    if (a.is_none("running_var")) a.fail("running_var must be defined in evaluation mode");
  }
  const ir::TensorType& in = a.type("input");
  return {make_type(in.dtype, in.sizes, in.device)};
}

// training=True normalizes by the batch's statistics; the running buffers are not updated (the
// functional result does not depend on them).
std::vector<ref::RValue> batch_norm_ref(const Args& a) {
  ref::Tensor out = alloc_outputs(a).at(0);  // runs the shape rule's checks first
  const ref::Tensor& x = a.tensor("input");
  auto stats = a.to_bool("training") ? batch_stats(x) : running_stats(a, x.size(1));
  Layout l(x);
  normalize(
      a, x, stats, [&](int64_t i) { return l.channel(i); }, a.to_double("eps"), out);
  return ref::single_result(std::move(out));
}

// Returns (out, save_mean, save_rstd): empty on the CPU, as PyTorch's CPU kernel returns them;
// elsewhere the running mean and 1/sqrt(running_var + eps) in the computation dtype.
std::vector<OutType> bn_no_training_shape(const Args& a) {
  require_float_input(a, "batch_norm");
  sym::Expr c = channels_of(a, "batch_norm");
  for (auto p : {"weight", "bias", "running_mean", "running_var"})
    check_channel_param(a, p, c);
  const ir::TensorType& in = a.type("input");
  std::vector<OutType> out{make_type(in.dtype, in.sizes, in.device)};
  bool cpu = in.device.type == "cpu";
  ir::TensorType saved = cpu ? make_type(in.dtype, {sym::Expr(0)}, in.device)
                             : make_type(computation_dtype(in.dtype), {c}, in.device);
  out.emplace_back(saved);
  out.emplace_back(saved);
  return out;
}

std::vector<ref::RValue> bn_no_training_ref(const Args& a) {
  std::vector<ref::Tensor> outs = alloc_outputs(a);
  const ref::Tensor& x = a.tensor("input");
  double eps = a.to_double("eps");
  auto stats = running_stats(a, x.size(1));
  Layout l(x);
  normalize(
      a, x, stats, [&](int64_t i) { return l.channel(i); }, eps, outs[0]);
  for (int64_t c = 0; c < outs[1].numel(); ++c) {
    const Stats& s = stats[static_cast<size_t>(c)];
    outs[1].set(c, s.mean);
    outs[2].set(c, 1.0 / std::sqrt(s.var + eps));
  }
  return {outs.begin(), outs.end()};
}

std::vector<OutType> instance_norm_shape(const Args& a) {
  require_float_input(a, "instance_norm");
  sym::Expr c = channels_of(a, "instance_norm");
  for (auto p : {"weight", "bias", "running_mean", "running_var"})
    check_channel_param(a, p, c);
  if (!a.to_bool("use_input_stats") && (a.is_none("running_mean") || a.is_none("running_var"))) {
    a.fail("Expected running_mean and running_var to be defined when use_input_stats is false");
  }
  const ir::TensorType& in = a.type("input");
  return {make_type(in.dtype, in.sizes, in.device)};
}

// use_input_stats: statistics of each (sample, channel) plane; otherwise the running buffers.
std::vector<ref::RValue> instance_norm_ref(const Args& a) {
  ref::Tensor out = alloc_outputs(a).at(0);
  const ref::Tensor& x = a.tensor("input");
  double eps = a.to_double("eps");
  Layout l(x);
  std::vector<Stats> stats;
  if (a.to_bool("use_input_stats")) {
    for (int64_t n = 0; n < l.n; ++n) {
      for (int64_t c = 0; c < l.c; ++c)
        stats.push_back(stats_of(x, l.plane(n, c)));
    }
    normalize(
        a, x, stats, [&](int64_t i) { return i / l.hw; }, eps, out);
  } else {
    stats = running_stats(a, l.c);
    normalize(
        a, x, stats, [&](int64_t i) { return l.channel(i); }, eps, out);
  }
  return ref::single_result(std::move(out));
}

// ---- group_norm: statistics over each group of C / G channels and the spatial dims ----

// The checks PyTorch makes, given N, C, HxW and the group count.
void check_groups(const Args& a, const sym::Expr& c, const sym::Expr& hw, int64_t groups) {
  if (groups <= 0) a.fail("Expected num groups to be greater than 0, got ", groups);
  auto cc = c.as_const();
  if (cc && *cc <= 0) a.fail("Expected number of channels to be greater than 0, got ", *cc);
  if (auto h = hw.as_const(); h && *h <= 0) a.fail("Expected HxW to be greater than 0, got ", *h);
  if (cc && *cc % groups != 0) {
    a.fail(
        "Expected number of channels in input to be divisible by num_groups, but got input "
        "of shape ",
        shape_str(a.type("input").sizes), " and num_groups=", groups);
  }
  for (std::string_view p : {"weight", "bias"}) {
    auto t = a.optional_type(p);
    if (t && (t->rank() != 1 || known_unequal(t->sizes[0], c))) {
      a.fail("Expected ", p,
             " to be a vector of size equal to the number of channels in input, "
             "but got ",
             p, " of shape ", shape_str(t->sizes), " and input of shape ",
             shape_str(a.type("input").sizes));
    }
  }
}

std::vector<OutType> group_norm_shape(const Args& a) {
  require_float_input(a, "group_norm");
  sym::Expr c = channels_of(a, "group_norm");
  const ir::TensorType& in = a.type("input");
  sym::Expr hw = 1;
  for (size_t d = 2; d < in.rank(); ++d)
    hw = hw * in.sizes[d];
  check_groups(a, c, hw, a.to_int("num_groups"));
  return {make_type(in.dtype, in.sizes, in.device)};
}

std::vector<OutType> native_group_norm_shape(const Args& a) {
  require_float_input(a, "group_norm");
  const ir::TensorType& in = a.type("input");
  if (in.rank() < 2) {
    a.fail("Expected at least 2 dimensions for input tensor but received ", in.rank());
  }
  sym::Expr n = a.sym("N"), c = a.sym("C"), hw = a.sym("HxW");
  int64_t groups = a.to_int("group");
  check_groups(a, c, hw, groups);
  if (known_unequal(in.numel(), n * c * hw)) {
    a.fail("Expected X.numel() == N * C * HxW, got ", in.numel().str(), " and N=", n.str(),
           ", C=", c.str(), ", HxW=", hw.str());
  }
  ir::TensorType stat = make_type(in.dtype, {n, sym::Expr(groups)}, in.device);
  return {make_type(in.dtype, in.sizes, in.device), stat, stat};
}

// Shared by both forms: out, plus mean[N, G] and rstd[N, G] for native_group_norm.
std::vector<ref::RValue> group_norm_ref(const Args& a) {
  std::vector<ref::Tensor> outs = alloc_outputs(a);
  const ref::Tensor& x = a.tensor("input");
  int64_t groups = a.schema().index_of("group") >= 0 ? a.to_int("group") : a.to_int("num_groups");
  double eps = a.to_double("eps");
  Layout l(x);
  int64_t per_group = l.c / groups * l.hw;  // a group's elements are contiguous
  std::vector<Stats> stats;
  for (int64_t k = 0; k < l.n * groups; ++k) {
    std::vector<int64_t> idx;
    for (int64_t e = 0; e < per_group; ++e)
      idx.push_back(k * per_group + e);
    stats.push_back(stats_of(x, idx));
  }
  normalize(
      a, x, stats, [&](int64_t i) { return i / per_group; }, eps, outs[0]);
  if (outs.size() == 3) {
    for (size_t k = 0; k < stats.size(); ++k) {
      outs[1].set(static_cast<int64_t>(k), stats[k].mean);
      outs[2].set(static_cast<int64_t>(k), 1.0 / std::sqrt(stats[k].var + eps));
    }
  }
  return {outs.begin(), outs.end()};
}

const OpDef kOps[] = {
    {"aten.layer_norm.default",
     "layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? "
     "bias=None, float eps=1.0000000000000001e-05, bool cudnn_enable=True) -> Tensor",
     layer_norm_shape, layer_norm_ref},
    {"aten.native_layer_norm.default",
     "native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, "
     "float eps) -> (Tensor, Tensor, Tensor)",
     layer_norm_shape, layer_norm_ref},
    {"aten.group_norm.default",
     "group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, float "
     "eps=1.0000000000000001e-05, bool cudnn_enabled=True) -> Tensor",
     group_norm_shape, group_norm_ref},
    {"aten.native_group_norm.default",
     "native_group_norm(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C, SymInt "
     "HxW, int group, float eps) -> (Tensor, Tensor, Tensor)",
     native_group_norm_shape, group_norm_ref},
    {"aten.batch_norm.default",
     "batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? "
     "running_var, bool training, float momentum, float eps, bool cudnn_enabled) -> Tensor",
     batch_norm_shape, batch_norm_ref},
    {"aten._native_batch_norm_legit_no_training.default",
     "_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor "
     "running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
     bn_no_training_shape, bn_no_training_ref},
    {"aten.instance_norm.default",
     "instance_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? "
     "running_var, bool use_input_stats, float momentum, float eps, bool cudnn_enabled) -> "
     "Tensor",
     instance_norm_shape, instance_norm_ref},
    {"aten.rms_norm.default",
     "rms_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, float? eps=None) -> "
     "Tensor",
     rms_norm_shape, rms_norm_ref},
};

}  // namespace

std::span<const OpDef> norm_ops() {
  return kOps;
}

}  // namespace kiln::ops::reduction
