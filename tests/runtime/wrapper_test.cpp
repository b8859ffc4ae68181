// kiln.hpp against the fake model built as a model library (dlopen, hidden symbols, only
// kiln_* exported), as a service would use a compiled model.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_model.h"
#include "kiln/kiln.hpp"
#include "runtime_test_util.h"

namespace {

namespace fs = std::filesystem;
using rtest::HostTensor;
using rtest::Inputs;

const char* const kEmbeddedLib = KILN_FAKE_MODEL_EMBEDDED;
const char* const kExternalLib = KILN_FAKE_MODEL_EXTERNAL;

kiln::Options options(int runners, int threads = 0) {
  kiln::Options o;
  o.num_runners = runners;
  o.num_threads = threads;
  return o;
}

TEST(Wrapper, LoadsAndDescribesTheModel) {
  kiln::Library lib(kEmbeddedLib);
  const auto info = lib.model_info_map();
  EXPECT_EQ(info.at("model"), "fake_affine");
  EXPECT_EQ(info.at("abi_version"), std::to_string(KILN_ABI_VERSION));
  EXPECT_EQ(info.at("weights"), "embedded");
  EXPECT_EQ(info.at("target_cpu"), "x86-64");
  EXPECT_EQ(info.at("weights_checksum").size(), 16u);

  kiln::Container model(lib, options(2));
  const std::vector<kiln::TensorInfo> in = model.inputs();
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].name, "x");
  EXPECT_EQ(in[1].dims, (std::vector<std::string>{"s0", "2*s0"}));
  EXPECT_EQ(in[1].dim_max, (std::vector<int64_t>{64, 128}));
  const std::vector<kiln::TensorInfo> out = model.outputs();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].name, "z");
  EXPECT_EQ(out[1].ndim(), 1);
  const std::vector<kiln::TensorInfo> consts = model.constants();
  ASSERT_EQ(consts.size(), 2u);
  EXPECT_EQ(consts[0].dims, std::vector<std::string>{"4"});
  EXPECT_EQ(model.output_shapes({{6, 4}, {6, 12}}),
            (std::vector<std::vector<int64_t>>{{6, 4}, {6}}));
}

TEST(Wrapper, RunsBothWays) {
  kiln::Library lib(kEmbeddedLib);
  kiln::Container model(lib);
  Inputs in(11, 90);
  const rtest::Expected e = rtest::expected(in);
  std::vector<kiln::Tensor> outs = model.run({in.ptrs[0], in.ptrs[1]});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0]->dl_tensor.shape[0], 11);
  EXPECT_TRUE(rtest::close(static_cast<const float*>(outs[0]->dl_tensor.data), e.y));
  EXPECT_TRUE(rtest::close(static_cast<const float*>(outs[1]->dl_tensor.data), e.z));

  HostTensor y({11, 4}, 1), z({11}, 2);
  model.run({in.ptrs[0], in.ptrs[1]}, {&y.t, &z.t});
  EXPECT_TRUE(rtest::close(y.data.data(), e.y));
  EXPECT_TRUE(rtest::close(z.data.data(), e.z));

  std::vector<DLTensor> by_value = {in.x.t, in.t.t};
  std::vector<kiln::Tensor> again = model.run(by_value);
  EXPECT_TRUE(rtest::close(static_cast<const float*>(again[1]->dl_tensor.data), e.z));
}

TEST(Wrapper, ErrorsThrowWithStatusAndMessage) {
  kiln::Library lib(kEmbeddedLib);
  kiln::Container model(lib);
  Inputs in(5, 3);
  HostTensor bad_t({4, 8}, 4);
  try {
    model.run({in.ptrs[0], &bad_t.t});
    FAIL() << "no exception";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_BAD_INPUT);
    EXPECT_STREQ(e.what(), "input 't' (#1): dim 0 is 4, but s0 = 5 from input 'x' (#0) dim 0");
  }
  HostTensor w({3}, 5);
  try {
    model.update_constants({{"w", &w.t}});
    FAIL() << "no exception";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_BAD_INPUT);
    EXPECT_STREQ(e.what(), "constant 'w': dim 0 is 3, expected 4");
  }
  try {
    kiln::Container broken(lib, options(0));
    FAIL() << "no exception";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_INVALID_ARGUMENT);
  }
  // Still works.
  HostTensor w4({4}, 6);
  model.update_constants({{"w", &w4.t}});
  std::vector<kiln::Tensor> outs = model.run({in.ptrs[0], in.ptrs[1]});
  EXPECT_TRUE(rtest::close(static_cast<const float*>(outs[0]->dl_tensor.data),
                           rtest::expected(in, w4.data, fake::default_c()).y));
}

