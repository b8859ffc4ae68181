#pragma once

// Helpers shared by the reduction family's files (reductions, scans, softmax, normalization):
// which dims a reduction covers, the groups of input elements each output element reduces, and
// the dtype rules these ops share.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ops/args.h"
#include "ops/common.h"
#include "ops/op_table.h"
#include "ref/tensor.h"

namespace kiln::ops::reduction {

// The family's tables, one per file; reduction.cpp joins them.
std::span<const OpDef> sum_ops();     // reduction_sum.cpp: sum, mean, prod, var, std
std::span<const OpDef> minmax_ops();  // reduction_minmax.cpp: max, min, argmax, all, any
std::span<const OpDef> vnorm_ops();   // reduction_norm.cpp: norm, vector norm, logsumexp
std::span<const OpDef> scan_ops();    // reduction_scan.cpp: cumsum, cumprod, softmax
std::span<const OpDef> norm_ops();    // norm.cpp: layer, group, batch, instance, rms norm

// The dims a reduction covers (one flag per dim) and whether they are kept as size 1.
struct ReduceSpec {
  std::vector<bool> mask;
  bool keepdim = false;
};

// Which dims `dims` names: None reduces every dim; an empty list reduces every dim when
// `empty_means_all` (sum, mean, var, norms) and none otherwise (all.dims, any.dims). Dims are
// wrapped and a repeated dim fails, as PyTorch does.
std::vector<bool> reduced_mask(const Args& a, size_t rank,
                               const std::optional<std::vector<int64_t>>& dims,
                               bool empty_means_all = true);

// The spec from the op's "dim" and "keepdim" arguments; an op without "dim" reduces everything.
ReduceSpec reduce_spec(const Args& a, size_t rank, bool empty_means_all = true);

// Sizes after reducing the masked dims: kept as 1 with keepdim, dropped otherwise.
std::vector<sym::Expr> reduced_sizes(const std::vector<sym::Expr>& sizes,
                                     const std::vector<bool>& mask, bool keepdim);

// Fails when a reduced dim is known to be 0, for reductions without an identity (max, argmax,
// the inf-norm). `op` names the op in the message as PyTorch does ("amax()").
void check_nonempty(const Args& a, std::string_view op, const ir::TensorType& t,
                    const std::vector<bool>& mask);

// For each output element (row-major over the kept dims), the flat input indices it reduces, in
// row-major order, so the position within a group is the index along a single reduced dim, or the
// flat index when every dim is reduced.
std::vector<std::vector<int64_t>> reduction_groups(const std::vector<int64_t>& sizes,
                                                   const std::vector<bool>& mask);

// The op's outputs, allocated (zero-filled) from its own shape rule on the concrete arguments.
std::vector<ref::Tensor> alloc_outputs(const Args& a);

// Element i of t as `.to(dtype)` would give it: floats rounded to a floating dtype, truncated
// toward zero and wrapped for an integral one, nonzero for bool.
double load_float(const ref::Tensor& t, int64_t i, ir::DType dtype);
int64_t load_int(const ref::Tensor& t, int64_t i, ir::DType dtype);

// PyTorch's computation dtype (utils.get_computation_dtype): 16-bit and 8-bit floats compute in
// float32.
ir::DType computation_dtype(ir::DType d);

bool is_float(ir::DType d);
// Fails unless the tensor argument has a floating dtype; `what` is PyTorch's message prefix.
void require_floating(const Args& a, std::string_view arg, std::string_view what);

// PyTorch's default dtype, for integer inputs promoted by ops such as logsumexp.
constexpr ir::DType kDefaultFloat = ir::DType::kFloat32;

// Two's-complement accumulation for integer reductions (no signed-overflow UB; the store wraps
// to the dtype's width).
inline int64_t wrap_add(int64_t x, int64_t y) {
  return static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
}
inline int64_t wrap_mul(int64_t x, int64_t y) {
  return static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y));
}

// Two known-or-symbolic sizes: fails only when both are known and differ (symbolic dims are
// taken to be equal, as the export has proven them).
bool known_unequal(const sym::Expr& x, const sym::Expr& y);

}  // namespace kiln::ops::reduction
