// Ops that move or mask elements within the input's shape: flip and roll (index maps), tril
// and triu (a where on the row and column indices).
#include "lower/lower_shape_util.h"
#include "ops/common.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

void lower_flip(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  std::vector<bool> flipped(in.rank(), false);
  for (int64_t d : args.ints("dims")) {
    auto w = static_cast<size_t>(ops::wrap_dim(d, static_cast<int64_t>(in.rank()), args));
    if (w < flipped.size()) flipped[w] = true;
  }
  Exprs sizes = in.sizes();
  check_sizes(ctx, node, sizes);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [flipped, sizes](const Index& idx) {
                   Index src = idx;
                   for (size_t d = 0; d < flipped.size(); ++d) {
                     if (flipped[d]) src[d] = sizes[d] - 1 - idx[d];
                   }
                   return src;
                 }));
}

// out[i] = in[(i - shift) mod size] along each rolled dim; with no dims, over the flattened
// tensor.
void lower_roll(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  Exprs shifts = args.syms("shifts");
  std::vector<int64_t> dims = args.ints("dims");
  if (dims.empty() ? shifts.size() != 1 : shifts.size() != dims.size()) {
    args.fail("shifts and dimensions must align. shifts: ", shifts.size(), ", dims:", dims.size());
  }
  Exprs sizes = in.sizes();
  check_sizes(ctx, node, sizes);
  sym::Expr numel = 1;
  for (const auto& s : sizes)
    numel = numel * s;
  if (in.rank() == 0 || numel.as_const().value_or(1) == 0) {
    ctx.set_output(node, 0, in);
    return;
  }
  if (dims.empty()) {
    sym::Expr shift = shifts[0];
    ctx.set_output(node, 0, remap(ctx, in, sizes, [sizes, numel, shift](const Index& idx) {
                     return unravel(sym::mod(ravel(idx, sizes) - shift, numel), sizes);
                   }));
    return;
  }
  std::vector<size_t> wrapped;
  for (int64_t d : dims)
    wrapped.push_back(static_cast<size_t>(ops::wrap_dim(d, static_cast<int64_t>(in.rank()), args)));
  ctx.set_output(node, 0, remap(ctx, in, sizes, [sizes, wrapped, shifts](const Index& idx) {
                   Index src = idx;
                   // A dim listed twice rolls by both shifts, as in the reference.
                   for (size_t k = 0; k < wrapped.size(); ++k) {
                     size_t d = wrapped[k];
                     src[d] = sym::mod(src[d] - shifts[k], sizes[d]);
                   }
                   return src;
                 }));
}

// tril keeps col - row <= diagonal, triu keeps col - row >= diagonal; the rest is zero.
template <bool kLower>
void lower_tri(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  if (in.rank() < 2) {
    args.fail(kLower ? "tril" : "triu", ": input tensor must have at least 2 dimensions");
  }
  sym::Expr diagonal = args.sym("diagonal");
  ir::DType dtype = in.dtype();
  Exprs sizes = in.sizes();
  check_sizes(ctx, node, sizes);
  ctx.set_output(
      node, 0, ctx.pointwise(dtype, sizes, [in, diagonal, dtype](BodyBuilder& b, const Index& idx) {
        const sym::Expr& row = idx[idx.size() - 2];
        const sym::Expr& col = idx.back();
        int32_t keep =
            index_compare(b, kLower ? ScalarOp::kLe : ScalarOp::kGe, col - row, diagonal);
        int32_t zero = scalar_constant(b, ops::Scalar{}, dtype);
        return b.where(keep, in.load(b, idx), zero);
      }));
}

}  // namespace

std::vector<LowerEntry> shape_reorder_lowerings() {
  return {
      {"aten.flip.default", lower_flip},
      {"aten.roll.default", lower_roll},
      {"aten.tril.default", lower_tri<true>},
      {"aten.triu.default", lower_tri<false>},
  };
}

}  // namespace kiln::lower
