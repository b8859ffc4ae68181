// inline_higher_order: a higher-order op that only wraps its subgraph
// (ops::is_inlined_higher_order: wrap_with_set_grad_enabled, whose gradient mode means nothing
// at inference) is replaced by the subgraph's nodes, so that later passes and lowering see one
// flat graph. The subgraph's inputs are the node's operands (the values after the subgraph
// argument), its outputs the node's outputs.
#include <algorithm>

#include "ir/graph_edit.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

// Appends the body's nodes to `out`, reading `operands` for its inputs; returns the values
// the body's outputs map to. A body node's output that the body returns once defines the
// node's output value itself, so the node's output names survive.
std::vector<ValueId> splice(ir::ExportedProgram& p, const ir::Node& node,
                            std::vector<ir::Node>& out) {
  ir::Graph& g = p.graph;
  const ir::SubgraphArg* sub = nullptr;
  std::vector<ValueId> operands;
  for (const ir::NamedArgument& in : node.inputs) {
    if (const auto* s = std::get_if<ir::SubgraphArg>(&in.arg)) {
      sub = s;
    } else if (sub != nullptr) {
      for (ValueId id : ir::argument_values(in.arg))
        operands.push_back(id);
    }
  }
  if (sub == nullptr || !sub->graph) {
    throw error("inline_higher_order: node '", node.name, "' (", node.target, ") has no subgraph");
  }
  const ir::Graph& body = *sub->graph;
  if (body.inputs.size() != operands.size()) {
    throw error("inline_higher_order: node '", node.name, "' passes ", operands.size(),
                " values to a subgraph of ", body.inputs.size(), " inputs");
  }
  std::vector<ValueId> map(body.values.size(), -1);
  for (size_t i = 0; i < operands.size(); ++i)
    map[static_cast<size_t>(body.inputs[i])] = operands[i];
  std::vector<ValueId> returned;
  for (const ir::Argument& o : body.outputs) {
    for (ValueId id : ir::argument_values(o))
      returned.push_back(id);
  }
  std::vector<ValueId> produced = ir::node_outputs(node);
  std::vector<ValueId> reuse(body.values.size(), -1);
  for (size_t i = 0; i < returned.size() && i < produced.size(); ++i) {
    auto id = static_cast<size_t>(returned[i]);
    bool once = std::count(returned.begin(), returned.end(), returned[i]) == 1;
    if (once && body.values[id].producer >= 0) reuse[id] = produced[i];
  }
  auto remap = [&](ValueId& id) {
    ValueId to = map.at(static_cast<size_t>(id));
    if (to < 0) {
      throw error("inline_higher_order: subgraph @", sub->name, " of node '", node.name,
                  "' reads %", body.values[static_cast<size_t>(id)].name, " before defining it");
    }
    id = to;
  };
  for (const ir::Node& inner : body.nodes) {
    ir::Node n = inner;
    for (ir::NamedArgument& in : n.inputs)
      ir::for_each_ref(in.arg, remap);
    for (ir::Argument& o : n.outputs) {
      ir::for_each_ref(o, [&](ValueId& id) {
        const ir::Value& v = body.values[static_cast<size_t>(id)];
        ValueId fresh = reuse[static_cast<size_t>(id)];
        if (fresh < 0) fresh = ir::add_fresh_value(g, v.name, v);
        map[static_cast<size_t>(id)] = fresh;
        id = fresh;
      });
    }
    auto outs = ir::node_outputs(n);
    if (!outs.empty()) n.name = g.values[static_cast<size_t>(outs[0])].name;
    out.push_back(std::move(n));
  }
  std::vector<ValueId> results;
  for (ir::Argument o : body.outputs) {
    ir::for_each_ref(o, remap);
    for (ValueId id : ir::argument_values(o))
      results.push_back(id);
  }
  return results;
}

}  // namespace

void inline_higher_order(ir::ExportedProgram& program) {
  ir::Graph& g = program.graph;
  // Subgraphs may wrap further subgraphs: repeat until none is left.
  for (bool again = true; again;) {
    again = false;
    std::vector<ir::Node> nodes = std::move(g.nodes);
    g.nodes.clear();
    std::vector<std::pair<ValueId, ValueId>> renames;
    for (ir::Node& n : nodes) {
      if (!ops::is_inlined_higher_order(n.target)) {
        g.nodes.push_back(std::move(n));
        continue;
      }
      again = true;
      std::vector<ValueId> results = splice(program, n, g.nodes);
      std::vector<ValueId> produced = ir::node_outputs(n);
      if (produced.size() != results.size()) {
        throw error("inline_higher_order: node '", n.name, "' names ", produced.size(),
                    " outputs but its subgraph returns ", results.size());
      }
      for (size_t i = 0; i < produced.size(); ++i) {
        if (produced[i] != results[i]) renames.emplace_back(produced[i], results[i]);
      }
    }
    for (const auto& [from, to] : renames)
      ir::replace_uses(program, from, to);
    ir::compact(program);
  }
}

}  // namespace kiln::passes
