// Advanced indexing, aten.index.Tensor: self[indices...] with a list of optional index tensors.
// Integer indices (negative ones wrap) broadcast together into one block of result dims; a
// bool (or uint8) mask over k dims stands for its k nonzero-coordinate vectors. The block goes
// where the first indexed dim was when the indexed dims are adjacent, else in front, as NumPy
// and PyTorch place it.
#include <algorithm>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

bool is_mask(ir::DType t) {
  return t == ir::DType::kBool || t == ir::DType::kUInt8;
}

// The indices bound to self's dims.
struct IndexPlan {
  std::vector<int> entry_of_dim;               // per self dim: the index entry, or -1
  std::vector<std::vector<sym::Expr>> shapes;  // per index entry: its (broadcastable) shape
  std::vector<size_t> plain;                   // self dims without an index, in order
  size_t block_at = 0;                         // result position of the broadcast block
  bool data_dependent = false;                 // a mask whose nonzero count is not known
};

// A mask's nonzero count, when its values are at hand (reference evaluation).
std::optional<int64_t> count_nonzero(const Args& a, const std::optional<ir::ValueId>& id) {
  const ref::Tensor* t = id ? a.source().tensor(*id) : nullptr;
  if (t == nullptr) return std::nullopt;
  int64_t n = 0;
  for (int64_t i = 0; i < t->numel(); ++i)
    n += t->get_int(i) != 0 ? 1 : 0;
  return n;
}

IndexPlan plan(const Args& a) {
  const auto& self = a.type("self");
  auto types = a.types("indices");
  auto ids = a.tensor_ids("indices");
  size_t rank = self.rank();
  if (types.size() > rank) {
    a.fail("too many indices for a tensor of dimension ", rank, " (got ", types.size(), ")");
  }
  IndexPlan p;
  p.entry_of_dim.assign(rank, -1);
  size_t dim = 0;
  for (size_t i = 0; i < types.size(); ++i) {
    const auto& t = types[i];
    if (!t) {
      p.plain.push_back(dim++);
      continue;
    }
    if (is_mask(t->dtype)) {
      if (t->rank() == 0) a.fail("a 0-d boolean index is not supported");
      if (dim + t->rank() > rank) {
        a.fail("too many indices for a tensor of dimension ", rank, ": the mask at index ", i,
               " covers ", t->rank(), " dims");
      }
      std::optional<int64_t> count = count_nonzero(a, i < ids.size() ? ids[i] : std::nullopt);
      p.data_dependent = p.data_dependent || !count;
      for (size_t d = 0; d < t->rank(); ++d) {
        check_same(t->sizes[d], self.sizes[dim + d], a, "the shape of the mask ",
                   shape_str(t->sizes), " at index ", i,
                   " does not match the shape of the indexed tensor ", shape_str(self.sizes));
        p.entry_of_dim[dim + d] = static_cast<int>(p.shapes.size());
        p.shapes.push_back({count ? sym::Expr(*count) : sym::Expr(0)});
      }
      dim += t->rank();
    } else if (t->dtype == ir::DType::kInt64 || t->dtype == ir::DType::kInt32) {
      p.entry_of_dim[dim++] = static_cast<int>(p.shapes.size());
      p.shapes.push_back(t->sizes);
    } else {
      a.fail("tensors used as indices must be long, int, byte or bool tensors, got ",
             ir::dtype_name(t->dtype), " at index ", i);
    }
  }
  if (p.shapes.empty()) a.fail("at least one index must be a tensor");
  for (size_t d = dim; d < rank; ++d)
    p.plain.push_back(d);
  // Adjacent indexed dims keep the block in place; otherwise it goes first.
  size_t first = rank, last = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (p.entry_of_dim[d] < 0) continue;
    first = std::min(first, d);
    last = std::max(last, d);
  }
  bool adjacent = true;
  for (size_t d = first; d <= last; ++d)
    adjacent = adjacent && p.entry_of_dim[d] >= 0;
  p.block_at = adjacent ? static_cast<size_t>(std::count_if(p.plain.begin(), p.plain.end(),
                                                            [&](size_t d) { return d < first; }))
                        : 0;
  return p;
}

