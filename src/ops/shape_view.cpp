// Views that rearrange dims without selecting elements: view/reshape, permutes, expand,
// (un)squeeze, flatten/unflatten, aliases and as_strided. Each shape rule computes the view's
// strides and storage offset from its input's, and one reference kernel reads through them.
#include <algorithm>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

// Row-major, as PyTorch's is_contiguous judges it: strides of size-1 dims do not matter.
bool is_contiguous(const ir::TensorType& t) {
  if (t.strides.size() != t.sizes.size()) return false;
  sym::Expr expected = 1;
  for (size_t d = t.rank(); d-- > 0;) {
    if (is_known(t.sizes[d], 1)) continue;
    if (is_known(t.sizes[d], 0)) return true;
    if (t.strides[d] != expected) return false;
    expected = expected * t.sizes[d];
  }
  return true;
}

// computeStride over symbolic sizes and strides, deciding each comparison by equality of
// canonical forms. A chunk boundary it cannot prove away only makes it give up (nullopt).
std::optional<Exprs> compute_stride_sym(const Exprs& old_shape, const Exprs& old_stride,
                                        const Exprs& shape) {
  auto rank = static_cast<int64_t>(shape.size());
  Exprs stride(shape.size(), 1);
  if (old_shape.empty()) return stride;
  int64_t view_d = rank - 1;
  sym::Expr chunk_base_stride = old_stride.back();
  sym::Expr tensor_numel = 1, view_numel = 1;
  for (auto tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    auto td = static_cast<size_t>(tensor_d);
    tensor_numel = tensor_numel * old_shape[td];
    if (tensor_d == 0 || (!is_known(old_shape[td - 1], 1) &&
                          old_stride[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 &&
             (view_numel != tensor_numel || is_known(shape[static_cast<size_t>(view_d)], 1))) {
        stride[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel = view_numel * shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_stride[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return stride;
}

// PyTorch's computeStride for known sizes and strides: the strides viewing `old` as `shape`,
// or nullopt when some new dim would span two non-contiguous chunks of the old layout.
std::optional<std::vector<int64_t>> compute_stride(const std::vector<int64_t>& old_shape,
                                                   const std::vector<int64_t>& old_stride,
                                                   const std::vector<int64_t>& shape) {
  int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> stride(shape.size(), 1);
  if (old_shape.empty()) return stride;
  int64_t numel = 1;
  for (int64_t s : old_shape)
    numel *= s;
  if (numel == 0) {
    if (old_shape == shape) return old_stride;
    for (int64_t d = rank - 2; d >= 0; --d) {
      auto u = static_cast<size_t>(d);
      stride[u] = std::max<int64_t>(shape[u + 1], 1) * stride[u + 1];
    }
    return stride;
  }
  int64_t view_d = rank - 1;
  int64_t chunk_base_stride = old_stride.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    auto td = static_cast<size_t>(tensor_d);
    tensor_numel *= old_shape[td];
    if (tensor_d == 0 ||
        (old_shape[td - 1] != 1 && old_stride[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 &&
             (view_numel < tensor_numel || shape[static_cast<size_t>(view_d)] == 1)) {
        stride[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_stride[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return stride;
}

bool all_known(const Exprs& v) {
  return std::all_of(v.begin(), v.end(), [](const sym::Expr& e) { return e.is_const(); });
}

// The type of `self` viewed (or, when `may_copy`, reshaped) as `sizes`.
ir::TensorType reshape_type(const ir::TensorType& self, Exprs sizes, bool may_copy, const Args& a) {
  if (is_contiguous(self)) {
    Exprs strides = ir::TensorType::contiguous_strides(sizes);
    return view_type(self, std::move(sizes), std::move(strides), self.storage_offset);
  }
  if (all_known(self.sizes) && all_known(self.strides) && all_known(sizes)) {
    auto strides =
        compute_stride(to_ints(self.sizes, a), to_ints(self.strides, a), to_ints(sizes, a));
    if (strides) return view_type(self, std::move(sizes), to_exprs(*strides), self.storage_offset);
  } else if (auto strides = compute_stride_sym(self.sizes, self.strides, sizes)) {
    return view_type(self, std::move(sizes), std::move(*strides), self.storage_offset);
  }
  if (!may_copy) {
    a.fail("view size ", make_type(self.dtype, sizes, self.device).str(),
           " is not compatible with input tensor's size and stride (at least one dimension spans "
           "across two contiguous subspaces); use reshape instead");
  }
  // reshape copies: a fresh contiguous tensor.
  return make_type(self.dtype, std::move(sizes), self.device);
}

std::vector<OutType> view_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  bool is_reshape = a.schema().index_of("shape") >= 0;
  Exprs sizes = infer_size(a.syms(is_reshape ? "shape" : "size"), self.numel(), a);
  return {reshape_type(self, std::move(sizes), is_reshape, a)};
}

std::vector<OutType> view_as_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  Exprs sizes = infer_size(a.type("other").sizes, self.numel(), a);
  return {reshape_type(self, std::move(sizes), false, a)};
}

// self's dims reordered: output dim i is input dim perm[i].
ir::TensorType permuted(const ir::TensorType& self, const std::vector<int64_t>& perm) {
  Exprs sizes, strides;
  for (int64_t p : perm) {
    sizes.push_back(self.sizes[static_cast<size_t>(p)]);
    strides.push_back(self.strides[static_cast<size_t>(p)]);
  }
  return view_type(self, std::move(sizes), std::move(strides), self.storage_offset);
}

int64_t rank_of(const ir::TensorType& t) {
  return static_cast<int64_t>(t.rank());
}

std::vector<OutType> permute_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  std::vector<int64_t> dims = a.ints("dims");
  if (static_cast<int64_t>(dims.size()) != rank_of(self)) {
    a.fail("permute: the number of dims (", dims.size(), ") does not match the rank ", self.rank());
  }
  std::vector<bool> seen(dims.size(), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, rank_of(self), a);
    if (seen[static_cast<size_t>(d)]) a.fail("permute: dim ", d, " is repeated");
    seen[static_cast<size_t>(d)] = true;
  }
  return {permuted(self, dims)};
}

std::vector<int64_t> identity_perm(int64_t rank) {
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i)
    perm[static_cast<size_t>(i)] = i;
  return perm;
}

ir::TensorType transposed(const ir::TensorType& self, int64_t d0, int64_t d1, const Args& a) {
  int64_t rank = rank_of(self);
  d0 = wrap_dim(d0, rank, a);
  d1 = wrap_dim(d1, rank, a);
  std::vector<int64_t> perm = identity_perm(rank);
  if (rank > 0) std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
  return permuted(self, perm);
}

std::vector<OutType> transpose_shape(const Args& a) {
  return {transposed(a.type("self"), a.to_int("dim0"), a.to_int("dim1"), a)};
}

std::vector<OutType> t_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (self.rank() > 2)
    a.fail("t() expects a tensor with <= 2 dimensions, but self is ", self.rank(), "D");
  return {self.rank() < 2 ? permuted(self, identity_perm(rank_of(self)))
                          : transposed(self, 0, 1, a)};
}

std::vector<OutType> movedim_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  int64_t rank = rank_of(self);
  int64_t src = wrap_dim(a.to_int("source"), rank, a);
  int64_t dst = wrap_dim(a.to_int("destination"), rank, a);
  std::vector<int64_t> perm = identity_perm(rank);
  if (rank == 0) return {permuted(self, perm)};
  perm.erase(perm.begin() + src);
  perm.insert(perm.begin() + dst, src);
  return {permuted(self, perm)};
}

ir::TensorType expanded(const ir::TensorType& self, const Exprs& target, const Args& a) {
  if (target.size() < self.rank()) {
    a.fail("expand: the number of sizes provided (", target.size(),
           ") must be greater or equal to the number of dimensions in the tensor (", self.rank(),
           ")");
  }
  size_t lead = target.size() - self.rank();
  Exprs sizes(target.size()), strides(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    const sym::Expr& want = target[i];
    bool keep = is_known(want, -1);
    if (i < lead) {
      if (keep) a.fail("expand: -1 is not allowed in a leading, non-existing dimension ", i);
      if (want.as_const().value_or(0) < 0) a.fail("expand: invalid size ", want.str());
      sizes[i] = want;
      strides[i] = 0;
      continue;
    }
    const sym::Expr& have = self.sizes[i - lead];
    if (keep || want == have) {
      sizes[i] = have;
      strides[i] = self.strides[i - lead];
    } else if (is_known(have, 1)) {
      if (want.as_const().value_or(0) < 0) a.fail("expand: invalid size ", want.str());
      sizes[i] = want;
      strides[i] = 0;
    } else if (known_unequal(want, have)) {
      a.fail("expand: the expanded size ", want.str(), " must match the existing size ", have.str(),
             " at non-singleton dimension ", i);
    } else {
      sizes[i] = want.is_const() ? want : have;
      strides[i] = self.strides[i - lead];
    }
  }
  return view_type(self, std::move(sizes), std::move(strides), self.storage_offset);
}

std::vector<OutType> expand_shape(const Args& a) {
  return {expanded(a.type("self"), a.syms("size"), a)};
}

std::vector<OutType> expand_as_shape(const Args& a) {
  return {expanded(a.type("self"), a.type("other").sizes, a)};
}

std::vector<OutType> unsqueeze_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  auto dim = static_cast<size_t>(wrap_dim(a.to_int("dim"), rank_of(self) + 1, a));
  Exprs sizes = self.sizes, strides = self.strides;
  sym::Expr stride = dim >= self.rank() ? sym::Expr(1) : sizes[dim] * strides[dim];
  sizes.insert(sizes.begin() + static_cast<std::ptrdiff_t>(dim), 1);
  strides.insert(strides.begin() + static_cast<std::ptrdiff_t>(dim), stride);
  return {view_type(self, std::move(sizes), std::move(strides), self.storage_offset)};
}

// self without the dims in `drop` whose size is 1 (squeezing another size is a no-op).
ir::TensorType squeezed(const ir::TensorType& self, const std::vector<bool>& drop) {
  Exprs sizes, strides;
  for (size_t i = 0; i < self.rank(); ++i) {
    if (drop[i] && is_known(self.sizes[i], 1)) continue;
    sizes.push_back(self.sizes[i]);
    strides.push_back(self.strides[i]);
  }
  return view_type(self, std::move(sizes), std::move(strides), self.storage_offset);
}

std::vector<OutType> squeeze_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return {squeezed(self, std::vector<bool>(self.rank(), true))};
}

std::vector<OutType> squeeze_dims_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  std::vector<bool> drop(self.rank(), false);
  std::vector<int64_t> dims = a.ints("dim");  // one int for squeeze.dim, a list for .dims
  std::vector<bool> seen(std::max<size_t>(self.rank(), 1), false);
  for (int64_t d : dims) {
    auto w = static_cast<size_t>(wrap_dim(d, rank_of(self), a));
    if (seen[w]) a.fail("dim ", w, " appears multiple times in the list of dims");
    seen[w] = true;
    if (w < drop.size()) drop[w] = true;
  }
  return {squeezed(self, drop)};
}

std::vector<OutType> flatten_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  int64_t rank = rank_of(self);
  if (rank == 0) return {view_type(self, {1}, {1}, self.storage_offset)};
  auto start = static_cast<size_t>(wrap_dim(a.to_int("start_dim"), rank, a));
  auto end = static_cast<size_t>(wrap_dim(a.to_int("end_dim"), rank, a));
  if (start > end) a.fail("flatten() has invalid args: start_dim cannot come after end_dim");
  if (start == end) return {permuted(self, identity_perm(rank))};
  Exprs sizes(self.sizes.begin(), self.sizes.begin() + static_cast<std::ptrdiff_t>(start));
  sizes.push_back(product(std::span(self.sizes).subspan(start, end - start + 1)));
  sizes.insert(sizes.end(), self.sizes.begin() + static_cast<std::ptrdiff_t>(end) + 1,
               self.sizes.end());
  return {reshape_type(self, std::move(sizes), true, a)};
}

