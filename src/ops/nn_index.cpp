// Embedding and indexing: embedding, gather, index_select, advanced indexing (index.Tensor) and
// the scatter ops. Every index is bounds-checked and an out-of-range one fails naming its value
// and the bound; only index.Tensor wraps negative indices, as in PyTorch.
#include <algorithm>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

bool is_index_dtype(ir::DType t) {
  return t == ir::DType::kInt64 || t == ir::DType::kInt32;
}

void check_index_dtype(const ir::TensorType& t, std::string_view what, const Args& a) {
  if (!is_index_dtype(t.dtype)) {
    a.fail(what, " must be an int64 or int32 tensor, got ", ir::dtype_name(t.dtype));
  }
}

// Copies element i of `from` to element j of `to` (same dtype family).
void copy_element(const ref::Tensor& from, int64_t i, ref::Tensor& to, int64_t j) {
  if (from.is_floating()) {
    to.set(j, from.get(i));
  } else {
    to.set_int(j, from.get_int(i));
  }
}

// ---- embedding ----

std::vector<OutType> embedding_shape(const Args& a) {
  const auto& w = a.type("weight");
  const auto& idx = a.type("indices");
  if (w.rank() != 2) a.fail("'weight' must be 2-D, got ", shape_str(w.sizes));
  check_index_dtype(idx, "indices", a);
  std::vector<sym::Expr> out = idx.sizes;
  out.push_back(w.sizes[1]);
  return {make_type(w.dtype, std::move(out), w.device)};
}

std::vector<ref::RValue> embedding_ref(const Args& a) {
  const ref::Tensor& w = a.tensor("weight");
  const ref::Tensor& idx = a.tensor("indices");
  ref::Tensor out = alloc_output(a);
  int64_t rows = w.size(0), width = w.size(1);
  for (int64_t i = 0; i < idx.numel(); ++i) {
    int64_t r = idx.get_int(i);
    if (r < 0 || r >= rows) {
      a.fail("embedding index ", r, " is out of range for a table of ", rows, " rows");
    }
    for (int64_t c = 0; c < width; ++c)
      copy_element(w, r * width + c, out, i * width + c);
  }
  return ref::single_result(std::move(out));
}

// ---- gather and scatter ----

// Sizes with a 0-d tensor taken as [1], as PyTorch's gather/scatter treat it.
std::vector<sym::Expr> at_least_1d(const ir::TensorType& t) {
  return t.rank() == 0 ? std::vector<sym::Expr>{sym::Expr(1)} : t.sizes;
}
std::vector<int64_t> at_least_1d(const ref::Tensor& t) {
  return t.dim() == 0 ? std::vector<int64_t>{1} : t.sizes();
}

// The checks gather and scatter share: index rank and dtype, and index sizes within self's
// (except along dim) and within src's. Returns the wrapped dim.
int64_t check_gather_scatter(const Args& a, const ir::TensorType& self, const ir::TensorType& index,
                             const ir::TensorType* src) {
  int64_t dim = wrap_dim(a.to_int("dim"), static_cast<int64_t>(self.rank()), a);
  check_index_dtype(index, "index", a);
  auto s = at_least_1d(self), i = at_least_1d(index);
  if (i.size() != s.size() || (src != nullptr && at_least_1d(*src).size() != s.size())) {
    a.fail("index tensor must have the same number of dimensions as self", src ? " and src" : "",
           ": self is ", shape_str(self.sizes), ", index is ", shape_str(index.sizes));
  }
  for (size_t d = 0; d < s.size(); ++d) {
    bool too_big = (static_cast<int64_t>(d) != dim && known_greater(i[d], s[d])) ||
                   (src != nullptr && known_greater(i[d], at_least_1d(*src)[d]));
    if (too_big) {
      a.fail("expected index ", shape_str(index.sizes), " to be no larger than self ",
             shape_str(self.sizes), " apart from dimension ", dim,
             src ? " and no larger than src " + shape_str(src->sizes) : std::string());
    }
  }
  return dim;
}

std::vector<OutType> gather_shape(const Args& a) {
  const auto& self = a.type("self");
  const auto& index = a.type("index");
  check_gather_scatter(a, self, index, nullptr);
  return {make_type(self.dtype, index.sizes, self.device)};
}

// The bounds check every gather/scatter index goes through.
int64_t checked_index(const Args& a, int64_t v, int64_t dim, int64_t size) {
  if (v < 0 || v >= size) {
    a.fail("index ", v, " is out of bounds for dimension ", dim, " with size ", size);
  }
  return v;
}

std::vector<ref::RValue> gather_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  const ref::Tensor& index = a.tensor("index");
  int64_t dim = wrap_dim(a.to_int("dim"), self.dim(), a);
  ref::Tensor out = alloc_output(a);
  std::vector<int64_t> ss = at_least_1d(self), is = at_least_1d(index);
  for (int64_t i = 0; i < index.numel(); ++i) {
    std::vector<int64_t> pos = unravel(i, is);
    pos[static_cast<size_t>(dim)] =
        checked_index(a, index.get_int(i), dim, ss[static_cast<size_t>(dim)]);
    copy_element(self, ravel(pos, ss), out, i);
  }
  return ref::single_result(std::move(out));
}

enum class Scatter : uint8_t { kValue, kSrc, kAdd };

template <Scatter K>
std::vector<OutType> scatter_shape(const Args& a) {
  const auto& self = a.type("self");
  const auto& index = a.type("index");
  std::optional<ir::TensorType> src;
  if (K != Scatter::kValue) {
    src = a.type("src");
    if (src->dtype != self.dtype) {
      a.fail("expected self.dtype to be equal to src.dtype, got ", ir::dtype_name(self.dtype),
             " and ", ir::dtype_name(src->dtype));
    }
  }
  check_gather_scatter(a, self, index, src ? &*src : nullptr);
  return {make_type(self.dtype, self.sizes, self.device)};
}

