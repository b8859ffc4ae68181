// The nn family: GEMMs, convolutions, pooling, resampling, attention, embedding and indexing.
// Each nn_*.cpp file declares its part; this file joins them and holds the shared helpers.
#include <cmath>

#include "ops/families.h"
#include "ops/nn_util.h"

namespace kiln::ops {
namespace nn {

std::string shape_str(const std::vector<sym::Expr>& sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) s += ", ";
    s += sizes[i].str();
  }
  return s + "]";
}

bool known_greater(const sym::Expr& a, const sym::Expr& b) {
  auto x = a.as_const();
  auto y = b.as_const();
  return x && y && *x > *y;
}

std::vector<int64_t> expand_param(const Args& args, std::string_view name, size_t n) {
  std::vector<int64_t> v = args.ints(name);
  if (v.size() == 1 && n != 1) return std::vector<int64_t>(n, v[0]);
  if (v.size() != n) {
    args.fail("expected ", name, " to be a single integer value or a list of ", n,
              " values, but got ", v.size(), " values");
  }
  return v;
}

void check_expandable(const std::vector<sym::Expr>& from, const std::vector<sym::Expr>& to,
                      const Args& args, std::string_view what) {
  bool ok = from.size() <= to.size();
  for (size_t i = 0; ok && i < from.size(); ++i) {
    const sym::Expr& f = from[i];
    const sym::Expr& t = to[i + to.size() - from.size()];
    auto d = (f - t).as_const();
    if (f != sym::Expr(1) && d && *d != 0) ok = false;
  }
  if (!ok) args.fail(what, " of shape ", shape_str(from), " cannot be expanded to ", shape_str(to));
}

std::vector<sym::Expr> dims(const ir::TensorType& t, size_t from, size_t to) {
  return {t.sizes.begin() + static_cast<std::ptrdiff_t>(from),
          t.sizes.begin() + static_cast<std::ptrdiff_t>(to)};
}

ref::Tensor alloc_output(const Args& args, size_t index) {
  std::vector<OutType> types = args.op().shape(args);
  const ir::TensorType& t = types.at(index).tensor;
  return ref::Tensor(t.dtype, to_ints(t.sizes, args));
}

void check_numeric(ir::DType dtype, const Args& args, std::string_view what) {
  if (!ir::is_floating(dtype) && !ir::is_integral(dtype)) {
    args.fail(what, " is not implemented for dtype ", ir::dtype_name(dtype));
  }
}

void check_floating(ir::DType dtype, const Args& args, std::string_view what) {
  if (!ir::is_floating(dtype)) {
    args.fail(what, " needs a floating dtype, got ", ir::dtype_name(dtype));
  }
}

Sum Sum::scaled(double scale) const {
  Sum s(floating_);
  s.f_ = f_ * scale;
  s.i_ = i_ * static_cast<uint64_t>(static_cast<int64_t>(scale));
  return s;
}

ref::Tensor batched_matmul(const ref::Tensor& a, const ref::Tensor& b, ir::DType out_dtype) {
  std::vector<int64_t> as = a.sizes(), bs = b.sizes();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  int64_t n = as[as.size() - 2], k = as.back(), m = bs.back();
  std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  std::vector<int64_t> batch(std::max(a_batch.size(), b_batch.size()), 1);
  for (size_t i = 0; i < batch.size(); ++i) {
    auto at = [&](const std::vector<int64_t>& v) {
      size_t off = batch.size() - v.size();
      return i < off ? int64_t{1} : v[i - off];
    };
    batch[i] = at(a_batch) == 1 ? at(b_batch) : at(a_batch);
  }
  int64_t batch_numel = 1;
  for (int64_t s : batch)
    batch_numel *= s;
  BroadcastIndex a_index(a_batch, batch), b_index(b_batch, batch);
  std::vector<int64_t> out_sizes = batch;
  out_sizes.push_back(n);
  out_sizes.push_back(m);
  ref::Tensor out(out_dtype, out_sizes);
  for (int64_t bi = 0; bi < batch_numel; ++bi) {
    int64_t a0 = a_index(bi) * n * k, b0 = b_index(bi) * k * m;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        Sum acc(ir::is_floating(out_dtype));
        for (int64_t p = 0; p < k; ++p)
          acc.add_product(a, a0 + i * k + p, b, b0 + p * m + j);
        acc.store(out, (bi * n + i) * m + j);
      }
    }
  }
  return out;
}

ref::Tensor transpose_last2(const ref::Tensor& t) {
  if (t.dim() < 2) return t;
  std::vector<int64_t> sizes = t.sizes();
  std::swap(sizes[sizes.size() - 1], sizes[sizes.size() - 2]);
  ref::Tensor out(t.dtype(), sizes);
  int64_t r = t.size(t.dim() - 2), c = t.size(t.dim() - 1);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t plane = i / (r * c), row = (i / c) % r, col = i % c;
    int64_t j = plane * r * c + col * r + row;
    if (t.is_floating()) {
      out.set(j, t.get(i));
    } else {
      out.set_int(j, t.get_int(i));
    }
  }
  return out;
}

std::optional<ir::TensorType> recorded_output(const Args& args, size_t index) {
  if (args.source().is_concrete()) return std::nullopt;  // computed from the data instead
  const auto& outputs = args.node().outputs;
  if (index >= outputs.size()) return std::nullopt;
  const auto* t = std::get_if<ir::TensorArg>(&outputs[index]);
  if (t == nullptr || t->value < 0) return std::nullopt;
  return args.source().type(t->value);
}

}  // namespace nn

std::span<const OpDef> nn_ops() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> all;
    for (auto part : {nn::linear_ops(), nn::einsum_ops(), nn::conv_ops(), nn::pool_ops(),
                      nn::resample_ops(), nn::attention_ops(), nn::index_ops()}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return ops;
}

}  // namespace kiln::ops
