// Convolutions become one "conv" ExternCall (runtime/externs.h): aten.convolution.default (the
// primitive the decomposition produces) and, for programs that skip decomposition,
// conv1d/2d/3d (explicit, 'same' or 'valid' padding) and the transposed convolutions. Batched
// f32 forward convolutions read and write channels-last buffers; the others dense NC<spatial>
// ones. An unbatched input is the same memory as a batch of one.
#include "lower/families.h"
#include "lower/lower_nn_util.h"
#include "ops/nn_util.h"

namespace kiln::lower {
namespace {

enum class Form : uint8_t { kConvolution, kExplicit, kMode, kTransposed };

struct ConvParams {
  size_t spatial = 0;
  std::vector<int64_t> stride, dilation;
  std::vector<sym::Expr> pad;  // leading padding; 'same' padding follows the kernel size
  int64_t groups = 1;
  bool transposed = false;
};

// The arguments as the op table's reference kernel reads them (ops/nn_conv.cpp).
template <Form F>
ConvParams read_params(const ops::Args& args, const ir::TensorType& weight) {
  ConvParams p;
  if (weight.rank() < 3) args.fail("expected weight to have at least 3 dims, got ", weight.rank());
  p.spatial = weight.rank() - 2;
  p.stride = ops::nn::expand_param(args, "stride", p.spatial);
  p.dilation = ops::nn::expand_param(args, "dilation", p.spatial);
  p.groups = args.to_int("groups");
  p.transposed = F == Form::kTransposed || (F == Form::kConvolution && args.to_bool("transposed"));
  if (F == Form::kMode) {
    // 'same' pads dilation * (k - 1) in all, the odd one after: only the leading part enters
    // the index math; 'valid' pads nothing.
    const std::string mode = args.str("padding");
    p.pad.assign(p.spatial, sym::Expr(0));
    if (mode == "same") {
      for (size_t d = 0; d < p.spatial; ++d)
        p.pad[d] = sym::floor_div(p.dilation[d] * (weight.sizes[2 + d] - 1), 2);
    } else if (mode != "valid") {
      args.fail("invalid padding string: '", mode, "'");
    }
  } else {
    for (int64_t v : ops::nn::expand_param(args, "padding", p.spatial)) {
      if (v < 0) args.fail("negative padding is not supported");
      p.pad.emplace_back(v);
    }
  }
  for (size_t d = 0; d < p.spatial; ++d) {
    if (p.stride[d] <= 0 || p.dilation[d] <= 0) {
      args.fail("stride and dilation must be positive");
    }
  }
  if (p.spatial > 3) args.fail("convolutions over more than 3 spatial dims are not supported");
  if (p.groups <= 0) args.fail("non-positive groups is not supported");
  return p;
}

template <Form F>
void lower_conv(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  const ir::TensorType& w_type = args.type("weight");
  const ConvParams p = read_params<F>(args, w_type);
  const size_t n = p.spatial;
  TensorRef x = ctx.tensor(args, "input");
  TensorRef w = ctx.tensor(args, "weight");
  const ir::TensorType& out = ctx.output_type(node);
  const bool batched = x.rank() == n + 2;
  if (!batched && x.rank() != n + 1) args.fail("expected a ", n + 2, "-D input");
  const size_t c = batched ? 1 : 0;
  // f32 convolutions keep their activations channels-last ([N, spatial..., C]): oneDNN's direct
  // kernels read that layout (over plain NC<spatial> it falls back to im2col + GEMM), and the
  // tensors computed from a convolution's output are stored the same way, so chains of
  // convolutions need no copies between them.
  const bool channels_last = batched && !p.transposed && out.dtype == ir::DType::kFloat32 &&
                             x.dtype() == ir::DType::kFloat32;
  ExternCall call;
  call.kind = "conv";
  call.comment = ctx.label(node);
  call.inputs = {channels_last ? ctx.realize_channels_last(x, ctx.label(node))
                               : realized(ctx, x, node),
                 realized(ctx, w, node)};
  const bool has_bias = !args.is_none("bias");
  if (has_bias) call.inputs.push_back(realized(ctx, ctx.tensor(args, "bias"), node));
  const sym::Expr batch = batched ? x.sizes()[0] : sym::Expr(1);
  call.int_params = {
      dtype_code(out.dtype), static_cast<int64_t>(n), batch, x.sizes()[c], out.sizes[c], p.groups,
      p.transposed ? 1 : 0,  has_bias ? 1 : 0};
  for (size_t d = 0; d < n; ++d) {
    call.int_params.insert(call.int_params.end(),
                           {x.sizes()[c + 1 + d], out.sizes[c + 1 + d], w.sizes()[2 + d],
                            p.stride[d], p.pad[d], p.dilation[d]});
  }
  // The epilogue section: whether the weight may stay pre-packed in the runtime; post-ops are
  // added by the scheduler (schedule/fuse_epilogues).
  const bool w_constant =
      ctx.program().buffers[static_cast<size_t>(call.inputs[1])].kind == BufferKind::kConstant;
  const int64_t flags = (w_constant ? 1 : 0) | (channels_last ? 2 : 0);
  call.int_params.insert(call.int_params.end(), {flags, 0});
  auto [id, ref] = channels_last ? ctx.new_channels_last_buffer(out.dtype, out.sizes)
                                 : ctx.new_buffer(out.dtype, out.sizes);
  call.outputs = {id};
  ctx.emit(std::move(call));
  ctx.set_output(node, 0, ref);
}

}  // namespace

std::vector<LowerEntry> nn_conv_lowerings() {
  return {
      {"aten.convolution.default", lower_conv<Form::kConvolution>},
      {"aten.conv1d.default", lower_conv<Form::kExplicit>},
      {"aten.conv2d.default", lower_conv<Form::kExplicit>},
      {"aten.conv3d.default", lower_conv<Form::kExplicit>},
      {"aten.conv1d.padding", lower_conv<Form::kMode>},
      {"aten.conv2d.padding", lower_conv<Form::kMode>},
      {"aten.conv_transpose1d.default", lower_conv<Form::kTransposed>},
      {"aten.conv_transpose2d.input", lower_conv<Form::kTransposed>},
  };
}

}  // namespace kiln::lower
