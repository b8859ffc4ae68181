#pragma once

// Runtime objects compiled when kiln itself was built, for the default target and the default
// optimization, so the first `kiln compile` on a machine compiles only the model's own sources.
// Each object is stored under the cache key build_shared_library gives it; a key that differs
// (another compiler, target or flag set) finds none and the runtime is compiled as usual.

#include <cstddef>
#include <span>

namespace kiln::link {

struct PrebuiltObject {
  const char* key;
  const unsigned char* data;
  size_t size;
};

// The table generated at build time where the executable links kiln_prebuilt_runtime; else
// empty (a weak definition in build.cpp).
std::span<const PrebuiltObject> prebuilt_runtime_objects();

}  // namespace kiln::link
