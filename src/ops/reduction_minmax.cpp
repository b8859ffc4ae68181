// Extreme-value and logical reductions: amax/amin, max/min (whole tensor and with indices),
// argmax/argmin, all/any.
#include <cmath>
#include <string>

#include "ops/reduction_util.h"

namespace kiln::ops::reduction {
namespace {

using ir::DType;

// "amax()" for messages, as PyTorch names the op in its checks.
std::string op_name(const Args& a) {
  const std::string& n = a.schema().name;
  return n.substr(0, n.find('.')) + "()";
}

// The position within a group of its first maximum (or minimum). A NaN beats every number, so
// the first NaN's position is returned when there is one, as PyTorch does.
template <bool kMax>
size_t extreme_pos(const ref::Tensor& x, const std::vector<int64_t>& g) {
  size_t best = 0;
  if (x.is_floating()) {
    double bv = x.get(g[0]);
    for (size_t j = 1; j < g.size() && !std::isnan(bv); ++j) {
      double v = x.get(g[j]);
      if (std::isnan(v) || (kMax ? v > bv : v < bv)) {
        best = j;
        bv = v;
      }
    }
  } else {
    int64_t bv = x.get_int(g[0]);
    for (size_t j = 1; j < g.size(); ++j) {
      int64_t v = x.get_int(g[j]);
      if (kMax ? v > bv : v < bv) {
        best = j;
        bv = v;
      }
    }
  }
  return best;
}

void copy_element(const ref::Tensor& from, int64_t i, ref::Tensor& to, int64_t o) {
  if (from.is_floating()) {
    to.set(o, from.get(i));
  } else {
    to.set_int(o, from.get_int(i));
  }
}

// amax, amin, max, min: the input's dtype, no identity so reduced dims must not be empty.
std::vector<OutType> extreme_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  ReduceSpec spec = reduce_spec(a, t.rank());
  check_nonempty(a, op_name(a), t, spec.mask);
  return {make_type(t.dtype, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

template <bool kMax>
std::vector<ref::RValue> extreme_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    const auto& g = groups[o];
    copy_element(x, g[extreme_pos<kMax>(x, g)], out, static_cast<int64_t>(o));
  }
  return ref::single_result(std::move(out));
}

// max.dim / min.dim: (values, indices).
std::vector<OutType> extreme_dim_shape(const Args& a) {
  std::vector<OutType> out = extreme_shape(a);
  ir::TensorType indices = out[0].tensor;
  indices = make_type(DType::kInt64, indices.sizes, indices.device);
  out.emplace_back(indices);
  return out;
}

template <bool kMax>
std::vector<ref::RValue> extreme_dim_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  std::vector<ref::Tensor> outs = alloc_outputs(a);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    const auto& g = groups[o];
    size_t j = extreme_pos<kMax>(x, g);
    copy_element(x, g[j], outs[0], static_cast<int64_t>(o));
    outs[1].set_int(static_cast<int64_t>(o), static_cast<int64_t>(j));
  }
  return {outs[0], outs[1]};
}

// argmax / argmin: dim=None flattens, so the index is the flat index.
std::vector<OutType> arg_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  if (t.dtype == DType::kBool) a.fail(op_name(a), ": does not support bool input");
  ReduceSpec spec = reduce_spec(a, t.rank());
  check_nonempty(a, op_name(a), t, spec.mask);
  return {make_type(DType::kInt64, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

template <bool kMax>
std::vector<ref::RValue> arg_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    out.set_int(static_cast<int64_t>(o), static_cast<int64_t>(extreme_pos<kMax>(x, groups[o])));
  }
  return ref::single_result(std::move(out));
}

// all / any: bool, except that uint8 inputs give uint8. An empty list for .dims reduces nothing.
std::vector<OutType> logical_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  ReduceSpec spec = reduce_spec(a, t.rank(), /*empty_means_all=*/false);
  DType dt = t.dtype == DType::kUInt8 ? DType::kUInt8 : DType::kBool;
  return {make_type(dt, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

template <bool kAll>
std::vector<ref::RValue> logical_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()), /*empty_means_all=*/false);
  auto groups = reduction_groups(x.sizes(), spec.mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    bool acc = kAll;
    for (int64_t i : groups[o]) {
      bool nonzero = x.is_floating() ? x.get(i) != 0 : x.get_int(i) != 0;  // NaN is nonzero
      acc = kAll ? acc && nonzero : acc || nonzero;
    }
    out.set_int(static_cast<int64_t>(o), acc ? 1 : 0);
  }
  return ref::single_result(std::move(out));
}

const OpDef kOps[] = {
    {"aten.amax.default", "amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
     extreme_shape, extreme_ref<true>},
    {"aten.amin.default", "amin(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
     extreme_shape, extreme_ref<false>},
    {"aten.max.default", "max(Tensor self) -> Tensor", extreme_shape, extreme_ref<true>},
    {"aten.min.default", "min(Tensor self) -> Tensor", extreme_shape, extreme_ref<false>},
    {"aten.max.dim",
     "max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
     extreme_dim_shape, extreme_dim_ref<true>},
    {"aten.min.dim",
     "min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
     extreme_dim_shape, extreme_dim_ref<false>},
    {"aten.argmax.default", "argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor",
     arg_shape, arg_ref<true>},
    {"aten.argmin.default", "argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor",
     arg_shape, arg_ref<false>},
    {"aten.all.default", "all(Tensor self) -> Tensor", logical_shape, logical_ref<true>},
    {"aten.all.dim", "all.dim(Tensor self, int dim, bool keepdim=False) -> Tensor", logical_shape,
     logical_ref<true>},
    {"aten.all.dims", "all.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor",
     logical_shape, logical_ref<true>},
    {"aten.any.default", "any(Tensor self) -> Tensor", logical_shape, logical_ref<false>},
    {"aten.any.dim", "any.dim(Tensor self, int dim, bool keepdim=False) -> Tensor", logical_shape,
     logical_ref<false>},
    {"aten.any.dims", "any.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor",
     logical_shape, logical_ref<false>},
};

}  // namespace

std::span<const OpDef> minmax_ops() {
  return kOps;
}

}  // namespace kiln::ops::reduction
