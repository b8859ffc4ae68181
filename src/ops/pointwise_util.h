#pragma once

// Helpers shared by the pointwise family's files: operands that may be tensors or Python numbers,
// PyTorch's dtype rules for elementwise ops, in-place shape rules and one elementwise loop.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ops/args.h"
#include "ops/common.h"
#include "ops/op_table.h"
#include "ref/tensor.h"

namespace kiln::ops::pointwise {

// The tables of the family's files; pointwise.cpp joins them.
std::span<const OpDef> arithmetic_ops();  // pointwise_arith.cpp
std::span<const OpDef> unary_ops();       // pointwise_unary.cpp
std::span<const OpDef> compare_ops();     // pointwise_compare.cpp
std::span<const OpDef> activation_ops();  // pointwise_activation.cpp

// torch's default dtype: integer inputs of floating ops compute in it.
inline constexpr ir::DType kDefaultFloat = ir::DType::kFloat32;
inline ir::DType to_floating(ir::DType t) {
  return ir::is_floating(t) ? t : kDefaultFloat;
}

// The name PyTorch's messages give a dtype ("Float", "Long", "Bool").
std::string_view c10_name(ir::DType t);
// c10::canCast: what an in-place op may write its result to.
bool can_cast(ir::DType from, ir::DType to);
// Fails like PyTorch's dispatch for a dtype the op has no kernel for.
[[noreturn]] void fail_dtype(const Args& a, std::string_view op, ir::DType t);

// ---- Operands ------------------------------------------------------------------------------

// An operand of an elementwise op as shape rules see it: a tensor, or a Python number (which
// the export also passes where the schema says Tensor, as in aten.add.Tensor(x, 1)).
struct OperandType {
  bool is_number = false;
  Scalar::Kind kind = Scalar::Kind::kInt;   // numbers only
  ir::DType dtype = ir::DType::kUndefined;  // tensors only
  std::vector<sym::Expr> sizes;             // empty for numbers
  ir::Device device;
};
OperandType operand_type(const Args& a, std::string_view name);

using Names = std::initializer_list<std::string_view>;

// torch.result_type over the named operands (None arguments skipped).
ir::DType result_type(const Args& a, Names names);
// The broadcast sizes of the named operands (None arguments skipped).
std::vector<sym::Expr> broadcast_all(const Args& a, Names names);
// The elementwise result of the named operands with the given dtype, on the first tensor's
// device.
std::vector<OutType> elementwise(const Args& a, Names names, ir::DType dtype);

// The shape rule of an in-place op from its functional op's rule F: the result is self's dtype
// and sizes; F's dtype must be castable to self's and F's broadcast sizes must be self's.
std::vector<OutType> inplace_result(const Args& a, std::vector<OutType> functional);
template <ShapeFn F>
std::vector<OutType> inplace(const Args& a) {
  return inplace_result(a, F(a));
}

// Fails as PyTorch's checked_convert does when a fill value does not fit `dtype`.
void check_fits(const Args& a, const Scalar& value, ir::DType dtype);
// Checks a clamp bound (`which` is "min" or "max") for a result of `dtype` as PyTorch does:
// floating bounds must fit; integer bounds beyond the range on the far side are errors, and on
// the near side they clamp nothing.
void check_clamp_bound(const Args& a, std::string_view which, const Scalar& bound, ir::DType dtype);

// ---- Reference evaluation ------------------------------------------------------------------

// An operand's values without copying a tensor: it refers to a tensor given as an lvalue (an
// argument, a caller's local) and owns one given as an rvalue (a number made into a tensor).
// Constant folding runs elementwise ops over whole weight tensors, where a copy costs as much as
// the op. Lives no longer than the expression or scope that made it.
class OperandValue {
 public:
  OperandValue(const ref::Tensor& t) : view_(&t) {}      // NOLINT: converts like a reference
  OperandValue(ref::Tensor&& t) : own_(std::move(t)) {}  // NOLINT
  OperandValue(OperandValue&&) = default;
  OperandValue& operator=(OperandValue&&) = default;
  const ref::Tensor& get() const { return view_ != nullptr ? *view_ : own_; }

