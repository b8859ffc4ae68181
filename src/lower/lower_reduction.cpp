// Lowering of the reduction family: sum, prod, amax/amin, max/min with indices, argmax/argmin,
// all/any (mean, var, norms, softmax and whole-tensor max/min are decomposed into these). The
// reduced dims come from the op table's own helper (ops::reduction::reduce_spec), so lowering
// and the reference kernels read arguments alike; ctx.reduce then accumulates 16-bit floats in
// float32, float64 in float64 and integers in int64.
#include <cstdint>
#include <string>
#include <vector>

#include "lower/families.h"
#include "lower/lowering.h"
#include "ops/reduction_util.h"

namespace kiln::lower {
namespace {

using ir::DType;
using ops::Args;

// v as a value of `dtype` (PyTorch's conversion rules; 16-bit floats rounded), in dtype's
// compute dtype.
int32_t convert(BodyBuilder& b, int32_t v, DType dtype) {
  if (dtype == DType::kFloat16 || dtype == DType::kBFloat16) v = b.cast(v, dtype);
  return b.cast(v, compute_dtype(dtype));
}

// The dims the op reduces, and keepdim.
struct Reduced {
  std::vector<int64_t> dims;
  bool keepdim = false;
};

Reduced reduced_dims(const Args& args, size_t rank, bool empty_means_all = true) {
  ops::reduction::ReduceSpec spec = ops::reduction::reduce_spec(args, rank, empty_means_all);
  Reduced r;
  r.keepdim = spec.keepdim;
  for (size_t d = 0; d < spec.mask.size(); ++d) {
    if (spec.mask[d]) r.dims.push_back(static_cast<int64_t>(d));
  }
  return r;
}

// The input converted elementwise to `dtype` (lazy; the input itself when it has that dtype).
TensorRef converted(Lowering& ctx, const TensorRef& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  return ctx.pointwise(dtype, x.sizes(), [x, dtype](BodyBuilder& b, const Index& idx) {
    return convert(b, x.load(b, idx), dtype);
  });
}

// A tensor of `sizes` whose every element is the int64 constant v.
TensorRef filled_int64(Lowering& ctx, std::vector<sym::Expr> sizes, int64_t v) {
  return ctx.pointwise(DType::kInt64, std::move(sizes),
                       [v](BodyBuilder& b, const Index&) { return b.index_value(sym::Expr(v)); });
}

// `op` over the reduced dims of x; reducing no dim (a 0-dim input, or an empty dim list where
// that means none) leaves each element as its own result.
TensorRef reduce_or_keep(Lowering& ctx, const ir::Node& node, const TensorRef& x, const Reduced& r,
                         ReduceOp op, DType out) {
  if (r.dims.empty()) return converted(ctx, x, out);
  return ctx.reduce(x, r.dims, r.keepdim, op, out, ctx.label(node));
}

// sum and prod: the input is converted to the output dtype first (an explicit dtype, or int64
// for integer and bool inputs), as PyTorch does.
template <ReduceOp Op>
void lower_sum(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  TensorRef x = ctx.tensor(args, "self");
  Reduced r = reduced_dims(args, x.rank());
  ctx.set_output(node, 0, reduce_or_keep(ctx, node, converted(ctx, x, out), r, Op, out));
}

// amax, amin: NaN propagates.
template <ReduceOp Op>
void lower_extreme(Lowering& ctx, const ir::Node& node, const Args& args) {
  TensorRef x = ctx.tensor(args, "self");
  Reduced r = reduced_dims(args, x.rank());
  ctx.set_output(node, 0, reduce_or_keep(ctx, node, x, r, Op, x.dtype()));
}

// max.dim / min.dim: the values, and the int64 index of the first extreme (a NaN counts as the
// extreme) along the dim.
template <ReduceOp Op, ReduceOp ArgOp>
void lower_extreme_dim(Lowering& ctx, const ir::Node& node, const Args& args) {
  TensorRef x = ctx.tensor(args, "self");
  Reduced r = reduced_dims(args, x.rank());
  ctx.set_output(node, 0, reduce_or_keep(ctx, node, x, r, Op, x.dtype()));
  if (r.dims.empty()) {
    ctx.set_output(node, 1, filled_int64(ctx, ctx.output_type(node, 1).sizes, 0));
    return;
  }
  ctx.set_output(node, 1, ctx.reduce(x, r.dims, r.keepdim, ArgOp, DType::kInt64, ctx.label(node)));
}

// argmax / argmin. Without a dim the index is into the flattened tensor, so a rank > 1 input is
// read through a flat view and the single result is reshaped to the output's sizes.
template <ReduceOp ArgOp>
void lower_arg(Lowering& ctx, const ir::Node& node, const Args& args) {
  TensorRef x = ctx.tensor(args, "self");
  const std::vector<sym::Expr>& out_sizes = ctx.output_type(node).sizes;
  Reduced r = reduced_dims(args, x.rank());
  if (r.dims.empty()) {
    ctx.set_output(node, 0, filled_int64(ctx, out_sizes, 0));
    return;
  }
  if (r.dims.size() == 1) {
    ctx.set_output(node, 0,
                   ctx.reduce(x, r.dims, r.keepdim, ArgOp, DType::kInt64, ctx.label(node)));
    return;
  }
  sym::Expr numel = 1;
  for (const sym::Expr& s : x.sizes())
    numel = numel * s;
  TensorRef flat = ctx.pointwise(x.dtype(), {numel}, [x](BodyBuilder& b, const Index& idx) {
    return x.load(b, unravel(idx[0], x.sizes()));
  });
  TensorRef index = ctx.reduce(flat, {0}, false, ArgOp, DType::kInt64, ctx.label(node));
  ctx.set_output(node, 0,
                 ctx.pointwise(DType::kInt64, out_sizes, [index](BodyBuilder& b, const Index&) {
                   return index.load(b, {});
                 }));
}

// all / any: whether every / some element is nonzero (NaN is nonzero). The result is bool, or
// uint8 for uint8 inputs. An empty list for .dims reduces nothing.
template <ReduceOp Op>
void lower_logical(Lowering& ctx, const ir::Node& node, const Args& args) {
  const DType out = ctx.output_type(node).dtype;
  TensorRef x = ctx.tensor(args, "self");
  Reduced r = reduced_dims(args, x.rank(), /*empty_means_all=*/false);
  if (!r.dims.empty()) {
    ctx.set_output(node, 0, ctx.reduce(x, r.dims, r.keepdim, Op, out, ctx.label(node)));
    return;
  }
  ctx.set_output(node, 0, ctx.pointwise(out, x.sizes(), [x, out](BodyBuilder& b, const Index& idx) {
    return b.cast(b.cast(x.load(b, idx), DType::kBool), out);
  }));
}

const LowerEntry kEntries[] = {
    {"aten.sum.default", lower_sum<ReduceOp::kSum>},
    {"aten.sum.dim_IntList", lower_sum<ReduceOp::kSum>},
    {"aten.prod.default", lower_sum<ReduceOp::kProd>},
    {"aten.prod.dim_int", lower_sum<ReduceOp::kProd>},
    {"aten.amax.default", lower_extreme<ReduceOp::kMax>},
    {"aten.amin.default", lower_extreme<ReduceOp::kMin>},
    {"aten.max.dim", lower_extreme_dim<ReduceOp::kMax, ReduceOp::kArgMax>},
    {"aten.min.dim", lower_extreme_dim<ReduceOp::kMin, ReduceOp::kArgMin>},
    {"aten.argmax.default", lower_arg<ReduceOp::kArgMax>},
    {"aten.argmin.default", lower_arg<ReduceOp::kArgMin>},
    {"aten.all.default", lower_logical<ReduceOp::kAll>},
    {"aten.all.dim", lower_logical<ReduceOp::kAll>},
    {"aten.all.dims", lower_logical<ReduceOp::kAll>},
    {"aten.any.default", lower_logical<ReduceOp::kAny>},
    {"aten.any.dim", lower_logical<ReduceOp::kAny>},
    {"aten.any.dims", lower_logical<ReduceOp::kAny>},
};

}  // namespace

std::vector<LowerEntry> reduction_lowerings() {
  return {std::begin(kEntries), std::end(kEntries)};
}

}  // namespace kiln::lower
