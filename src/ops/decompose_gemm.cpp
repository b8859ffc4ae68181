// Decompositions of the composite GEMMs into mm, bmm and addmm (the GEMMs the backend calls a
// library for), with reshapes and expands around them: linear, matmul (torch.matmul's rules
// for every rank), dot, outer and baddbmm.
#include <cmath>

#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::ValueId;
using Values = std::vector<ValueId>;

ValueId mm(Decomposer& d, ValueId x, ValueId y) {
  return d.emit("aten.mm.default", {{"self", tensor_arg(x)}, {"mat2", tensor_arg(y)}});
}

ValueId bmm(Decomposer& d, ValueId x, ValueId y) {
  return d.emit("aten.bmm.default", {{"self", tensor_arg(x)}, {"mat2", tensor_arg(y)}});
}

std::vector<int64_t> leading_dims(int64_t rank, int64_t keep_last) {
  std::vector<int64_t> dims;
  for (int64_t k = 0; k + keep_last < rank; ++k)
    dims.push_back(k);
  return dims;
}

// [k] . [k] -> []: a [1, k] x [k, 1] product.
ValueId dot_of(Decomposer& d, ValueId x, ValueId y) {
  return d.reshape(mm(d, d.unsqueeze(x, 0), d.unsqueeze(y, 1)), {});
}

// The broadcast of two batch shapes (right-aligned); a size-1 side takes the other's size.
std::vector<ir::SymIntArg> broadcast(const std::vector<ir::SymIntArg>& a,
                                     const std::vector<ir::SymIntArg>& b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<ir::SymIntArg> out(n);
  for (size_t i = 0; i < n; ++i) {
    const ir::SymIntArg* x = i < n - a.size() ? nullptr : &a[i - (n - a.size())];
    const ir::SymIntArg* y = i < n - b.size() ? nullptr : &b[i - (n - b.size())];
    auto is_one = [](const ir::SymIntArg* s) {
      return s == nullptr || (!s->value && s->literal == 1);
    };
    if (is_one(x)) {
      out[i] = y != nullptr ? *y : literal(1);
    } else {
      out[i] = is_one(y) || y->value ? *x : *y;
    }
  }
  return out;
}

// torch.matmul: 1-D operands gain a dim for the product and lose it after; a batched left
// operand times a matrix or vector folds its batch into the rows of one mm; otherwise the batch
// dims broadcast and one bmm computes every product.
ValueId matmul_of(Decomposer& d, ValueId x, ValueId y) {
  const int64_t rx = d.rank(x), ry = d.rank(y);
  if (rx == 1 && ry == 1) return dot_of(d, x, y);
  if (rx <= 2 && ry <= 2) {
    ValueId p = mm(d, rx == 1 ? d.unsqueeze(x, 0) : x, ry == 1 ? d.unsqueeze(y, 1) : y);
    if (rx == 1) return d.squeeze(p, 0);
    return ry == 1 ? d.squeeze(p, 1) : p;
  }
  if (ry <= 2) {
    std::vector<ir::SymIntArg> out = d.sizes(x);
    out.pop_back();
    ValueId rows = d.reshape(x, {d.count(x, leading_dims(rx, 1)), d.dim(x, rx - 1)});
    ValueId p = mm(d, rows, ry == 1 ? d.unsqueeze(y, 1) : y);
    if (ry == 2) out.push_back(d.dim(y, 1));
    return d.reshape(p, out);
  }
  ValueId xs = rx == 1 ? d.unsqueeze(x, 0) : x;
  ValueId ys = ry == 1 ? d.unsqueeze(y, 1) : y;
  std::vector<ir::SymIntArg> sx = d.sizes(xs), sy = d.sizes(ys);
  std::vector<ir::SymIntArg> batch =
      broadcast({sx.begin(), sx.end() - 2}, {sy.begin(), sy.end() - 2});
  ir::SymIntArg n = sx[sx.size() - 2], k = sx.back(), m = sy.back();
  ir::SymIntArg count = literal(1);
  for (const ir::SymIntArg& b : batch)
    count = d.mul(count, b);
  auto with = [&](std::initializer_list<ir::SymIntArg> tail) {
    std::vector<ir::SymIntArg> s = batch;
    s.insert(s.end(), tail);
    return s;
  };
  ValueId x3 = d.reshape(d.expand(xs, with({n, k})), {count, n, k});
  ValueId y3 = d.reshape(d.expand(ys, with({k, m})), {count, k, m});
  std::vector<ir::SymIntArg> out = batch;
  if (rx > 1) out.push_back(n);
  if (ry > 1) out.push_back(m);
  return d.reshape(bmm(d, x3, y3), out);
}

