#include "ops/op_table.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ops/decompose_util.h"
#include "ops/families.h"
#include "util/error.h"

namespace kiln::ops {
namespace {

// Points each composite op's entry at its decomposition. A decomposition of an op the table
// lacks, or two for one op, is a bug found at start.
void attach_decompositions(std::vector<OpDef>& ops) {
  for (auto family : {gemm_decompositions(), einsum_decompositions(), reduction_decompositions(),
                      norm_decompositions(), nn_decompositions(), pointwise_decompositions(),
                      shape_decompositions()}) {
    for (const Decomposition& d : family) {
      auto it = std::lower_bound(ops.begin(), ops.end(), d.target,
                                 [](const OpDef& op, std::string_view t) { return op.target < t; });
      if (it == ops.end() || it->target != d.target) {
        throw error("op table: a decomposition names ", d.target, ", which the table lacks");
      }
      if (it->decompose != nullptr) {
        throw error("op table: ", d.target, " has two decompositions");
      }
      it->decompose = d.fn;
    }
  }
}

// All families' entries, sorted by target. A target declared twice is a bug found at start.
const std::vector<OpDef>& table() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> all;
    for (auto family : {symbolic_ops(), pointwise_ops(), reduction_ops(), shape_ops(), nn_ops()})
      all.insert(all.end(), family.begin(), family.end());
    std::sort(all.begin(), all.end(),
              [](const OpDef& a, const OpDef& b) { return a.target < b.target; });
    for (size_t i = 1; i < all.size(); ++i) {
      if (all[i].target == all[i - 1].target) {
        throw error("op table: ", all[i].target, " is declared twice");
      }
    }
    attach_decompositions(all);
    return all;
  }();
  return ops;
}

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

bool is_inlined_higher_order(std::string_view target) {
  return target == "higher_order.wrap_with_set_grad_enabled";
}

const OpSchema& OpDef::parsed_schema() const {
  static std::mutex mutex;
  static std::unordered_map<const OpDef*, OpSchema> parsed;
  std::lock_guard lock(mutex);
  auto it = parsed.find(this);
  if (it == parsed.end()) it = parsed.emplace(this, parse_schema(schema)).first;
  return it->second;
}

std::span<const OpDef> all_ops() {
  return table();
}

const OpDef* find_op(std::string_view target) {
  const auto& ops = table();
  auto it = std::lower_bound(ops.begin(), ops.end(), target,
                             [](const OpDef& op, std::string_view t) { return op.target < t; });
  return it != ops.end() && it->target == target ? &*it : nullptr;
}

std::map<std::string, int> op_histogram(const ir::Graph& graph) {
  std::map<std::string, int> counts;
  count_targets(graph, counts);
  return counts;
}

std::map<std::string, int> unsupported_ops(const ir::Graph& graph) {
  std::map<std::string, int> missing;
  for (const auto& [target, count] : op_histogram(graph)) {
    if (find_op(target) == nullptr && !is_inlined_higher_order(target)) missing[target] = count;
  }
  return missing;
}

}  // namespace kiln::ops
