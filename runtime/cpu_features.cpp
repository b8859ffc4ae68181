#include "cpu_features.h"

#include <cstring>
#include <iterator>
#include <string>

#include "kiln/kiln.h"

namespace kiln::rt {
namespace {

// Each level adds to the one before (the x86-64 psABI micro-architecture levels).
constexpr const char* kV2[] = {"sse4.2", "ssse3", "popcnt"};
constexpr const char* kV3[] = {"avx", "avx2", "fma", "bmi", "bmi2", "f16c", "lzcnt", "movbe"};
constexpr const char* kV4[] = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"};

}  // namespace

bool cpu_has_feature(const char* f) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports takes only string literals, hence the chain.
  if (std::strcmp(f, "sse4.2") == 0) return __builtin_cpu_supports("sse4.2");
  if (std::strcmp(f, "ssse3") == 0) return __builtin_cpu_supports("ssse3");
  if (std::strcmp(f, "popcnt") == 0) return __builtin_cpu_supports("popcnt");
  if (std::strcmp(f, "avx") == 0) return __builtin_cpu_supports("avx");
  if (std::strcmp(f, "avx2") == 0) return __builtin_cpu_supports("avx2");
  if (std::strcmp(f, "fma") == 0) return __builtin_cpu_supports("fma");
  if (std::strcmp(f, "bmi") == 0) return __builtin_cpu_supports("bmi");
  if (std::strcmp(f, "bmi2") == 0) return __builtin_cpu_supports("bmi2");
  if (std::strcmp(f, "f16c") == 0) return __builtin_cpu_supports("f16c");
  // lzcnt is reported as "abm" by older compilers' tables; either bit means the instruction.
  if (std::strcmp(f, "lzcnt") == 0) {
    return __builtin_cpu_supports("lzcnt") || __builtin_cpu_supports("abm");
  }
  if (std::strcmp(f, "movbe") == 0) return __builtin_cpu_supports("movbe");
  if (std::strcmp(f, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
  if (std::strcmp(f, "avx512bw") == 0) return __builtin_cpu_supports("avx512bw");
  if (std::strcmp(f, "avx512cd") == 0) return __builtin_cpu_supports("avx512cd");
  if (std::strcmp(f, "avx512dq") == 0) return __builtin_cpu_supports("avx512dq");
  if (std::strcmp(f, "avx512vl") == 0) return __builtin_cpu_supports("avx512vl");
  return false;
#else
  (void)f;
  return false;
#endif
}

bool check_target_cpu(const char* target, FeatureProbe has, ErrorSink* err) {
  if (target == nullptr || target[0] == '\0') {
    return fail(err, KILN_ERROR_LOAD, "the model names no target CPU");
  }
  if (std::strcmp(target, "native") == 0 || std::strcmp(target, "generic") == 0) return true;
  int level = 0;
  if (std::strcmp(target, "x86-64") == 0) {
    level = 1;
  } else if (std::strcmp(target, "x86-64-v2") == 0) {
    level = 2;
  } else if (std::strcmp(target, "x86-64-v3") == 0) {
    level = 3;
  } else if (std::strcmp(target, "x86-64-v4") == 0) {
    level = 4;
  } else {
    return fail(err, KILN_ERROR_LOAD,
                "the model targets CPU '%s', which this runtime does not know (known: x86-64, "
                "x86-64-v2, x86-64-v3, x86-64-v4, native, generic)",
                target);
  }
#if !defined(__x86_64__)
  return fail(err, KILN_ERROR_LOAD, "the model targets %s, but this is not an x86-64 machine",
              target);
#endif
  std::string missing;
  auto require = [&](const char* const* features, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (has(features[i])) continue;
      if (!missing.empty()) missing += ", ";
      missing += features[i];
    }
  };
  if (level >= 2) require(kV2, std::size(kV2));
  if (level >= 3) require(kV3, std::size(kV3));
  if (level >= 4) require(kV4, std::size(kV4));
  if (!missing.empty()) {
    return fail(err, KILN_ERROR_LOAD,
                "the model was compiled for %s, but this CPU lacks %s; compile it for an older "
                "target CPU to run it here",
                target, missing.c_str());
  }
  return true;
}

}  // namespace kiln::rt
