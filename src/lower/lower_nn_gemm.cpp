// GEMMs: mm, bmm, addmm, baddbmm become one "gemm" ExternCall each (runtime/externs.h). The
// operands are strided views of their buffers, so a transposed, sliced or batch-broadcast
// operand is read in place, and so is attention's [B*H, S, D] reshape of a [B, H, S, D] view
// permuted from [B, S, H, D] memory (a two-level batch); addmm's bias is the call's epilogue,
// with its broadcast as zero strides.
#include <cmath>
#include <tuple>

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

// An operand of a product of `rank`-D operands, read in place where the views allow (a
// two-level batch only for bmm), realized otherwise.
StridedOperand gemm_operand(Lowering& ctx, const ops::Args& args, std::string_view name,
                            const std::string& comment, size_t rank) {
  auto s = find_strided_view(ctx, tensor_id(args, name));
  if (s && s->sizes.size() == rank && (!s->split() || rank == 3)) return *s;
  return strided_operand(ctx, args, name, comment);
}

bool is_one(const sym::Expr& e) {
  auto c = e.as_const();
  return c && *c == 1;
}

// The batch split of a call: batch2 (1: none) and each operand's (outer, inner) batch strides.
// A one-level operand with batch stride s reads batch b1 * batch2 + b2 at (b1 * batch2 + b2) * s.
struct BatchSplit {
  sym::Expr batch2 = 1;
  std::pair<sym::Expr, sym::Expr> strides(const StridedOperand& s, const sym::Expr& plain) const {
    if (s.split() && !is_one(s.sizes[0])) return {plain, s.stride2};
    return {plain * batch2, plain};
  }
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
  BatchSplit split;
  for (const StridedOperand* o : {&g.a, &g.b}) {
    if (o->split() && !is_one(o->sizes[0])) split.batch2 = o->batch2;
  }
  auto [a_outer, a_inner] = split.strides(g.a, sa[0]);
  auto [b_outer, b_inner] = split.strides(g.b, sb[0]);
  sa[0] = a_outer;
  sb[0] = b_outer;
  sym::Expr bias_inner = 0;
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
    std::tie(sc[0], bias_inner) = split.strides(*g.bias, sc[0]);
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
  if (!is_one(split.batch2)) {
    call.int_params.insert(call.int_params.end(), {split.batch2, a_inner, b_inner, bias_inner});
  }
  auto [id, ref] = ctx.new_buffer(out.dtype, out.sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

// A call has one batch split: when A and B split the batch differently, B is realized.
void one_split(Lowering& ctx, const ops::Args& args, std::string_view b_name,
               const std::string& comment, GemmOperands& g) {
  if (g.a.split() && g.b.split() && !is_one(g.a.sizes[0]) && g.a.batch2 != g.b.batch2) {
    g.b = strided_operand(ctx, args, b_name, comment);
  }
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
  const size_t rank = kBatched ? 3 : 2;
  g.a = gemm_operand(ctx, args, "self", comment, rank);
  g.b = gemm_operand(ctx, args, "mat2", comment, rank);
  if (g.a.sizes.size() != rank || g.b.sizes.size() != rank) {
    args.fail("expected ", rank, "-D operands");
  }
  one_split(ctx, args, "mat2", comment, g);
  emit_gemm(ctx, node, g);
}

// addmm(self, mat1, mat2) / baddbmm(self, batch1, batch2): beta * self + alpha * product.
template <bool kBatched>
void lower_add_product(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  GemmOperands g;
  const std::string comment = ctx.label(node);
  const ir::DType dtype = ctx.output_type(node).dtype;
  const size_t rank = kBatched ? 3 : 2;
  g.a = gemm_operand(ctx, args, kBatched ? "batch1" : "mat1", comment, rank);
  g.b = gemm_operand(ctx, args, kBatched ? "batch2" : "mat2", comment, rank);
  if (g.a.sizes.size() != rank || g.b.sizes.size() != rank) {
    args.fail("expected ", rank, "-D operands");
  }
  one_split(ctx, args, kBatched ? "batch2" : "mat2", comment, g);
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
