#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "ir/graph.h"

namespace kiln::ops {

// One supported ATen (or symbolic-int) op. Each entry is declared once, in op_table.cpp, and
// every stage that handles ops looks them up here.
struct OpDef {
  std::string_view target;  // "aten.linear.default"
};

std::span<const OpDef> all_ops();
const OpDef* find_op(std::string_view target);

// Every node target of the graph and its subgraphs, with its count.
std::map<std::string, int> op_histogram(const ir::Graph& graph);
// The targets of op_histogram that have no OpDef, with their counts.
std::map<std::string, int> unsupported_ops(const ir::Graph& graph);

}  // namespace kiln::ops
