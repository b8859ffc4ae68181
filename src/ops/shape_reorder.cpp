// Ops that move or mask elements within the input's shape: flip, roll, diff, tril/triu.
#include <algorithm>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

int64_t rank_of(const ir::TensorType& t) {
  return static_cast<int64_t>(t.rank());
}

// Wrapped dims, rejecting repeats as PyTorch's dim_list_to_bitset does.
std::vector<int64_t> dim_list(const Args& a, std::string_view name, int64_t rank) {
  std::vector<int64_t> dims = a.ints(name);
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(rank, 1)), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, rank, a);
    if (seen[static_cast<size_t>(d)])
      a.fail("dim ", d, " appears multiple times in the list of dims");
    seen[static_cast<size_t>(d)] = true;
  }
  return dims;
}

std::vector<OutType> same_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return {make_type(self.dtype, self.sizes, self.device)};
}

std::vector<OutType> flip_shape(const Args& a) {
  dim_list(a, "dims", rank_of(a.type("self")));
  return same_shape(a);
}

std::vector<ref::RValue> flip_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  ref::Tensor out = allocate_output(a);
  std::vector<int64_t> dims = dim_list(a, "dims", self.dim());
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, self.sizes());
    for (int64_t d : dims) {
      if (self.dim() == 0) continue;
      auto u = static_cast<size_t>(d);
      idx[u] = self.sizes()[u] - 1 - idx[u];
    }
    copy_element(out, i, self, ravel(idx, self.sizes()));
  }
  return {std::move(out)};
}

std::vector<OutType> roll_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  Exprs shifts = a.syms("shifts");
  std::vector<int64_t> dims = a.ints("dims");
  if (dims.empty() ? shifts.size() != 1 : shifts.size() != dims.size()) {
    a.fail("shifts and dimensions must align. shifts: ", shifts.size(), ", dims:", dims.size());
  }
  for (int64_t d : dims)
    wrap_dim(d, rank_of(self), a);
  return same_shape(a);
}

std::vector<ref::RValue> roll_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  ref::Tensor out = allocate_output(a);
  std::vector<int64_t> shifts = a.ints("shifts");
  std::vector<int64_t> dims = a.ints("dims");
  // No dims: roll the flattened tensor.
  std::vector<int64_t> shape = dims.empty() ? std::vector<int64_t>{self.numel()} : self.sizes();
  if (dims.empty()) dims = {0};
  if (self.dim() == 0 || self.numel() == 0) return {self};
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, shape);
    for (size_t k = 0; k < dims.size(); ++k) {
      auto d = static_cast<size_t>(wrap_dim(dims[k], static_cast<int64_t>(shape.size()), a));
      int64_t n = shape[d];
      idx[d] = ((idx[d] - shifts[k]) % n + n) % n;  // out[i] = in[i - shift]
    }
    copy_element(out, i, self, ravel(idx, shape));
  }
  return {std::move(out)};
}

// ---- diff ------------------------------------------------------------------------------------

struct DiffInput {
  ir::DType dtype;
  Exprs sizes;  // after prepend and append
  size_t dim;
};

DiffInput diff_input(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (self.rank() == 0) a.fail("diff expects input to be at least one-dimensional");
  int64_t n = a.to_int("n");
  if (n < 0) a.fail("order must be non-negative but got ", n);
  auto dim = static_cast<size_t>(wrap_dim(a.to_int("dim"), rank_of(self), a));
  DiffInput in{self.dtype, self.sizes, dim};
  for (const char* name : {"prepend", "append"}) {
    auto t = a.optional_type(name);
    if (!t) continue;
    if (t->rank() != self.rank()) {
      a.fail("diff expects prepend or append to be the same dimension as input");
    }
    for (size_t d = 0; d < self.rank(); ++d) {
      if (d != dim && known_unequal(t->sizes[d], self.sizes[d])) {
        a.fail("Sizes of tensors must match except in dimension ", dim, ": ", name, " is ",
               t->str(), " and self is ", self.str());
      }
    }
    if (n == 0) continue;  // PyTorch returns self unchanged, ignoring prepend and append
    in.dtype = promote_types(in.dtype, t->dtype);
    in.sizes[dim] = in.sizes[dim] + t->sizes[dim];
  }
  return in;
}

