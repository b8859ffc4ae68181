#pragma once

// The CPU check at load: a model compiled for x86-64-v3 would die of SIGILL on an older CPU,
// so the container refuses to load there instead, naming the missing features.

#include "model_interface.h"

namespace kiln::rt {

// Whether the running CPU has `feature` (a GCC __builtin_cpu_supports name such as "avx2").
bool cpu_has_feature(const char* feature);

using FeatureProbe = bool (*)(const char* feature);

// Checks that a CPU with the features `has` reports can run code built for `target_cpu`
// ("x86-64-v2", "x86-64-v3", "x86-64-v4"; "x86-64", "generic" and "native" need nothing).
// Fails with KILN_ERROR_LOAD naming the target and every missing feature.
bool check_target_cpu(const char* target_cpu, FeatureProbe has, ErrorSink* err);

inline bool check_target_cpu(const char* target_cpu, ErrorSink* err) {
  return check_target_cpu(target_cpu, cpu_has_feature, err);
}

}  // namespace kiln::rt
