#pragma once

// A plain interpreter of kernel IR: runs a lower::Program step by step on concrete tensors. It is
// the oracle of the lowering tests (its results are compared with the reference interpreter's),
// so it follows the IR literally, as the printed code would run it:
// - every node of a body is evaluated at every point of its loop, in order; a load or an
//   indirect index out of range fails even where a kWhere then discards the value;
// - floating nodes round their result to their dtype (f32 nodes to float, f16/bf16 casts to that
//   precision) and integer nodes wrap as their C type; reductions combine in Loop::accumulate;
// - temp and output buffers start as NaN (floating) or a poison pattern (integers), so reading
//   memory no step wrote shows in the results.
// It interprets, so it is slow next to compiled code, but index expressions are compiled once
// per run into affine forms or small stack programs over the loop variables.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lower/kernel_ir.h"
#include "ref/tensor.h"

namespace kiln::lower {

using SymbolValues = std::unordered_map<std::string, int64_t>;

// Runs the program. `inputs` are per Program::inputs (a negative BufferId there skips its
// entry), `constants` per Program::constants. Returns the outputs in Program::outputs order.
// Throws kiln::Error for inputs that do not fit the program (naming the input and dim), for
// out-of-range indices ("index 7 is out of bounds for a dim of size 5"), integer division by
// zero, and extern calls of a kind no evaluator is registered for.
std::vector<ref::Tensor> evaluate(const Program& program, const std::vector<ref::Tensor>& inputs,
                                  const std::vector<ref::Tensor>& constants);

// The shape symbols bound from the input sizes: dims that are bare symbols, then dims of the
// form a*s + b whose one unknown symbol that solves. Every dim of every input is then checked
// against its expression; a mismatch throws naming the input, the dim and both values.
SymbolValues bind_symbols(const Program& program, const std::vector<ref::Tensor>& inputs);

// A naive implementation of an extern call's routine. `inputs` and `outputs` follow the call's
// lists; the outputs have their buffers' dtypes and sizes and hold the buffers' current contents
// (poison where nothing was written). `symbols` evaluates the call's int_params.
using ExternEvaluator = void (*)(const ExternCall& call, std::vector<ref::Tensor*> inputs,
                                 std::vector<ref::Tensor*> outputs, const SymbolValues& symbols);

// Registers the evaluator of an extern kind ("gemm", "conv", ...). Registering the same function
// again is a no-op; another function for a registered kind throws naming the kind. Register
// from code the test binary surely links (a static initializer in a library object nothing
// references is dropped by the linker).
void register_extern_evaluator(std::string_view kind, ExternEvaluator fn);
// The evaluator of a kind, or nullptr.
ExternEvaluator find_extern_evaluator(std::string_view kind);

// "kAdd" -> "add": a scalar op's name for messages.
std::string_view scalar_op_name(ScalarOp op);

}  // namespace kiln::lower