std::vector<OutType> unflatten_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  auto dim = static_cast<size_t>(wrap_dim(a.to_int("dim"), rank_of(self), a));
  if (self.rank() == 0) a.fail("unflatten: cannot unflatten a 0-dim tensor");
  Exprs inner = a.syms("sizes");
  if (inner.empty()) a.fail("unflatten: sizes must be non-empty");
  inner = infer_size(inner, self.sizes[dim], a);
  Exprs sizes(self.sizes.begin(), self.sizes.begin() + static_cast<std::ptrdiff_t>(dim));
  Exprs strides(self.strides.begin(), self.strides.begin() + static_cast<std::ptrdiff_t>(dim));
  // The new dims split dim `dim` row-major, innermost keeping its stride.
  Exprs inner_strides(inner.size());
  sym::Expr running = self.strides[dim];
  for (size_t i = inner.size(); i-- > 0;) {
    inner_strides[i] = running;
    running = running * inner[i];
  }
  sizes.insert(sizes.end(), inner.begin(), inner.end());
  strides.insert(strides.end(), inner_strides.begin(), inner_strides.end());
  sizes.insert(sizes.end(), self.sizes.begin() + static_cast<std::ptrdiff_t>(dim) + 1,
               self.sizes.end());
  strides.insert(strides.end(), self.strides.begin() + static_cast<std::ptrdiff_t>(dim) + 1,
                 self.strides.end());
  return {view_type(self, std::move(sizes), std::move(strides), self.storage_offset)};
}

