// Soak tests of compiled model libraries:
// - many runs of one container keep the heap, the RSS, its peak and the open descriptors flat;
// - loading, running and unloading a library many times leaks nothing, and the last dlclose
//   really unloads it;
// - libraries that stay mapped (RTLD_NODELETE, as the tests load them) cost only their mapping.
//
// Bounds, measured from the end of warm-up (the first 1% of runs, at least 100) to the end:
// heap in use grows < 64 KiB, VmRSS and VmHWM grow < 1 MiB, descriptors do not grow. Under
// AddressSanitizer freed blocks sit in its quarantine and count as RSS, so there the heap figure
// (the sanitizer's allocated bytes) is the bound and RSS is only reported.
//
// Long form: KILN_SOAK_RUNS=1000000 (runs, 20,000 by default) and KILN_SOAK_LOADS=1000
// (load/run/unload cycles, 100 by default).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

#include "op_harness.h"
#include "reliability_support.h"

#if defined(__SANITIZE_ADDRESS__)
#define KILN_SOAK_ASAN 1
// From the sanitizer runtime (its header is not always installed).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;
using reliability::open_fds;
using reliability::proc_status_kib;

constexpr int64_t kHeapSlackBytes = 64 << 10;
constexpr int64_t kRssSlackKib = 1024;

// Bytes the allocator has handed out and not taken back.
int64_t heap_in_use() {
#ifdef KILN_SOAK_ASAN
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  return static_cast<int64_t>(mallinfo2().uordblks);
#endif
}

constexpr bool kRssIsMeaningful =
#ifdef KILN_SOAK_ASAN
    false;
#else
    true;
#endif

struct Snapshot {
  int64_t heap = 0, rss_kib = 0, hwm_kib = 0;
  int fds = 0, maps = 0;
  static Snapshot take() {
    Snapshot s;
    s.heap = heap_in_use();
    s.rss_kib = proc_status_kib("VmRSS");
    s.hwm_kib = proc_status_kib("VmHWM");
    s.fds = open_fds();
    s.maps = reliability::mapped_regions();
    return s;
  }
};

std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
  return os << "heap " << s.heap << " B, VmRSS " << s.rss_kib << " KiB, VmHWM " << s.hwm_kib
            << " KiB, fds " << s.fds << ", mappings " << s.maps;
}

void expect_flat(const Snapshot& warm, const Snapshot& end, const char* what) {
  std::cout << "[ soak ] " << what << "\n  after warm-up: " << warm << "\n  at the end:    " << end
            << "\n";
  EXPECT_LT(end.heap - warm.heap, kHeapSlackBytes) << what;
  EXPECT_LE(end.fds, warm.fds) << what;
  if (kRssIsMeaningful) {
    EXPECT_LT(end.rss_kib - warm.rss_kib, kRssSlackKib) << what;
    EXPECT_LT(end.hwm_kib - warm.hwm_kib, kRssSlackKib) << what;
  }
}

// mlp's input x: f32[B, 16], B in [1, 1024]; output f32[B, 10].
struct MlpBatch {
  std::vector<float> x, y;
  std::vector<int64_t> x_shape, y_shape;
  DLTensor in{}, out{};
  std::vector<float> expected;  // the first run's output
  MlpBatch(int64_t b, std::mt19937& rng)
      : x(static_cast<size_t>(b * 16)), y(static_cast<size_t>(b * 10)) {
    std::uniform_real_distribution<float> u(-2, 2);
    for (float& v : x)
      v = u(rng);
    x_shape = {b, 16};
    y_shape = {b, 10};
    in = DLTensor{x.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, x_shape.data(), nullptr, 0};
    out = DLTensor{y.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, y_shape.data(), nullptr, 0};
  }
};

// One run into the batch's caller-provided output.
bool run_into(const reliability::ModelLibrary& lib, KilnContainer* c, MlpBatch& b) {
  const DLTensor* in[] = {&b.in};
  DLTensor* out[] = {&b.out};
  return lib.run(c, in, 1, out, nullptr, 1, nullptr) == KILN_OK;
}

