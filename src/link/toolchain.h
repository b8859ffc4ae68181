#pragma once

// The host C++ compiler that builds model libraries, and the flags kiln passes to it.

#include <string>
#include <vector>

namespace kiln::link {

struct Toolchain {
  // The compiler command: $KILN_CXX split at spaces ("ccache g++" works), else "c++".
  std::vector<std::string> cxx;
  // What identifies its output: the command and its `--version` text. Part of every cache key.
  std::string identity;
};

// Runs `<cxx> --version` once. Throws kiln::Error when the compiler cannot be run.
Toolchain detect_toolchain();

// The target CPUs kiln accepts; the runtime checks the same names at load.
const std::vector<std::string>& supported_target_cpus();

// -march/-mtune flags for a target CPU ("x86-64-v3" -> -march=x86-64-v3 -mtune=generic;
// "native" -> -march=native). Throws kiln::Error naming the value and the choices.
std::vector<std::string> march_flags(const std::string& target_cpu);

// For "native", what the compiler resolves it to on this machine (so caches shared between
// machines never mix them); "" for every other target.
std::string resolved_target(const Toolchain& toolchain, const std::string& target_cpu);

}  // namespace kiln::link