 private:
  ref::Tensor own_;
  const ref::Tensor* view_ = nullptr;
};

// The operand's values: the tensor, or the number as a 0-dim bool/int64/float64 tensor.
OperandValue operand_value(const Args& a, std::string_view name);

// One element as an op computes it: cast to the operand's compute dtype, held as a double
// (floating dtypes) or an int64 (integral dtypes and bool).
struct Num {
  double f = 0;
  int64_t i = 0;
  bool real = true;
  static Num of(double v) { return {v, 0, true}; }
  static Num of_int(int64_t v) { return {0, v, false}; }
  double value() const { return real ? f : static_cast<double>(i); }
};

// The element at `index` cast to `as` (floating: rounded; integral: truncated and wrapped;
// bool: nonzero).
Num load(const ref::Tensor& t, int64_t index, ir::DType as);

// Integer arithmetic wrapping as two's complement (the result is wrapped to the dtype on store).
inline int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// The op's result: its own shape rule's first output, filled with fn over the broadcast operands,
// operand k loaded as as[k]. fn takes std::array<Num, N> and returns a Num.
template <size_t N, typename Fn>
ref::Tensor map_elements(const Args& a, const std::array<OperandValue, N>& operands,
                         const std::array<ir::DType, N>& as, Fn fn) {
  std::array<const ref::Tensor*, N> tensors;
  for (size_t k = 0; k < N; ++k)
    tensors[k] = &operands[k].get();
  auto in = [&](size_t k) -> const ref::Tensor& { return *tensors[k]; };
  const ir::TensorType type = a.op().shape(a).at(0).tensor;
  ref::Tensor out(type.dtype, to_ints(type.sizes, a));
  const size_t rank = out.sizes().size();
  // Each operand's stride per output dim: 0 where it broadcasts.
  std::array<std::vector<int64_t>, N> strides;
  std::array<bool, N> exact{};
  for (size_t k = 0; k < N; ++k) {
    strides[k].assign(rank, 0);
    const std::vector<int64_t>& own = in(k).sizes();
    int64_t running = 1;
    for (size_t d = own.size(); d-- > 0;) {
      strides[k][d + rank - own.size()] = own[d] == 1 ? 0 : running;
      running *= own[d];
    }
    // Stored values are already rounded to their dtype: loading as that dtype is a plain read.
    exact[k] = in(k).dtype() == as[k] && ir::is_floating(as[k]);
  }
  StridedWalk<N> walk(out.sizes(), std::move(strides));
  std::array<Num, N> v;
  for (int64_t i = 0; i < out.numel(); ++i, walk.next()) {
    for (size_t k = 0; k < N; ++k) {
      const int64_t at = walk.offset(k);
      v[k] = exact[k] ? Num::of(in(k).get(at)) : load(in(k), at, as[k]);
    }
    Num r = fn(v);
    if (r.real) {
      out.set(i, r.f);
    } else {
      out.set_int(i, r.i);
    }
  }
  return out;
}

// Shorthands over named operands, all loaded as `as`.
template <typename Fn>
std::vector<ref::RValue> map_unary(const Args& a, ir::DType as, Fn fn) {
  return ref::single_result(map_elements<1>(a, {operand_value(a, "self")}, {as},
                                            [&](const std::array<Num, 1>& v) { return fn(v[0]); }));
}
template <typename Fn>
std::vector<ref::RValue> map_binary(const Args& a, std::string_view x, std::string_view y,
                                    ir::DType as, Fn fn) {
  return ref::single_result(
      map_elements<2>(a, {operand_value(a, x), operand_value(a, y)}, {as, as},
                      [&](const std::array<Num, 2>& v) { return fn(v[0], v[1]); }));
}

}  // namespace kiln::ops::pointwise
