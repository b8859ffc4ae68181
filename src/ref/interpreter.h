#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"
#include "ref/bind_inputs.h"
#include "ref/tensor.h"

namespace kiln::ref {

// Evaluates an exported program on concrete inputs with the op table's reference kernels: the
// oracle every backend is tested against. In-place ops write their result back to the value
// they mutate, so later readers see it (views of a mutated value are the functionalization
// pass's business). Every node's result is checked against the dtype and sizes the program
// records for it.
class Interpreter {
 public:
  // Refuses a program that uses an op kiln lacks, naming every missing target at once.
  // `stored[i]` is the tensor of signature input i for parameters, buffers and constants
  // (passes::stored_tensors gives them for a loaded program).
  Interpreter(const ir::ExportedProgram& program, std::vector<std::optional<Tensor>> stored);

  // The values of every signature output, in order (buffer mutations included). Inputs are the
  // user inputs (tensors, or int64_t for SymInt inputs) in signature order.
  std::vector<RValue> run(const std::vector<RValue>& user_inputs) const;
  // Only the user outputs, in order: what the model's forward() returns, flattened.
  std::vector<RValue> run_user_outputs(const std::vector<RValue>& user_inputs) const;

  const ir::ExportedProgram& program() const { return program_; }

 private:
  const ir::ExportedProgram& program_;
  std::vector<std::optional<Tensor>> stored_;
  std::vector<int> last_use_;  // per value: the last node reading it; -1: never freed
};

// Throws kiln::Error listing every target of the graph the op table lacks, with counts.
void check_supported(const ir::Graph& graph);

}  // namespace kiln::ref
