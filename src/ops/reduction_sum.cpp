// Sum-like reductions: sum, mean, prod, and the variance family (var, std, var_mean).
#include <cmath>

#include "ops/reduction_util.h"

namespace kiln::ops::reduction {
namespace {

using ir::DType;

// sum and prod: an explicit dtype wins; bool and integer inputs accumulate in int64.
DType sum_dtype(const Args& a, DType in) {
  if (auto d = a.dtype("dtype")) return *d;
  if (in == DType::kBool || ir::is_integral(in)) return DType::kInt64;
  return in;
}

std::vector<OutType> sum_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  ReduceSpec spec = reduce_spec(a, t.rank());
  return {
      make_type(sum_dtype(a, t.dtype), reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

// Sum (or product) of each group, with the input cast to the output dtype first, as PyTorch
// does for an explicit dtype.
template <bool kProduct>
std::vector<ref::RValue> sum_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  DType dt = out.dtype();
  for (size_t o = 0; o < groups.size(); ++o) {
    auto oi = static_cast<int64_t>(o);
    if (out.is_floating()) {
      double acc = kProduct ? 1.0 : 0.0;
      for (int64_t i : groups[o]) {
        double v = load_float(x, i, dt);
        acc = kProduct ? acc * v : acc + v;
      }
      out.set(oi, acc);
    } else {
      int64_t acc = kProduct ? 1 : 0;
      for (int64_t i : groups[o]) {
        int64_t v = load_int(x, i, dt);
        acc = kProduct ? wrap_mul(acc, v) : wrap_add(acc, v);
      }
      out.set_int(oi, acc);
    }
  }
  return ref::single_result(std::move(out));
}

// mean: the output dtype must be floating, either the input's or the explicit dtype.
std::vector<OutType> mean_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  DType dt = t.dtype;
  if (auto d = a.dtype("dtype")) {
    dt = *d;
    if (!is_float(dt)) {
      a.fail(
          "mean(): could not infer output dtype. Optional dtype must be either a floating "
          "point or complex dtype. Got: ",
          ir::dtype_name(dt));
    }
  } else if (!is_float(dt)) {
    a.fail(
        "mean(): could not infer output dtype. Input dtype must be either a floating point "
        "or complex dtype. Got: ",
        ir::dtype_name(dt));
  }
  ReduceSpec spec = reduce_spec(a, t.rank());
  return {make_type(dt, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

std::vector<ref::RValue> mean_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    double acc = 0;
    for (int64_t i : groups[o])
      acc += load_float(x, i, out.dtype());
    // An empty group is 0/0: NaN, as in PyTorch.
    out.set(static_cast<int64_t>(o), acc / static_cast<double>(groups[o].size()));
  }
  return ref::single_result(std::move(out));
}

// The variance family. var.dim / std.dim take `unbiased`; the .correction overloads take a
// Scalar correction (None: 1).
double correction_of(const Args& a) {
  if (a.schema().index_of("unbiased") >= 0) return a.to_bool("unbiased") ? 1.0 : 0.0;
  auto c = a.optional_scalar("correction");
  return c ? c->to_double() : 1.0;
}

std::vector<OutType> var_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  const bool is_var_mean = a.op().target == "aten.var_mean.correction";
  if (!is_float(t.dtype)) {
    a.fail(is_var_mean ? "var_mean" : "std and var",
           " only support floating point and complex dtypes");
  }
  ReduceSpec spec = reduce_spec(a, t.rank());
  ir::TensorType out =
      make_type(t.dtype, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device);
  if (is_var_mean) return {out, out};
  return {out};
}

// Two passes in double: the mean, then the sum of squared deviations, divided by
// max(0, N - correction) as PyTorch does (so too large a correction gives inf, or NaN for 0/0).
template <bool kStd>
std::vector<ref::RValue> var_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  std::vector<ref::Tensor> outs = alloc_outputs(a);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  double correction = correction_of(a);
  for (size_t o = 0; o < groups.size(); ++o) {
    const auto& g = groups[o];
    auto n = static_cast<double>(g.size());
    double sum = 0;
    for (int64_t i : g)
      sum += x.get(i);
    double mean = sum / n;
    double m2 = 0;
    for (int64_t i : g)
      m2 += (x.get(i) - mean) * (x.get(i) - mean);
    double var = m2 / std::max(0.0, n - correction);
    auto oi = static_cast<int64_t>(o);
    outs[0].set(oi, kStd ? std::sqrt(var) : var);
    if (outs.size() > 1) outs[1].set(oi, mean);
  }
  return {outs.begin(), outs.end()};
}

const OpDef kOps[] = {
    {"aten.sum.default", "sum(Tensor self, *, ScalarType? dtype=None) -> Tensor", sum_shape,
     sum_ref<false>},
    {"aten.sum.dim_IntList",
     "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) "
     "-> Tensor",
     sum_shape, sum_ref<false>},
    {"aten.mean.default", "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor", mean_shape,
     mean_ref},
    {"aten.mean.dim",
     "mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
     mean_shape, mean_ref},
    {"aten.prod.default", "prod(Tensor self, *, ScalarType? dtype=None) -> Tensor", sum_shape,
     sum_ref<true>},
    {"aten.prod.dim_int",
     "prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
     sum_shape, sum_ref<true>},
    {"aten.var.dim",
     "var.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor",
     var_shape, var_ref<false>},
    {"aten.var.correction",
     "var.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool "
     "keepdim=False) -> Tensor",
     var_shape, var_ref<false>},
    {"aten.std.dim",
     "std.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor",
     var_shape, var_ref<true>},
    {"aten.std.correction",
     "std.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool "
     "keepdim=False) -> Tensor",
     var_shape, var_ref<true>},
    {"aten.var_mean.correction",
     "var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool "
     "keepdim=False) -> (Tensor, Tensor)",
     var_shape, var_ref<false>},
};

}  // namespace

std::span<const OpDef> sum_ops() {
  return kOps;
}

}  // namespace kiln::ops::reduction
