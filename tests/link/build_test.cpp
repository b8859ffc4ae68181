// Generated sources to a model library: the runtime compiled in, weights embedded or beside the
// library, the object cache, compile errors, reproducible bytes, and what the library needs.
#include "link/build.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "hand_model.h"
#include "kiln/kiln.h"
#include "link/prebuilt_runtime.h"
#include "link/process.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A cache shared by every run of these tests (concurrent runs are safe by design), so the
// runtime is compiled once per machine rather than once per test.
fs::path shared_cache(const std::string& name = "kiln_link_test_cache") {
  return fs::temp_directory_path() / name;
}

// Distinct per process and call, so the model's own sources miss the shared cache.
std::string unique_tag(const std::string& what) {
  static int counter = 0;
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return what + " " + std::to_string(::getpid()) + " " + std::to_string(now) + " " +
         std::to_string(counter++);
}

link::LinkResult build(const HandModel& h, const fs::path& out, const fs::path& cache,
                       bool external = false, int jobs = 0) {
  link::LinkOptions o;
  o.output = out;
  o.external_weights = external;
  o.cache_dir = cache;
  o.jobs = jobs;
  return link::build_shared_library(h.model, o);
}

// The model library opened through its C ABI.
struct Library {
  void* handle = nullptr;
  decltype(&kiln_container_create) create = nullptr;
  decltype(&kiln_container_delete) destroy = nullptr;
  decltype(&kiln_run) run = nullptr;
  decltype(&kiln_last_error) last_error = nullptr;
  decltype(&kiln_options_init) options_init = nullptr;

  explicit Library(const fs::path& path) {
    handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw std::runtime_error(::dlerror());
    create = reinterpret_cast<decltype(create)>(sym("kiln_container_create"));
    destroy = reinterpret_cast<decltype(destroy)>(sym("kiln_container_delete"));
    run = reinterpret_cast<decltype(run)>(sym("kiln_run"));
    last_error = reinterpret_cast<decltype(last_error)>(sym("kiln_last_error"));
    options_init = reinterpret_cast<decltype(options_init)>(sym("kiln_options_init"));
  }
  ~Library() { ::dlclose(handle); }
  void* sym(const char* name) const {
    void* p = ::dlsym(handle, name);
    if (p == nullptr) throw std::runtime_error(std::string("missing ") + name);
    return p;
  }
};

// Runs the model on random rows and checks y = x + w + c exactly; returns the status of
// container creation (KILN_OK when it ran).
KilnStatus check_runs(const fs::path& path, const HandModel& h, std::string* error = nullptr) {
  Library lib(path);
  KilnOptions options;
  lib.options_init(&options);
  options.num_runners = 2;
  KilnContainer* c = nullptr;
  KilnStatus s = lib.create(&c, &options);
  if (s != KILN_OK) {
    if (error != nullptr) *error = lib.last_error();
    return s;
  }
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (int64_t rows : {1, 5, 64}) {
    std::vector<float> x(static_cast<size_t>(rows) * 4), y(x.size(), -1.0f);
    for (float& v : x)
      v = dist(rng);
    int64_t shape[] = {rows, 4};
    DLTensor in{x.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape, nullptr, 0};
    DLTensor out{y.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape, nullptr, 0};
    const DLTensor* ins[] = {&in};
    DLTensor* outs[] = {&out};
    EXPECT_EQ(lib.run(c, ins, 1, outs, nullptr, 1, nullptr), KILN_OK) << lib.last_error();
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = x[i] + h.w[i % 4] + h.c;
      if (y[i] != want) {
        ADD_FAILURE() << "rows " << rows << " element " << i << ": " << y[i] << " != " << want;
        break;
      }
    }
  }
  // A bad input is refused with its name and dim, and the container keeps working.
  std::vector<float> x(65 * 4, 1.5f), y(x.size());
  int64_t shape[] = {65, 4};
  DLTensor in{x.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape, nullptr, 0};
  const DLTensor* ins[] = {&in};
  DLManagedTensor* managed[1] = {nullptr};
  EXPECT_EQ(lib.run(c, ins, 1, nullptr, managed, 1, nullptr), KILN_ERROR_BAD_INPUT);
  EXPECT_NE(std::string(lib.last_error()).find("input 'x' (#0): dim 0 is 65"), std::string::npos)
      << lib.last_error();
  shape[0] = 3;
  EXPECT_EQ(lib.run(c, ins, 1, nullptr, managed, 1, nullptr), KILN_OK) << lib.last_error();
  const float* got = static_cast<const float*>(managed[0]->dl_tensor.data);
  EXPECT_EQ(got[5], 1.5f + h.w[1] + h.c);
  managed[0]->deleter(managed[0]);
  EXPECT_EQ(lib.destroy(c), KILN_OK);
  return KILN_OK;
}

