#pragma once

// A hand-written model for the runtime's tests, in the shape the code generator emits:
//   inputs  x: f32[s0, 4]         s0 in [1, 64]
//           t: f32[s0, 2*s0]      (s0 shared with x; a derived dim)
//   consts  w: f32[4], c: f32[]   (in a 64-byte aligned weights blob)
//   outputs y = x * w + 1 + c             : f32[s0, 4]
//           z[i] = sum_j y[i, j] - sum_k t[i, k] * 0.5  : f32[s0]
// y is computed in the runner's arena first, so arena size and alignment are exercised. A run
// whose x[0, 0] is kFailValue fails like a kernel finding an index out of range.

#include <cstdint>
#include <set>
#include <vector>

#include "model_interface.h"

namespace fake {

constexpr float kFailValue = -12345.0f;

// The default model: embedded weights, s0 in [1, 64].
const kiln::rt::ModelDesc& embedded_model();
// The same model with external weights (embedded_weights == nullptr).
const kiln::rt::ModelDesc& external_model();
// The same model with s0 in [1, inf): the arena grows on demand.
const kiln::rt::ModelDesc& unbounded_model();

// The bytes of the weights blob (what an external weights file must hold).
std::vector<uint8_t> weights_blob();
// The constants' values in the blob.
std::vector<float> default_w();
float default_c();

// Makes kiln_rt_model() return `desc` while the scope lives (the test binary's model).
class ModelScope {
 public:
  explicit ModelScope(const kiln::rt::ModelDesc& desc);
  ~ModelScope();
  ModelScope(const ModelScope&) = delete;
  ModelScope& operator=(const ModelScope&) = delete;

 private:
  const kiln::rt::ModelDesc* previous_;
};

// Observations of runs since the last reset: thread counts given to runs, the most runs in
// flight at once, and whether two runs ever shared an arena (a runner used twice at once).
struct RunStats {
  std::set<int> thread_counts;
  int max_in_flight = 0;
  bool arena_shared = false;
  int64_t runs = 0;
};
void reset_stats();
RunStats stats();
// Each run sleeps this long (to make runs overlap in tests); 0 by default.
void set_run_delay_us(int us);

}  // namespace fake