Values matmul(Decomposer& d, const Args& a) {
  return {matmul_of(d, tensor_id(a, "self"), tensor_id(a, "other"))};
}

Values dot(Decomposer& d, const Args& a) {
  return {dot_of(d, tensor_id(a, "self"), tensor_id(a, "tensor"))};
}

// self[:, None] * vec2[None, :], promoting as mul does.
Values outer(Decomposer& d, const Args& a) {
  return {d.mul(d.unsqueeze(tensor_id(a, "self"), 1), d.unsqueeze(tensor_id(a, "vec2"), 0))};
}

ValueId addmm(Decomposer& d, ValueId bias, ValueId x, ValueId w) {
  return d.emit("aten.addmm.default",
                {{"self", tensor_arg(bias)}, {"mat1", tensor_arg(x)}, {"mat2", tensor_arg(w)}});
}

// input @ weight^T + bias: addmm for a 2-D input (and for the rows of a batched input when the
// bias is a vector), else mm or matmul with the bias added.
Values linear(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  ValueId w = tensor_id(a, "weight");
  std::optional<ValueId> b = optional_tensor_id(a, "bias");
  const int64_t rx = d.rank(x);
  auto with_bias = [&](ValueId out) { return b ? d.add(out, *b) : out; };
  if (d.rank(w) == 1) return {with_bias(matmul_of(d, x, w))};
  ValueId wt = d.permute(w, {1, 0});
  if (rx == 1) return {with_bias(matmul_of(d, x, wt))};
  if (rx == 2) return {b ? addmm(d, *b, x, wt) : mm(d, x, wt)};
  const bool fused_bias = b && d.rank(*b) <= 1;
  ValueId rows = d.reshape(x, {d.count(x, leading_dims(rx, 1)), d.dim(x, rx - 1)});
  ValueId p = fused_bias ? addmm(d, *b, rows, wt) : mm(d, rows, wt);
  std::vector<ir::SymIntArg> out = d.sizes(x);
  out.back() = d.dim(w, 0);
  ValueId result = d.reshape(p, out);
  return {fused_bias ? result : with_bias(result)};
}

// A scale of baddbmm: integral results truncate it, as PyTorch does.
ir::Argument scale_of(const Args& a, std::string_view name, ir::DType t) {
  std::optional<Scalar> s = a.known_scalar(name);
  if (!s || ir::is_floating(t)) return number(a, name);
  return static_cast<int64_t>(std::trunc(s->to_double()));
}

bool known_value(const Args& a, std::string_view name, double v) {
  std::optional<Scalar> s = a.known_scalar(name);
  return s && s->to_double() == v;
}

// beta * self + alpha * (batch1 @ batch2); self is not read when beta is 0, so its NaNs do not
// reach the result.
Values baddbmm(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  ir::DType t = d.dtype(self);
  ValueId p = bmm(d, tensor_id(a, "batch1"), tensor_id(a, "batch2"));
  if (!known_value(a, "alpha", 1)) p = d.mul_n(p, scale_of(a, "alpha", t));
  if (known_value(a, "beta", 0)) return {p};
  if (!known_value(a, "beta", 1)) self = d.mul_n(self, scale_of(a, "beta", t));
  return {d.add(self, p)};
}

const Decomposition kDecompositions[] = {
    {"aten.linear.default", linear}, {"aten.matmul.default", matmul},   {"aten.dot.default", dot},
    {"aten.outer.default", outer},   {"aten.baddbmm.default", baddbmm},
};

}  // namespace

std::span<const Decomposition> gemm_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
