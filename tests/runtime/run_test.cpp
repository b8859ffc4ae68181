// kiln_run: both output modes, every kind of bad call, and the container working after each.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "fake_model.h"
#include "kiln/kiln.h"
#include "runtime_test_util.h"

namespace {

using rtest::HostTensor;
using rtest::Inputs;
using rtest::ManagedOutputs;

TEST(Run, AllocatesOutputs) {
  auto c = rtest::make_container();
  for (int64_t s0 : {1, 5, 37, 64}) {
    Inputs in(s0, static_cast<uint32_t>(100 + s0));
    ManagedOutputs out;
    ASSERT_EQ(kiln_run(c.get(), in.ptrs, 2, nullptr, out.items, 2, nullptr), KILN_OK)
        << kiln_last_error();
    const DLTensor& y = out.items[0]->dl_tensor;
    const DLTensor& z = out.items[1]->dl_tensor;
    EXPECT_EQ(y.device.device_type, kDLCPU);
    EXPECT_EQ(y.dtype.code, kDLFloat);
    EXPECT_EQ(y.dtype.bits, 32);
    ASSERT_EQ(y.ndim, 2);
    EXPECT_EQ(y.shape[0], s0);
    EXPECT_EQ(y.shape[1], 4);
    EXPECT_EQ(y.strides, nullptr);
    EXPECT_EQ(y.byte_offset, 0u);
    ASSERT_EQ(z.ndim, 1);
    EXPECT_EQ(z.shape[0], s0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(y.data) % 64, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(z.data) % 64, 0u);
    const rtest::Expected e = rtest::expected(in);
    EXPECT_TRUE(rtest::close(out.y(), e.y));
    EXPECT_TRUE(rtest::close(out.z(), e.z));
  }
}

TEST(Run, WritesCallerOutputs) {
  auto c = rtest::make_container();
  for (int64_t s0 : {2, 17, 64}) {
    Inputs in(s0, static_cast<uint32_t>(200 + s0));
    HostTensor y({s0, 4}, 1), z({s0}, 2);
    // Explicit compact strides are as good as none.
    int64_t y_strides[] = {4, 1};
    y.t.strides = y_strides;
    DLTensor* outs[] = {&y.t, &z.t};
    ASSERT_EQ(kiln_run(c.get(), in.ptrs, 2, outs, nullptr, 2, nullptr), KILN_OK)
        << kiln_last_error();
    const rtest::Expected e = rtest::expected(in);
    EXPECT_TRUE(rtest::close(y.data.data(), e.y));
    EXPECT_TRUE(rtest::close(z.data.data(), e.z));
  }
}

TEST(Run, AppliesByteOffsets) {
  auto c = rtest::make_container();
  Inputs in(6, 301);
  // The same x, 64 bytes into a larger buffer.
  std::vector<float> shifted(16 + in.x.data.size());
  std::copy(in.x.data.begin(), in.x.data.end(), shifted.begin() + 16);
  in.x.t.data = shifted.data();
  in.x.t.byte_offset = 64;
  HostTensor y({6, 4}, 3);
  std::vector<float> z_buf(8 + 6);
  DLTensor z = y.t;
  int64_t z_shape[] = {6};
  z.ndim = 1;
  z.shape = z_shape;
  z.data = z_buf.data();
  z.byte_offset = 32;
  DLTensor* outs[] = {&y.t, &z};
  ASSERT_EQ(kiln_run(c.get(), in.ptrs, 2, outs, nullptr, 2, nullptr), KILN_OK) << kiln_last_error();
  in.x.t.data = in.x.data.data();
  in.x.t.byte_offset = 0;
  const rtest::Expected e = rtest::expected(in);
  EXPECT_TRUE(rtest::close(y.data.data(), e.y));
  EXPECT_TRUE(rtest::close(z_buf.data() + 8, e.z));
}

TEST(Run, SizeOneDimsMayHaveAnyStride) {
  auto c = rtest::make_container();
  Inputs in(1, 401);
  int64_t strides[] = {999, 1};
  in.x.t.strides = strides;
  ManagedOutputs out;
  ASSERT_EQ(kiln_run(c.get(), in.ptrs, 2, nullptr, out.items, 2, nullptr), KILN_OK)
      << kiln_last_error();
  EXPECT_TRUE(rtest::close(out.y(), rtest::expected(in).y));
}

// One bad call: what it breaks, and what must come back.
struct BadCase {
  const char* what;
  KilnStatus status;
  std::string message;  // the whole message
  // Makes the call; returns its status. Inputs are a fresh valid set with s0 = 5.
  std::function<KilnStatus(KilnContainer*, Inputs&)> call;
};

KilnStatus run_managed(KilnContainer* c, Inputs& in) {
  ManagedOutputs out;
  const KilnStatus s = kiln_run(c, in.ptrs, 2, nullptr, out.items, 2, nullptr);
  // A failed run leaves no outputs behind.
  if (s != KILN_OK) {
    EXPECT_EQ(out.items[0], nullptr);
    EXPECT_EQ(out.items[1], nullptr);
  }
  return s;
}

// Runs into caller outputs of the given shapes.
KilnStatus run_into(KilnContainer* c, Inputs& in, std::vector<int64_t> y_shape,
                    std::vector<int64_t> z_shape) {
  HostTensor y(std::move(y_shape), 5), z(std::move(z_shape), 6);
  DLTensor* outs[] = {&y.t, &z.t};
  return kiln_run(c, in.ptrs, 2, outs, nullptr, 2, nullptr);
}

std::vector<BadCase> bad_cases() {
  return {
      {"null container", KILN_ERROR_INVALID_ARGUMENT, "kiln_run: container is NULL",
       [](KilnContainer*, Inputs& in) {
         DLManagedTensor* out[2];
         return kiln_run(nullptr, in.ptrs, 2, nullptr, out, 2, nullptr);
       }},
      {"null inputs", KILN_ERROR_INVALID_ARGUMENT, "kiln_run: inputs is NULL",
       [](KilnContainer* c, Inputs&) {
         DLManagedTensor* out[2];
         return kiln_run(c, nullptr, 2, nullptr, out, 2, nullptr);
       }},
      {"three inputs", KILN_ERROR_INVALID_ARGUMENT, "kiln_run: expected 2 inputs, got 3",
       [](KilnContainer* c, Inputs& in) {
         const DLTensor* three[] = {in.ptrs[0], in.ptrs[1], in.ptrs[1]};
         DLManagedTensor* out[2];
         return kiln_run(c, three, 3, nullptr, out, 2, nullptr);
       }},
      {"one output", KILN_ERROR_INVALID_ARGUMENT, "kiln_run: expected 2 outputs, got 1",
       [](KilnContainer* c, Inputs& in) {
         DLManagedTensor* out[2];
         return kiln_run(c, in.ptrs, 2, nullptr, out, 1, nullptr);
       }},
      {"no outputs at all", KILN_ERROR_INVALID_ARGUMENT,
       "kiln_run: outputs and managed_outputs are both NULL; pass one of them",
       [](KilnContainer* c, Inputs& in) {
         return kiln_run(c, in.ptrs, 2, nullptr, nullptr, 2, nullptr);
       }},
      {"both output modes", KILN_ERROR_INVALID_ARGUMENT,
       "kiln_run: pass either outputs (caller-provided) or managed_outputs (allocated by kiln), "
       "not both",
       [](KilnContainer* c, Inputs& in) {
         HostTensor y({5, 4}, 1), z({5}, 2);
         DLTensor* outs[] = {&y.t, &z.t};
         DLManagedTensor* managed[2];
         return kiln_run(c, in.ptrs, 2, outs, managed, 2, nullptr);
       }},
      {"a stream", KILN_ERROR_INVALID_ARGUMENT, "kiln_run: stream must be NULL for a CPU model",
       [](KilnContainer* c, Inputs& in) {
         int fake_stream = 0;
         DLManagedTensor* out[2];
         return kiln_run(c, in.ptrs, 2, nullptr, out, 2, &fake_stream);
       }},
      {"null tensor", KILN_ERROR_BAD_INPUT, "input 't' (#1): tensor is NULL",
       [](KilnContainer* c, Inputs& in) {
         in.ptrs[1] = nullptr;
         return run_managed(c, in);
       }},
      {"null data", KILN_ERROR_BAD_INPUT, "input 'x' (#0): data is NULL",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.data = nullptr;
         return run_managed(c, in);
       }},
      {"null shape", KILN_ERROR_BAD_INPUT, "input 'x' (#0): shape is NULL",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.shape = nullptr;
         return run_managed(c, in);
       }},
      {"int64 dtype", KILN_ERROR_BAD_INPUT, "input 'x' (#0): dtype int64, expected float32",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.dtype = DLDataType{kDLInt, 64, 1};
         return run_managed(c, in);
       }},
      {"bfloat16 dtype", KILN_ERROR_BAD_INPUT, "input 't' (#1): dtype bfloat16, expected float32",
       [](KilnContainer* c, Inputs& in) {
         in.t.t.dtype = DLDataType{kDLBfloat, 16, 1};
         return run_managed(c, in);
       }},
      {"bool dtype", KILN_ERROR_BAD_INPUT, "input 'x' (#0): dtype bool, expected float32",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.dtype = DLDataType{kDLBool, 8, 1};
         return run_managed(c, in);
       }},
      {"rank", KILN_ERROR_BAD_INPUT, "input 'x' (#0): rank 1, expected 2",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.ndim = 1;
         return run_managed(c, in);
       }},
      {"static dim", KILN_ERROR_BAD_INPUT, "input 'x' (#0): dim 1 is 5, expected 4",
       [](KilnContainer* c, Inputs& in) {
         HostTensor x({5, 5}, 9);
         in.ptrs[0] = &x.t;
         return run_managed(c, in);
       }},
      {"negative dim", KILN_ERROR_BAD_INPUT, "input 'x' (#0): dim 1 is -4, negative",
       [](KilnContainer* c, Inputs& in) {
         in.x.shape[1] = -4;
         return run_managed(c, in);
       }},
      {"dynamic dim below range", KILN_ERROR_BAD_INPUT,
       "input 'x' (#0): dim 0 is 0, outside the range [1, 64] of s0",
       [](KilnContainer* c, Inputs&) {
         HostTensor x({0, 4}, 9), t({0, 0}, 10);
         const DLTensor* ptrs[] = {&x.t, &t.t};
         DLManagedTensor* out[2];
         return kiln_run(c, ptrs, 2, nullptr, out, 2, nullptr);
       }},
      {"dynamic dim above range", KILN_ERROR_BAD_INPUT,
       "input 'x' (#0): dim 0 is 65, outside the range [1, 64] of s0",
       [](KilnContainer* c, Inputs&) {
         Inputs big(65, 11);
         return run_managed(c, big);
       }},
      {"unequal shared dims", KILN_ERROR_BAD_INPUT,
       "input 't' (#1): dim 0 is 4, but s0 = 5 from input 'x' (#0) dim 0",
       [](KilnContainer* c, Inputs& in) {
         HostTensor t({4, 10}, 12);
         in.ptrs[1] = &t.t;
         return run_managed(c, in);
       }},
      {"derived dim", KILN_ERROR_BAD_INPUT, "input 't' (#1): dim 1 is 9, expected 10 (2*s0)",
       [](KilnContainer* c, Inputs& in) {
         HostTensor t({5, 9}, 12);
         in.ptrs[1] = &t.t;
         return run_managed(c, in);
       }},
      {"row stride", KILN_ERROR_BAD_INPUT,
       "input 'x' (#0): not compact row-major: dim 0 has stride 8, expected 4 (strides [8, 1]); "
       "make it contiguous first",
       [](KilnContainer* c, Inputs& in) {
         static int64_t strides[] = {8, 1};
         in.x.t.strides = strides;
         return run_managed(c, in);
       }},
      {"transposed", KILN_ERROR_BAD_INPUT,
       "input 't' (#1): not compact row-major: dim 1 has stride 5, expected 1 (strides [1, 5]); "
       "make it contiguous first",
       [](KilnContainer* c, Inputs& in) {
         static int64_t strides[] = {1, 5};
         in.t.t.strides = strides;
         return run_managed(c, in);
       }},
      {"cuda device", KILN_ERROR_BAD_INPUT, "input 'x' (#0): on cuda:1, expected cpu",
       [](KilnContainer* c, Inputs& in) {
         in.x.t.device = DLDevice{kDLCUDA, 1};
         return run_managed(c, in);
       }},
      {"misaligned data", KILN_ERROR_BAD_INPUT, "",  // the address varies; checked by prefix
       [](KilnContainer* c, Inputs& in) {
         in.x.t.byte_offset = 2;
         return run_managed(c, in);
       }},
      {"caller output dynamic dim", KILN_ERROR_BAD_INPUT,
       "output 'y' (#0): dim 0 is 4, expected 5 (s0)",
       [](KilnContainer* c, Inputs& in) {
         return run_into(c, in, {4, 4}, {5});
       }},
      {"caller output static dim", KILN_ERROR_BAD_INPUT, "output 'y' (#0): dim 1 is 3, expected 4",
       [](KilnContainer* c, Inputs& in) {
         return run_into(c, in, {5, 3}, {5});
       }},
      {"caller output rank", KILN_ERROR_BAD_INPUT, "output 'z' (#1): rank 2, expected 1",
       [](KilnContainer* c, Inputs& in) {
         return run_into(c, in, {5, 4}, {5, 1});
       }},
      {"caller output null", KILN_ERROR_BAD_INPUT, "output 'z' (#1): tensor is NULL",
       [](KilnContainer* c, Inputs& in) {
         HostTensor y({5, 4}, 5);
         DLTensor* outs[] = {&y.t, nullptr};
         return kiln_run(c, in.ptrs, 2, outs, nullptr, 2, nullptr);
       }},
      {"caller output data null", KILN_ERROR_BAD_INPUT, "output 'y' (#0): data is NULL",
       [](KilnContainer* c, Inputs& in) {
         HostTensor y({5, 4}, 5), z({5}, 6);
         y.t.data = nullptr;
         DLTensor* outs[] = {&y.t, &z.t};
         return kiln_run(c, in.ptrs, 2, outs, nullptr, 2, nullptr);
       }},
      {"caller output strided", KILN_ERROR_BAD_INPUT,
       "output 'y' (#0): not compact row-major: dim 1 has stride 2, expected 1 (strides [8, 2]); "
       "make it contiguous first",
       [](KilnContainer* c, Inputs& in) {
         HostTensor y({5, 4}, 5), z({5}, 6);
         int64_t strides[] = {8, 2};
         y.t.strides = strides;
         DLTensor* outs[] = {&y.t, &z.t};
         return kiln_run(c, in.ptrs, 2, outs, nullptr, 2, nullptr);
       }},
      {"caller output dtype", KILN_ERROR_BAD_INPUT,
       "output 'z' (#1): dtype float64, expected float32",
       [](KilnContainer* c, Inputs& in) {
         HostTensor y({5, 4}, 5), z({5}, 6);
         z.t.dtype = DLDataType{kDLFloat, 64, 1};
         DLTensor* outs[] = {&y.t, &z.t};
         return kiln_run(c, in.ptrs, 2, outs, nullptr, 2, nullptr);
       }},
      {"kernel failure", KILN_ERROR_RUNTIME, "index_select: index 7 is out of range [0, 4)",
       [](KilnContainer* c, Inputs& in) {
         in.x.data[0] = fake::kFailValue;
         return run_managed(c, in);
       }},
  };
}

