#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ops/args.h"
#include "ops/common.h"
#include "ops/op_table.h"

// Helpers shared by the shape family's files (views, copies, casts, factories).
namespace kiln::ops {

// The family's parts, joined by shape_ops() in shape.cpp.
std::span<const OpDef> shape_view_ops();     // shape_view.cpp
std::span<const OpDef> shape_slice_ops();    // shape_slice.cpp
std::span<const OpDef> shape_concat_ops();   // shape_concat.cpp
std::span<const OpDef> shape_copy_ops();     // shape_copy.cpp
std::span<const OpDef> shape_reorder_ops();  // shape_reorder.cpp
std::span<const OpDef> shape_cast_ops();     // shape_cast.cpp
std::span<const OpDef> factory_ops();        // factory.cpp

// A Python number argument that may be a SymInt: its value as an expression when it is an
// int (symbolic or not), nullopt when it is a float or bool.
std::optional<sym::Expr> sym_int_scalar(const Args& a, std::string_view name);

// The constant value of e, if it has one.
inline std::optional<int64_t> known(const sym::Expr& e) {
  return e.as_const();
}
inline bool is_known(const sym::Expr& e, int64_t v) {
  auto c = e.as_const();
  return c && *c == v;
}
// True when a and b are known to differ (both constant, or their difference is a nonzero
// constant).
bool known_unequal(const sym::Expr& a, const sym::Expr& b);

sym::Expr product(std::span<const sym::Expr> sizes);

// Sizes with at most one -1, the -1 inferred from numel (view, reshape, unflatten). Checks the
// product matches numel where that is decidable.
std::vector<sym::Expr> infer_size(const std::vector<sym::Expr>& shape, const sym::Expr& numel,
                                  const Args& a);

// A view of `self`: its dtype and device with the given sizes, strides and storage offset.
ir::TensorType view_type(const ir::TensorType& self, std::vector<sym::Expr> sizes,
                         std::vector<sym::Expr> strides, sym::Expr offset);

// Copies element j of `in` into element i of `out`, converting to out's dtype as PyTorch's
// casts do (floats truncate toward zero into integers; any nonzero or NaN is true).
void copy_element(ref::Tensor& out, int64_t i, const ref::Tensor& in, int64_t j);

// The reference kernel of every strided view: each tensor output of the op's shape rule reads
// `self` through its strides and storage offset. In reference evaluation `self` is dense and
// row-major, so the shape rule's strides index straight into its elements.
std::vector<ref::RValue> strided_view_reference(const Args& a);

// A tensor of the op's single output type (from its own shape rule), zero-filled.
ref::Tensor allocate_output(const Args& a, size_t index = 0);

// Row-major strides of a channels-last layout (rank 4 or 5); others contiguous.
ir::TensorType layout_type(ir::DType dtype, std::vector<sym::Expr> sizes, const ir::Device& device,
                           std::optional<ir::MemoryFormat> format);

// Fails unless the layout argument is absent or strided (kiln has dense tensors only).
void check_strided_layout(const Args& a, std::string_view name = "layout");

}  // namespace kiln::ops
