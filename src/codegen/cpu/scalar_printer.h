#pragma once

// Scalar pieces of the CPU kernel printer: C types of dtypes, literals, conversions between
// compute types and storage, and the right-hand side of one body node. The kernel printer
// (kernel_printer.cpp) arranges these into loops.

#include <string>
#include <string_view>

#include "ir/dtype.h"
#include "lower/kernel_ir.h"

namespace kiln::codegen::cpu::detail {

// The C type a body value of `dtype` computes in: f16/bf16/f32 as float, f64 as double, the
// integer types as themselves, bool as bool. Throws kiln::Error for dtypes kernels don't support.
std::string_view compute_ctype(ir::DType dtype);
// The C type of one element of a buffer of `dtype` in memory (f16/bf16 as uint16_t bits).
std::string_view storage_ctype(ir::DType dtype);

// f16 and bf16: values are held as float, rounded to the format.
bool is_narrow_float(ir::DType dtype);
// f16, bf16, f32, f64.
bool is_float(ir::DType dtype);

// A literal of a compute type: "1.5f", "0.1", "-std::numeric_limits<float>::infinity()",
// "true", "(-9223372036854775807LL - 1)". Floats are first rounded to the dtype (f16/bf16
// included); integers are wrapped to it.
std::string float_literal(double value, ir::DType dtype);
std::string int_literal(int64_t value, ir::DType dtype);

// `expr` (a value of compute type `from`) as a value of compute type `to`, by PyTorch's rules.
std::string convert(const std::string& expr, ir::DType from, ir::DType to);
// An element read from memory (`element`, of storage type) as a value of compute type `to`.
std::string load_value(const std::string& element, ir::DType buffer_dtype, ir::DType to);
// A value of compute type `from` as an element to store into a buffer of `buffer_dtype`.
std::string store_value(const std::string& expr, ir::DType from, ir::DType buffer_dtype);

// The printed operands of a node (a, b, c), already converted to the types the op wants.
struct Operands {
  std::string a, b, c;
  ir::DType a_dtype = ir::DType::kUndefined;  // the operands' common dtype (comparisons)
};

// The right-hand side for an arithmetic, comparison, logic or where node (not for loads,
// constants, index values, indirect indices or loop results, which need the kernel's
// context). `where` names the node in errors ("kernel3 loop 0 node 5").
std::string node_expr(const lower::ScalarNode& node, const Operands& operands,
                      const std::string& where);

// The dtype operands of `node` are converted to before node_expr (a, b), given the operands'
// own dtypes. kUndefined: keep as is.
ir::DType operand_dtype(const lower::ScalarNode& node, ir::DType a_dtype, ir::DType b_dtype);

// Integer division-like ops that fail on a zero divisor (kDiv, kFloorDiv, kMod, kFmod on
// integer dtypes).
bool divides_integers(const lower::ScalarNode& node);

// The printable name of an op ("add", "floor_div") for comments and errors.
std::string_view op_name(lower::ScalarOp op);

}  // namespace kiln::codegen::cpu::detail