// One run with a kiln-allocated output, copied into `got` and released.
bool run_managed(const reliability::ModelLibrary& lib, KilnContainer* c, const MlpBatch& b,
                 std::vector<float>* got) {
  const DLTensor* in[] = {&b.in};
  DLManagedTensor* out[] = {nullptr};
  if (lib.run(c, in, 1, nullptr, out, 1, nullptr) != KILN_OK) return false;
  const auto* p = static_cast<const float*>(out[0]->dl_tensor.data);
  got->assign(p, p + b.y.size());
  out[0]->deleter(out[0]);
  return true;
}

// Runs alternate between kiln-allocated and caller-provided outputs; every output must equal
// the first run's for the same input, bit for bit.
TEST(Soak, RunsKeepMemoryAndDescriptorsFlat) {
  const int64_t runs = reliability::env_count("KILN_SOAK_RUNS", 20000);
  const int64_t warm_up = std::max<int64_t>(100, runs / 100);
  const reliability::ModelLibrary lib(reliability::compiled_fixture("mlp"), RTLD_NOW | RTLD_LOCAL);
  KilnContainer* model = lib.container(/*runners=*/2, /*threads=*/1);
  std::mt19937 rng(31);
  std::vector<std::unique_ptr<MlpBatch>> batches;
  for (int64_t b : {1, 7, 64, 256})
    batches.push_back(std::make_unique<MlpBatch>(b, rng));
  for (auto& b : batches) {
    ASSERT_TRUE(run_into(lib, model, *b)) << lib.last_error();
    b->expected = b->y;
  }
  Snapshot warm;
  int64_t mismatches = 0, failures = 0;
  for (int64_t k = 0; k < runs; ++k) {
    if (k == warm_up) warm = Snapshot::take();
    MlpBatch& b = *batches[static_cast<size_t>(k) % batches.size()];
    if (k % 2 == 0) {
      std::vector<float> got;
      if (!run_managed(lib, model, b, &got)) ++failures;
      if (got != b.expected) ++mismatches;
    } else {
      std::fill(b.y.begin(), b.y.end(), -1.0f);
      if (!run_into(lib, model, b)) ++failures;
      if (b.y != b.expected) ++mismatches;
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(mismatches, 0);
  std::cout << "[ soak ] " << runs << " runs of mlp (2 runners, 1 intra-op thread)\n";
  expect_flat(warm, Snapshot::take(), "runs of one container");
  lib.destroy(model);
}

// Mappings of one file in this process. The process's total may also grow for other reasons
// (the sanitizers' allocators map new regions), so the library's own mappings are what the
// loading tests count.
int mappings_of(const fs::path& path) {
  std::ifstream in("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.find(path.string()) != std::string::npos;
  return n;
}

// Loaded without RTLD_NODELETE (as kiln.hpp loads): load, run and unload the same library many
// times. Loading, container creation and unloading must leak no heap, descriptors or mappings.
TEST(Soak, LoadRunUnloadLeaksNothing) {
  const int64_t cycles = reliability::env_count("KILN_SOAK_LOADS", 100);
  const int64_t warm_up = std::max<int64_t>(5, cycles / 100);
  const fs::path so = fresh_temp_dir("soak-cycles") / "mlp_cycles.so";
  fs::copy_file(reliability::compiled_fixture("mlp"), so);
  std::mt19937 rng(37);
  MlpBatch batch(5, rng);
  std::vector<float> expected;
  Snapshot warm;
  int64_t mismatches = 0;
  for (int64_t k = 0; k < cycles; ++k) {
    if (k == warm_up) warm = Snapshot::take();
    const reliability::ModelLibrary lib(so, RTLD_NOW | RTLD_LOCAL);
    KilnContainer* model = lib.container();
    std::vector<float> got;
    if (!run_managed(lib, model, batch, &got)) ++mismatches;
    lib.destroy(model);
    if (expected.empty()) expected = got;
    if (got != expected) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
  const Snapshot end = Snapshot::take();
  std::cout << "[ soak ] " << cycles << " load/run/unload cycles of mlp\n";
  expect_flat(warm, end, "load, run and unload");
  EXPECT_EQ(mappings_of(so), 0) << "the library stayed mapped";
  // A leak per cycle would add a mapping per cycle; a few allocator regions are no leak.
  EXPECT_LE(end.maps, warm.maps + 4) << "mappings grew";
}

// After the last dlclose of a library that ran on this (long-lived) thread, the library must be
// gone: dlopen with RTLD_NOLOAD finds nothing. A thread-local with a destructor in the runtime
// (registered through __cxa_thread_atexit) or a GNU unique symbol would pin it until every
// thread that ran it exits, so a service that reloads models would keep every old one mapped.
TEST(Soak, LastDlcloseUnloadsTheLibrary) {
  const fs::path so = fresh_temp_dir("soak-unload") / "mlp_unload.so";
  fs::copy_file(reliability::compiled_fixture("mlp"), so);
  std::mt19937 rng(47);
  MlpBatch batch(5, rng);
  {
    const reliability::ModelLibrary lib(so, RTLD_NOW | RTLD_LOCAL);
    KilnContainer* model = lib.container();
    std::vector<float> got;
    EXPECT_TRUE(run_managed(lib, model, batch, &got)) << lib.last_error();
    lib.destroy(model);
  }
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(h, nullptr) << "the library stayed mapped after its last dlclose";
  if (h != nullptr) dlclose(h);
}

// The tests' own loader (compiled_model.cpp) uses RTLD_NODELETE, because the OpenMP threads a
// model starts outlive dlclose: such a library stays mapped, and reopening the same path only
// bumps its reference count. What each further copy under a new name may cost is its own
// mapping: descriptors stay flat and the heap grows by the loader's bookkeeping only.
TEST(Soak, NoDeleteCopiesCostOnlyTheirMapping) {
  constexpr int kCopies = 20;
  const fs::path dir = fresh_temp_dir("soak-nodelete");
  const fs::path original = reliability::compiled_fixture("mlp");
  const auto file_kib = static_cast<int64_t>(fs::file_size(original) / 1024);
  std::mt19937 rng(41);
  MlpBatch batch(3, rng);
  auto cycle = [&](const fs::path& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    ASSERT_NE(h, nullptr) << dlerror();
    auto create =
        reinterpret_cast<decltype(&kiln_container_create)>(dlsym(h, "kiln_container_create"));
    auto destroy =
        reinterpret_cast<decltype(&kiln_container_delete)>(dlsym(h, "kiln_container_delete"));
    auto run = reinterpret_cast<decltype(&kiln_run)>(dlsym(h, "kiln_run"));
    KilnContainer* c = nullptr;
    ASSERT_EQ(create(&c, nullptr), KILN_OK);
    const DLTensor* in[] = {&batch.in};
    DLTensor* out[] = {&batch.out};
    EXPECT_EQ(run(c, in, 1, out, nullptr, 1, nullptr), KILN_OK);
    destroy(c);
    dlclose(h);
    void* again = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    EXPECT_NE(again, nullptr) << "RTLD_NODELETE keeps the library mapped";
    if (again != nullptr) dlclose(again);
  };
  // The same path, many times: one mapping, reused.
  const fs::path same = dir / "mlp_same.so";
  fs::copy_file(original, same);
  cycle(same);
  const Snapshot before_same = Snapshot::take();
  const int same_maps = mappings_of(same);
  for (int k = 0; k < kCopies; ++k)
    cycle(same);
  const Snapshot after_same = Snapshot::take();
  std::cout << "[ soak ] " << kCopies << " reopenings of one RTLD_NODELETE library\n";
  expect_flat(before_same, after_same, "reopening one path");
  EXPECT_GT(same_maps, 0);
  EXPECT_EQ(mappings_of(same), same_maps);
  // Copies under new names: each stays, costing its mapping and the loader's bookkeeping.
  for (int k = 0; k < kCopies; ++k) {
    const fs::path copy = dir / ("mlp_copy_" + std::to_string(k) + ".so");
    fs::copy_file(original, copy);
    cycle(copy);
  }
  const Snapshot after_copies = Snapshot::take();
  std::cout << "[ soak ] " << kCopies << " copies (" << file_kib
            << " KiB each) loaded with RTLD_NODELETE\n  " << after_copies << "\n";
  EXPECT_LE(after_copies.fds, after_same.fds);
  EXPECT_LT(after_copies.heap - after_same.heap, kCopies * (int64_t{256} << 10));
  if (kRssIsMeaningful) {
    EXPECT_LT(after_copies.rss_kib - after_same.rss_kib, kCopies * (file_kib + 512));
  }
}

}  // namespace
}  // namespace kiln::testing
