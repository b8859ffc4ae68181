// eliminate_dead_code: removes nodes none of whose outputs is used, directly or through other
// live nodes. Kept regardless: nodes that write an argument in place (before
// functionalization), assertions, nodes that output nothing (they exist for an effect), and
// ops the table lacks (nothing is known of their effects). Graph inputs stay: the signature is
// the ABI.
#include "ir/graph_edit.h"
#include "ops/op_table.h"
#include "passes/passes.h"

namespace kiln::passes {
namespace {

bool has_effect(const ir::Node& n) {
  const ops::OpDef* op = ops::find_op(n.target);
  if (op == nullptr || n.outputs.empty()) return true;
  if (n.target.find("_assert") != std::string::npos) return true;
  for (const ops::ArgSchema& a : op->parsed_schema().args) {
    if (a.is_mutated) return true;
  }
  return false;
}

}  // namespace

void eliminate_dead_code(ir::ExportedProgram& program) {
  ir::Graph& g = program.graph;
  std::vector<bool> live(g.values.size(), false);
  for (const ir::Argument& out : g.outputs) {
    for (ir::ValueId id : ir::argument_values(out))
      live[static_cast<size_t>(id)] = true;
  }
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const ir::Node& n = g.nodes[k];
    bool used = has_effect(n);
    for (ir::ValueId id : ir::node_outputs(n))
      used = used || live[static_cast<size_t>(id)];
    if (!used) continue;
    keep[k] = true;
    for (const ir::NamedArgument& in : n.inputs) {
      for (ir::ValueId id : ir::argument_values(in.arg))
        live[static_cast<size_t>(id)] = true;
    }
  }
  ir::compact(program, keep);
}

}  // namespace kiln::passes
