#pragma once

// Where the passes and the reference interpreter get constant tensors: the archive's stored
// parameters, buffers and constants (by FQN) and the constants the passes fold.

#include <optional>
#include <vector>

#include "frontend/load.h"
#include "ir/graph.h"
#include "ref/tensor.h"

namespace kiln::passes {

// Lets constant folding read the archive's tensors: sets loaded.program.read_stored to a reader
// by FQN that keeps the archive alive. Copies of the program made afterwards share it.
void attach_stored_tensors(frontend::LoadedProgram& loaded);

// The tensor of each signature input of `program` (loaded.program after passes): parameters,
// buffers and tensor constants from the archive by their FQN, folded constants from
// program.constants; nullopt for user inputs, literals, tokens and custom objects. This is the
// `stored` argument of ref::Interpreter(program, stored). Throws naming a target found in
// neither.
std::vector<std::optional<ref::Tensor>> stored_tensors(const frontend::LoadedProgram& loaded,
                                                       const ir::ExportedProgram& program);

// The data of signature input `input` of `program` (a stored tensor, as stored_tensors finds it)
// as dense row-major bytes, copied without decoding: what a model library embeds. Throws naming a
// target found in neither the archive nor the folded constants.
ir::ConstantData stored_constant(const frontend::LoadedProgram& loaded,
                                 const ir::ExportedProgram& program, size_t input);

// A folded constant's data as a reference tensor, and back.
ref::Tensor tensor_from_constant(const ir::ConstantData& c);
ir::ConstantData constant_from_tensor(const ref::Tensor& t);

}  // namespace kiln::passes
