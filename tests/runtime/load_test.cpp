// Creating containers: options, interface version, target CPU, embedded and external weights,
// constants, arena sizing; and the introspection functions.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checksum.h"
#include "container.h"
#include "fake_model.h"
#include "kiln/kiln.h"
#include "runtime_test_util.h"

namespace {

namespace fs = std::filesystem;

KilnStatus create(KilnContainer** out, const KilnOptions* options = nullptr) {
  return kiln_container_create(out, options);
}

// A temporary directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("kiln_runtime_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(Options, Defaults) {
  KilnOptions o;
  o.num_runners = 9;
  o.num_threads = 9;
  o.device = "x";
  o.weights_path = "y";
  kiln_options_init(&o);
  EXPECT_EQ(o.num_runners, 1);
  EXPECT_EQ(o.num_threads, 0);
  EXPECT_STREQ(o.device, "cpu");
  EXPECT_EQ(o.weights_path, nullptr);
  kiln_options_init(nullptr);  // accepted
  EXPECT_EQ(kiln_abi_version(), static_cast<uint32_t>(KILN_ABI_VERSION));
}

TEST(Options, BadOptionsFail) {
  struct Case {
    int runners, threads;
    const char* device;
    const char* message;
  } cases[] = {
      {0, 0, "cpu", "kiln_container_create: num_runners is 0, must be at least 1"},
      {1, -2, "cpu", "kiln_container_create: num_threads is -2, must be 0 (all cores) or more"},
      {1, 0, "cuda",
       "kiln_container_create: device 'cuda' is not available; this model was compiled for the "
       "CPU (device \"cpu\")"},
  };
  for (const Case& k : cases) {
    KilnOptions o;
    kiln_options_init(&o);
    o.num_runners = k.runners;
    o.num_threads = k.threads;
    o.device = k.device;
    KilnContainer* c = reinterpret_cast<KilnContainer*>(&o);  // must be reset to NULL
    EXPECT_EQ(create(&c, &o), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(rtest::last_error(), k.message);
  }
  EXPECT_EQ(create(nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_container_create: out is NULL");
  KilnContainer* c = nullptr;
  ASSERT_EQ(create(&c), KILN_OK);  // NULL options: the defaults
  EXPECT_TRUE(rtest::runs_ok(c, 3, 1));
  EXPECT_EQ(kiln_container_delete(c), KILN_OK);
  EXPECT_EQ(kiln_container_delete(nullptr), KILN_OK);
}

TEST(Load, InterfaceVersionMismatch) {
  kiln::rt::ModelDesc d = fake::embedded_model();
  d.interface_version = kiln::rt::kModelInterfaceVersion + 1;
  fake::ModelScope scope(d);
  KilnContainer* c = nullptr;
  EXPECT_EQ(create(&c), KILN_ERROR_LOAD);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(rtest::last_error(),
            "model 'fake_affine' was generated for runtime interface version " +
                std::to_string(kiln::rt::kModelInterfaceVersion + 1) +
                ", but this runtime implements version " +
                std::to_string(kiln::rt::kModelInterfaceVersion) +
                "; recompile the model with this kiln");
}

TEST(Load, UnknownTargetCpu) {
  kiln::rt::ModelDesc d = fake::embedded_model();
  d.target_cpu = "x86-64-v5";
  fake::ModelScope scope(d);
  KilnContainer* c = nullptr;
  EXPECT_EQ(create(&c), KILN_ERROR_LOAD);
  EXPECT_EQ(rtest::last_error(),
            "the model targets CPU 'x86-64-v5', which this runtime does not know (known: x86-64, "
            "x86-64-v2, x86-64-v3, x86-64-v4, native, generic)");
}

TEST(Load, SupportedTargetCpus) {
  for (const char* target : {"x86-64", "x86-64-v2", "generic", "native"}) {
    kiln::rt::ModelDesc d = fake::embedded_model();
    d.target_cpu = target;
    fake::ModelScope scope(d);
    auto c = rtest::make_container();
    EXPECT_TRUE(rtest::runs_ok(c.get(), 2, 3)) << target;
  }
}

TEST(Load, ExternalWeights) {
  TempDir dir;
  // Other values than the embedded blob, so the run proves it read the file.
  std::vector<uint8_t> blob = fake::weights_blob();
  std::vector<float> w = {1.25f, -0.375f, 3.5f, -2.0f};
  const float c_value = -0.625f;
  std::memcpy(blob.data(), w.data(), 16);
  std::memcpy(blob.data() + 64, &c_value, 4);
  const fs::path file = dir.path / "model.so.weights";
  write_file(file, blob);
  kiln::rt::ModelDesc d = fake::external_model();
  d.weights_checksum = kiln::rt::weights_checksum(blob.data(), blob.size());
  fake::ModelScope scope(d);
  auto c = rtest::make_container(2, 0, file.c_str());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(rtest::runs_ok(c.get(), 7, 21, w, c_value));
}

TEST(Load, ExternalWeightsErrors) {
  TempDir dir;
  const fs::path good = dir.path / "good.weights";
  const fs::path missing = dir.path / "missing.weights";
  const fs::path short_file = dir.path / "short.weights";
  const fs::path corrupt = dir.path / "corrupt.weights";
  std::vector<uint8_t> blob = fake::weights_blob();
  write_file(good, blob);
  write_file(short_file, std::vector<uint8_t>(blob.begin(), blob.begin() + 100));
  blob[5] ^= 0x40;
  write_file(corrupt, blob);
  const uint64_t want = fake::external_model().weights_checksum;
  const uint64_t got = kiln::rt::weights_checksum(blob.data(), blob.size());
  char sums[80];
  std::snprintf(sums, sizeof(sums), "checksum %016llx, expected %016llx",
                static_cast<unsigned long long>(got), static_cast<unsigned long long>(want));

  fake::ModelScope scope(fake::external_model());
  struct Case {
    fs::path path;
    std::string message;
  } cases[] = {
      {missing,
       "weights file '" + missing.string() + "' cannot be opened: No such file or directory"},
      {short_file, "weights file '" + short_file.string() +
                       "' has 100 bytes, but the model expects 128; it belongs to another model "
                       "or build"},
      {corrupt, "weights file '" + corrupt.string() + "' does not match the model: " + sums +
                    "; it is corrupt or belongs to another build"},
      {dir.path, "weights file '" + dir.path.string() + "' is not a regular file"},
  };
  for (const Case& k : cases) {
    KilnOptions o;
    kiln_options_init(&o);
    o.weights_path = k.path.c_str();
    KilnContainer* c = nullptr;
    EXPECT_EQ(create(&c, &o), KILN_ERROR_LOAD);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(rtest::last_error(), k.message);
  }
  auto c = rtest::make_container(1, 0, good.c_str());
  EXPECT_TRUE(rtest::runs_ok(c.get(), 4, 8));
}

TEST(Load, ExternalWeightsDefaultPathIsBesideTheBinary) {
  // In this test binary the runtime lives in the executable, so the default is "<exe>.weights",
  // which does not exist.
  fake::ModelScope scope(fake::external_model());
  KilnContainer* c = nullptr;
  EXPECT_EQ(create(&c), KILN_ERROR_LOAD);
  const std::string exe = fs::read_symlink("/proc/self/exe").filename().string();
  EXPECT_NE(rtest::last_error().find(exe + ".weights' cannot be opened"), std::string::npos)
      << rtest::last_error();
}

TEST(Load, BadConstantTables) {
  const int64_t shape[] = {4};
  const DLDataType f32 = rtest::kF32;
  struct Case {
    kiln::rt::ConstantInfo constant;
    const char* message;
  } cases[] = {
      {{"w", f32, 1, shape, 12, 0},
       "constant 'w' records 12 bytes, which does not match its dtype and shape"},
      {{"w", f32, 1, shape, 16, 120},
       "constant 'w' (16 bytes at offset 120) lies outside the weights (128 bytes)"},
      {{"w", f32, 1, nullptr, 16, 0}, "constant 'w' has no valid shape in the model"},
  };
  for (const Case& k : cases) {
    kiln::rt::ConstantInfo table[] = {k.constant, fake::embedded_model().constants[1]};
    kiln::rt::ModelDesc d = fake::embedded_model();
    d.constants = table;
    fake::ModelScope scope(d);
    KilnContainer* c = nullptr;
    EXPECT_EQ(create(&c), KILN_ERROR_LOAD);
    EXPECT_EQ(rtest::last_error(), k.message);
  }
  kiln::rt::ConstantInfo twice[] = {fake::embedded_model().constants[0],
                                    fake::embedded_model().constants[0]};
  kiln::rt::ModelDesc d = fake::embedded_model();
  d.constants = twice;
  fake::ModelScope scope(d);
  KilnContainer* c = nullptr;
  EXPECT_EQ(create(&c), KILN_ERROR_LOAD);
  EXPECT_EQ(rtest::last_error(), "the model names two constants 'w'");
}

TEST(Load, MisalignedConstantIsCopiedAligned) {
  // w stored 4 bytes into the blob: the runtime copies it to aligned memory (the fake model
  // fails on unaligned constants), and reads the values found there.
  const std::vector<uint8_t> blob = fake::weights_blob();
  std::vector<float> w(4);
  std::memcpy(w.data(), blob.data() + 4, 16);
  kiln::rt::ConstantInfo table[] = {fake::embedded_model().constants[0],
                                    fake::embedded_model().constants[1]};
  table[0].offset = 4;
  kiln::rt::ModelDesc d = fake::embedded_model();
  d.constants = table;
  fake::ModelScope scope(d);
  auto c = rtest::make_container();
  EXPECT_TRUE(rtest::runs_ok(c.get(), 5, 6, w, fake::default_c()));
}

TEST(Arena, SizedAtTheSymbolMaximaWhenBounded) {
  auto c = rtest::make_container(3);
  const int64_t max_s0 = 64;
  const uint64_t want = fake::embedded_model().arena_bytes(&max_s0);
  EXPECT_EQ(c->arena_sizes(), std::vector<uint64_t>(3, want));
  for (int64_t s0 : {1, 64, 33})
    EXPECT_TRUE(rtest::runs_ok(c.get(), s0, 9));
  EXPECT_EQ(c->arena_sizes(), std::vector<uint64_t>(3, want));  // never reallocated
}

TEST(Arena, GrowsOnDemandWhenUnbounded) {
  fake::ModelScope scope(fake::unbounded_model());
  auto c = rtest::make_container(1);
  const int64_t one = 1, big = 300;
  EXPECT_EQ(c->arena_sizes()[0], fake::unbounded_model().arena_bytes(&one));
  EXPECT_TRUE(rtest::runs_ok(c.get(), big, 5));
  const uint64_t grown = c->arena_sizes()[0];
  EXPECT_GE(grown, fake::unbounded_model().arena_bytes(&big));
  EXPECT_TRUE(rtest::runs_ok(c.get(), 100, 6));
  EXPECT_TRUE(rtest::runs_ok(c.get(), big, 7));
  EXPECT_EQ(c->arena_sizes()[0], grown);  // stays
}

TEST(Info, InputsOutputsConstants) {
  auto c = rtest::make_container();
  ASSERT_EQ(kiln_num_inputs(c.get()), 2u);
  ASSERT_EQ(kiln_num_outputs(c.get()), 2u);
  ASSERT_EQ(kiln_num_constants(c.get()), 2u);
  EXPECT_EQ(kiln_num_inputs(nullptr), 0u);
  EXPECT_EQ(kiln_num_outputs(nullptr), 0u);
  EXPECT_EQ(kiln_num_constants(nullptr), 0u);

  KilnTensorInfo info{};
  ASSERT_EQ(kiln_input_info(c.get(), 1, &info), KILN_OK);
  EXPECT_STREQ(info.name, "t");
  EXPECT_EQ(info.ndim, 2);
  EXPECT_EQ(info.dtype.code, kDLFloat);
  EXPECT_STREQ(info.dims[0], "s0");
  EXPECT_STREQ(info.dims[1], "2*s0");
  EXPECT_EQ(info.dim_min[1], 2);
  EXPECT_EQ(info.dim_max[1], 128);

  ASSERT_EQ(kiln_output_info(c.get(), 1, &info), KILN_OK);
  EXPECT_STREQ(info.name, "z");
  EXPECT_EQ(info.ndim, 1);
  EXPECT_EQ(info.dim_max[0], 64);

  ASSERT_EQ(kiln_constant_info(c.get(), 0, &info), KILN_OK);
  EXPECT_STREQ(info.name, "w");
  ASSERT_EQ(info.ndim, 1);
  EXPECT_STREQ(info.dims[0], "4");
  EXPECT_EQ(info.dim_min[0], 4);
  EXPECT_EQ(info.dim_max[0], 4);
  ASSERT_EQ(kiln_constant_info(c.get(), 1, &info), KILN_OK);
  EXPECT_STREQ(info.name, "c");
  EXPECT_EQ(info.ndim, 0);

  EXPECT_EQ(kiln_input_info(c.get(), 2, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(),
            "kiln_input_info: index 2 is out of range (the model has 2 inputs)");
  EXPECT_EQ(kiln_constant_info(c.get(), 7, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(),
            "kiln_constant_info: index 7 is out of range (the model has 2 constants)");
  EXPECT_EQ(kiln_output_info(nullptr, 0, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_output_info: container is NULL");
  EXPECT_EQ(kiln_output_info(c.get(), 0, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_output_info: info is NULL");
}

TEST(Info, ModelInfo) {
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%016llx",
                static_cast<unsigned long long>(fake::embedded_model().weights_checksum));
  EXPECT_EQ(std::string(kiln_model_info()),
            "model=fake_affine\nkiln_version=0.1.0-test\nabi_version=" +
                std::to_string(KILN_ABI_VERSION) + "\ntarget_cpu=x86-64\nweights_checksum=" + sum +
                "\nweights=embedded\n");
}

}  // namespace
