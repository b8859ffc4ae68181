#pragma once

// Helpers shared by the nn family's files (nn_*.cpp), and each file's table.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/args.h"
#include "ops/common.h"
#include "ops/op_table.h"

namespace kiln::ops::nn {

std::span<const OpDef> linear_ops();     // nn_linear.cpp
std::span<const OpDef> einsum_ops();     // nn_einsum.cpp
std::span<const OpDef> conv_ops();       // nn_conv.cpp
std::span<const OpDef> pool_ops();       // nn_pool.cpp
std::span<const OpDef> resample_ops();   // nn_resample.cpp
std::span<const OpDef> attention_ops();  // nn_attention.cpp
std::span<const OpDef> index_ops();      // nn_index.cpp

// aten.index.Tensor, in nn_index_advanced.cpp.
std::vector<OutType> index_tensor_shape(const Args& a);
std::vector<ref::RValue> index_tensor_ref(const Args& a);

// "[2, s0, 3]"
std::string shape_str(const std::vector<sym::Expr>& sizes);

// Fails when a and b are known to differ (symbolic dims the export proved equal are taken on
// trust, as broadcast_shapes does).
template <typename... Parts>
void check_same(const sym::Expr& a, const sym::Expr& b, const Args& args, const Parts&... parts) {
  auto d = (a - b).as_const();
  if (d && *d != 0) args.fail(parts...);
}

// True when both are known and a > b.
bool known_greater(const sym::Expr& a, const sym::Expr& b);

// An int-list parameter ("int[2] stride") with n entries: a single value is repeated, as
// PyTorch's expand_param_if_needed does; any other length fails naming the argument.
std::vector<int64_t> expand_param(const Args& args, std::string_view name, size_t n);

// Fails unless `from` broadcasts to exactly `to` (as Tensor::expand requires).
void check_expandable(const std::vector<sym::Expr>& from, const std::vector<sym::Expr>& to,
                      const Args& args, std::string_view what);

// The sizes of a tensor type's dims [from, to).
std::vector<sym::Expr> dims(const ir::TensorType& t, size_t from, size_t to);

// The first output of the op's own shape rule, allocated as a zero-filled tensor.
ref::Tensor alloc_output(const Args& args, size_t index = 0);

// Fails for bool and complex dtypes (PyTorch's GEMM and conv kernels have none).
void check_numeric(ir::DType dtype, const Args& args, std::string_view what);
void check_floating(ir::DType dtype, const Args& args, std::string_view what);

// A running sum in the output dtype's arithmetic: double for floating dtypes, wrapping 64-bit
// integers for integral ones (so int64 GEMMs are exact, as PyTorch's are).
class Sum {
 public:
  explicit Sum(bool floating) : floating_(floating) {}
  void add(const ref::Tensor& t, int64_t i) {
    if (floating_) {
      f_ += t.get(i);
    } else {
      i_ += static_cast<uint64_t>(t.get_int(i));
    }
  }
  void add_product(const ref::Tensor& a, int64_t i, const ref::Tensor& b, int64_t j) {
    if (floating_) {
      f_ += a.get(i) * b.get(j);
    } else {
      i_ += static_cast<uint64_t>(a.get_int(i)) * static_cast<uint64_t>(b.get_int(j));
    }
  }
  // The sum times `scale` (PyTorch truncates a scale to an int for integral outputs).
  Sum scaled(double scale) const;
  Sum& operator+=(const Sum& other) {
    f_ += other.f_;
    i_ += other.i_;
    return *this;
  }
  double value() const { return f_; }  // the floating sum
  // The integral sum (wrapped to 64 bits).
  int64_t int_value() const { return static_cast<int64_t>(i_); }
  void store(ref::Tensor& out, int64_t i) const {
    if (floating_) {
      out.set(i, f_);
    } else {
      out.set_int(i, static_cast<int64_t>(i_));
    }
  }

 private:
  bool floating_;
  double f_ = 0;
  uint64_t i_ = 0;
};

// a (..., n, k) @ b (..., k, m) with broadcast batch dims; 1-D operands as matmul treats them
// (a: [k] as [1, k], b: [k] as [k, 1]). The result's dims are [batch..., n, m], before
// matmul drops the ones it added; the caller reshapes.
ref::Tensor batched_matmul(const ref::Tensor& a, const ref::Tensor& b, ir::DType out_dtype);

// The last two dims swapped (a 1-D tensor is returned as is).
ref::Tensor transpose_last2(const ref::Tensor& t);

// The type the graph recorded for the node's output `index` (export writes every output's
// type), for sizes a shape rule cannot derive, such as data-dependent ones; nullopt if absent.
std::optional<ir::TensorType> recorded_output(const Args& args, size_t index);

}  // namespace kiln::ops::nn