TEST(Wrapper, LibraryErrors) {
  try {
    kiln::Library lib("/nonexistent/model.so");
    FAIL() << "no exception";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_LOAD);
    EXPECT_EQ(std::string(e.what()).rfind("cannot load model library '/nonexistent/model.so': ", 0),
              0u)
        << e.what();
  }
  // A real shared library that is not a kiln model.
  const std::string libm = "libm.so.6";
  try {
    kiln::Library lib(libm);
    FAIL() << "no exception";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_LOAD);
    EXPECT_EQ(std::string(e.what()),
              "model library 'libm.so.6' lacks kiln_options_init (is it a kiln model library?)");
  }
}

TEST(Wrapper, OutputsAndContainersOutliveTheLibraryObject) {
  std::unique_ptr<kiln::Container> model;
  std::vector<kiln::Tensor> outs;
  Inputs in(4, 8);
  {
    kiln::Library lib(kEmbeddedLib);
    model = std::make_unique<kiln::Container>(lib);
    outs = model->run({in.ptrs[0], in.ptrs[1]});
  }
  // The library stays loaded: the container runs and the outputs' deleters are callable.
  std::vector<kiln::Tensor> more = model->run({in.ptrs[0], in.ptrs[1]});
  EXPECT_TRUE(
      rtest::close(static_cast<const float*>(more[0]->dl_tensor.data), rtest::expected(in).y));
  model.reset();
  EXPECT_TRUE(
      rtest::close(static_cast<const float*>(outs[1]->dl_tensor.data), rtest::expected(in).z));
}

TEST(Wrapper, ExternalWeightsBesideTheLibrary) {
  // A copy of the library in a fresh directory: the default weights path is "<copy>.weights".
  const fs::path dir = fs::temp_directory_path() / ("kiln_wrapper_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path lib_path = dir / "model.so";
  fs::copy_file(kExternalLib, lib_path, fs::copy_options::overwrite_existing);
  {
    kiln::Library lib(lib_path.string());
    EXPECT_EQ(lib.model_info_map().at("weights"), "external");
    try {
      kiln::Container missing(lib);
      FAIL() << "no exception";
    } catch (const kiln::Error& e) {
      EXPECT_EQ(e.status(), KILN_ERROR_LOAD);
      EXPECT_EQ(std::string(e.what()), "weights file '" + lib_path.string() +
                                           ".weights' cannot be opened: No such file or directory");
    }
    const std::vector<uint8_t> blob = fake::weights_blob();
    std::ofstream(lib_path.string() + ".weights", std::ios::binary)
        .write(reinterpret_cast<const char*>(blob.data()),
               static_cast<std::streamsize>(blob.size()));
    kiln::Container model(lib, options(2));
    Inputs in(20, 9);
    std::vector<kiln::Tensor> outs = model.run({in.ptrs[0], in.ptrs[1]});
    EXPECT_TRUE(
        rtest::close(static_cast<const float*>(outs[0]->dl_tensor.data), rtest::expected(in).y));
    // An explicit path wins over the default.
    fs::rename(lib_path.string() + ".weights", dir / "elsewhere.bin");
    kiln::Options elsewhere;
    elsewhere.weights_path = (dir / "elsewhere.bin").string();
    kiln::Container moved(lib, elsewhere);
    EXPECT_EQ(moved.num_inputs(), 2u);
  }
  fs::remove_all(dir);
}

TEST(Wrapper, ManyThreadsOneContainer) {
  kiln::Library lib(kEmbeddedLib);
  kiln::Container model(lib, options(3, 2));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 100; ++r) {
        Inputs in(1 + (t * 11 + r) % 64, static_cast<uint32_t>(t * 1000 + r));
        std::vector<kiln::Tensor> outs = model.run({in.ptrs[0], in.ptrs[1]});
        if (!rtest::close(static_cast<const float*>(outs[1]->dl_tensor.data),
                          rtest::expected(in).z)) {
          ++bad;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
