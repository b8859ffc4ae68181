// A container whose model runs one gemm with a constant (pre-packable) weight and a fused
// epilogue, y = relu(x @ w^T + b): the weight is packed once across runs and runners, and
// kiln_update_constants makes the next run use the new weight, even when the replaced
// constant keeps its address.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "checks.h"
#include "checksum.h"
#include "container.h"
#include "extern_dnnl.h"
#include "externs.h"

namespace {

using kiln::rt::ErrorSink;

constexpr int64_t kM = 4, kK = 24, kN = 12;
constexpr DLDataType kF32{kDLFloat, 32, 1};

const char* const kXDims[] = {"4", "24"};
const int64_t kXShape[] = {kM, kK};
const char* const kYDims[] = {"4", "12"};
const int64_t kYShape[] = {kM, kN};
const kiln::rt::TensorInfo kInputs[] = {{"x", kF32, 2, kXDims, kXShape, kXShape}};
const kiln::rt::TensorInfo kOutputs[] = {{"y", kF32, 2, kYDims, kYShape, kYShape}};
const int64_t kWShape[] = {kN, kK};
const int64_t kBShape[] = {kN};
constexpr uint64_t kWBytes = kN * kK * 4, kBOffset = (kWBytes + 63) / 64 * 64;
const kiln::rt::ConstantInfo kConstants[] = {{"w", kF32, 2, kWShape, kWBytes, 0},
                                             {"b", kF32, 1, kBShape, kN * 4, kBOffset}};

alignas(64) float g_blob[(kBOffset + 64) / 4];

bool bind_inputs(const DLTensor* const* in, int64_t*, ErrorSink* err) {
  if (!kiln::rt::check_tensor(in[0], 0, kInputs[0], err)) return false;
  for (int d = 0; d < 2; ++d) {
    if (!kiln::rt::check_dim(kInputs[0], 0, d, in[0]->shape[d], kXShape[d], err)) return false;
  }
  return true;
}
bool bind_shapes(const int64_t* const*, int64_t*, ErrorSink*) {
  return true;
}
void output_shapes(const int64_t*, int64_t* const* shapes) {
  shapes[0][0] = kM;
  shapes[0][1] = kN;
}
uint64_t arena_bytes(const int64_t*) {
  return 64;
}

// What generated code does for `relu(linear(x, w, b))` after epilogue fusion.
bool run(const kiln::rt::RunContext& ctx) {
  const void* inputs[] = {ctx.inputs[0], ctx.constants[0], ctx.constants[1]};
  void* outputs[] = {ctx.outputs[0]};
  const int64_t ints[] = {kiln::rt::kExtFloat32,
                          1,
                          kM,
                          kN,
                          kK,
                          0,
                          0,
                          kK,
                          1,
                          0,
                          0,
                          1,
                          kK,
                          1,
                          0,
                          0,
                          0,
                          1,
                          /*weight_constant*/ 1,
                          /*post-ops*/ 1,
                          kiln::rt::kPostRelu,
                          -1};
  const double floats[] = {1.0, 1.0, 0.0, 0.0};
  const kiln::rt::ExternArgs args{.inputs = inputs,
                                  .num_inputs = 3,
                                  .outputs = outputs,
                                  .num_outputs = 1,
                                  .ints = ints,
                                  .num_ints = static_cast<int32_t>(std::size(ints)),
                                  .floats = floats,
                                  .num_floats = 4,
                                  .num_threads = ctx.num_threads,
                                  .error = ctx.error,
                                  .state = ctx.extern_state};
  return kiln::rt::extern_gemm(args);
}

kiln::rt::ModelDesc make_desc() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < kN * kK; ++i)
    g_blob[i] = u(rng);
  for (int64_t i = 0; i < kN; ++i)
    g_blob[kBOffset / 4 + i] = u(rng);
  kiln::rt::ModelDesc d{};
  d.interface_version = kiln::rt::kModelInterfaceVersion;
  d.model_name = "dnnl_linear";
  d.kiln_version = "0.1.0-test";
  d.target_cpu = "x86-64";
  d.num_inputs = 1;
  d.inputs = kInputs;
  d.num_outputs = 1;
  d.outputs = kOutputs;
  d.num_constants = 2;
  d.constants = kConstants;
  d.embedded_weights = reinterpret_cast<const uint8_t*>(g_blob);
  d.weights_size = sizeof g_blob;
  d.weights_checksum = kiln::rt::weights_checksum(d.embedded_weights, sizeof g_blob);
  d.bind_inputs = bind_inputs;
  d.bind_shapes = bind_shapes;
  d.output_shapes = output_shapes;
  d.arena_bytes = arena_bytes;
  d.run = run;
  return d;
}

