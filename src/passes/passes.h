#pragma once

// The graph passes between the frontend and lowering. Each rewrites the program in place,
// leaves ir::verify(program) passing, keeps nodes in topological order and producers current.

#include <functional>
#include <span>
#include <string_view>

#include "ir/graph.h"

namespace kiln::passes {

// Replaces each higher-order op that only wraps a subgraph (wrap_with_set_grad_enabled) by the
// subgraph's nodes.
void inline_higher_order(ir::ExportedProgram& program);

// In-place ops become their functional forms; writes through views become scatters into the
// base, later reads of the base and its views read the new contents, and written graph inputs
// get buffer / parameter / user-input mutation outputs.
void functionalize(ir::ExportedProgram& program);

// Removes ops that compute nothing at inference: proven assertions, eval-mode dropout, aliases,
// copies (clone, contiguous, ...), casts to the same dtype, shape-preserving views.
void drop_noops(ir::ExportedProgram& program);

// Replaces every node of a composite op (linear, matmul, softmax, layer_norm, sdpa, ...) by
// the primitive ops its OpDef::decompose emits, repeatedly, until only primitive ops remain.
// In-place ops have no decompositions, so it runs after functionalize; subgraphs of
// higher-order ops are not entered.
void decompose(ir::ExportedProgram& program);

// Folds a convolution's only user chain of mul / div / add / sub by constants that vary along
// the output channel alone (inference batch norm, after decompose) into new weight and bias
// nodes, which fold_constants then evaluates once.
void fold_conv_batchnorm(ir::ExportedProgram& program);

// Marks each view op's output as an index map over its root buffer (Value::view_of), with
// strides and storage offset in the root's elements; reshapes no layout can express read a
// contiguous clone instead.
void resolve_views(ir::ExportedProgram& program);

// Evaluates nodes whose inputs are all constants once, with the reference kernels, and reads
// their results from new tensor-constant inputs (data in ExportedProgram::constants).
void fold_constants(ir::ExportedProgram& program);

// Removes nodes none of whose outputs is used, keeping side effects (in-place ops, assertions);
// graph inputs stay (the signature is the ABI).
void eliminate_dead_code(ir::ExportedProgram& program);

struct PassInfo {
  std::string_view name;  // the function's name: "functionalize", ...
  void (*run)(ir::ExportedProgram&);
};

// The passes prepare_for_backend runs, in order.
std::span<const PassInfo> backend_pipeline();
// A pass of the pipeline by name (for --dump-after=PASS), or nullptr.
const PassInfo* find_pass(std::string_view name);

// Called after each pass with the program it left (e.g. to print it for --dump-after).
using PassObserver = std::function<void(const PassInfo& pass, const ir::ExportedProgram& program)>;

// Runs the backend pipeline, verifying the program after each pass (a failure names the pass).
void prepare_for_backend(ir::ExportedProgram& program, const PassObserver& after_each = {});

}  // namespace kiln::passes
