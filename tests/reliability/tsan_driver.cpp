// Concurrency driver for scripts/tsan.sh (built by the script with -fsanitize=thread, not part
// of the test binaries): hammers every C ABI entry point of compiled model libraries from many
// threads at once, so ThreadSanitizer sees the runtime code linked into each library (the
// library must itself be built with -fsanitize=thread: KILN_CXX="c++ -fsanitize=thread").
//
// Per library and for 1, 2 and 4 runners: 6 threads run good inputs (kiln-allocated and
// caller-provided outputs) and compare with single-threaded results, one thread makes bad calls
// and checks its own last error, one reads the introspection calls and computes output shapes,
// and one replaces a constant with its own value (kiln_update_constants waits for the runs).
// Each runner uses one intra-op thread: libgomp is not instrumented, and its barriers would be
// reported as races.
//
// usage: tsan_driver MODEL.so... (each model's first input must be f32[B, F] with a dynamic B,
// and its other inputs none)
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

int failures = 0;

void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  ++failures;
}

struct Batch {
  std::vector<float> x;
  std::vector<int64_t> shape;
  DLTensor in{};
  std::vector<std::vector<float>> expected;  // per output
};

void exercise(const std::string& path, int runners) {
  kiln::Library lib(path);
  kiln::Options options;
  options.num_runners = runners;
  options.num_threads = runners;  // one intra-op thread per runner
  kiln::Container model(lib, options);
  const std::vector<kiln::TensorInfo> inputs = model.inputs();
  if (inputs.size() != 1 || inputs[0].ndim() != 2) {
    fail(path + ": the driver needs one input f32[B, F]");
    return;
  }
  const int64_t features = inputs[0].dim_min[1];
  const size_t n_out = model.num_outputs();
  std::mt19937 rng(53);
  std::vector<Batch> batches(4);
  const int64_t sizes[] = {1, 3, 8, 17};
  for (size_t k = 0; k < batches.size(); ++k) {
    Batch& b = batches[k];
    b.shape = {sizes[k], features};
    b.x.resize(static_cast<size_t>(sizes[k] * features));
    std::uniform_real_distribution<float> u(-2, 2);
    for (float& v : b.x)
      v = u(rng);
    b.in = DLTensor{b.x.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, b.shape.data(), nullptr, 0};
    for (const kiln::Tensor& t : model.run({&b.in})) {
      const auto* p = static_cast<const float*>(t->dl_tensor.data);
      int64_t n = 1;
      for (int32_t d = 0; d < t->dl_tensor.ndim; ++d)
        n *= t->dl_tensor.shape[d];
      b.expected.emplace_back(p, p + n);
    }
  }
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        Batch& b = batches[static_cast<size_t>(t + i) % batches.size()];
        try {
          if (i % 2 == 0) {
            std::vector<kiln::Tensor> out = model.run({&b.in});
            for (size_t j = 0; j < n_out; ++j) {
              if (std::memcmp(out[j]->dl_tensor.data, b.expected[j].data(),
                              b.expected[j].size() * 4) != 0)
                ++mismatches;
            }
          } else {
            std::vector<std::vector<float>> bufs(n_out);
            std::vector<std::vector<int64_t>> shapes = model.output_shapes({b.shape});
            std::vector<DLTensor> outs(n_out);
            std::vector<DLTensor*> ptrs;
            for (size_t j = 0; j < n_out; ++j) {
              bufs[j].resize(b.expected[j].size());
              outs[j] = DLTensor{bufs[j].data(),
                                 {kDLCPU, 0},
                                 static_cast<int32_t>(shapes[j].size()),
                                 {kDLFloat, 32, 1},
                                 shapes[j].data(),
                                 nullptr,
                                 0};
              ptrs.push_back(&outs[j]);
            }
            model.run({&b.in}, ptrs);
            for (size_t j = 0; j < n_out; ++j)
              if (bufs[j] != b.expected[j]) ++mismatches;
          }
        } catch (const kiln::Error&) {
          ++errors;
        }
      }
    });
  }
  threads.emplace_back([&] {  // bad calls: each thread's last error is its own
    const auto& api = lib.api();
    for (int i = 0; i < 300; ++i) {
      std::vector<int64_t> shape = {0, features};  // every fixture's batch starts at 1
      std::vector<float> x(1);
      DLTensor bad{x.data(), {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
      const DLTensor* in[] = {&bad};
      std::vector<DLManagedTensor*> out(n_out, nullptr);
      if (api.run(model.get(), in, 1, nullptr, out.data(), n_out, nullptr) != KILN_ERROR_BAD_INPUT)
        ++errors;
      const std::string msg = api.last_error();
      if (msg.find("dim 0 is 0") == std::string::npos) ++errors;
    }
  });
  threads.emplace_back([&] {  // introspection and output shapes
    for (int i = 0; i < 300; ++i) {
      if (model.inputs().size() != 1 || model.outputs().size() != n_out) ++errors;
      (void)model.constants();
      (void)lib.model_info();
      (void)model.output_shapes({{1 + i % 8, features}});
    }
  });
  threads.emplace_back([&] {
    // Constant updates racing runs. The ABI cannot read a constant back, so new values would
    // change the shared container's results: a second container of the same library takes them.
    const std::vector<kiln::TensorInfo> constants = model.constants();
    if (constants.empty()) return;
    const kiln::TensorInfo& c = constants[0];
    if (c.dtype.code != kDLFloat || c.dtype.bits != 32) return;
    kiln::Container own(lib, options);
    std::vector<int64_t> shape = c.dim_min;
    int64_t n = 1;
    for (int64_t v : shape)
      n *= v;
    std::vector<float> w(static_cast<size_t>(n), 0.5f);
    DLTensor t{w.data(), {kDLCPU, 0}, c.ndim(), {kDLFloat, 32, 1}, shape.data(), nullptr, 0};
    for (int i = 0; i < 50; ++i) {
      std::thread runner([&] {
        for (int r = 0; r < 5; ++r)
          (void)own.run({&batches[0].in});
      });
      w[0] = static_cast<float>(i);
      own.update_constants({{c.name, &t}});
      runner.join();
    }
  });
  for (auto& th : threads)
    th.join();
  if (mismatches.load() != 0)
    fail(path + ": " + std::to_string(mismatches.load()) + " mismatching runs");
  if (errors.load() != 0) fail(path + ": " + std::to_string(errors.load()) + " unexpected errors");
  std::printf("%s, %d runner(s): ok\n", path.c_str(), runners);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.so...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    for (int runners : {1, 2, 4}) {
      try {
        exercise(argv[i], runners);
      } catch (const std::exception& e) {
        fail(std::string(argv[i]) + ": " + e.what());
      }
    }
  }
  return failures == 0 ? 0 : 1;
}
