#pragma once

// The wrapper printer: the generated C++ that binds the symbols from the input shapes, checks
// every input, lays out the arena, calls the kernels in order and describes the model to the
// runtime (kiln_rt_model()).

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lower/kernel_ir.h"
#include "schedule/plan_memory.h"

namespace kiln::codegen {

// Where each constant lies in the weights blob.
struct ConstantLayout {
  uint64_t offset = 0;
  uint64_t nbytes = 0;
};

struct WrapperSpec {
  const ir::ExportedProgram* source = nullptr;  // names and symbol ranges
  const lower::Program* program = nullptr;
  const schedule::MemoryPlan* plan = nullptr;
  std::vector<std::string> symbols;             // RunContext::symbols order
  std::vector<ConstantLayout> constants;        // per Program::constants
  std::vector<std::string> step_functions;      // per step: `bool f(ctx, buffers)` to call
  std::string model_name;
  std::string kiln_version;
  std::string target_cpu;
  bool external_weights = false;
  uint64_t weights_size = 0;
  uint64_t weights_checksum = 0;
};

// The symbols the wrapper binds: every free symbol of the input sizes, sorted. Throws when an
// intermediate or output size uses a symbol no input determines (a data-dependent shape).
std::vector<std::string> model_symbols(const lower::Program& program);

std::string print_wrapper(const WrapperSpec& spec);

}  // namespace kiln::codegen
