// Views that select part of one dim (slice, select, narrow) and the ops returning a list of
// them (unbind, split, chunk), plus the scatters writing a tensor into such a view.
#include <limits>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

// A slice bound clamped into [0, size] as PyTorch clamps it: negative counts from the end.
// A symbolic bound is taken to be non-negative (export records negative bounds as constants).
sym::Expr clamp_bound(const sym::Expr& v, const sym::Expr& size) {
  auto c = v.as_const();
  if (!c) return sym::min(v, size);
  if (*c < 0) {
    auto s = size.as_const();
    if (s) return std::max<int64_t>(*c + *s, 0);
    return sym::max(size + *c, 0);
  }
  if (*c == 0) return 0;
  if (*c >= std::numeric_limits<int64_t>::max() / 4) return size;  // "to the end"
  return sym::min(v, size);
}

struct SliceRange {
  sym::Expr start;
  sym::Expr length;
  sym::Expr step;
};

SliceRange slice_range(const Args& a, const sym::Expr& size) {
  sym::Expr step = a.sym("step");
  if (step.as_const().value_or(1) <= 0) a.fail("slice step must be positive, got ", step.str());
  bool no_start = a.is_none("start");
  bool no_end = a.is_none("end");
  sym::Expr start = no_start ? sym::Expr(0) : clamp_bound(a.sym("start"), size);
  sym::Expr end = no_end ? size : clamp_bound(a.sym("end"), size);
  // end >= start holds already when either bound is trivial.
  if (!is_known(start, 0) && end != size) end = sym::max(end, start);
  return {start, sym::ceil_div(end - start, step), step};
}

// self restricted along `dim` to `length` elements from `start`, `step` apart.
ir::TensorType narrowed(const ir::TensorType& self, size_t dim, const sym::Expr& start,
                        const sym::Expr& length, const sym::Expr& step = 1) {
  Exprs sizes = self.sizes, strides = self.strides;
  sizes[dim] = length;
  strides[dim] = self.strides[dim] * step;
  return view_type(self, std::move(sizes), std::move(strides),
                   self.storage_offset + start * self.strides[dim]);
}

// self without dim `dim`, at position `index` of it.
ir::TensorType selected(const ir::TensorType& self, size_t dim, const sym::Expr& index) {
  Exprs sizes = self.sizes, strides = self.strides;
  sizes.erase(sizes.begin() + static_cast<std::ptrdiff_t>(dim));
  strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(dim));
  return view_type(self, std::move(sizes), std::move(strides),
                   self.storage_offset + index * self.strides[dim]);
}

size_t dim_arg(const Args& a, const ir::TensorType& self, const char* op) {
  if (self.rank() == 0) a.fail(op, "() cannot be applied to a 0-dim tensor");
  return static_cast<size_t>(wrap_dim(a.to_int("dim"), static_cast<int64_t>(self.rank()), a));
}

ir::TensorType slice_type(const Args& a, const ir::TensorType& self) {
  size_t dim = dim_arg(a, self, "slice");
  SliceRange r = slice_range(a, self.sizes[dim]);
  return narrowed(self, dim, r.start, r.length, r.step);
}

sym::Expr select_index(const Args& a, const ir::TensorType& self, size_t dim) {
  sym::Expr index = a.sym("index");
  const sym::Expr& size = self.sizes[dim];
  auto c = index.as_const();
  if (!c) return index;
  if (auto s = size.as_const(); s && (*c < -*s || *c >= *s)) {
    a.fail("select(): index ", *c, " out of range for tensor of size ", self.str(),
           " at dimension ", dim);
  }
  return *c < 0 ? size + *c : index;
}

ir::TensorType select_type(const Args& a, const ir::TensorType& self) {
  size_t dim = dim_arg(a, self, "select");
  return selected(self, dim, select_index(a, self, dim));
}

std::vector<OutType> slice_shape(const Args& a) {
  return {slice_type(a, a.type("self"))};
}

std::vector<OutType> select_shape(const Args& a) {
  return {select_type(a, a.type("self"))};
}

