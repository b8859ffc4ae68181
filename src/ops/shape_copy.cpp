// Copies into a fresh tensor: clone/contiguous, copy, fill, and index_put (with the in-place
// forms that functionalization rewrites to them).
#include <algorithm>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

// ---- clone, contiguous -----------------------------------------------------------------------

std::vector<OutType> clone_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  std::optional<ir::MemoryFormat> format;
  if (a.schema().index_of("memory_format") >= 0) format = a.memory_format("memory_format");
  return {layout_type(self.dtype, self.sizes, self.device, format)};
}

std::vector<ref::RValue> clone_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  ref::Tensor out = allocate_output(a);
  for (int64_t i = 0; i < self.numel(); ++i)
    copy_element(out, i, self, i);
  return {std::move(out)};
}

// ---- copy, fill ------------------------------------------------------------------------------

// The new value of self: its dtype and shape (an in-place op cannot change either).
ir::TensorType self_type(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return make_type(self.dtype, self.sizes, self.device);
}

// Fails unless `src` broadcasts to exactly `self`'s shape.
void check_broadcasts_to(const Args& a, const ir::TensorType& src, const ir::TensorType& self,
                         const char* what) {
  bool ok = src.rank() <= self.rank();
  size_t lead = self.rank() - std::min(src.rank(), self.rank());
  for (size_t i = 0; ok && i < src.rank(); ++i) {
    ok = is_known(src.sizes[i], 1) || !known_unequal(src.sizes[i], self.sizes[lead + i]);
  }
  if (!ok) a.fail(what, " of shape ", src.str(), " does not broadcast to ", self.str());
}

std::vector<OutType> copy_shape(const Args& a) {
  check_broadcasts_to(a, a.type("src"), a.type("self"), "src");
  return {self_type(a)};
}

std::vector<ref::RValue> copy_ref(const Args& a) {
  const ref::Tensor& src = a.tensor("src");
  ref::Tensor out = allocate_output(a);
  BroadcastIndex from(src.sizes(), out.sizes());
  for (int64_t i = 0; i < out.numel(); ++i)
    copy_element(out, i, src, from(i));
  return {std::move(out)};
}

std::vector<OutType> fill_scalar_shape(const Args& a) {
  return {self_type(a)};
}

std::vector<OutType> fill_tensor_shape(const Args& a) {
  const ir::TensorType& value = a.type("value");
  if (value.rank() != 0) {
    a.fail("fill_ only supports 0-dimension value tensor but got tensor with ", value.rank(),
           " dimensions.");
  }
  return {self_type(a)};
}

std::vector<ref::RValue> fill_ref(const Args& a) {
  ref::Tensor out = allocate_output(a);
  if (a.schema().args[1].type == ArgType::kTensor) {
    const ref::Tensor& v = a.tensor("value");
    for (int64_t i = 0; i < out.numel(); ++i)
      copy_element(out, i, v, 0);
    return {std::move(out)};
  }
  Scalar s = a.scalar("value");
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (s.is_floating()) {
      out.set(i, s.f);
    } else {
      out.set_int(i, s.i);
    }
  }
  return {std::move(out)};
}

// ---- index_put -------------------------------------------------------------------------------

bool is_mask(ir::DType d) {
  return d == ir::DType::kBool || d == ir::DType::kUInt8;
}