std::vector<std::string> readelf(const std::string& flags, const fs::path& lib) {
  auto r = link::run_process({"readelf", flags, "-W", lib.string()});
  EXPECT_TRUE(r.ok()) << r.output;
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < r.output.size()) {
    size_t nl = r.output.find('\n', pos);
    if (nl == std::string::npos) nl = r.output.size();
    lines.push_back(r.output.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

TEST(LinkBuild, EmbeddedWeightsModelRunsThroughTheCAbi) {
  HandModel h = make_hand_model(false, 3, unique_tag("embedded"));
  auto dir = fresh_temp_dir("link_embed");
  link::LinkResult r = build(h, dir / "model.so", shared_cache());
  EXPECT_EQ(r.library, fs::absolute(dir / "model.so"));
  EXPECT_TRUE(r.weights_file.empty());
  EXPECT_FALSE(fs::exists(dir / "model.so.weights"));
  EXPECT_GE(r.cache_misses, 5) << "the model's five sources are new";
  // Runtime objects come from the shared cache, or from the objects built with kiln when this
  // test fills the cache first.
  EXPECT_EQ(r.cache_hits + r.cache_misses + r.prebuilt, r.objects);
  ASSERT_EQ(check_runs(dir / "model.so", h), KILN_OK);

  Library lib(dir / "model.so");
  auto where = reinterpret_cast<const void* (*)()>(lib.sym("kiln_test_weights_address"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(where()) % 64, 0u) << "the blob is 64-byte aligned";
  EXPECT_EQ(std::memcmp(where(), h.model.weights.data(), h.model.weights.size()), 0);
  // The blob is read-only data, not writable memory.
  bool in_rodata = false;
  for (const auto& line : readelf("-S", dir / "model.so")) {
    if (line.find(".rodata") != std::string::npos && line.find(" WA ") == std::string::npos) {
      in_rodata = true;
    }
  }
  EXPECT_TRUE(in_rodata);
}

TEST(LinkBuild, ExternalWeightsAreWrittenBesideTheLibraryAndRequired) {
  HandModel h = make_hand_model(true, 2, unique_tag("external"), 19);
  auto dir = fresh_temp_dir("link_external");
  link::LinkResult r = build(h, dir / "model.so", shared_cache(), /*external=*/true);
  ASSERT_EQ(r.weights_file, fs::absolute(dir / "model.so.weights"));
  std::string written = slurp(r.weights_file);
  ASSERT_EQ(written.size(), h.model.weights.size());
  EXPECT_EQ(std::memcmp(written.data(), h.model.weights.data(), written.size()), 0);
  ASSERT_EQ(check_runs(dir / "model.so", h), KILN_OK);

  fs::remove(r.weights_file);
  std::string message;
  EXPECT_EQ(check_runs(dir / "model.so", h, &message), KILN_ERROR_LOAD);
  EXPECT_NE(message.find("model.so.weights"), std::string::npos) << message;
  // The embedded build of the same model defines a blob symbol; the external one has none.
  for (const auto& line : readelf("-s", dir / "model.so")) {
    EXPECT_EQ(line.find("kiln_weights_blob"), std::string::npos) << line;
  }
}

TEST(LinkBuild, CompilesManyUnitsInParallel) {
  HandModel h = make_hand_model(false, 9, unique_tag("parallel"), 23);
  EXPECT_EQ(h.c, 0.25f * 45);
  auto dir = fresh_temp_dir("link_parallel");
  std::vector<std::string> log;
  std::mutex log_mutex;
  link::LinkOptions o;
  o.output = dir / "model.so";
  o.cache_dir = shared_cache();
  o.jobs = 4;
  o.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    log.push_back(line);
  };
  link::LinkResult r = link::build_shared_library(h.model, o);
  EXPECT_GE(r.cache_misses, 11);
  int compiles = 0;
  for (const auto& line : log) {
    if (line.rfind("compile kernels_", 0) == 0) {
      ++compiles;
      EXPECT_NE(line.find("-march=x86-64-v3"), std::string::npos) << line;
      EXPECT_NE(line.find("-O3"), std::string::npos) << line;
      EXPECT_EQ(line.find("fast-math"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(compiles, 10);
  ASSERT_EQ(check_runs(dir / "model.so", h), KILN_OK);
}

TEST(LinkBuild, CompileErrorNamesTheFileAndTheCompilerMessage) {
  HandModel h = make_hand_model(false, 1, unique_tag("broken"));
  h.model.sources.push_back(
      {"kernels_broken.cpp", "int kiln_broken() { return undeclared_value_42; }\n"});
  auto dir = fresh_temp_dir("link_broken");
  try {
    build(h, dir / "model.so", shared_cache());
    ADD_FAILURE() << "a broken source must fail the build";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("compiling kernels_broken.cpp failed"), std::string::npos) << m;
    EXPECT_NE(m.find("undeclared_value_42"), std::string::npos) << m;
    // The failing source is kept for a look, and named.
    const std::string kept = "(its source is kept in ";
    size_t at = m.find(kept);
    ASSERT_NE(at, std::string::npos) << m;
    fs::path scratch = m.substr(at + kept.size(), m.find(')', at) - at - kept.size());
    EXPECT_EQ(slurp(scratch / "kernels_broken.cpp"), h.model.sources.back().text);
    fs::remove_all(scratch);
  }
  EXPECT_FALSE(fs::exists(dir / "model.so"));

  // Malformed source lists are refused before any compiler runs.
  HandModel twice = make_hand_model(false, 1, "twice");
  twice.model.sources.push_back(twice.model.sources.back());
  EXPECT_THROW(build(twice, dir / "m.so", shared_cache()), Error);
  HandModel path = make_hand_model(false, 1, "path");
  path.model.sources[0].name = "../wrapper.cpp";
  EXPECT_THROW(build(path, dir / "m.so", shared_cache()), Error);
  link::LinkOptions o;
  o.output = dir / "m.so";
  o.cache_dir = shared_cache();
  o.target_cpu = "486";
  EXPECT_THROW(link::build_shared_library(make_hand_model(false, 1, "cpu").model, o), Error);
}

TEST(LinkBuild, CacheHitsMissesAndRebuildsCorruptEntries) {
  const std::string tag = unique_tag("cache");
  HandModel h = make_hand_model(false, 2, tag);
  auto dir = fresh_temp_dir("link_cache_build");
  const fs::path cache = dir / "cache";

  link::LinkResult first = build(h, dir / "a.so", cache);
  EXPECT_EQ(first.cache_hits, 0);
  // The runtime may come from the objects built with kiln; everything else is compiled.
  EXPECT_EQ(first.cache_misses + first.prebuilt, first.objects);
  EXPECT_GE(first.cache_misses, 3);

  link::LinkResult second = build(h, dir / "b.so", cache);
  EXPECT_EQ(second.cache_misses, 0);
  EXPECT_EQ(second.cache_hits, second.objects);
  EXPECT_EQ(slurp(dir / "a.so"), slurp(dir / "b.so"));

  // Truncated and garbage entries are rebuilt, never linked.
  int damaged = 0;
  for (const auto& e : fs::recursive_directory_iterator(cache / "objects")) {
    if (!e.is_regular_file()) continue;
    std::string bytes = slurp(e.path());
    std::ofstream out(e.path(), std::ios::binary | std::ios::trunc);
    out << (damaged == 0 ? bytes.substr(0, bytes.size() / 2) : std::string("not an object"));
    if (++damaged == 2) break;
  }
  link::LinkResult third = build(h, dir / "c.so", cache);
  EXPECT_EQ(third.cache_misses + third.prebuilt, 2);
  EXPECT_EQ(third.cache_hits, third.objects - 2);
  EXPECT_EQ(slurp(dir / "a.so"), slurp(dir / "c.so"));
  ASSERT_EQ(check_runs(dir / "c.so", h), KILN_OK);

  // A changed source misses; everything else hits.
  HandModel changed = h;
  changed.model.sources.back().text += "// edited\n";
  link::LinkResult fourth = build(changed, dir / "d.so", cache);
  EXPECT_EQ(fourth.cache_misses, 1);
  EXPECT_EQ(fourth.cache_hits, fourth.objects - 1);

  // Built from nothing here and from the shared cache elsewhere: the same bytes.
  build(h, dir / "e.so", shared_cache());
  EXPECT_EQ(slurp(dir / "a.so"), slurp(dir / "e.so"));
}

TEST(LinkBuild, SameModelGivesIdenticalBytes) {
  for (bool external : {false, true}) {
    HandModel h = make_hand_model(external, 2, "reproducible", 31);
    auto dir = fresh_temp_dir("link_repro");
    build(h, dir / "one.so", shared_cache(), external);
    build(h, dir / "sub" / "two.so", shared_cache("kiln_link_test_cache_2"), external, 1);
    std::string one = slurp(dir / "one.so");
    ASSERT_FALSE(one.empty());
    EXPECT_EQ(one, slurp(dir / "sub" / "two.so")) << "external " << external;
    // No build path leaks into the library.
    EXPECT_EQ(one.find(dir.string()), std::string::npos);
    EXPECT_EQ(one.find(shared_cache().string()), std::string::npos);
    // A different model differs.
    HandModel other = make_hand_model(external, 2, "reproducible", 32);
    build(other, dir / "three.so", shared_cache(), external);
    EXPECT_NE(one, slurp(dir / "three.so"));
  }
}

TEST(LinkBuild, ConcurrentBuildsShareOneCache) {
  HandModel h = make_hand_model(false, 3, unique_tag("concurrent"));
  auto dir = fresh_temp_dir("link_concurrent");
  std::vector<std::thread> threads;
  std::vector<std::string> errors(3);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      try {
        build(h, dir / ("m" + std::to_string(t) + ".so"), shared_cache(), false, 2);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (const auto& e : errors)
    EXPECT_EQ(e, "");
  EXPECT_EQ(slurp(dir / "m0.so"), slurp(dir / "m1.so"));
  EXPECT_EQ(slurp(dir / "m0.so"), slurp(dir / "m2.so"));
  ASSERT_EQ(check_runs(dir / "m2.so", h), KILN_OK);
}

TEST(LinkBuild, LibraryNeedsNoTorchOrPythonAndExportsOnlyTheAbi) {
  HandModel h = make_hand_model(false, 1, "deps");
  auto dir = fresh_temp_dir("link_deps");
  build(h, dir / "model.so", shared_cache());
  const std::set<std::string> allowed = {"libstdc++", "libm",    "libgcc_s",       "libc",
                                         "libgomp",   "libdnnl", "ld-linux-x86-64"};
  int needed = 0;
  for (const auto& line : readelf("-d", dir / "model.so")) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    ++needed;
    size_t a = line.find('[') + 1;
    std::string lib = line.substr(a, line.find(']') - a);
    EXPECT_EQ(lib.find("torch"), std::string::npos) << lib;
    EXPECT_EQ(lib.find("python"), std::string::npos) << lib;
    EXPECT_EQ(lib.find("c10"), std::string::npos) << lib;
    EXPECT_TRUE(allowed.count(lib.substr(0, lib.find(".so")))) << lib;
  }
  EXPECT_GE(needed, 2);
  int exported = 0;
  for (const auto& line : readelf("--dyn-syms", dir / "model.so")) {
    // Defined (not UND) global or weak symbols are what the library exports.
    if (line.find(" UND ") != std::string::npos) continue;
    if (line.find("GLOBAL") == std::string::npos && line.find("WEAK") == std::string::npos) {
      continue;
    }
    std::string name = line.substr(line.find_last_of(' ') + 1);
    EXPECT_EQ(name.rfind("kiln_", 0), 0u) << name;
    EXPECT_NE(name, "kiln_rt_model");
    EXPECT_NE(name, "kiln_weights_blob");
    ++exported;
  }
  EXPECT_GE(exported, 10) << "the C ABI of kiln.h";
}

// The runtime objects embedded in kiln carry the keys a build here gives the runtime (same
// toolchain, flags and sources): a model built with an empty cache takes every one of them and
// compiles only its own sources. (The prebuild tool compiles them through compile_runtime_objects,
// the path build_shared_library uses.)
TEST(LinkBuild, RuntimeBuiltWithKilnServesAnEmptyCache) {
  const auto table = link::prebuilt_runtime_objects();
  ASSERT_FALSE(table.empty()) << "the test binary links kiln_prebuilt_runtime";
  auto dir = fresh_temp_dir("link_prebuilt");
  // A model built with an empty cache takes the runtime from the table and compiles the rest.
  HandModel h = make_hand_model(false, 1, unique_tag("prebuilt"));
  link::LinkResult r = build(h, dir / "m.so", dir / "empty-cache");
  EXPECT_EQ(r.prebuilt, static_cast<int>(table.size()));
  EXPECT_EQ(r.cache_misses, r.objects - r.prebuilt);
  ASSERT_EQ(check_runs(dir / "m.so", h), KILN_OK);
}

}  // namespace
}  // namespace kiln::testing