std::vector<OutType> narrow_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  size_t dim = dim_arg(a, self, "narrow");
  const sym::Expr& size = self.sizes[dim];
  sym::Expr start = a.sym("start");
  sym::Expr length = a.sym("length");
  if (length.as_const().value_or(0) < 0) a.fail("narrow(): length must be non-negative");
  if (auto c = start.as_const()) {
    auto s = size.as_const();
    if (s && (*c < -*s || *c > *s)) {
      a.fail("start out of range (expected to be in range of [", -*s, ", ", *s, "], but got ", *c,
             ")");
    }
    if (*c < 0) start = size + *c;
  }
  if ((start + length - size).as_const().value_or(0) > 0) {
    a.fail("start (", start.str(), ") + length (", length.str(), ") exceeds dimension size (",
           size.str(), ")");
  }
  return {narrowed(self, dim, start, length)};
}

// The number of outputs of a list-returning op must be known when compiling.
int64_t known_dim_size(const Args& a, const ir::TensorType& self, size_t dim, const char* op) {
  auto s = self.sizes[dim].as_const();
  if (!s) {
    a.fail(op, " along dim ", dim, " of symbolic size ", self.sizes[dim].str(),
           ": the number of outputs depends on it and must be known when compiling");
  }
  return *s;
}

std::vector<OutType> unbind_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  size_t dim = dim_arg(a, self, "unbind");
  int64_t n = known_dim_size(a, self, dim, "unbind");
  std::vector<OutType> out;
  for (int64_t i = 0; i < n; ++i)
    out.emplace_back(selected(self, dim, i));
  return out;
}

// Consecutive pieces of dim `dim` with the given lengths.
std::vector<OutType> pieces(const ir::TensorType& self, size_t dim, const Exprs& lengths) {
  std::vector<OutType> out;
  sym::Expr start = 0;
  for (const sym::Expr& len : lengths) {
    out.emplace_back(narrowed(self, dim, start, len));
    start = start + len;
  }
  return out;
}

// split.Tensor's lengths: ceil(size / split_size) pieces, the last one shorter.
Exprs split_lengths(const Args& a, const ir::TensorType& self, size_t dim, int64_t split_size,
                    const char* op) {
  if (split_size < 0) a.fail(op, " expects split_size be non-negative, but got ", split_size);
  int64_t size = known_dim_size(a, self, dim, op);
  if (split_size == 0 && size != 0) {
    a.fail("split_size can only be 0 if dimension size is 0, but got dimension size of ", size);
  }
  int64_t n = split_size == 0 ? 1 : std::max<int64_t>((size + split_size - 1) / split_size, 1);
  Exprs lengths(static_cast<size_t>(n), split_size);
  lengths.back() = split_size - (split_size * n - size);
  return lengths;
}

std::vector<OutType> split_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (self.rank() == 0) a.fail("split expects at least a 1-dimensional tensor");
  size_t dim = dim_arg(a, self, "split");
  return pieces(self, dim, split_lengths(a, self, dim, a.to_int("split_size"), "split"));
}

std::vector<OutType> split_with_sizes_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (self.rank() == 0) a.fail("split_with_sizes expects at least a 1-dimensional tensor");
  size_t dim = dim_arg(a, self, "split_with_sizes");
  Exprs lengths = a.syms("split_sizes");
  sym::Expr total = 0;
  for (const auto& len : lengths) {
    if (len.as_const().value_or(0) < 0) {
      a.fail("split_with_sizes expects split_sizes have only non-negative entries, but got ",
             len.str());
    }
    total = total + len;
  }
  if (known_unequal(total, self.sizes[dim])) {
    a.fail("split_with_sizes expects split_sizes to sum exactly to ", self.sizes[dim].str(),
           " (input tensor's size at dimension ", dim, "), but they sum to ", total.str());
  }
  return pieces(self, dim, lengths);
}

