#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "frontend/pt2_archive.h"
#include "ir/graph.h"

namespace kiln::frontend {

// An exported program read from a .pt2 archive, with every parameter, buffer and tensor
// constant of its signature bound to its stored tensor (views into the archive's mapping).
struct LoadedProgram {
  std::shared_ptr<const Pt2Archive> archive;
  std::string model_name;
  ir::ExportedProgram program;
  // One entry per signature input: the stored tensor for parameters, buffers and tensor
  // constants, nullptr for user inputs, literals, tokens and custom objects.
  std::vector<const WeightTensor*> input_tensors;
};

// Opens the archive, deserializes `models/<model>.json` (the only model when `model` is empty),
// verifies the IR, and binds the stored tensors. Throws kiln::Error naming the archive and the
// entry, input or FQN at fault: a tensor the signature names but the archive lacks, or whose
// dtype or shape differs from the graph's placeholder.
LoadedProgram load_program(const std::filesystem::path& path, const std::string& model = "");

}  // namespace kiln::frontend
