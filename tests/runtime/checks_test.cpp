// The check helpers generated bind_inputs calls, on their own.

#include "checks.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "cpu_features.h"
#include "kiln/kiln.h"
#include "runtime_test_util.h"

namespace {

using kiln::rt::ErrorSink;

const char* const kDims[] = {"s0", "3", "2*s0"};
const int64_t kMin[] = {2, 3, 4};
const int64_t kMax[] = {8, 3, 16};
const kiln::rt::TensorInfo kInfo{"img", rtest::kF32, 3, kDims, kMin, kMax};

std::string format(DLDataType t) {
  char buf[64];
  kiln::rt::format_dtype(t, buf, sizeof(buf));
  return buf;
}

TEST(Checks, DtypeNames) {
  EXPECT_EQ(format({kDLFloat, 32, 1}), "float32");
  EXPECT_EQ(format({kDLFloat, 16, 1}), "float16");
  EXPECT_EQ(format({kDLBfloat, 16, 1}), "bfloat16");
  EXPECT_EQ(format({kDLInt, 64, 1}), "int64");
  EXPECT_EQ(format({kDLUInt, 8, 1}), "uint8");
  EXPECT_EQ(format({kDLBool, 8, 1}), "bool");
  EXPECT_EQ(format({kDLComplex, 64, 1}), "complex64");
  EXPECT_EQ(format({kDLFloat, 32, 4}), "float32x4");
  EXPECT_EQ(format({42, 8, 1}), "dtype(code=42, bits=8)");
}

TEST(Checks, TensorAccepted) {
  rtest::HostTensor t({4, 3, 8}, 1);
  ErrorSink err;
  EXPECT_TRUE(kiln::rt::check_tensor(&t.t, 2, kInfo, &err));
  EXPECT_EQ(err.status, 0);
}

TEST(Checks, EmptyTensorNeedsNoDataOrStrides) {
  rtest::HostTensor t({0, 3, 8}, 1);
  t.t.data = nullptr;
  int64_t strides[] = {77, 5, 3};
  t.t.strides = strides;
  ErrorSink err;
  EXPECT_TRUE(kiln::rt::check_tensor(&t.t, 0, kInfo, &err)) << err.message;
}

TEST(Checks, TensorRejected) {
  struct Case {
    const char* message;
    void (*mutate)(DLTensor&);
  } cases[] = {
      {"input 'img' (#2): on cuda_host:0, expected cpu",
       [](DLTensor& t) {
         t.device = {kDLCUDAHost, 0};
       }},
      {"input 'img' (#2): on device type 99, expected cpu",
       [](DLTensor& t) {
         // A device type this header does not know, stored the way a C caller would.
         const int32_t unknown = 99;
         std::memcpy(&t.device.device_type, &unknown, sizeof(unknown));
       }},
      {"input 'img' (#2): dtype float16, expected float32",
       [](DLTensor& t) {
         t.dtype = {kDLFloat, 16, 1};
       }},
      {"input 'img' (#2): rank 2, expected 3", [](DLTensor& t) { t.ndim = 2; }},
      {"input 'img' (#2): shape is NULL", [](DLTensor& t) { t.shape = nullptr; }},
      {"input 'img' (#2): data is NULL", [](DLTensor& t) { t.data = nullptr; }},
      {"input 'img' (#2): not compact row-major: dim 1 has stride 9, expected 8 (strides [24, "
       "9, 1]); make it contiguous first",
       [](DLTensor& t) {
         static int64_t s[] = {24, 9, 1};
         t.strides = s;
       }},
  };
  for (const Case& k : cases) {
    rtest::HostTensor t({4, 3, 8}, 2);
    k.mutate(t.t);
    ErrorSink err;
    EXPECT_FALSE(kiln::rt::check_tensor(&t.t, 2, kInfo, &err));
    EXPECT_EQ(err.status, KILN_ERROR_BAD_INPUT);
    EXPECT_STREQ(err.message, k.message);
  }
  ErrorSink err;
  EXPECT_FALSE(kiln::rt::check_tensor(nullptr, 2, kInfo, &err));
  EXPECT_STREQ(err.message, "input 'img' (#2): tensor is NULL");
}

TEST(Checks, BindSymbolRangeAndEquality) {
  const kiln::rt::SymbolInfo s0{"s0", 2, 8};
  int64_t slot = INT64_MIN;
  ErrorSink err;
  EXPECT_FALSE(kiln::rt::bind_symbol(kInfo, 0, 0, 1, s0, &slot, &err));
  EXPECT_STREQ(err.message, "input 'img' (#0): dim 0 is 1, outside the range [2, 8] of s0");
  EXPECT_EQ(slot, INT64_MIN);
  EXPECT_FALSE(kiln::rt::bind_symbol(kInfo, 0, 0, 9, s0, &slot, &err));
  EXPECT_STREQ(err.message, "input 'img' (#0): dim 0 is 9, outside the range [2, 8] of s0");
  ErrorSink ok;
  EXPECT_TRUE(kiln::rt::bind_symbol(kInfo, 0, 0, 6, s0, &slot, &ok));
  EXPECT_EQ(slot, 6);
  EXPECT_TRUE(kiln::rt::bind_symbol(kInfo, 1, 2, 6, s0, &slot, &ok));
  EXPECT_EQ(ok.status, 0);
  EXPECT_FALSE(kiln::rt::bind_symbol(kInfo, 1, 2, 7, s0, &slot, &err));
  EXPECT_STREQ(err.message, "input 'img' (#1): dim 2 is 7, but s0 = 6 from input 'img' (#0) dim 0");
  // A slot bound without bind_symbol: the origin is unknown.
  int64_t direct = 3;
  EXPECT_FALSE(kiln::rt::bind_symbol(kInfo, 1, 0, 4, s0, &direct, &err));
  EXPECT_STREQ(err.message, "input 'img' (#1): dim 0 is 4, but s0 = 3 from an earlier dim");
}

TEST(Checks, BindSymbolUnbounded) {
  const kiln::rt::SymbolInfo s1{"s1", 2, -1};
  int64_t slot = INT64_MIN;
  ErrorSink err;
  EXPECT_FALSE(kiln::rt::bind_symbol(kInfo, 3, 1, 1, s1, &slot, &err));
  EXPECT_STREQ(err.message, "input 'img' (#3): dim 1 is 1, outside the range [2, inf) of s1");
  EXPECT_TRUE(kiln::rt::bind_symbol(kInfo, 3, 1, int64_t{1} << 40, s1, &slot, &err));
  EXPECT_EQ(slot, int64_t{1} << 40);
}

TEST(Checks, CheckDimNamesTheExpression) {
  ErrorSink err;
  EXPECT_TRUE(kiln::rt::check_dim(kInfo, 0, 1, 3, 3, &err));
  EXPECT_FALSE(kiln::rt::check_dim(kInfo, 0, 1, 5, 3, &err));
  EXPECT_STREQ(err.message, "input 'img' (#0): dim 1 is 5, expected 3");
  EXPECT_FALSE(kiln::rt::check_dim(kInfo, 0, 2, 9, 12, &err));
  EXPECT_STREQ(err.message, "input 'img' (#0): dim 2 is 9, expected 12 (2*s0)");
  EXPECT_EQ(err.status, KILN_ERROR_BAD_INPUT);
}

TEST(Checks, FailFormatsAndTruncates) {
  ErrorSink err;
  EXPECT_FALSE(kiln::rt::fail(&err, KILN_ERROR_RUNTIME, "gather: index %d of %s", 12, "dim 0"));
  EXPECT_EQ(err.status, KILN_ERROR_RUNTIME);
  EXPECT_STREQ(err.message, "gather: index 12 of dim 0");
  const std::string long_text(5000, 'q');
  EXPECT_FALSE(kiln::rt::fail(&err, KILN_ERROR_RUNTIME, "%s", long_text.c_str()));
  EXPECT_EQ(std::string(err.message).size(), sizeof(err.message) - 1);
  EXPECT_FALSE(kiln::rt::fail(nullptr, KILN_ERROR_RUNTIME, "no sink"));
}

TEST(CpuFeatures, LevelsAndMissingFeatures) {
  auto everything = +[](const char*) { return true; };
  auto v2_only = +[](const char* f) {
    const std::string s = f;
    return s == "sse4.2" || s == "ssse3" || s == "popcnt";
  };
  ErrorSink err;
  for (const char* t : {"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "native", "generic"}) {
    EXPECT_TRUE(kiln::rt::check_target_cpu(t, everything, &err)) << t;
  }
  EXPECT_TRUE(kiln::rt::check_target_cpu("x86-64-v2", v2_only, &err));
  EXPECT_FALSE(kiln::rt::check_target_cpu("x86-64-v3", v2_only, &err));
  EXPECT_EQ(err.status, KILN_ERROR_LOAD);
  EXPECT_STREQ(err.message,
               "the model was compiled for x86-64-v3, but this CPU lacks avx, avx2, fma, bmi, "
               "bmi2, f16c, lzcnt, movbe; compile it for an older target CPU to run it here");
  auto no_avx512bw = +[](const char* f) { return std::string(f) != "avx512bw"; };
  EXPECT_FALSE(kiln::rt::check_target_cpu("x86-64-v4", no_avx512bw, &err));
  EXPECT_NE(std::string(err.message).find("lacks avx512bw;"), std::string::npos);
  EXPECT_FALSE(kiln::rt::check_target_cpu("armv8.2-a", everything, &err));
  EXPECT_EQ(std::string(err.message),
            "the model targets CPU 'armv8.2-a', which this runtime does not know (known: x86-64, "
            "x86-64-v2, x86-64-v3, x86-64-v4, native, generic)");
  EXPECT_FALSE(kiln::rt::check_target_cpu(nullptr, everything, &err));
}

TEST(CpuFeatures, ThisCpuRunsBaselineCode) {
  ErrorSink err;
  EXPECT_TRUE(kiln::rt::check_target_cpu("x86-64-v2", &err)) << err.message;
  EXPECT_FALSE(kiln::rt::cpu_has_feature("not-a-feature"));
}

}  // namespace