TEST(Run, BadCallsFailCleanlyAndTheContainerKeepsWorking) {
  auto c = rtest::make_container(2);
  uint32_t seed = 1000;
  for (const BadCase& bad : bad_cases()) {
    SCOPED_TRACE(bad.what);
    Inputs in(5, seed++);
    EXPECT_EQ(bad.call(c.get(), in), bad.status);
    if (bad.message.empty()) {
      EXPECT_EQ(rtest::last_error().rfind("input 'x' (#0): data (", 0), 0u) << rtest::last_error();
      EXPECT_NE(rtest::last_error().find("is not aligned to 4 bytes"), std::string::npos);
    } else {
      EXPECT_EQ(rtest::last_error(), bad.message);
    }
    EXPECT_TRUE(rtest::runs_ok(c.get(), 1 + seed % 64, seed));
  }
}

TEST(Run, LastErrorIsPerThread) {
  auto c = rtest::make_container();
  Inputs in(4, 5);
  in.x.t.ndim = 3;
  ASSERT_EQ(run_managed(c.get(), in), KILN_ERROR_BAD_INPUT);
  EXPECT_EQ(rtest::last_error(), "input 'x' (#0): rank 3, expected 2");
  std::string other = "unset";
  std::thread([&] { other = kiln_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(rtest::last_error(), "input 'x' (#0): rank 3, expected 2");
}

TEST(Run, ThreadCountFollowsOptions) {
  fake::reset_stats();
  auto c = rtest::make_container(1, 6);
  EXPECT_TRUE(rtest::runs_ok(c.get(), 8, 3));
  EXPECT_EQ(fake::stats().thread_counts, std::set<int>{6});
}

TEST(OutputShapes, ComputesWithoutRunning) {
  auto c = rtest::make_container();
  fake::reset_stats();
  const int64_t x[] = {9, 4}, t[] = {9, 18};
  const int64_t* in[] = {x, t};
  int64_t y[2] = {-1, -1}, z[1] = {-1};
  int64_t* out[] = {y, z};
  ASSERT_EQ(kiln_output_shapes(c.get(), in, 2, out, 2), KILN_OK) << kiln_last_error();
  EXPECT_EQ(y[0], 9);
  EXPECT_EQ(y[1], 4);
  EXPECT_EQ(z[0], 9);
  EXPECT_EQ(fake::stats().runs, 0);
}

TEST(OutputShapes, RejectsBadShapes) {
  auto c = rtest::make_container();
  int64_t y[2], z[1];
  int64_t* out[] = {y, z};
  const int64_t x_ok[] = {9, 4}, t_ok[] = {9, 18};
  const int64_t x_big[] = {70, 4}, t_bad[] = {9, 17}, x_neg[] = {-2, 4};
  struct Case {
    const int64_t* x;
    const int64_t* t;
    KilnStatus status;
    const char* message;
  } cases[] = {
      {x_big, t_ok, KILN_ERROR_BAD_INPUT,
       "input 'x' (#0): dim 0 is 70, outside the range [1, 64] of s0"},
      {x_ok, t_bad, KILN_ERROR_BAD_INPUT, "input 't' (#1): dim 1 is 17, expected 18 (2*s0)"},
      {x_neg, t_ok, KILN_ERROR_BAD_INPUT, "input 'x' (#0): dim 0 is -2, negative"},
      {nullptr, t_ok, KILN_ERROR_INVALID_ARGUMENT,
       "kiln_output_shapes: input_shapes[0] (input 'x') is NULL"},
  };
  for (const Case& k : cases) {
    const int64_t* in[] = {k.x, k.t};
    EXPECT_EQ(kiln_output_shapes(c.get(), in, 2, out, 2), k.status);
    EXPECT_EQ(rtest::last_error(), k.message);
  }
  const int64_t* in[] = {x_ok, t_ok};
  EXPECT_EQ(kiln_output_shapes(c.get(), in, 1, out, 2), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_output_shapes: expected 2 inputs, got 1");
  EXPECT_EQ(kiln_output_shapes(c.get(), in, 2, nullptr, 2), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_output_shapes: output_shapes is NULL");
  EXPECT_EQ(kiln_output_shapes(nullptr, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_output_shapes: container is NULL");
  EXPECT_TRUE(rtest::runs_ok(c.get(), 9, 4));
}

}  // namespace
