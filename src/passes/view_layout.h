#pragma once

// Layout reasoning shared by functionalize and resolve_views: when a reshape is a view, and
// equality of symbolic strides under the program's ranges.

#include <optional>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "sym/expr.h"

namespace kiln::passes {

// view, reshape, _unsafe_view, view_as, flatten: the output is the input's elements in
// row-major order under new sizes, a view only when the input's layout allows it.
bool is_reshape_op(std::string_view target);

// True when a == b for every value of the symbols in their ranges, as far as canonical forms
// and interval bounds prove it; false when unproven.
bool provably_equal(const sym::Expr& a, const sym::Expr& b, const sym::RangeMap& ranges);

// True when `a` and `b` are known to differ: at some assignment of the symbols inside their
// ranges (each at its min, its max, or a midpoint) they evaluate to different values. False
// when they agree there or a symbol has no bounded range.
bool provably_different(const sym::Expr& a, const sym::Expr& b, const sym::RangeMap& ranges);

// Row-major dense (torch's is_contiguous: dims of size 1 place no constraint).
bool is_contiguous_layout(const ir::TensorType& t, const sym::RangeMap& ranges);

// PyTorch's computeStride over symbolic dims: the strides that view a tensor of `sizes` and
// `strides` as `new_sizes` without a copy, or nullopt when no such strides are proven (some
// new dim would span two chunks the old layout does not provably keep adjacent). With known
// dims it decides exactly as PyTorch does.
std::optional<std::vector<sym::Expr>> view_strides(const std::vector<sym::Expr>& sizes,
                                                   const std::vector<sym::Expr>& strides,
                                                   const std::vector<sym::Expr>& new_sizes,
                                                   const sym::RangeMap& ranges);

// What a reshape-family op does to an input of layout `in` in eager PyTorch.
enum class ReshapeKind { kView, kCopy, kUnknown };
ReshapeKind reshape_kind(std::string_view target, const ir::TensorType& in,
                         const std::vector<sym::Expr>& new_sizes, const sym::RangeMap& ranges);

// Re-derives the strides and storage offset of a view node's outputs from its input's current
// type, as eager PyTorch would have laid them out (a reshape no strides express is a contiguous
// copy there). Passes call it where a view's input changed layout (a copy removed before it, a
// write made its input a fresh tensor), so that types keep describing their inputs. Returns
// whether any output's type changed.
bool refresh_view_layout(ir::Graph& g, const ir::Node& n, const sym::RangeMap& ranges);

}  // namespace kiln::passes
