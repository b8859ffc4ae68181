#pragma once

// Shared by the reliability tests: fixture models compiled once per process, counts that a
// long run raises through the environment, and the process's memory and descriptor figures.

#include <dirent.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "compiled_model.h"
#include "frontend/load.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing::reliability {

inline std::filesystem::path fixture_pt2(const std::string& name,
                                         const std::string& torch = "torch2.15") {
  return fixture_dir() / torch / name / "model.pt2";
}

// Compiles a torch2.15 fixture into the temp dir once per process (through the shared object
// cache, so the e2e tests' objects are reused).
inline const std::filesystem::path& compiled_fixture(const std::string& name) {
  static std::map<std::string, std::filesystem::path> done;
  auto it = done.find(name);
  if (it != done.end()) return it->second;
  const auto so = std::filesystem::temp_directory_path() / ("kiln-rel-" + name + ".so");
  compile_model(frontend::load_program(fixture_pt2(name)), so);
  return done.emplace(name, so).first->second;
}

// A count from the environment (the long form of a test), else `fallback`.
inline int64_t env_count(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n <= 0)
    throw error("environment variable ", name, "='", v, "' is not a positive count");
  return n;
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
inline int64_t proc_status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  throw error("/proc/self/status has no ", field);
}

// Open file descriptors of this process (the directory stream's own descriptor excluded).
inline int open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) throw error("cannot open /proc/self/fd");
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;
}

// Mapped regions of this process (lines of /proc/self/maps): grows when libraries stay mapped.
inline int mapped_regions() {
  std::ifstream in("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    ++n;
  return n;
}

// A model library loaded through dlopen with the C ABI resolved. kiln.hpp would be simpler, but
// its kiln::Error and the compiler's kiln::Error cannot live in one program.
struct ModelLibrary {
  ModelLibrary(const std::filesystem::path& path, int flags) {
    handle = ::dlopen(path.c_str(), flags);
    if (handle == nullptr) throw error("dlopen ", path.string(), ": ", ::dlerror());
    get(options_init, "kiln_options_init");
    get(create, "kiln_container_create");
    get(destroy, "kiln_container_delete");
    get(run, "kiln_run");
    get(last_error, "kiln_last_error");
    get(abi_version, "kiln_abi_version");
  }
  ~ModelLibrary() {
    if (handle != nullptr) ::dlclose(handle);
  }
  ModelLibrary(const ModelLibrary&) = delete;
  ModelLibrary& operator=(const ModelLibrary&) = delete;

  // A container with `runners` runners and `threads` intra-op threads; throws on failure.
  KilnContainer* container(int runners = 1, int threads = 0) const {
    KilnOptions o;
    options_init(&o);
    o.num_runners = runners;
    o.num_threads = threads;
    KilnContainer* c = nullptr;
    if (create(&c, &o) != KILN_OK) throw error("kiln_container_create: ", last_error());
    return c;
  }

  void* handle = nullptr;
  decltype(&kiln_options_init) options_init = nullptr;
  decltype(&kiln_container_create) create = nullptr;
  decltype(&kiln_container_delete) destroy = nullptr;
  decltype(&kiln_run) run = nullptr;
  decltype(&kiln_last_error) last_error = nullptr;
  decltype(&kiln_abi_version) abi_version = nullptr;

 private:
  template <typename F>
  void get(F& f, const char* name) {
    f = reinterpret_cast<F>(::dlsym(handle, name));
    if (f == nullptr) throw error("model library lacks ", name);
  }
};

}  // namespace kiln::testing::reliability