std::vector<sym::Expr> block_shape(const IndexPlan& p, const Args& a) {
  std::vector<sym::Expr> block;
  for (const auto& s : p.shapes)
    block = broadcast_shapes(block, s, a);
  return block;
}

}  // namespace

std::vector<OutType> index_tensor_shape(const Args& a) {
  const auto& self = a.type("self");
  IndexPlan p = plan(a);
  if (p.data_dependent) {
    // The nonzero count of a mask is data: the export recorded the result's size as an unbacked
    // symbol on the node's output, so take it from there.
    if (auto recorded = recorded_output(a, 0)) {
      return {make_type(self.dtype, recorded->sizes, self.device)};
    }
    a.fail(
        "indexing with a boolean mask gives a data-dependent size, and the graph records no "
        "output type for it");
  }
  std::vector<sym::Expr> block = block_shape(p, a);
  std::vector<sym::Expr> out;
  for (size_t i = 0; i < p.plain.size(); ++i) {
    if (i == p.block_at) out.insert(out.end(), block.begin(), block.end());
    out.push_back(self.sizes[p.plain[i]]);
  }
  if (p.block_at == p.plain.size()) out.insert(out.end(), block.begin(), block.end());
  return {make_type(self.dtype, std::move(out), self.device)};
}

std::vector<ref::RValue> index_tensor_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  IndexPlan p = plan(a);
  ref::Tensor out = alloc_output(a);
  // One int64 index tensor per entry; a mask becomes its nonzero coordinates, one tensor per
  // masked dim.
  std::vector<ref::Tensor> index;
  auto given = a.tensors("indices");
  for (const ref::Tensor* t : given) {
    if (t == nullptr) continue;
    if (!is_mask(t->dtype())) {
      index.push_back(*t);
      continue;
    }
    std::vector<int64_t> hits;
    for (int64_t i = 0; i < t->numel(); ++i) {
      if (t->get_int(i) != 0) hits.push_back(i);
    }
    for (int64_t d = 0; d < t->dim(); ++d) {
      ref::Tensor coord(ir::DType::kInt64, {static_cast<int64_t>(hits.size())});
      for (size_t h = 0; h < hits.size(); ++h)
        coord.set_int(static_cast<int64_t>(h),
                      unravel(hits[h], t->sizes())[static_cast<size_t>(d)]);
      index.push_back(coord);
    }
  }
  std::vector<int64_t> block = to_ints(block_shape(p, a), a);
  std::vector<BroadcastIndex> at;
  for (const auto& t : index)
    at.emplace_back(t.sizes(), block);
  size_t nb = block.size();
  for (int64_t o = 0; o < out.numel(); ++o) {
    std::vector<int64_t> pos = unravel(o, out.sizes());
    std::vector<int64_t> block_pos(pos.begin() + static_cast<std::ptrdiff_t>(p.block_at),
                                   pos.begin() + static_cast<std::ptrdiff_t>(p.block_at + nb));
    int64_t b = ravel(block_pos, block);
    std::vector<int64_t> src(static_cast<size_t>(self.dim()));
    for (size_t i = 0; i < p.plain.size(); ++i)
      src[p.plain[i]] = pos[i < p.block_at ? i : i + nb];
    for (size_t d = 0; d < src.size(); ++d) {
      int e = p.entry_of_dim[d];
      if (e < 0) continue;
      const ref::Tensor& t = index[static_cast<size_t>(e)];
      int64_t v = t.get_int(at[static_cast<size_t>(e)](b));
      int64_t size = self.size(static_cast<int64_t>(d));
      if (v < -size || v >= size) {
        a.fail("index ", v, " is out of bounds for dimension ", d, " with size ", size);
      }
      src[d] = v < 0 ? v + size : v;
    }
    if (self.is_floating()) {
      out.set(o, self.get(ravel(src, self.sizes())));
    } else {
      out.set_int(o, self.get_int(ravel(src, self.sizes())));
    }
  }
  return ref::single_result(std::move(out));
}

}  // namespace kiln::ops::nn