std::vector<OutType> chunk_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (self.rank() == 0) a.fail("chunk expects at least a 1-dimensional tensor");
  int64_t chunks = a.to_int("chunks");
  if (chunks <= 0) a.fail("chunk expects `chunks` to be greater than 0, got: ", chunks);
  size_t dim = dim_arg(a, self, "chunk");
  if (chunks == 1) return pieces(self, dim, {self.sizes[dim]});  // known count even if symbolic
  int64_t size = known_dim_size(a, self, dim, "chunk");
  int64_t split_size = (size + chunks - 1) / chunks;
  if (size == 0) return pieces(self, dim, Exprs(static_cast<size_t>(chunks), 0));
  return pieces(self, dim, split_lengths(a, self, dim, split_size, "chunk"));
}

// The scatters: self with the view `view` (strides into self's row-major layout) replaced by
// src, after checking src has the view's shape.
void check_src_shape(const Args& a, const ir::TensorType& src, const ir::TensorType& view,
                     const char* op) {
  bool ok = src.rank() == view.rank();
  for (size_t i = 0; ok && i < src.rank(); ++i)
    ok = !known_unequal(src.sizes[i], view.sizes[i]);
  if (!ok) {
    a.fail(op, ": expected src to have a size equal to the slice of self. src size = ", src.str(),
           ", slice size = ", view.str());
  }
}

std::vector<OutType> slice_scatter_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  check_src_shape(a, a.type("src"), slice_type(a, self), "slice_scatter");
  return {make_type(self.dtype, self.sizes, self.device)};
}

std::vector<OutType> select_scatter_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  check_src_shape(a, a.type("src"), select_type(a, self), "select_scatter");
  return {make_type(self.dtype, self.sizes, self.device)};
}

std::vector<ref::RValue> scatter_into(const Args& a, const ir::TensorType& view) {
  const ref::Tensor& self = a.tensor("self");
  const ref::Tensor& src = a.tensor("src");
  ref::Tensor out = allocate_output(a);
  for (int64_t i = 0; i < self.numel(); ++i)
    copy_element(out, i, self, i);
  std::vector<int64_t> strides = to_ints(view.strides, a);
  int64_t offset = to_ints({view.storage_offset}, a)[0];
  for (int64_t i = 0; i < src.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, src.sizes());
    int64_t dst = offset;
    for (size_t d = 0; d < idx.size(); ++d)
      dst += idx[d] * strides[d];
    copy_element(out, dst, src, i);
  }
  return {std::move(out)};
}

std::vector<ref::RValue> slice_scatter_ref(const Args& a) {
  return scatter_into(a, slice_type(a, a.type("self")));
}

std::vector<ref::RValue> select_scatter_ref(const Args& a) {
  return scatter_into(a, select_type(a, a.type("self")));
}

constexpr auto kView = strided_view_reference;

const OpDef kOps[] = {
    {"aten.slice.Tensor",
     "slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt "
     "step=1) -> Tensor(a)",
     slice_shape,
     kView,
     {},
     true},
    {"aten.select.int",
     "select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)",
     select_shape,
     kView,
     {},
     true},
    {"aten.narrow.default",
     "narrow(Tensor(a) self, int dim, SymInt start, SymInt length) -> Tensor(a)",
     narrow_shape,
     kView,
     {},
     true},
    {"aten.unbind.int",
     "unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]",
     unbind_shape,
     kView,
     {},
     true},
    {"aten.split.Tensor",
     "split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]",
     split_shape,
     kView,
     {},
     true},
    {"aten.split_with_sizes.default",
     "split_with_sizes(Tensor(a -> *) self, SymInt[] split_sizes, int dim=0) -> Tensor(a)[]",
     split_with_sizes_shape,
     kView,
     {},
     true},
    {"aten.chunk.default",
     "chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]",
     chunk_shape,
     kView,
     {},
     true},
    {"aten.slice_scatter.default",
     "slice_scatter(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, "
     "SymInt step=1) -> Tensor",
     slice_scatter_shape, slice_scatter_ref},
    {"aten.select_scatter.default",
     "select_scatter(Tensor self, Tensor src, int dim, SymInt index) -> Tensor",
     select_scatter_shape, select_scatter_ref},
};

}  // namespace

std::span<const OpDef> shape_slice_ops() {
  return kOps;
}

}  // namespace kiln::ops
