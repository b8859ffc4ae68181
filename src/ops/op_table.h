#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ops/schema.h"
#include "ref/tensor.h"

namespace kiln::ops {

class Args;
class Decomposer;

// The type of one value an op produces: a tensor type, or a SymInt/SymBool expression.
struct OutType {
  ir::ValueKind kind = ir::ValueKind::kTensor;
  ir::TensorType tensor;
  std::optional<sym::Expr> sym;

  OutType() = default;
  OutType(ir::TensorType t) : tensor(std::move(t)) {}  // NOLINT: a tensor is the common case
  static OutType sym_int(sym::Expr e) {
    OutType o;
    o.kind = ir::ValueKind::kSymInt;
    o.sym = std::move(e);
    return o;
  }
};

// The op's outputs, flattened in order: one entry per returned tensor or scalar, and one per
// element of a returned list (split, unbind, chunk).
using ShapeFn = std::vector<OutType> (*)(const Args& args);
using RefFn = std::vector<ref::RValue> (*)(const Args& args);
// Rewrites a node into primitive ops: appends the replacement nodes through the Decomposer
// (decompose_util.h) and returns one value per output of the op's shape rule, each of the same
// dtype and sizes as the output it replaces. `args` is bound to d.node().
using DecomposeFn = std::vector<ir::ValueId> (*)(Decomposer& d, const Args& args);

// One supported op. Each is declared once, in the table of its family (src/ops/<family>.cpp),
// and every stage that handles ops finds it here.
struct OpDef {
  std::string_view target;    // "aten.linear.default", "_operator.add"
  std::string_view schema;    // PyTorch's schema text, the argument names exactly as the file
  ShapeFn shape = nullptr;    // output types from input types, over symbolic shapes
  RefFn reference = nullptr;  // the plain, obviously right kernel (accumulates in double)
  // For an in-place op ("aten.relu_.default"): the functional op computing the new value of
  // its mutated argument ("aten.relu.default"), with the same argument names.
  std::string_view functional = {};
  // A view op (view, permute, slice, ...): its output aliases its first tensor argument.
  bool is_view = false;
  // A composite op (linear, softmax, layer_norm, ...): its decomposition into primitive ops,
  // which passes::decompose applies. Null for the primitive ops the backend lowers directly.
  // Set from the decomposition tables (decompose_*.cpp) when the op table is built.
  DecomposeFn decompose = nullptr;

  const OpSchema& parsed_schema() const;  // parsed once, on first use
};

// Higher-order ops whose subgraph runs in place of the node, unchanged
// (wrap_with_set_grad_enabled: gradient mode means nothing at inference).
bool is_inlined_higher_order(std::string_view target);

std::span<const OpDef> all_ops();
const OpDef* find_op(std::string_view target);

// Every node target of the graph and its subgraphs, with its count.
std::map<std::string, int> op_histogram(const ir::Graph& graph);
// The targets of op_histogram that have no OpDef, with their counts.
std::map<std::string, int> unsupported_ops(const ir::Graph& graph);

}  // namespace kiln::ops
