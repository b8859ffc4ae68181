// Indexing by loaded values: gather, index_select, embedding and advanced indexing
// (index.Tensor). A loaded index becomes an index variable through BodyBuilder::indirect, which
// checks its range when the kernel runs. Only index.Tensor wraps negative indices, as in PyTorch;
// the others fail on them, as the reference kernels do.
#include <algorithm>

#include "lower/families.h"
#include "lower/lower_shape_util.h"
#include "ops/common.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

bool is_index_dtype(ir::DType t) {
  return t == ir::DType::kInt64 || t == ir::DType::kInt32;
}

void check_index_dtype(const ops::Args& args, const TensorRef& t, const char* what) {
  if (!is_index_dtype(t.dtype())) {
    args.fail(what, " must be an int64 or int32 tensor, got ", ir::dtype_name(t.dtype()));
  }
}

// The loaded index `value` as an index variable into a dim of `size`. Without `wrap`, a
// negative index is sent out of range (to `size`), so that the run fails as the reference does.
sym::Expr checked(BodyBuilder& b, int32_t value, const sym::Expr& size, bool wrap) {
  int32_t v = b.cast(value, ir::DType::kInt64);
  if (!wrap) {
    int32_t negative = b.binary(ScalarOp::kLt, v, b.constant(0, ir::DType::kInt64));
    v = b.where(negative, b.index_value(size), v);
  }
  return b.indirect(v, size);
}

// out[i...] = self[i... with dim replaced by index[i...]] (0-d tensors count as 1-d).
void lower_gather(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef index = ctx.tensor(args, "index");
  check_index_dtype(args, index, "index");
  auto dim = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args));
  size_t rank = std::max<size_t>(self.rank(), 1);
  if (std::max<size_t>(index.rank(), 1) != rank) {
    args.fail("gather: index must have as many dims as self");
  }
  sym::Expr size = self.rank() == 0 ? sym::Expr(1) : self.sizes()[dim];
  const ir::TensorType& out = ctx.output_type(node);
  ctx.set_output(node, 0,
                 ctx.pointwise(self.dtype(), out.sizes,
                               [self, index, dim, size](BodyBuilder& b, const Index& idx) {
                                 Index pos = idx.empty() ? Index{0} : idx;
                                 pos[dim] = checked(b, index.load(b, idx), size, false);
                                 if (self.rank() == 0) pos.clear();
                                 return self.load(b, pos);
                               }));
}

// out[..., j, ...] = self[..., index[j], ...] along dim.
void lower_index_select(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef index = ctx.tensor(args, "index");
  check_index_dtype(args, index, "index");
  if (index.rank() > 1) args.fail("index_select(): index must be a vector");
  auto dim = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args));
  const ir::TensorType& out = ctx.output_type(node);
  ctx.set_output(
      node, 0,
      ctx.pointwise(self.dtype(), out.sizes, [self, index, dim](BodyBuilder& b, const Index& idx) {
        if (self.rank() == 0) {
          Index at = index.rank() == 0 ? Index{} : Index{0};
          checked(b, index.load(b, at), 1, false);
          return self.load(b, {});
        }
        Index at = index.rank() == 0 ? Index{} : Index{idx[dim]};
        Index pos = idx;
        pos[dim] = checked(b, index.load(b, at), self.sizes()[dim], false);
        return self.load(b, pos);
      }));
}

// out[i..., c] = weight[indices[i...], c]. padding_idx only matters for the gradient.
void lower_embedding(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef weight = ctx.tensor(args, "weight");
  TensorRef indices = ctx.tensor(args, "indices");
  check_index_dtype(args, indices, "indices");
  if (weight.rank() != 2) args.fail("'weight' must be 2-D");
  const ir::TensorType& out = ctx.output_type(node);
  ctx.set_output(
      node, 0,
      ctx.pointwise(weight.dtype(), out.sizes, [weight, indices](BodyBuilder& b, const Index& idx) {
        Index at(idx.begin(), idx.end() - 1);
        sym::Expr row = checked(b, indices.load(b, at), weight.sizes()[0], false);
        return weight.load(b, {row, idx.back()});
      }));
}

// ---- index.Tensor ----------------------------------------------------------------------------

// self[indices...]: the integer index tensors broadcast together into one block of result
// dims, placed where the first indexed dim was when the indexed dims are adjacent, else first.
void lower_index_tensor(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  auto ids = args.tensor_ids("indices");
  size_t rank = self.rank();
  if (ids.size() > rank) {
    args.fail("too many indices for a tensor of dimension ", rank, " (got ", ids.size(), ")");
  }
  std::vector<TensorRef> entry(rank);  // per self dim: its index tensor, if any
  std::vector<size_t> plain;           // self dims without one, in order
  for (size_t d = 0; d < rank; ++d) {
    if (d >= ids.size() || !ids[d]) {
      plain.push_back(d);
      continue;
    }
    TensorRef t = ctx.tensor(*ids[d]);
    if (t.dtype() == ir::DType::kBool || t.dtype() == ir::DType::kUInt8) {
      args.fail("indexing with a boolean mask (index ", d,
                ") gives a result whose size depends on the mask's values; kiln cannot compile it "
                "(index with integer positions, or use torch.where)");
    }
    if (!is_index_dtype(t.dtype())) {
      args.fail("tensors used as indices must be long or int tensors, got ",
                ir::dtype_name(t.dtype()), " at index ", d);
    }
    entry[d] = t;
  }
  if (plain.size() == rank) args.fail("at least one index must be a tensor");
  size_t first = rank, last = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (!entry[d].valid()) continue;
    first = std::min(first, d);
    last = std::max(last, d);
  }
  bool adjacent = true;
  for (size_t d = first; d <= last; ++d)
    adjacent = adjacent && entry[d].valid();
  size_t block_at = adjacent ? first : 0;  // every dim before `first` is plain
  const ir::TensorType& out = ctx.output_type(node);
  if (out.rank() < plain.size())
    args.fail("index: the graph declares a rank-", out.rank(), " result");
  size_t nb = out.rank() - plain.size();
  ctx.set_output(
      node, 0,
      ctx.pointwise(self.dtype(), out.sizes,
                    [self, entry, plain, block_at, nb](BodyBuilder& b, const Index& idx) {
                      Index block(idx.begin() + static_cast<std::ptrdiff_t>(block_at),
                                  idx.begin() + static_cast<std::ptrdiff_t>(block_at + nb));
                      Index src(self.rank());
                      for (size_t i = 0; i < plain.size(); ++i)
                        src[plain[i]] = idx[i < block_at ? i : i + nb];
                      for (size_t d = 0; d < entry.size(); ++d) {
                        if (!entry[d].valid()) continue;
                        int32_t v = entry[d].load(b, broadcast_index(block, entry[d].sizes()));
                        src[d] = checked(b, v, self.sizes()[d], true);
                      }
                      return self.load(b, src);
                    }));
}

}  // namespace

std::vector<LowerEntry> index_lowerings() {
  return {
      {"aten.gather.default", lower_gather},
      {"aten.index_select.default", lower_index_select},
      {"aten.embedding.default", lower_embedding},
      {"aten.index.Tensor", lower_index_tensor},
  };
}

}  // namespace kiln::lower