std::vector<OutType> index_put_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  const ir::TensorType& values = a.type("values");
  if (values.dtype != self.dtype) {
    a.fail("Index put requires the source and destination dtypes match, got ",
           ir::dtype_name(self.dtype), " for the destination and ", ir::dtype_name(values.dtype),
           " for the source.");
  }
  auto indices = a.types("indices");
  size_t covered = 0;
  bool any = false, masks = false;
  Exprs index_shape;  // the broadcast shape of the index tensors
  std::vector<bool> advanced(self.rank(), false);
  for (const auto& t : indices) {
    if (!t) {
      ++covered;
      continue;
    }
    if (!is_mask(t->dtype) && t->dtype != ir::DType::kInt64 && t->dtype != ir::DType::kInt32) {
      a.fail("tensors used as indices must be long, int, byte or bool tensors");
    }
    size_t span = is_mask(t->dtype) ? t->rank() : 1;
    if (covered + span > self.rank()) {
      a.fail("too many indices for tensor of dimension ", self.rank());
    }
    if (is_mask(t->dtype)) {
      for (size_t k = 0; k < t->rank(); ++k) {
        if (known_unequal(t->sizes[k], self.sizes[covered + k])) {
          a.fail("The shape of the mask ", t->str(), " at index ", k,
                 " does not match the shape of the indexed tensor ", self.str(), " at index ",
                 covered + k);
        }
      }
      masks = true;
    } else {
      index_shape = broadcast_shapes(index_shape, t->sizes, a);
    }
    for (size_t k = 0; k < span; ++k)
      advanced[covered + k] = true;
    covered += span;
    any = true;
  }
  if (covered > self.rank()) a.fail("too many indices for tensor of dimension ", self.rank());
  if (!any) a.fail("index_put needs at least one index tensor");
  if (!masks) {
    // The indexing result: the index shape in place of adjacent indexed dims, else in front.
    auto first = std::find(advanced.begin(), advanced.end(), true) - advanced.begin();
    auto last = advanced.rend() - std::find(advanced.rbegin(), advanced.rend(), true);
    bool adjacent =
        std::all_of(advanced.begin() + first, advanced.begin() + last, [](bool b) { return b; });
    Exprs result;
    for (size_t d = 0; d < self.rank(); ++d) {
      if (adjacent ? static_cast<std::ptrdiff_t>(d) == first : d == 0) {
        result.insert(result.end(), index_shape.begin(), index_shape.end());
      }
      if (!advanced[d]) result.push_back(self.sizes[d]);
    }
    ir::TensorType want = make_type(self.dtype, result, self.device);
    check_broadcasts_to(a, values, want, "value tensor");
  }
  return {self_type(a)};
}

// One dim's index: none (every position) or a list of positions with its own shape.
struct DimIndex {
  bool none = true;
  std::vector<int64_t> sizes;
  std::vector<int64_t> positions;
};

std::vector<int64_t> broadcast_ints(const std::vector<int64_t>& x, const std::vector<int64_t>& y,
                                    const Args& a) {
  std::vector<int64_t> out(std::max(x.size(), y.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    size_t k = out.size() - 1 - i;
    int64_t p = i < x.size() ? x[x.size() - 1 - i] : 1;
    int64_t q = i < y.size() ? y[y.size() - 1 - i] : 1;
    if (p != q && p != 1 && q != 1) {
      a.fail("shape mismatch: indexing tensors could not be broadcast together");
    }
    out[k] = p == 1 ? q : p;
  }
  return out;
}

std::vector<ref::RValue> index_put_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  const ref::Tensor& values = a.tensor("values");
  bool accumulate = a.to_bool("accumulate");
  ref::Tensor out = allocate_output(a);
  const std::vector<int64_t>& shape = self.sizes();
  // Masks become one position list per dim they cover (their true elements, row-major).
  std::vector<DimIndex> dims(shape.size());
  size_t d = 0;
  for (const ref::Tensor* t : a.tensors("indices")) {
    if (t == nullptr) {
      ++d;
      continue;
    }
    if (is_mask(t->dtype())) {
      size_t k = t->sizes().size();
      for (size_t j = 0; j < k; ++j)
        dims[d + j].none = false;
      for (int64_t i = 0; i < t->numel(); ++i) {
        if (t->get_int(i) == 0) continue;
        std::vector<int64_t> at = unravel(i, t->sizes());
        for (size_t j = 0; j < k; ++j)
          dims[d + j].positions.push_back(at[j]);
      }
      for (size_t j = 0; j < k; ++j)
        dims[d + j].sizes = {static_cast<int64_t>(dims[d + j].positions.size())};
      d += k;
    } else {
      dims[d].none = false;
      dims[d].sizes = t->sizes();
      for (int64_t i = 0; i < t->numel(); ++i)
        dims[d].positions.push_back(t->get_int(i));
      ++d;
    }
  }
  std::vector<int64_t> bshape;
  std::vector<size_t> adv;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].none) continue;
    bshape = broadcast_ints(bshape, dims[i].sizes, a);
    adv.push_back(i);
  }
  bool adjacent = adv.back() - adv.front() + 1 == adv.size();
  // The result shape, and where the index shape sits in it.
  size_t bpos = adjacent ? adv.front() : 0;
  std::vector<int64_t> result;
  std::vector<size_t> none_dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (dims[i].none) none_dims.push_back(i);
  }
  for (size_t i = 0; i < bpos; ++i)
    result.push_back(shape[none_dims[i]]);
  result.insert(result.end(), bshape.begin(), bshape.end());
  for (size_t i = bpos; i < none_dims.size(); ++i)
    result.push_back(shape[none_dims[i]]);
  bool fits = values.sizes().size() <= result.size();
  for (size_t i = 0; fits && i < values.sizes().size(); ++i) {
    int64_t v = values.sizes()[values.sizes().size() - 1 - i];
    fits = v == 1 || v == result[result.size() - 1 - i];
  }
  if (!fits) {
    a.fail("shape mismatch: value tensor of shape ", values.str(),
           " cannot be broadcast to indexing result of shape ",
           ref::Tensor(out.dtype(), result).str());
  }
  std::vector<BroadcastIndex> from;
  for (const DimIndex& di : dims)
    from.emplace_back(di.none ? std::vector<int64_t>{} : di.sizes, bshape);
  BroadcastIndex from_values(values.sizes(), result);
  std::vector<double> sum(static_cast<size_t>(out.numel()));
  std::vector<int64_t> isum(static_cast<size_t>(out.numel()));
  for (int64_t i = 0; i < self.numel(); ++i) {
    copy_element(out, i, self, i);
    sum[static_cast<size_t>(i)] = self.get(i);
    isum[static_cast<size_t>(i)] = self.get_int(i);
  }
  int64_t rn = 1;
  for (int64_t s : result)
    rn *= s;
  for (int64_t r = 0; r < rn; ++r) {
    std::vector<int64_t> ridx = unravel(r, result);
    std::vector<int64_t> bidx(ridx.begin() + static_cast<std::ptrdiff_t>(bpos),
                              ridx.begin() + static_cast<std::ptrdiff_t>(bpos + bshape.size()));
    int64_t bflat = ravel(bidx, bshape);
    std::vector<int64_t> sidx(shape.size());
    size_t next_none = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (dims[i].none) {
        size_t at = next_none < bpos ? next_none : next_none + bshape.size();
        sidx[i] = ridx[at];
        ++next_none;
        continue;
      }
      int64_t p = dims[i].positions[static_cast<size_t>(from[i](bflat))];
      if (p < -shape[i] || p >= shape[i]) {
        a.fail("index ", p, " is out of bounds for dimension ", i, " with size ", shape[i]);
      }
      sidx[i] = p < 0 ? p + shape[i] : p;
    }
    int64_t dst = ravel(sidx, shape);
    int64_t src = from_values(r);
    if (!accumulate) {
      copy_element(out, dst, values, src);
    } else if (out.is_floating()) {
      sum[static_cast<size_t>(dst)] += values.get(src);
    } else {
      isum[static_cast<size_t>(dst)] += values.get_int(src);
    }
  }
  if (accumulate) {
    for (int64_t i = 0; i < out.numel(); ++i) {
      if (out.is_floating()) {
        out.set(i, sum[static_cast<size_t>(i)]);
      } else {
        out.set_int(i, isum[static_cast<size_t>(i)]);
      }
    }
  }
  return {std::move(out)};
}

