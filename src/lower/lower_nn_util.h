#pragma once

// Helpers shared by the nn family's lowerings (lower_nn_*.cpp): GEMMs, convolutions, pooling,
// resampling, scans and scatters. Heavy ops become ExternCalls of the runtime routines declared
// in runtime/externs.h; their operands are realized buffers, read through strided views where
// the graph's view ops allow it (a transposed weight needs no copy).

#include <optional>
#include <string>
#include <vector>

#include "lower/lowering.h"
#include "ops/args.h"

namespace kiln::lower {

// The family's parts, joined by nn_lowerings() in lower_nn.cpp.
std::vector<LowerEntry> nn_gemm_lowerings();      // lower_nn_gemm.cpp
std::vector<LowerEntry> nn_conv_lowerings();      // lower_nn_conv.cpp
std::vector<LowerEntry> nn_pool_lowerings();      // lower_nn_pool.cpp
std::vector<LowerEntry> nn_resample_lowerings();  // lower_nn_resample.cpp
std::vector<LowerEntry> nn_scatter_lowerings();   // lower_nn_scatter.cpp: scans, scatters

// Registers the kernel-IR evaluator's naive implementations of the nn extern kinds (gemm,
// conv, cumsum, cumprod, scatter, index_put); lower_nn_eval.cpp. Idempotent.
void register_nn_extern_evaluators();

// The dtype code the runtime routines take (runtime/externs.h: kiln::ir::DType's numbering).
inline sym::Expr dtype_code(ir::DType dtype) {
  return sym::Expr(static_cast<int64_t>(dtype));
}

// A strided view of a realized buffer: element (i0, i1, ...) is at
// offset + sum(i_d * strides[d]) of `buffer`. With batch2 other than 1, dim 0 is two-level
// (a reshape merged two dims no single stride steps through): index i0 contributes
// (i0 / batch2) * strides[0] + (i0 % batch2) * stride2 instead.
struct StridedOperand {
  BufferId buffer = -1;
  sym::Expr offset = 0;
  std::vector<sym::Expr> sizes;
  std::vector<sym::Expr> strides;
  sym::Expr batch2 = 1;
  sym::Expr stride2 = 0;
  bool split() const { return batch2 != sym::Expr(1); }
};

// The tensor value `v` as a strided view of a buffer. Walks back through the graph's view ops
// (permute, transpose, t, expand, unsqueeze, squeeze, view/reshape of contiguous data, alias)
// to a realized value; a lazy value where the walk stops is realized (a copy kernel computing
// it), so the result always reads memory.
StridedOperand strided_operand(Lowering& ctx, ir::ValueId v, const std::string& comment);
// The same for a tensor argument of the node.
StridedOperand strided_operand(Lowering& ctx, const ops::Args& args, std::string_view name,
                               const std::string& comment);

// The tensor value `v` as a strided view of memory that is already computed, or nullopt where
// that would need a copy: unlike strided_operand, it realizes nothing. Besides the view ops
// strided_operand follows it steps through slice, select, clone (same values) and reshapes of
// non-contiguous views (torch's view() rule), and a reshape merging two leading dims into dim 0
// gives a two-level dim 0 (lower_nn_util.cpp).
std::optional<StridedOperand> find_strided_view(Lowering& ctx, ir::ValueId v);

// The ValueId of a tensor argument.
ir::ValueId tensor_id(const ops::Args& args, std::string_view name);

// Whether any node (or the graph's outputs) reads value v.
bool is_used(const ir::Graph& graph, ir::ValueId v);

// The realized buffer of a tensor argument (a copy kernel when it is lazy).
BufferId realized(Lowering& ctx, const TensorRef& t, const ir::Node& node);

}  // namespace kiln::lower
