#include "fake_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "checks.h"
#include "checksum.h"
#include "kiln/kiln.h"

using kiln::rt::ErrorSink;

namespace fake {
namespace {

constexpr DLDataType kF32{kDLFloat, 32, 1};
constexpr int kWOffset = 0;
constexpr int kCOffset = 64;
constexpr int kBlobBytes = 128;

// The blob as the compiler would embed it: 64-byte aligned, each constant at a 64-byte offset.
alignas(64) const float kBlob[kBlobBytes / 4] = {
    0.75f, -1.5f, 2.25f, 0.125f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5f /* c at byte 64 */};

const kiln::rt::SymbolInfo g_symbols[] = {{"s0", 1, 64}};
const kiln::rt::SymbolInfo g_symbols_unbounded[] = {{"s0", 1, -1}};

const char* const kXDims[] = {"s0", "4"};
const int64_t kXMin[] = {1, 4};
const int64_t kXMax[] = {64, 4};
const int64_t kXMaxUnbounded[] = {-1, 4};
const char* const kTDims[] = {"s0", "2*s0"};
const int64_t kTMin[] = {1, 2};
const int64_t kTMax[] = {64, 128};
const int64_t kTMaxUnbounded[] = {-1, -1};
const char* const kYDims[] = {"s0", "4"};
const char* const kZDims[] = {"s0"};

const kiln::rt::TensorInfo kInputs[] = {{"x", kF32, 2, kXDims, kXMin, kXMax},
                                        {"t", kF32, 2, kTDims, kTMin, kTMax}};
const kiln::rt::TensorInfo kInputsUnbounded[] = {{"x", kF32, 2, kXDims, kXMin, kXMaxUnbounded},
                                                 {"t", kF32, 2, kTDims, kTMin, kTMaxUnbounded}};
const kiln::rt::TensorInfo kOutputs[] = {{"y", kF32, 2, kYDims, kXMin, kXMax},
                                         {"z", kF32, 1, kZDims, kXMin, kXMax}};
const kiln::rt::TensorInfo kOutputsUnbounded[] = {{"y", kF32, 2, kYDims, kXMin, kXMaxUnbounded},
                                                  {"z", kF32, 1, kZDims, kXMin, kXMaxUnbounded}};

const int64_t kWShape[] = {4};
const kiln::rt::ConstantInfo kConstants[] = {{"w", kF32, 1, kWShape, 16, kWOffset},
                                             {"c", kF32, 0, nullptr, 4, kCOffset}};

// Generated code binds with the same helpers, in the same order: each input's tensor checks,
// then its dims left to right.
template <const kiln::rt::TensorInfo* Inputs, const kiln::rt::SymbolInfo* Symbols>
bool bind_inputs(const DLTensor* const* in, int64_t* sym, ErrorSink* err) {
  if (!kiln::rt::check_tensor(in[0], 0, Inputs[0], err)) return false;
  if (!kiln::rt::bind_symbol(Inputs[0], 0, 0, in[0]->shape[0], Symbols[0], &sym[0], err)) {
    return false;
  }
  if (!kiln::rt::check_dim(Inputs[0], 0, 1, in[0]->shape[1], 4, err)) return false;
  if (!kiln::rt::check_tensor(in[1], 1, Inputs[1], err)) return false;
  if (!kiln::rt::bind_symbol(Inputs[1], 1, 0, in[1]->shape[0], Symbols[0], &sym[0], err)) {
    return false;
  }
  return kiln::rt::check_dim(Inputs[1], 1, 1, in[1]->shape[1], 2 * sym[0], err);
}

template <const kiln::rt::TensorInfo* Inputs, const kiln::rt::SymbolInfo* Symbols>
bool bind_shapes(const int64_t* const* shapes, int64_t* sym, ErrorSink* err) {
  if (!kiln::rt::bind_symbol(Inputs[0], 0, 0, shapes[0][0], Symbols[0], &sym[0], err)) {
    return false;
  }
  if (!kiln::rt::check_dim(Inputs[0], 0, 1, shapes[0][1], 4, err)) return false;
  if (!kiln::rt::bind_symbol(Inputs[1], 1, 0, shapes[1][0], Symbols[0], &sym[0], err)) {
    return false;
  }
  return kiln::rt::check_dim(Inputs[1], 1, 1, shapes[1][1], 2 * sym[0], err);
}

void output_shapes(const int64_t* sym, int64_t* const* shapes) {
  shapes[0][0] = sym[0];
  shapes[0][1] = 4;
  shapes[1][0] = sym[0];
}

uint64_t arena_bytes(const int64_t* sym) {
  return (static_cast<uint64_t>(sym[0]) * 20 + 63) / 64 * 64;
}

// What the model computes, for s0 rows.
void reference(const float* x, const float* t, int64_t s0, const float* w, float c, float* y,
               float* z) {
  for (int64_t i = 0; i < s0; ++i) {
    float sum = 0;
    for (int64_t j = 0; j < 4; ++j) {
      const float v = x[i * 4 + j] * w[j] + 1.0f + c;
      y[i * 4 + j] = v;
      sum += v;
    }
    for (int64_t k = 0; k < 2 * s0; ++k)
      sum -= t[i * 2 * s0 + k] * 0.5f;
    z[i] = sum;
  }
}

std::mutex g_stats_mu;
RunStats g_stats;
std::set<uint8_t*> g_active_arenas;
std::atomic<int> g_in_flight{0};
std::atomic<int> g_delay_us{0};

bool run(const kiln::rt::RunContext& ctx) {
  const int now = ++g_in_flight;
  {
    std::lock_guard lock(g_stats_mu);
    g_stats.thread_counts.insert(ctx.num_threads);
    g_stats.max_in_flight = std::max(g_stats.max_in_flight, now);
    if (!g_active_arenas.insert(ctx.arena).second) g_stats.arena_shared = true;
    ++g_stats.runs;
  }
  struct Leave {
    uint8_t* arena;
    ~Leave() {
      std::lock_guard lock(g_stats_mu);
      g_active_arenas.erase(arena);
      --g_in_flight;
    }
  } leave{ctx.arena};
  if (const int us = g_delay_us.load(); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

  if (reinterpret_cast<uintptr_t>(ctx.arena) % 64 != 0) {
    return kiln::rt::fail(ctx.error, KILN_ERROR_RUNTIME, "arena is not 64-byte aligned");
  }
  for (int i = 0; i < 2; ++i) {
    if (reinterpret_cast<uintptr_t>(ctx.constants[i]) % 64 != 0) {
      return kiln::rt::fail(ctx.error, KILN_ERROR_RUNTIME, "constant %d is not aligned", i);
    }
  }
  const int64_t s0 = ctx.symbols[0];
  const auto* x = static_cast<const float*>(ctx.inputs[0]);
  const auto* t = static_cast<const float*>(ctx.inputs[1]);
  if (x[0] == kFailValue) {
    return kiln::rt::fail(ctx.error, KILN_ERROR_RUNTIME,
                          "index_select: index %d is out of range [0, %d)", 7, 4);
  }
  auto* y_tmp = reinterpret_cast<float*>(ctx.arena);
  auto* z_tmp = y_tmp + s0 * 4;
  reference(x, t, s0, static_cast<const float*>(ctx.constants[0]),
            *static_cast<const float*>(ctx.constants[1]), y_tmp, z_tmp);
  std::memcpy(ctx.outputs[0], y_tmp, static_cast<size_t>(s0) * 4 * sizeof(float));
  std::memcpy(ctx.outputs[1], z_tmp, static_cast<size_t>(s0) * sizeof(float));
  return true;
}

kiln::rt::ModelDesc make(bool embedded, bool bounded) {
  kiln::rt::ModelDesc d{};
  d.interface_version = kiln::rt::kModelInterfaceVersion;
  d.model_name = "fake_affine";
  d.kiln_version = "0.1.0-test";
  d.target_cpu = "x86-64";
  d.num_symbols = 1;
  d.symbols = bounded ? g_symbols : g_symbols_unbounded;
  d.num_inputs = 2;
  d.inputs = bounded ? kInputs : kInputsUnbounded;
  d.num_outputs = 2;
  d.outputs = bounded ? kOutputs : kOutputsUnbounded;
  d.num_constants = 2;
  d.constants = kConstants;
  const auto* blob = reinterpret_cast<const uint8_t*>(kBlob);
  d.embedded_weights = embedded ? blob : nullptr;
  d.weights_size = kBlobBytes;
  d.weights_checksum = kiln::rt::weights_checksum(blob, kBlobBytes);
  d.bind_inputs = bounded ? bind_inputs<kInputs, g_symbols>
                          : bind_inputs<kInputsUnbounded, g_symbols_unbounded>;
  d.bind_shapes = bounded ? bind_shapes<kInputs, g_symbols>
                          : bind_shapes<kInputsUnbounded, g_symbols_unbounded>;
  d.output_shapes = output_shapes;
  d.arena_bytes = arena_bytes;
  d.run = run;
  return d;
}

// Null: the default model of this build.
std::atomic<const kiln::rt::ModelDesc*> g_current{nullptr};

}  // namespace

const kiln::rt::ModelDesc& embedded_model() {
  static const kiln::rt::ModelDesc d = make(true, true);
  return d;
}

const kiln::rt::ModelDesc& external_model() {
  static const kiln::rt::ModelDesc d = make(false, true);
  return d;
}

const kiln::rt::ModelDesc& unbounded_model() {
  static const kiln::rt::ModelDesc d = make(true, false);
  return d;
}

std::vector<uint8_t> weights_blob() {
  const auto* p = reinterpret_cast<const uint8_t*>(kBlob);
  return std::vector<uint8_t>(p, p + kBlobBytes);
}

std::vector<float> default_w() {
  return {kBlob[0], kBlob[1], kBlob[2], kBlob[3]};
}
float default_c() {
  return kBlob[kCOffset / 4];
}

ModelScope::ModelScope(const kiln::rt::ModelDesc& desc) : previous_(g_current.exchange(&desc)) {}
ModelScope::~ModelScope() {
  g_current.store(previous_);
}

void reset_stats() {
  std::lock_guard lock(g_stats_mu);
  g_stats = RunStats{};
}

RunStats stats() {
  std::lock_guard lock(g_stats_mu);
  return g_stats;
}

void set_run_delay_us(int us) {
  g_delay_us.store(us);
}

}  // namespace fake

extern "C" const kiln::rt::ModelDesc* kiln_rt_model() {
  if (const kiln::rt::ModelDesc* d = fake::g_current.load()) return d;
#ifdef KILN_FAKE_EXTERNAL
  return &fake::external_model();
#else
  return &fake::embedded_model();
#endif
}