const OpDef kOps[] = {
    {"aten.clone.default", "clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor",
     clone_shape, clone_ref},
    {"aten.contiguous.default",
     "contiguous(Tensor(a) self, *, MemoryFormat memory_format=0) -> Tensor(a)", clone_shape,
     clone_ref},
    {"aten.lift_fresh_copy.default", "lift_fresh_copy(Tensor self) -> Tensor", clone_shape,
     clone_ref},
    {"aten.copy.default", "copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor",
     copy_shape, copy_ref},
    {"aten.copy_.default",
     "copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)", copy_shape,
     copy_ref, "aten.copy.default"},
    {"aten.fill.Scalar", "fill.Scalar(Tensor self, Scalar value) -> Tensor", fill_scalar_shape,
     fill_ref},
    {"aten.fill.Tensor", "fill.Tensor(Tensor self, Tensor value) -> Tensor", fill_tensor_shape,
     fill_ref},
    {"aten.fill_.Scalar", "fill_.Scalar(Tensor(a!) self, Scalar value) -> Tensor(a!)",
     fill_scalar_shape, fill_ref, "aten.fill.Scalar"},
    {"aten.fill_.Tensor", "fill_.Tensor(Tensor(a!) self, Tensor value) -> Tensor(a!)",
     fill_tensor_shape, fill_ref, "aten.fill.Tensor"},
    {"aten.index_put.default",
     "index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor",
     index_put_shape, index_put_ref},
    {"aten.index_put_.default",
     "index_put_(Tensor(a!) self, Tensor?[] indices, Tensor values, bool accumulate=False) -> "
     "Tensor(a!)",
     index_put_shape, index_put_ref, "aten.index_put.default"},
};

}  // namespace

std::span<const OpDef> shape_copy_ops() {
  return kOps;
}

}  // namespace kiln::ops
