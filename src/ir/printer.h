#pragma once

#include <string>
#include <string_view>

#include "ir/graph.h"

namespace kiln::ir {

// The IR as stable, readable text (for dumps and golden tests):
//
//   graph(%p_fc_weight: f32[16, 8], %x: f32[s0, 8]):
//     %linear: f32[s0, 16] = aten.linear.default(%x, %p_fc_weight, bias=None)
//     return (%linear)
//
// followed by each higher-order op's subgraph, and for a program the signature and the symbol
// ranges. A value resolve_views made a view prints " view_of=%root" after its type, and the
// data of folded constants is summarized under "constants:". Node metadata is never printed.
// The output depends only on the IR's contents.
std::string print(const ExportedProgram& program);
std::string print(const Graph& graph);

// One argument as it appears in a node line: "%x", "[%s0, 2]", "1e-05", "cuda:0", "None".
std::string print_argument(const Argument& arg, const Graph& graph);
// A value's type: "f32[s0, 8]" (plus " stride=[...]", " offset=..", " layout=..", " cuda:0"
// where they differ from a contiguous CPU tensor), "SymInt(s0)", "CustomObj(<class>)", ...
std::string print_type(const Value& value);
// Shortest text that reads back as the same double: "0.1", "1e-05", "2.0", "inf", "nan".
std::string format_double(double v);
// A double-quoted string literal with C-style escapes.
std::string quote_string(std::string_view s);

}  // namespace kiln::ir
