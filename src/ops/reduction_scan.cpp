// Ops along one dim that keep the input's shape: cumsum, cumprod, softmax and log_softmax.
#include <cmath>
#include <limits>

#include "ops/reduction_util.h"

namespace kiln::ops::reduction {
namespace {

using ir::DType;

// The groups of elements along `dim`, each in order.
std::vector<std::vector<int64_t>> lanes(const Args& a, const ref::Tensor& x) {
  return reduction_groups(x.sizes(), reduced_mask(a, static_cast<size_t>(x.dim()), a.ints("dim")));
}

// cumsum / cumprod: an explicit dtype wins; bool and integer inputs accumulate in int64.
std::vector<OutType> scan_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  wrap_dim(a.to_int("dim"), static_cast<int64_t>(t.rank()), a);
  DType dt = t.dtype;
  if (auto d = a.dtype("dtype")) {
    dt = *d;
  } else if (dt == DType::kBool || ir::is_integral(dt)) {
    dt = DType::kInt64;
  }
  return {make_type(dt, t.sizes, t.device)};
}

// Each element is cast to the output dtype before it is accumulated, as PyTorch casts the input
// for an explicit dtype.
template <bool kProduct>
std::vector<ref::RValue> scan_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  DType dt = out.dtype();
  for (const auto& lane : lanes(a, x)) {
    double facc = kProduct ? 1.0 : 0.0;
    int64_t iacc = kProduct ? 1 : 0;
    for (int64_t i : lane) {
      if (out.is_floating()) {
        double v = load_float(x, i, dt);
        facc = kProduct ? facc * v : facc + v;
        out.set(i, facc);
      } else {
        int64_t v = load_int(x, i, dt);
        iacc = kProduct ? wrap_mul(iacc, v) : wrap_add(iacc, v);
        out.set_int(i, iacc);
      }
    }
  }
  return ref::single_result(std::move(out));
}

// softmax.int / log_softmax.int take an optional dtype the input is cast to; _softmax /
// _log_softmax take half_to_float, which turns a float16 input into a float32 result.
std::vector<OutType> softmax_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  wrap_dim(a.to_int("dim"), static_cast<int64_t>(t.rank()), a);
  DType dt = t.dtype;
  if (a.schema().index_of("half_to_float") >= 0) {
    if (a.to_bool("half_to_float")) {
      if (dt != DType::kFloat16) {
        a.fail("half_to_float is True but the input is ", ir::dtype_name(dt), ", expected float16");
      }
      dt = DType::kFloat32;
    }
  } else if (auto d = a.dtype("dtype")) {
    dt = *d;
  }
  if (!is_float(dt)) a.fail("softmax is not implemented for ", ir::dtype_name(dt));
  return {make_type(dt, t.sizes, t.device)};
}

// Subtracts the lane's maximum before exponentiating, so large inputs do not overflow. A NaN
// makes the whole lane NaN, and an infinite maximum gives NaN as in PyTorch (inf - inf).
template <bool kLog>
std::vector<ref::RValue> softmax_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  for (const auto& lane : lanes(a, x)) {
    std::vector<double> v;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i : lane) {
      v.push_back(load_float(x, i, out.dtype()));
      m = std::isnan(v.back()) || std::isnan(m) ? v.back() + m : std::max(m, v.back());
    }
    double sum = 0;
    for (double e : v)
      sum += std::exp(e - m);
    for (size_t j = 0; j < lane.size(); ++j) {
      double r = kLog ? v[j] - m - std::log(sum) : std::exp(v[j] - m) / sum;
      out.set(lane[j], r);
    }
  }
  return ref::single_result(std::move(out));
}

const OpDef kOps[] = {
    {"aten.cumsum.default", "cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
     scan_shape, scan_ref<false>},
    {"aten.cumprod.default", "cumprod(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
     scan_shape, scan_ref<true>},
    {"aten.softmax.int", "softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor",
     softmax_shape, softmax_ref<false>},
    {"aten._softmax.default", "_softmax(Tensor self, int dim, bool half_to_float) -> Tensor",
     softmax_shape, softmax_ref<false>},
    {"aten.log_softmax.int",
     "log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor", softmax_shape,
     softmax_ref<true>},
    {"aten._log_softmax.default",
     "_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", softmax_shape,
     softmax_ref<true>},
};

}  // namespace

std::span<const OpDef> scan_ops() {
  return kOps;
}

}  // namespace kiln::ops::reduction