std::vector<OutType> alias_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return {permuted(self, identity_perm(rank_of(self)))};
}

std::vector<OutType> as_strided_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  Exprs sizes = a.syms("size");
  Exprs strides = a.syms("stride");
  if (sizes.size() != strides.size()) {
    a.fail("as_strided: mismatch in length of strides (", strides.size(), ") and shape (",
           sizes.size(), ")");
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i].as_const().value_or(0) < 0) a.fail("as_strided: negative size ", sizes[i].str());
    if (strides[i].as_const().value_or(0) < 0) {
      a.fail("as_strided: negative strides are not supported, got ", strides[i].str());
    }
  }
  sym::Expr offset = a.is_none("storage_offset") ? self.storage_offset : a.sym("storage_offset");
  if (offset.as_const().value_or(0) < 0) a.fail("as_strided: negative storage offset");
  return {view_type(self, std::move(sizes), std::move(strides), std::move(offset))};
}

constexpr auto kView = strided_view_reference;

const OpDef kOps[] = {
    {"aten.view.default",
     "view(Tensor(a) self, SymInt[] size) -> Tensor(a)",
     view_shape,
     kView,
     {},
     true},
    {"aten.reshape.default",
     "reshape(Tensor(a) self, SymInt[] shape) -> Tensor(a)",
     view_shape,
     kView,
     {},
     true},
    {"aten._unsafe_view.default",
     "_unsafe_view(Tensor self, SymInt[] size) -> Tensor",
     view_shape,
     kView,
     {},
     true},
    {"aten.view_as.default",
     "view_as(Tensor(a) self, Tensor other) -> Tensor(a)",
     view_as_shape,
     kView,
     {},
     true},
    {"aten.permute.default",
     "permute(Tensor(a) self, int[] dims) -> Tensor(a)",
     permute_shape,
     kView,
     {},
     true},
    {"aten.transpose.int",
     "transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)",
     transpose_shape,
     kView,
     {},
     true},
    {"aten.t.default", "t(Tensor(a) self) -> Tensor(a)", t_shape, kView, {}, true},
    {"aten.movedim.int",
     "movedim.int(Tensor(a) self, int source, int destination) -> Tensor(a)",
     movedim_shape,
     kView,
     {},
     true},
    {"aten.expand.default",
     "expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)",
     expand_shape,
     kView,
     {},
     true},
    {"aten.expand_as.default",
     "expand_as(Tensor(a) self, Tensor other) -> Tensor(a)",
     expand_as_shape,
     kView,
     {},
     true},
    {"aten.unsqueeze.default",
     "unsqueeze(Tensor(a) self, int dim) -> Tensor(a)",
     unsqueeze_shape,
     kView,
     {},
     true},
    {"aten.squeeze.default",
     "squeeze(Tensor(a) self) -> Tensor(a)",
     squeeze_shape,
     kView,
     {},
     true},
    {"aten.squeeze.dim",
     "squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)",
     squeeze_dims_shape,
     kView,
     {},
     true},
    {"aten.squeeze.dims",
     "squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)",
     squeeze_dims_shape,
     kView,
     {},
     true},
    {"aten.flatten.using_ints",
     "flatten.using_ints(Tensor(a) self, int start_dim=0, int end_dim=-1) -> Tensor(a)",
     flatten_shape,
     kView,
     {},
     true},
    {"aten.unflatten.int",
     "unflatten.int(Tensor(a) self, int dim, SymInt[] sizes) -> Tensor(a)",
     unflatten_shape,
     kView,
     {},
     true},
    {"aten.alias.default", "alias(Tensor(a) self) -> Tensor(a)", alias_shape, kView, {}, true},
    {"aten.detach.default", "detach(Tensor(a) self) -> Tensor(a)", alias_shape, kView, {}, true},
    {"aten.as_strided.default",
     "as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> "
     "Tensor(a)",
     as_strided_shape,
     kView,
     {},
     true},
};

}  // namespace

std::span<const OpDef> shape_view_ops() {
  return kOps;
}

}  // namespace kiln::ops
