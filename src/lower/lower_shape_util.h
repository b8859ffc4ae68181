#pragma once

// Helpers shared by the shape family's lowerings (views, cat/pad/reorders, factories) and the
// indexing lowerings. Views and index maps are lazy tensors that read their input at a
// transformed index: they never copy.

#include <functional>
#include <vector>

#include "lower/lowering.h"
#include "ops/args.h"

namespace kiln::lower {

// The family's parts, joined by shape_lowerings() in lower_shape.cpp.
std::vector<LowerEntry> shape_view_lowerings();     // lower_shape_view.cpp
std::vector<LowerEntry> shape_concat_lowerings();   // lower_shape_concat.cpp
std::vector<LowerEntry> shape_reorder_lowerings();  // lower_shape_reorder.cpp
std::vector<LowerEntry> shape_factory_lowerings();  // lower_shape_factory.cpp

// Maps an index of a view to the index of its input.
using IndexMap = std::function<Index(const Index&)>;

// `in` read through `map`, with the given sizes and in's dtype.
TensorRef remap(Lowering& ctx, const TensorRef& in, std::vector<sym::Expr> sizes, IndexMap map);

// x clamped into [0, size - 1]: keeps the index of a load that a where discards in range, so
// that evaluating both branches never reads outside a buffer.
sym::Expr clamp_index(const sym::Expr& x, const sym::Expr& size);

// A bool node for `x op y` over index expressions (op: kLt, kLe, kGt, kGe, kEq, kNe); a constant
// when the difference is known.
int32_t index_compare(BodyBuilder& b, ScalarOp op, const sym::Expr& x, const sym::Expr& y);
// The conjunction of bool nodes (true for none).
int32_t all_of(BodyBuilder& b, const std::vector<int32_t>& conds);

// A number converted to a tensor dtype as the reference kernels store it (floats rounded to the
// dtype, ints wrapped, a float into an int dtype truncated, bool as v != 0), as a node in the
// dtype's compute dtype.
int32_t scalar_constant(BodyBuilder& b, const ops::Scalar& value, ir::DType dtype);

// A node converted to the compute dtype of tensor dtype `dtype`.
int32_t to_compute(BodyBuilder& b, int32_t node, ir::DType dtype);

// Fails (naming the node) unless the lowered sizes equal the graph's declared output sizes.
void check_sizes(const Lowering& ctx, const ir::Node& node, const std::vector<sym::Expr>& sizes,
                 int output = 0);

}  // namespace kiln::lower
