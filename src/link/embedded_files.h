#pragma once

// The runtime sources and public headers, embedded into the kiln binary at build time (see
// embed_files.cmake), and their materialization as a directory that compilers can read.

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace kiln::link {

struct EmbeddedFile {
  std::string_view path;  // relative to the repository: "runtime/model_interface.h"
  std::string_view text;
};

// Sorted by path. Defined in the generated embedded_runtime.cpp.
std::span<const EmbeddedFile> embedded_runtime_files();

// SHA-256 over every embedded path and text: part of every cache key, so a changed runtime
// header rebuilds every object that might include it.
const std::string& embedded_runtime_hash();

// Writes the embedded files under <cache_dir>/runtime/<hash>/ (atomically: a whole directory is
// renamed into place) unless an intact copy is there, and returns that directory. A copy whose
// files differ from the embedded text is replaced.
std::filesystem::path materialize_runtime(const std::filesystem::path& cache_dir);

}  // namespace kiln::link
