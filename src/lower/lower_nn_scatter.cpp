// Scans and scatters become ExternCalls of runtime routines (runtime/externs.h): cumsum and
// cumprod, scatter (value, src, add) and index_put. Their operands are realized into dense
// buffers; the routines copy the base tensor and write at data-dependent positions, checking
// every index.
#include <cmath>

#include "lower/families.h"
#include "lower/lower_nn_util.h"
#include "ops/common.h"

namespace kiln::lower {
namespace {

using ir::DType;
using Exprs = std::vector<sym::Expr>;

sym::Expr product(const Exprs& sizes, size_t from, size_t to) {
  sym::Expr p = 1;
  for (size_t d = from; d < to; ++d)
    p = p * sizes[d];
  return p;
}

// x converted elementwise to `dtype` as `.to(dtype)` does (16-bit floats rounded).
TensorRef converted(Lowering& ctx, const TensorRef& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  return ctx.pointwise(dtype, x.sizes(), [x, dtype](BodyBuilder& b, const Index& idx) {
    int32_t v = x.load(b, idx);
    if (dtype == DType::kFloat16 || dtype == DType::kBFloat16) v = b.cast(v, dtype);
    return b.cast(v, compute_dtype(dtype));
  });
}

// cumsum / cumprod: the input is converted to the output dtype (an explicit dtype, or int64
// for integer and bool inputs), then scanned along dim viewed as [outer, length, inner].
void lower_scan(Lowering& ctx, const ir::Node& node, const ops::Args& args, const char* kind) {
  const ir::TensorType& out = ctx.output_type(node);
  TensorRef x = converted(ctx, ctx.tensor(args, "self"), out.dtype);
  const size_t rank = x.rank();
  const auto dim =
      static_cast<size_t>(ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(rank), args));
  ExternCall call;
  call.kind = kind;
  call.comment = ctx.label(node);
  call.inputs = {realized(ctx, x, node)};
  const Exprs& s = x.sizes();
  if (rank == 0) {
    call.int_params = {dtype_code(out.dtype), 1, 1, 1};
  } else {
    call.int_params = {dtype_code(out.dtype), product(s, 0, dim), s[dim],
                       product(s, dim + 1, rank)};
  }
  auto [id, ref] = ctx.new_buffer(out.dtype, out.sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

void lower_cumsum(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  lower_scan(ctx, node, args, "cumsum");
}
void lower_cumprod(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  lower_scan(ctx, node, args, "cumprod");
}

// Sizes with a 0-d tensor taken as [1], as gather and scatter treat it.
Exprs at_least_1d(const Exprs& s) {
  return s.empty() ? Exprs{sym::Expr(1)} : s;
}

// scatter.value (mode 0), scatter.src (1), scatter_add (2).
template <int kMode>
void lower_scatter(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef index = ctx.tensor(args, "index");
  const DType dtype = ctx.output_type(node).dtype;
  if (index.dtype() != DType::kInt64 && index.dtype() != DType::kInt32) {
    args.fail("index must be an int64 or int32 tensor, got ", ir::dtype_name(index.dtype()));
  }
  const Exprs ss = at_least_1d(self.sizes());
  const Exprs is = at_least_1d(index.sizes());
  const auto rank = static_cast<int64_t>(ss.size());
  if (static_cast<int64_t>(is.size()) != rank) {
    args.fail("index must have as many dims as self");
  }
  const int64_t dim = ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args);
  ExternCall call;
  call.kind = "scatter";
  call.comment = ctx.label(node);
  call.inputs = {realized(ctx, self, node), realized(ctx, index, node)};
  int64_t value_int = 0;
  double value = 0;
  if (kMode == 0) {
    // Stored as the reference stores it: a float into an integral tensor truncates, any
    // nonzero into a bool is true.
    ops::Scalar v = args.scalar("value");
    if (ir::is_floating(dtype)) {
      value = v.to_double();
    } else if (dtype == DType::kBool) {
      value_int = v.is_floating() ? v.f != 0 : v.i != 0;
    } else if (v.is_floating()) {
      value_int = std::isfinite(v.f) && std::fabs(v.f) < 9.2e18 ? static_cast<int64_t>(v.f) : 0;
    } else {
      value_int = v.i;
    }
  }
  call.int_params = {dtype_code(dtype), dtype_code(index.dtype()), kMode, rank, dim, value_int};
  call.int_params.insert(call.int_params.end(), ss.begin(), ss.end());
  call.int_params.insert(call.int_params.end(), is.begin(), is.end());
  if (kMode != 0) {
    TensorRef src = ctx.tensor(args, "src");
    const Exprs srcs = at_least_1d(src.sizes());
    if (static_cast<int64_t>(srcs.size()) != rank) args.fail("src must have as many dims as self");
    call.inputs.push_back(realized(ctx, src, node));
    call.int_params.insert(call.int_params.end(), srcs.begin(), srcs.end());
  }
  call.float_params = {value};
  auto [id, ref] = ctx.new_buffer(dtype, ctx.output_type(node).sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

// index_put(self, indices, values, accumulate): the index entries' kinds and sizes go to the
// routine, which finds masks' positions and checks the broadcast when it runs.
void lower_index_put(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef values = ctx.tensor(args, "values");
  const ir::TensorType& out = ctx.output_type(node);
  ExternCall call;
  call.kind = "index_put";
  call.comment = ctx.label(node);
  call.inputs = {realized(ctx, self, node), realized(ctx, values, node)};
  call.int_params = {dtype_code(out.dtype), args.to_bool("accumulate") ? 1 : 0,
                     static_cast<int64_t>(self.rank())};
  call.int_params.insert(call.int_params.end(), self.sizes().begin(), self.sizes().end());
  call.int_params.push_back(static_cast<int64_t>(values.rank()));
  call.int_params.insert(call.int_params.end(), values.sizes().begin(), values.sizes().end());
  const auto ids = args.tensor_ids("indices");
  call.int_params.push_back(static_cast<int64_t>(ids.size()));
  for (const auto& id : ids) {
    if (!id) {
      call.int_params.insert(call.int_params.end(), {0, 0});
      continue;
    }
    TensorRef t = ctx.tensor(*id);
    int64_t kind = 0;
    switch (t.dtype()) {
      case DType::kInt64:
        kind = 1;
        break;
      case DType::kInt32:
        kind = 2;
        break;
      case DType::kBool:
        kind = 3;
        break;
      case DType::kUInt8:
        kind = 4;
        break;
      default:
        args.fail("tensors used as indices must be long, int, byte or bool tensors, got ",
                  ir::dtype_name(t.dtype()));
    }
    call.int_params.push_back(kind);
    call.int_params.push_back(static_cast<int64_t>(t.rank()));
    call.int_params.insert(call.int_params.end(), t.sizes().begin(), t.sizes().end());
    call.inputs.push_back(realized(ctx, t, node));
  }
  auto [id, ref] = ctx.new_buffer(out.dtype, out.sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

}  // namespace

std::vector<LowerEntry> nn_scatter_lowerings() {
  return {
      {"aten.cumsum.default", lower_cumsum},          {"aten.cumprod.default", lower_cumprod},
      {"aten.scatter.value", lower_scatter<0>},       {"aten.scatter.src", lower_scatter<1>},
      {"aten.scatter_add.default", lower_scatter<2>}, {"aten.index_put.default", lower_index_put},
  };
}

}  // namespace kiln::lower
