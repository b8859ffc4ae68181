#include "link/toolchain.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "link/process.h"
#include "util/error.h"

namespace kiln::link {

Toolchain detect_toolchain() {
  Toolchain t;
  const char* env = std::getenv("KILN_CXX");
  std::istringstream words(env != nullptr ? env : "");
  for (std::string w; words >> w;)
    t.cxx.push_back(w);
  if (t.cxx.empty()) t.cxx.push_back("c++");
  std::vector<std::string> argv = t.cxx;
  argv.push_back("--version");
  ProcessResult r = run_process(argv);
  if (!r.ok()) {
    throw error("the C++ compiler '", command_line(t.cxx),
                "' does not run (set KILN_CXX to one that does): ", first_lines(r.output, 5));
  }
  t.identity = command_line(t.cxx) + "\n" + r.output;
  return t;
}

const std::vector<std::string>& supported_target_cpus() {
  static const std::vector<std::string> names = {"x86-64",    "generic",   "x86-64-v2",
                                                 "x86-64-v3", "x86-64-v4", "native"};
  return names;
}

std::vector<std::string> march_flags(const std::string& target_cpu) {
  const auto& names = supported_target_cpus();
  if (std::find(names.begin(), names.end(), target_cpu) == names.end()) {
    std::string list;
    for (const auto& n : names)
      list += (list.empty() ? "" : ", ") + n;
    throw error("target cpu '", target_cpu, "' is not supported (choose one of ", list, ")");
  }
  if (target_cpu == "native") return {"-march=native"};
  if (target_cpu == "generic") return {"-march=x86-64", "-mtune=generic"};
  return {"-march=" + target_cpu, "-mtune=generic"};
}

std::string resolved_target(const Toolchain& toolchain, const std::string& target_cpu) {
  if (target_cpu != "native") return "";
  std::vector<std::string> argv = toolchain.cxx;
  for (const char* a : {"-march=native", "-Q", "--help=target"})
    argv.push_back(a);
  ProcessResult r = run_process(argv);
  if (!r.ok()) throw error("cannot resolve -march=native: ", first_lines(r.output, 5));
  return r.output;
}

}  // namespace kiln::link
