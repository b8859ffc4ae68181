#pragma once

// Graph-editing utilities for the passes: rewriting value references, adding nodes typed by the
// op table's shape rules, and rebuilding a graph compactly after nodes are dropped.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

// Calls f on every value id an argument refers to (lists, optionals, SymInt/SymBool/SymFloat
// values, resolved custom objects); f may change the id in place. Subgraphs are not entered.
void for_each_ref(Argument& arg, const std::function<void(ValueId&)>& f);

// `base` when no value has that name, else the first free "<base>_<n>" for n = 1, 2, ...
std::string fresh_name(const Graph& g, std::string_view base);

// Adds a value named fresh_name(g, base) (the copy's producer and view_of are cleared).
ValueId add_fresh_value(Graph& g, std::string_view base, Value v);

// Replaces every use of `from` by `to`: node inputs, graph outputs and, for a program, the
// signature's output specs. Values that were views of `from` become views of `to`, which must
// then be a root (throws otherwise).
void replace_uses(Graph& g, ValueId from, ValueId to);
void replace_uses(ExportedProgram& p, ValueId from, ValueId to);

// Per value: how many node inputs and graph outputs refer to it.
std::vector<int> use_counts(const Graph& g);

// Sets each value's producer to the node that outputs it, and -1 for every other value.
void renumber_producers(Graph& g);

// Drops the nodes whose keep flag is false, then every value that is neither a graph input nor
// output by a remaining node, and renumbers what is left (value order kept): producers, node
// arguments, graph outputs, view_of and the signature's specs. A dropped value still referred
// to is a bug and throws naming it.
void compact(ExportedProgram& p, const std::vector<bool>& keep_nodes = {});

// The arguments of a call to `target`, by schema name: each is marked positional or keyword as
// the schema declares it, so the node prints as the archive would write it.
using CallArgs = std::vector<std::pair<std::string, Argument>>;

// A node calling `target` on `args`, with fresh output values named after `base` whose types
// come from the op's shape rule (one value per tensor or SymInt returned, lists flattened).
// The node is not placed: the caller inserts it in Graph::nodes and renumbers producers. Throws
// for a target the op table lacks, naming it.
Node make_node(Graph& g, std::string_view target, const CallArgs& args, std::string_view base);

// make_node, appended to the graph's nodes with its producers set. Returns the output values
// in order.
std::vector<ValueId> append_node(Graph& g, std::string_view target, const CallArgs& args,
                                 std::string_view base);

// The values a node outputs, flattened in order (None outputs skipped).
std::vector<ValueId> node_outputs(const Node& n);

// The position in n.inputs of the schema argument `name` of the node's op (by name, or by
// position where the node left names out); -1 when the node omits it.
int input_index(const Node& n, std::string_view name);

}  // namespace kiln::ir
