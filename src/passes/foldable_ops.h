#pragma once

// Which ops constant folding may evaluate at compile time: shared by fold_constants and
// fold_conv_batchnorm, so both agree on what a constant computation is.

#include <string_view>
#include <variant>

#include "ir/graph.h"
#include "ir/graph_edit.h"
#include "ops/op_table.h"

namespace kiln::passes {

// Targets whose result is random or whose execution has an effect (assertions, printing):
// never evaluated at compile time, whatever their operands.
inline bool random_or_effectful(std::string_view target) {
  for (std::string_view word : {"rand", "bernoulli", "normal", "uniform", "multinomial", "empty",
                                "dropout", "_assert", "print"}) {
    if (target.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// Whether node n can be evaluated at compile time by the reference interpreter, given which
// values are constants (`is_constant(ValueId)`): an op with a reference kernel that is neither
// random nor effectful, mutates nothing, has no subgraph, reads only constants, and gives only
// tensors of static sizes.
template <typename IsConstant>
bool evaluable_at_compile_time(const ir::Graph& g, const ir::Node& n, IsConstant is_constant) {
  const ops::OpDef* op = ops::find_op(n.target);
  if (op == nullptr || op->reference == nullptr || random_or_effectful(n.target)) return false;
  for (const ops::ArgSchema& a : op->parsed_schema().args) {
    if (a.is_mutated) return false;
  }
  for (const ir::NamedArgument& in : n.inputs) {
    if (std::holds_alternative<ir::SubgraphArg>(in.arg)) return false;
    for (ir::ValueId id : ir::argument_values(in.arg)) {
      if (!is_constant(id)) return false;
    }
  }
  const auto outs = ir::node_outputs(n);
  if (outs.empty()) return false;
  for (ir::ValueId id : outs) {
    const ir::Value& v = g.values[static_cast<size_t>(id)];
    if (v.kind != ir::ValueKind::kTensor) return false;
    for (const auto& s : v.type.sizes) {
      if (!s.is_const()) return false;
    }
  }
  return true;
}

}  // namespace kiln::passes