std::vector<OutType> diff_shape(const Args& a) {
  DiffInput in = diff_input(a);
  int64_t n = a.to_int("n");
  sym::Expr& len = in.sizes[in.dim];
  len =
      len.is_const() ? sym::Expr(std::max<int64_t>(*len.as_const() - n, 0)) : sym::max(len - n, 0);
  return {make_type(in.dtype, std::move(in.sizes), a.type("self").device)};
}

std::vector<ref::RValue> diff_ref(const Args& a) {
  DiffInput in = diff_input(a);
  int64_t n = a.to_int("n");
  std::vector<int64_t> sizes = to_ints(in.sizes, a);
  // The joined input [prepend, self, append] along dim, in the promoted dtype.
  ref::Tensor cur(in.dtype, sizes);
  int64_t offset = 0;
  for (const char* name : {"prepend", "self", "append"}) {
    const ref::Tensor* t = a.optional_tensor(name);
    if (t == nullptr || (n == 0 && t != &a.tensor("self"))) continue;
    for (int64_t i = 0; i < t->numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, t->sizes());
      idx[in.dim] += offset;
      copy_element(cur, ravel(idx, sizes), *t, i);
    }
    offset += t->sizes()[in.dim];
  }
  // n successive differences, each stored in the dtype as PyTorch rounds each step.
  for (int64_t step = 0; step < n && sizes[in.dim] > 0; ++step) {
    std::vector<int64_t> next_sizes = sizes;
    next_sizes[in.dim] -= 1;
    ref::Tensor next(in.dtype, next_sizes);
    for (int64_t i = 0; i < next.numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, next_sizes);
      int64_t lo = ravel(idx, sizes);
      idx[in.dim] += 1;
      int64_t hi = ravel(idx, sizes);
      if (in.dtype == ir::DType::kBool) {
        next.set_int(i, cur.get_int(hi) != cur.get_int(lo));
      } else if (cur.is_floating()) {
        next.set(i, cur.get(hi) - cur.get(lo));
      } else {
        next.set_int(i, cur.get_int(hi) - cur.get_int(lo));
      }
    }
    cur = std::move(next);
    sizes = std::move(next_sizes);
  }
  ref::Tensor out = allocate_output(a);
  for (int64_t i = 0; i < out.numel(); ++i)
    copy_element(out, i, cur, i);
  return {std::move(out)};
}

// ---- tril, triu ------------------------------------------------------------------------------

template <bool kLower>
std::vector<OutType> tri_shape(const Args& a) {
  if (a.type("self").rank() < 2) {
    a.fail(kLower ? "tril" : "triu", ": input tensor must have at least 2 dimensions");
  }
  return same_shape(a);
}

template <bool kLower>
std::vector<ref::RValue> tri_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  int64_t diagonal = a.to_int("diagonal");
  ref::Tensor out = allocate_output(a);
  for (int64_t i = 0; i < self.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, self.sizes());
    int64_t row = idx[idx.size() - 2], col = idx.back();
    bool keep = kLower ? col - row <= diagonal : col - row >= diagonal;
    if (keep) copy_element(out, i, self, i);
  }
  return {std::move(out)};
}

const OpDef kOps[] = {
    {"aten.flip.default", "flip(Tensor self, int[] dims) -> Tensor", flip_shape, flip_ref},
    {"aten.roll.default", "roll(Tensor self, SymInt[1] shifts, int[1] dims=[]) -> Tensor",
     roll_shape, roll_ref},
    {"aten.diff.default",
     "diff(Tensor self, int n=1, int dim=-1, Tensor? prepend=None, Tensor? append=None) -> Tensor",
     diff_shape, diff_ref},
    {"aten.tril.default", "tril(Tensor self, SymInt diagonal=0) -> Tensor", tri_shape<true>,
     tri_ref<true>},
    {"aten.triu.default", "triu(Tensor self, SymInt diagonal=0) -> Tensor", tri_shape<false>,
     tri_ref<false>},
};

}  // namespace

std::span<const OpDef> shape_reorder_ops() {
  return kOps;
}

}  // namespace kiln::ops
