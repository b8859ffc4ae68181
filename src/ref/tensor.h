#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "ir/dtype.h"

namespace kiln::ref {

// A concrete tensor of the reference interpreter: dense and row-major, so every kernel is a
// plain loop over flat indices. Floating values are held as double and rounded to the dtype's
// precision when stored (so a kernel may compute in double and store once); integral and bool
// values are held exactly as int64 and wrapped to the dtype's width when stored.
class Tensor {
 public:
  Tensor() = default;
  // Zero-filled.
  Tensor(ir::DType dtype, std::vector<int64_t> sizes);

  ir::DType dtype() const { return dtype_; }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  int64_t dim() const { return static_cast<int64_t>(sizes_.size()); }
  int64_t size(int64_t d) const { return sizes_.at(static_cast<size_t>(d)); }
  int64_t numel() const { return numel_; }
  bool is_floating() const { return floating_; }
  // Row-major strides in elements.
  std::vector<int64_t> strides() const;
  std::string str() const;  // "f32[2, 3]"

  // Element access by flat row-major index. get() converts integers to double; get_int()
  // truncates floats toward zero.
  double get(int64_t i) const {
    return floating_ ? f_[static_cast<size_t>(i)] : static_cast<double>(i_[static_cast<size_t>(i)]);
  }
  int64_t get_int(int64_t i) const;
  // Stores v rounded to the dtype (bool: v != 0; integers: truncated toward zero, then wrapped).
  void set(int64_t i, double v) {
    // f32 and f64 inline: constant folding stores whole weight tensors through here.
    if (dtype_ == ir::DType::kFloat32) {
      f_[static_cast<size_t>(i)] = static_cast<double>(static_cast<float>(v));
    } else if (dtype_ == ir::DType::kFloat64) {
      f_[static_cast<size_t>(i)] = v;
    } else {
      set_other(i, v);
    }
  }
  // Stores v wrapped to the dtype (floating dtypes: converted and rounded).
  void set_int(int64_t i, int64_t v);

  // The same elements with other sizes (numel must match).
  Tensor reshaped(std::vector<int64_t> sizes) const;

 private:
  void set_other(int64_t i, double v);

  ir::DType dtype_ = ir::DType::kFloat32;
  std::vector<int64_t> sizes_;
  int64_t numel_ = 1;
  bool floating_ = true;
  std::vector<double> f_;
  std::vector<int64_t> i_;
};

// v rounded to the nearest value of a floating dtype (round half to even, as the hardware does).
double round_to_dtype(ir::DType dtype, double v);
// v wrapped to an integral dtype's width (two's complement), or 0/1 for bool.
int64_t wrap_to_dtype(ir::DType dtype, int64_t v);

// Decodes elements stored as little-endian bytes: element (i0..ik) is at
// storage[(offset + sum(i_j * strides[j])) * element_size]. The caller has checked the bounds.
Tensor tensor_from_bytes(ir::DType dtype, const std::vector<int64_t>& sizes,
                         const std::vector<int64_t>& strides, int64_t storage_offset,
                         std::span<const std::byte> storage);
// The elements as contiguous little-endian bytes of the tensor's dtype.
std::vector<std::byte> tensor_to_bytes(const Tensor& t);

// A value of the interpreter: a tensor, or a SymInt / SymFloat / SymBool, or nothing.
using RValue = std::variant<std::monostate, Tensor, int64_t, double, bool>;

// A one-value result, the tensor moved in (a braced list would copy it: weights are large).
inline std::vector<RValue> single_result(Tensor t) {
  std::vector<RValue> out;
  out.emplace_back(std::move(t));
  return out;
}

}  // namespace kiln::ref
