#pragma once

// What code generation hands to the linker: C++ translation units, the weights blob and a
// summary for the compile report.

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::codegen {

struct SourceFile {
  std::string name;  // "kernels_0.cpp", "wrapper.cpp": unique, a plain file name
  std::string text;
};

struct CompileSummary {
  int kernels = 0;       // generated kernels
  int fused_groups = 0;  // kernels that compute more than one graph node
  int externs = 0;       // library / runtime calls
  std::string arena_bytes;  // the arena size expression over the symbols
  int64_t arena_bytes_at_max = -1;  // evaluated at the symbols' upper bounds (-1: unbounded)
};

struct GeneratedModel {
  std::string model_name;
  std::vector<SourceFile> sources;
  // Every constant, dense row-major at its offset (64-byte aligned), zero padding between.
  std::vector<uint8_t> weights;
  uint64_t weights_checksum = 0;  // kiln::rt::weights_checksum(weights)
  CompileSummary summary;
  // The schedule as text: each step (kernel or extern) with its source ops, iteration space
  // and loops, then every temp buffer with its arena slot (for `kiln inspect --plan`).
  std::string plan_text;
};

}  // namespace kiln::codegen
