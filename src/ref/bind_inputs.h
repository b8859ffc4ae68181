#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "ref/tensor.h"

namespace kiln::ref {

using Bindings = std::unordered_map<std::string, int64_t>;

// Binds the program's symbols from the user inputs (tensors and SymInts, in signature order)
// and checks every input against the program: dtype, rank, each static dim, each dynamic dim
// against its symbol's range, dims that share a symbol or are tied by an expression (2*s0).
// Throws kiln::Error naming the input, the dim, the value and what the program allows.
Bindings bind_inputs(const ir::ExportedProgram& program, const std::vector<RValue>& user_inputs);

}  // namespace kiln::ref
