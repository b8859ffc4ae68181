// Vector norms (norm, linalg_vector_norm) and logsumexp.
#include <cmath>
#include <limits>
#include <sstream>

#include "ops/reduction_util.h"

namespace kiln::ops::reduction {
namespace {

using ir::DType;

double ord_of(const Args& a) {
  if (a.schema().index_of("ord") >= 0) return a.scalar("ord").to_double();
  auto p = a.optional_scalar("p");
  return p ? p->to_double() : 2.0;
}

// PyTorch prints the order as a Python number: "inf", "-1", "0.5".
std::string ord_str(double p) {
  if (std::isinf(p)) return p > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << p;
  return s.str();
}

// Negative orders and the inf-norm have no identity, so they need non-empty reductions.
void check_ord_nonempty(const Args& a, double ord, const ir::TensorType& t,
                        const std::vector<bool>& mask) {
  if (!(ord < 0 || std::isinf(ord))) return;
  bool all = true;
  for (bool m : mask)
    all = all && m;
  if (all && t.numel() == sym::Expr(0)) {
    a.fail("linalg.vector_norm cannot compute the ", ord_str(ord),
           " norm on an empty tensor because the operation does not have an identity");
  }
  for (size_t d = 0; d < t.rank(); ++d) {
    if (mask[d] && t.sizes[d] == sym::Expr(0)) {
      a.fail("linalg.vector_norm cannot compute the ", ord_str(ord), " norm on the dimension ", d,
             " because this dimension is empty and the operation does not have an identity");
    }
  }
}

std::vector<OutType> norm_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  DType dt = t.dtype;
  const bool is_vector_norm = a.schema().index_of("ord") >= 0;
  if (is_vector_norm) {
    require_floating(a, "self",
                     "linalg.vector_norm: Expected a floating point or complex tensor as input.");
    if (auto d = a.dtype("dtype")) {
      if (!is_float(*d) || promote_types(dt, *d) != *d) {
        a.fail("linalg.vector_norm: the dtype of the input (", ir::dtype_name(dt),
               ") should be convertible without narrowing to the specified dtype (",
               ir::dtype_name(*d), ")");
      }
      dt = *d;
    }
  } else {
    require_floating(a, "self", "norm(): input dtype should be either floating point or complex.");
  }
  ReduceSpec spec = reduce_spec(a, t.rank());
  check_ord_nonempty(a, ord_of(a), t, spec.mask);
  return {make_type(dt, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

// The p-norm of a group. NaN propagates everywhere except the 0-"norm", which counts nonzero
// entries (NaN among them), as PyTorch does.
double group_norm_value(const ref::Tensor& x, const std::vector<int64_t>& g, double p) {
  if (p == 0) {
    double count = 0;
    for (int64_t i : g)
      count += x.get(i) != 0 ? 1 : 0;
    return count;
  }
  if (std::isinf(p)) {
    double best = p > 0 ? 0 : std::numeric_limits<double>::infinity();
    for (int64_t i : g) {
      double v = std::fabs(x.get(i));
      if (std::isnan(v)) return v;
      best = p > 0 ? std::max(best, v) : std::min(best, v);
    }
    return best;
  }
  double acc = 0;
  for (int64_t i : g) {
    double v = std::fabs(x.get(i));
    acc += p == 1 ? v : p == 2 ? v * v : std::pow(v, p);
  }
  return p == 1 ? acc : p == 2 ? std::sqrt(acc) : std::pow(acc, 1.0 / p);
}

std::vector<ref::RValue> norm_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  ReduceSpec spec = reduce_spec(a, static_cast<size_t>(x.dim()));
  auto groups = reduction_groups(x.sizes(), spec.mask);
  double p = ord_of(a);
  for (size_t o = 0; o < groups.size(); ++o)
    out.set(static_cast<int64_t>(o), group_norm_value(x, groups[o], p));
  return ref::single_result(std::move(out));
}

// logsumexp: integer and bool inputs give the default float dtype. PyTorch's eager kernel
// rejects an empty dim list (its result shape disagrees with its output), so that fails here.
std::vector<OutType> logsumexp_shape(const Args& a) {
  const ir::TensorType& t = a.type("self");
  auto dims = a.ints("dim");
  if (dims.empty()) a.fail("logsumexp: dim must name at least one dim");
  ReduceSpec spec{reduced_mask(a, t.rank(), dims), a.to_bool("keepdim")};
  DType dt = is_float(t.dtype) ? t.dtype : kDefaultFloat;
  return {make_type(dt, reduced_sizes(t.sizes, spec.mask, spec.keepdim), t.device)};
}

// log(sum(exp(x - m))) + m with m the group's maximum, taken as 0 when infinite (so all -inf
// gives -inf and any +inf gives +inf, not NaN); NaN propagates.
std::vector<ref::RValue> logsumexp_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_outputs(a).at(0);
  std::vector<bool> mask = reduced_mask(a, static_cast<size_t>(x.dim()), a.ints("dim"));
  auto groups = reduction_groups(x.sizes(), mask);
  for (size_t o = 0; o < groups.size(); ++o) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i : groups[o]) {
      double v = x.get(i);
      if (std::isnan(v) || std::isnan(m)) {
        m = std::numeric_limits<double>::quiet_NaN();
      } else {
        m = std::max(m, v);
      }
    }
    if (std::isinf(m)) m = 0;
    double sum = 0;
    for (int64_t i : groups[o])
      sum += std::exp(x.get(i) - m);
    out.set(static_cast<int64_t>(o), std::log(sum) + m);
  }
  return ref::single_result(std::move(out));
}

const OpDef kOps[] = {
    {"aten.norm.Scalar", "norm.Scalar(Tensor self, Scalar p=2) -> Tensor", norm_shape, norm_ref},
    {"aten.norm.ScalarOpt_dim",
     "norm.ScalarOpt_dim(Tensor self, Scalar? p, int[1] dim, bool keepdim=False) -> Tensor",
     norm_shape, norm_ref},
    {"aten.linalg_vector_norm.default",
     "linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, "
     "ScalarType? dtype=None) -> Tensor",
     norm_shape, norm_ref},
    {"aten.logsumexp.default", "logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor",
     logsumexp_shape, logsumexp_ref},
};

}  // namespace

std::span<const OpDef> vnorm_ops() {
  return kOps;
}

}  // namespace kiln::ops::reduction