template <Scatter K>
std::vector<ref::RValue> scatter_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  const ref::Tensor& index = a.tensor("index");
  int64_t dim = wrap_dim(a.to_int("dim"), self.dim(), a);
  ref::Tensor out = alloc_output(a);
  for (int64_t i = 0; i < self.numel(); ++i)
    copy_element(self, i, out, i);
  std::vector<int64_t> ss = at_least_1d(self), is = at_least_1d(index);
  const ref::Tensor* src = K == Scatter::kValue ? nullptr : &a.tensor("src");
  std::optional<Scalar> value;
  if (K == Scatter::kValue) value = a.scalar("value");
  // scatter_add sums per target in double (or wrapping int64), then rounds once.
  std::vector<Sum> sums;
  if (K == Scatter::kAdd) {
    for (int64_t i = 0; i < self.numel(); ++i) {
      sums.emplace_back(self.is_floating());
      sums.back().add(self, i);
    }
  }
  for (int64_t i = 0; i < index.numel(); ++i) {
    std::vector<int64_t> pos = unravel(i, is);
    int64_t from = src != nullptr ? ravel(pos, at_least_1d(*src)) : 0;
    pos[static_cast<size_t>(dim)] =
        checked_index(a, index.get_int(i), dim, ss[static_cast<size_t>(dim)]);
    int64_t to = ravel(pos, ss);
    if (K == Scatter::kAdd) {
      sums[static_cast<size_t>(to)].add(*src, from);
    } else if (K == Scatter::kSrc) {
      copy_element(*src, from, out, to);  // duplicates: the last write wins
    } else if (value->kind == Scalar::Kind::kFloat) {
      out.set(to, value->f);
    } else {
      out.set_int(to, value->i);
    }
  }
  for (size_t i = 0; i < sums.size(); ++i)
    sums[i].store(out, static_cast<int64_t>(i));
  return ref::single_result(std::move(out));
}

// ---- index_select ----

std::vector<OutType> index_select_shape(const Args& a) {
  const auto& self = a.type("self");
  const auto& index = a.type("index");
  int64_t dim = wrap_dim(a.to_int("dim"), static_cast<int64_t>(self.rank()), a);
  check_index_dtype(index, "index", a);
  if (index.rank() > 1)
    a.fail("index_select(): index must be a vector, got ", shape_str(index.sizes));
  sym::Expr count = index.rank() == 0 ? sym::Expr(1) : index.sizes[0];
  if (self.rank() == 0) {
    check_same(count, 1, a, "index_select(): an index into a 0-d tensor must have one value, got ",
               count.str());
    return {make_type(self.dtype, {}, self.device)};
  }
  std::vector<sym::Expr> out = self.sizes;
  out[static_cast<size_t>(dim)] = count;
  return {make_type(self.dtype, std::move(out), self.device)};
}

std::vector<ref::RValue> index_select_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  const ref::Tensor& index = a.tensor("index");
  int64_t dim = wrap_dim(a.to_int("dim"), self.dim(), a);
  ref::Tensor out = alloc_output(a);
  std::vector<int64_t> ss = at_least_1d(self), os = at_least_1d(out);
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> pos = unravel(i, os);
    size_t d = static_cast<size_t>(dim);
    pos[d] = checked_index(a, index.get_int(pos[d]), dim, ss[d]);
    copy_element(self, ravel(pos, ss), out, i);
  }
  return ref::single_result(std::move(out));
}

const OpDef kOps[] = {
    {"aten.embedding.default",
     "embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1, bool "
     "scale_grad_by_freq=False, bool sparse=False) -> Tensor",
     embedding_shape, embedding_ref},
    {"aten.gather.default",
     "gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor",
     gather_shape, gather_ref},
    {"aten.index_select.default", "index_select(Tensor self, int dim, Tensor index) -> Tensor",
     index_select_shape, index_select_ref},
    {"aten.index.Tensor", "index.Tensor(Tensor self, Tensor?[] indices) -> Tensor",
     index_tensor_shape, index_tensor_ref},
    {"aten.scatter.value",
     "scatter.value(Tensor self, int dim, Tensor index, Scalar value) -> Tensor",
     scatter_shape<Scatter::kValue>, scatter_ref<Scatter::kValue>},
    {"aten.scatter.src", "scatter.src(Tensor self, int dim, Tensor index, Tensor src) -> Tensor",
     scatter_shape<Scatter::kSrc>, scatter_ref<Scatter::kSrc>},
    {"aten.scatter_add.default",
     "scatter_add(Tensor self, int dim, Tensor index, Tensor src) -> Tensor",
     scatter_shape<Scatter::kAdd>, scatter_ref<Scatter::kAdd>},
    {"aten.scatter_.value",
     "scatter_.value(Tensor(a!) self, int dim, Tensor index, Scalar value) -> Tensor(a!)",
     scatter_shape<Scatter::kValue>, scatter_ref<Scatter::kValue>, "aten.scatter.value"},
    {"aten.scatter_.src",
     "scatter_.src(Tensor(a!) self, int dim, Tensor index, Tensor src) -> Tensor(a!)",
     scatter_shape<Scatter::kSrc>, scatter_ref<Scatter::kSrc>, "aten.scatter.src"},
    {"aten.scatter_add_.default",
     "scatter_add_(Tensor(a!) self, int dim, Tensor index, Tensor src) -> Tensor(a!)",
     scatter_shape<Scatter::kAdd>, scatter_ref<Scatter::kAdd>, "aten.scatter_add.default"},
};

}  // namespace

std::span<const OpDef> index_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
