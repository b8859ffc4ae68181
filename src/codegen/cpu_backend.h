#pragma once

// The CPU backend from a loaded program to generated sources: the backend passes, lowering,
// scheduling, the kernel and wrapper printers.

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "codegen/generated_model.h"
#include "frontend/load.h"

namespace kiln::codegen {

struct CpuBackendOptions {
  std::string target_cpu = "x86-64-v3";  // passed to -march; recorded in the model
  bool external_weights = false;         // weights written beside the .so, not embedded
  // When set: print the IR after the pass of this name (passes::find_pass) to `dump`.
  std::string dump_after;
  std::ostream* dump = nullptr;
  // Called after each stage with its name ("passes", "lower", "schedule", "codegen") and
  // the seconds it took (for the progress lines and --verbose); each pass is reported before
  // the "passes" stage, as "  pass <name>".
  std::function<void(std::string_view stage, double seconds)> on_stage;
};

// Throws kiln::Error for unsupported ops (all named at once) and anything else that stops
// compilation.
GeneratedModel generate_cpu_model(const frontend::LoadedProgram& loaded,
                                  const CpuBackendOptions& options);

}  // namespace kiln::codegen
