#include "ops/op_table.h"

#include <algorithm>
#include <array>

namespace kiln::ops {
namespace {

// Sorted by target. Ops are added together with their shape rule and reference kernel.
constexpr std::array<OpDef, 0> kOps{};

void count_targets(const ir::Graph& graph, std::map<std::string, int>& counts) {
  for (const ir::Node& node : graph.nodes) {
    ++counts[node.target];
    for (const ir::NamedArgument& in : node.inputs) {
      if (const auto* sub = std::get_if<ir::SubgraphArg>(&in.arg); sub && sub->graph) {
        count_targets(*sub->graph, counts);
      }
    }
  }
}

}  // namespace

std::span<const OpDef> all_ops() {
  return kOps;
}

const OpDef* find_op(std::string_view target) {
  auto it = std::lower_bound(kOps.begin(), kOps.end(), target,
                             [](const OpDef& op, std::string_view t) { return op.target < t; });
  return it != kOps.end() && it->target == target ? &*it : nullptr;
}

std::map<std::string, int> op_histogram(const ir::Graph& graph) {
  std::map<std::string, int> counts;
  count_targets(graph, counts);
  return counts;
}

std::map<std::string, int> unsupported_ops(const ir::Graph& graph) {
  std::map<std::string, int> missing;
  for (const auto& [target, count] : op_histogram(graph)) {
    if (find_op(target) == nullptr) missing[target] = count;
  }
  return missing;
}

}  // namespace kiln::ops