DLTensor tensor(float* data, const int64_t* shape, int32_t ndim) {
  DLTensor t{};
  t.data = data;
  t.device = {kDLCPU, 0};
  t.ndim = ndim;
  t.dtype = kF32;
  t.shape = const_cast<int64_t*>(shape);
  return t;
}

std::vector<float> expected(const std::vector<float>& x, const float* w, const float* b) {
  std::vector<float> y(kM * kN);
  for (int64_t i = 0; i < kM; ++i)
    for (int64_t j = 0; j < kN; ++j) {
      double acc = b[j];
      for (int64_t q = 0; q < kK; ++q)
        acc += static_cast<double>(x[i * kK + q]) * w[j * kK + q];
      y[i * kN + j] = static_cast<float>(std::max(acc, 0.0));
    }
  return y;
}

void run_and_check(KilnContainer& c, std::mt19937& rng, const float* w, const float* b,
                   const std::string& what) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(kM * kK), y(kM * kN, NAN);
  for (float& v : x)
    v = u(rng);
  DLTensor xt = tensor(x.data(), kXShape, 2), yt = tensor(y.data(), kYShape, 2);
  const DLTensor* ins[] = {&xt};
  DLTensor* outs[] = {&yt};
  ErrorSink err;
  ASSERT_TRUE(c.run(ins, 1, outs, nullptr, 1, nullptr, &err)) << err.message;
  const std::vector<float> want = expected(x, w, b);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(y[i], want[i], 1e-5f * (1 + std::abs(want[i]))) << what << " at " << i;
  }
}

TEST(ExternDnnlContainer, PacksOnceAndRepacksAfterUpdateConstants) {
  static const kiln::rt::ModelDesc desc = make_desc();
  KilnOptions options{};
  kiln_options_init(&options);
  options.num_runners = 2;
  options.num_threads = 2;
  ErrorSink err;
  std::unique_ptr<KilnContainer> c(KilnContainer::create(&desc, options, &err));
  ASSERT_NE(c, nullptr) << err.message;
  std::mt19937 rng(11);
  const float* w0 = g_blob;
  const float* b0 = g_blob + kBOffset / 4;
  for (int i = 0; i < 3; ++i)
    run_and_check(*c, rng, w0, b0, "first weights");
  // Concurrent runs share the packed weight.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 r(100 + static_cast<uint32_t>(t));
      for (int i = 0; i < 5; ++i)
        run_and_check(*c, r, w0, b0, "concurrent");
    });
  }
  for (auto& t : threads)
    t.join();
  const int64_t packs_before = kiln::rt::extern_state_stats(c->extern_state()).packs;
  EXPECT_GE(packs_before, 1);
  EXPECT_LE(packs_before, 2);  // one per thread count the runs used (2 alone, 1 with both busy)

  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w1(kN * kK);
  for (float& v : w1)
    v = u(rng);
  const int64_t wshape[] = {kN, kK};
  DLTensor wt = tensor(w1.data(), wshape, 2);
  const char* names[] = {"w"};
  const DLTensor* values[] = {&wt};
  ASSERT_TRUE(c->update_constants(names, values, 1, &err)) << err.message;
  run_and_check(*c, rng, w1.data(), b0, "second weights");
  // A second update lands in the same owned storage: same address, new data.
  for (float& v : w1)
    v = u(rng);
  ASSERT_TRUE(c->update_constants(names, values, 1, &err)) << err.message;
  run_and_check(*c, rng, w1.data(), b0, "third weights");
  EXPECT_GT(kiln::rt::extern_state_stats(c->extern_state()).packs, packs_before);
}

}  // namespace
