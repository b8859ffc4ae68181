#pragma once

// Helpers for the runtime's tests: host tensors with random data, the fake model's inputs at
// a given s0, its expected outputs (computed independently, in double), and containers.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fake_model.h"
#include "kiln/kiln.h"

namespace rtest {

constexpr DLDataType kF32{kDLFloat, 32, 1};

// A float32 CPU tensor owning its data; fixed in memory, since `t` points into it.
struct HostTensor {
  std::vector<float> data;
  std::vector<int64_t> shape;
  DLTensor t{};

  HostTensor(std::vector<int64_t> dims, uint32_t seed) : shape(std::move(dims)) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    data.resize(static_cast<size_t>(n));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    for (float& v : data)
      v = dist(rng);
    t.data = data.data();
    t.device = DLDevice{kDLCPU, 0};
    t.ndim = static_cast<int32_t>(shape.size());
    t.dtype = kF32;
    t.shape = shape.data();
    t.strides = nullptr;
    t.byte_offset = 0;
  }
  HostTensor(const HostTensor&) = delete;
  HostTensor& operator=(const HostTensor&) = delete;
};

// The fake model's inputs x: [s0, 4] and t: [s0, 2*s0].
struct Inputs {
  int64_t s0;
  HostTensor x;
  HostTensor t;
  const DLTensor* ptrs[2];

  Inputs(int64_t rows, uint32_t seed)
      : s0(rows), x({rows, 4}, seed), t({rows, 2 * rows}, seed + 7919) {
    ptrs[0] = &x.t;
    ptrs[1] = &t.t;
  }
  Inputs(const Inputs&) = delete;
  Inputs& operator=(const Inputs&) = delete;
};

struct Expected {
  std::vector<float> y, z;
};

// y = x * w + 1 + c, z[i] = sum_j y[i, j] - 0.5 * sum_k t[i, k]; in double.
inline Expected expected(const Inputs& in, const std::vector<float>& w = fake::default_w(),
                         float c = fake::default_c()) {
  Expected e;
  for (int64_t i = 0; i < in.s0; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < 4; ++j) {
      const double v = static_cast<double>(in.x.data[static_cast<size_t>(i * 4 + j)]) *
                           w[static_cast<size_t>(j)] +
                       1.0 + c;
      e.y.push_back(static_cast<float>(v));
      sum += v;
    }
    for (int64_t k = 0; k < 2 * in.s0; ++k) {
      sum -= 0.5 * in.t.data[static_cast<size_t>(i * 2 * in.s0 + k)];
    }
    e.z.push_back(static_cast<float>(sum));
  }
  return e;
}

inline ::testing::AssertionResult close(const float* got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = 1e-5 * (1.0 + std::fabs(static_cast<double>(want[i])));
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol)) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << ", want " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

struct ContainerDeleter {
  void operator()(KilnContainer* c) const { kiln_container_delete(c); }
};
using ContainerPtr = std::unique_ptr<KilnContainer, ContainerDeleter>;

// A container of the current fake model; fails the test when creation fails.
inline ContainerPtr make_container(int runners = 1, int threads = 0,
                                   const char* weights_path = nullptr) {
  KilnOptions o;
  kiln_options_init(&o);
  o.num_runners = runners;
  o.num_threads = threads;
  o.weights_path = weights_path;
  KilnContainer* c = nullptr;
  const KilnStatus s = kiln_container_create(&c, &o);
  EXPECT_EQ(s, KILN_OK) << kiln_last_error();
  return ContainerPtr(c);
}

// Owns the outputs kiln allocated.
struct ManagedOutputs {
  DLManagedTensor* items[2] = {nullptr, nullptr};
  ManagedOutputs() = default;
  ManagedOutputs(const ManagedOutputs&) = delete;
  ManagedOutputs& operator=(const ManagedOutputs&) = delete;
  ~ManagedOutputs() { reset(); }
  void reset() {
    for (DLManagedTensor*& t : items) {
      if (t != nullptr) t->deleter(t);
      t = nullptr;
    }
  }
  const float* y() const { return static_cast<const float*>(items[0]->dl_tensor.data); }
  const float* z() const { return static_cast<const float*>(items[1]->dl_tensor.data); }
};

// A good run with allocated outputs, checked against the expectation: proves the container
// still works (after a failed call, say).
inline ::testing::AssertionResult runs_ok(KilnContainer* c, int64_t s0, uint32_t seed,
                                          const std::vector<float>& w = fake::default_w(),
                                          float cval = fake::default_c()) {
  Inputs in(s0, seed);
  ManagedOutputs out;
  const KilnStatus s = kiln_run(c, in.ptrs, 2, nullptr, out.items, 2, nullptr);
  if (s != KILN_OK) {
    return ::testing::AssertionFailure() << "status " << s << ": " << kiln_last_error();
  }
  const Expected e = expected(in, w, cval);
  if (auto r = close(out.y(), e.y); !r) return r << " (y)";
  if (auto r = close(out.z(), e.z); !r) return r << " (z)";
  return ::testing::AssertionSuccess();
}

inline std::string last_error() {
  return kiln_last_error();
}

}  // namespace rtest
