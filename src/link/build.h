#pragma once

// From generated sources to a model library: the runtime and every translation unit compiled in
// parallel through the object cache, the weights embedded (or written beside the library), one
// link, written atomically. The same model and toolchain always give the same bytes.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "codegen/generated_model.h"

namespace kiln::link {

struct LinkOptions {
  std::filesystem::path output;  // the model .so
  std::string target_cpu = "x86-64-v3";
  // Weights in <output>.weights instead of inside the library. Must match the choice the
  // sources were generated for (CpuBackendOptions::external_weights).
  bool external_weights = false;
  std::filesystem::path cache_dir;  // empty: resolve_cache_dir's default
  int jobs = 0;                     // parallel compiler processes; 0: one per core
  // Optimization of the generated kernels (the runtime is always -O3); tests use -O1 to
  // compile many models quickly.
  std::string opt_level = "-O3";
  // When set, receives each compiler command and step timing, one line per call.
  std::function<void(const std::string&)> log;
};

struct LinkResult {
  std::filesystem::path library;
  std::filesystem::path weights_file;  // empty unless external
  int objects = 0;                     // translation units linked (sources, runtime, weights)
  int cache_hits = 0;                  // found in the cache
  int cache_misses = 0;                // compiled
  int prebuilt = 0;  // neither: taken from the objects built with kiln (prebuilt_runtime.h)
  double prepare_seconds = 0;  // runtime sources written, cache keys hashed
  double compile_seconds = 0;  // wall time of the parallel compiles
  double link_seconds = 0;
};

// The flags every generated and runtime object is compiled with, besides -march.
std::vector<std::string> common_compile_flags(const std::string& opt_level);

// Symbol the generated wrapper reads the embedded weights from (64-byte aligned, read-only).
inline constexpr const char* kWeightsSymbol = "kiln_weights_blob";

// Throws kiln::Error naming the file whose compile failed (with the compiler's first lines), or
// the step and path that failed.
LinkResult build_shared_library(const codegen::GeneratedModel& model, const LinkOptions& options);

// The runtime's objects for `options` (target, optimization, cache), compiled through the cache
// exactly as build_shared_library compiles them: each with its cache key.
struct RuntimeObject {
  std::string name;  // "runtime/container.cpp"
  std::string key;
  std::filesystem::path object;
};
std::vector<RuntimeObject> compile_runtime_objects(const LinkOptions& options);

}  // namespace kiln::link
