#pragma once

#include "ir/graph.h"

namespace kiln::ir {

// Checks the IR's invariants and throws kiln::Error naming the node, argument or value at fault.
//
// A graph is well formed when:
//  - every value has a unique, non-empty name registered in the graph's name index;
//  - every ValueId an input, node or output refers to is in range;
//  - graph inputs have no producer, and every node output names its node as producer;
//  - each value is defined once (as an input or a node output), and before any use;
//  - tensor arguments refer to tensor (or token) values, SymInt/SymBool/SymFloat arguments to
//    values of that kind, custom-object arguments to custom-object values;
//  - every tensor type has as many strides as sizes;
//  - a value marked view_of is a node output whose root is a tensor defined before it and is
//    not itself a view;
//  - every subgraph is itself well formed (each graph has its own scope).
//
// A program additionally needs:
//  - graph inputs matching the signature's input specs one-to-one, in order and kind
//    (parameters, buffers and tensor constants are tensors; constants are kConstant inputs
//    holding the spec's literal; ...), and graph outputs equal to the output specs' arguments;
//  - mutation outputs naming an existing buffer / parameter / user input;
//  - ranges with min <= max;
//  - each folded constant's data naming a tensor-constant input and matching its dtype and
//    sizes;
//  - a range entry for every free symbol in the type of a graph input. The program's inputs
//    bind those symbols, and the runtime must check them. Symbols that first appear in node
//    outputs (unbacked, data-dependent sizes) may lack an entry: they are unbounded.
void verify(const Graph& graph);
void verify(const ExportedProgram& program);

}  // namespace kiln::ir
