// GEMMs: mm, bmm, addmm, baddbmm become one "gemm" ExternCall each (runtime/externs.h). The
// operands are strided views of their buffers, so a transposed or batch-broadcast weight is
// read in place; addmm's bias is the call's epilogue, with its broadcast as zero strides.
#include <cmath>

#include "lower/families.h"
#include "lower/lower_nn_util.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

// An operand's strides as (batch, row, col), right-aligned onto a [batch, rows, cols] product:
// missing and size-1 dims read with stride 0 (broadcast).
std::vector<sym::Expr> three_strides(const StridedOperand& s) {
  std::vector<sym::Expr> out(3, sym::Expr(0));
  const size_t rank = s.sizes.size();
  for (size_t i = 0; i < rank && i < 3; ++i) {
    const size_t d = rank - 1 - i;
    auto c = s.sizes[d].as_const();
    out[2 - i] = c && *c == 1 ? sym::Expr(0) : s.strides[d];
  }
  return out;
}

struct GemmOperands {
  StridedOperand a, b;
  std::optional<StridedOperand> bias;
  double alpha = 1, beta = 1;
};

// C[batch, M, N] (the node's declared output) = alpha * A B + beta * bias.
void emit_gemm(Lowering& ctx, const ir::Node& node, const GemmOperands& g) {
  const ir::TensorType& out = ctx.output_type(node);
  const bool batched = g.a.sizes.size() == 3;
  const sym::Expr batch = batched ? g.a.sizes[0] : sym::Expr(1);
  const sym::Expr m = g.a.sizes[g.a.sizes.size() - 2];
  const sym::Expr k = g.a.sizes.back();
  const sym::Expr n = g.b.sizes.back();
  ExternCall call;
  call.kind = "gemm";
  call.comment = ctx.label(node);
  call.inputs = {g.a.buffer, g.b.buffer};
  auto sa = three_strides(g.a), sb = three_strides(g.b);
  // A batch dim of size 1 broadcasts like a missing one: three_strides already gives stride 0.
  call.int_params = {dtype_code(out.dtype),
                     batch,
                     m,
                     n,
                     k,
                     g.a.offset,
                     sa[0],
                     sa[1],
                     sa[2],
                     g.b.offset,
                     sb[0],
                     sb[1],
                     sb[2]};
  if (g.bias && g.beta != 0) {
    auto sc = three_strides(*g.bias);
    call.inputs.push_back(g.bias->buffer);
    call.int_params.insert(call.int_params.end(), {1, g.bias->offset, sc[0], sc[1], sc[2]});
  } else {
    call.int_params.insert(call.int_params.end(), {0, 0, 0, 0, 0});
  }
  call.float_params = {g.alpha, g.beta};
  // The epilogue section: whether B is a weight the runtime may keep pre-packed; post-ops are
  // added by the scheduler (schedule/fuse_epilogues).
  const bool b_constant =
      ctx.program().buffers[static_cast<size_t>(g.b.buffer)].kind == BufferKind::kConstant;
  call.int_params.insert(call.int_params.end(), {b_constant ? 1 : 0, 0});
  auto [id, ref] = ctx.new_buffer(out.dtype, out.sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

// alpha / beta as the reference applies them: integral outputs truncate them.
double scale(const ops::Args& args, std::string_view name, ir::DType dtype) {
  double v = args.scalar(name).to_double();
  return ir::is_floating(dtype) ? v : std::trunc(v);
}

template <bool kBatched>
void lower_mm(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  GemmOperands g;
  const std::string comment = ctx.label(node);
  g.a = strided_operand(ctx, args, "self", comment);
  g.b = strided_operand(ctx, args, "mat2", comment);
  if (g.a.sizes.size() != (kBatched ? 3u : 2u) || g.b.sizes.size() != g.a.sizes.size()) {
    args.fail("expected ", kBatched ? 3 : 2, "-D operands");
  }
  emit_gemm(ctx, node, g);
}

// addmm(self, mat1, mat2) / baddbmm(self, batch1, batch2): beta * self + alpha * product.
template <bool kBatched>
void lower_add_product(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  GemmOperands g;
  const std::string comment = ctx.label(node);
  const ir::DType dtype = ctx.output_type(node).dtype;
  g.a = strided_operand(ctx, args, kBatched ? "batch1" : "mat1", comment);
  g.b = strided_operand(ctx, args, kBatched ? "batch2" : "mat2", comment);
  if (g.a.sizes.size() != (kBatched ? 3u : 2u) || g.b.sizes.size() != g.a.sizes.size()) {
    args.fail("expected ", kBatched ? 3 : 2, "-D operands");
  }
  g.alpha = scale(args, "alpha", dtype);
  g.beta = scale(args, "beta", dtype);
  if (g.beta != 0) {
    // The bias broadcasts to the product: at most as many dims, each equal or 1.
    StridedOperand bias = strided_operand(ctx, args, "self", comment);
    if (bias.sizes.size() > g.a.sizes.size()) args.fail("self has too many dims for the product");
    g.bias = bias;
  }
  emit_gemm(ctx, node, g);
}

}  // namespace

std::vector<LowerEntry> nn_gemm_lowerings() {
  return {
      {"aten.mm.default", lower_mm<false>},
      {"aten.bmm.default", lower_mm<true>},
      {"aten.addmm.default", lower_add_product<false>},
      {"aten.baddbmm.default", lower_add_product<true>},
  };
}

}  // namespace kiln::lower
