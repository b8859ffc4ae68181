// The compiled model's ABI on real fixtures: every kind of bad input gets an error naming the
// input and the dim while the container keeps working, and many threads against 1, 2 and 4
// runners get results identical to single-threaded runs.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "compiled_model.h"
#include "frontend/load.h"
#include "op_harness.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

std::filesystem::path fixture(const std::string& name) {
  return fixture_dir() / "torch2.15" / name / "model.pt2";
}

const std::filesystem::path& compiled(const std::string& name) {
  static std::map<std::string, std::filesystem::path> done;
  auto it = done.find(name);
  if (it != done.end()) return it->second;
  const auto so = std::filesystem::temp_directory_path() / ("kiln-abi-" + name + ".so");
  compile_model(frontend::load_program(fixture(name)), so);
  return done.emplace(name, so).first->second;
}

class MultiIoInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<CompiledModel>(compiled("multi_io"));
    std::mt19937 rng(7);
    x_ = random_tensor(ir::DType::kFloat32, {2, 5, 8}, rng);
    idx_ = random_tensor(ir::DType::kInt64, {2, 3}, rng, 0, 5);
    mask_ = random_tensor(ir::DType::kBool, {2, 5}, rng);
  }
  std::vector<ref::Tensor> good() const { return {x_, idx_, mask_}; }

  // Runs with input `which` replaced, expects `status` and a message containing each needle,
  // then checks a good run still works.
  void expect_error(const std::vector<const DLTensor*>& inputs, KilnStatus status,
                    const std::vector<std::string>& needles) {
    EXPECT_EQ(model_->run_raw(inputs), status);
    const std::string msg = model_->last_error();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << msg;
    EXPECT_NO_THROW(model_->run(good()));
  }

  std::unique_ptr<CompiledModel> model_;
  ref::Tensor x_, idx_, mask_;
};

TEST_F(MultiIoInputs, GoodInputsRun) {
  const auto out = model_->run(good());
  EXPECT_EQ(out.size(), 6u);  // g, pooled, flat, mask, filled, and the SymInt B*N
}

TEST_F(MultiIoInputs, EveryBadInputIsNamed) {
  auto x = to_dlpack(x_), idx = to_dlpack(idx_), mask = to_dlpack(mask_);
  const DLTensor* ok[] = {&x->tensor, &idx->tensor, &mask->tensor};

  {  // wrong dtype
    std::mt19937 rng(1);
    auto bad = to_dlpack(random_tensor(ir::DType::kFloat64, {2, 5, 8}, rng));
    expect_error({&bad->tensor, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'", "float64"});
  }
  {  // wrong rank
    std::mt19937 rng(2);
    auto bad = to_dlpack(random_tensor(ir::DType::kFloat32, {2, 5}, rng));
    expect_error({&bad->tensor, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'"});
  }
  {  // a static dim
    std::mt19937 rng(3);
    auto bad = to_dlpack(random_tensor(ir::DType::kFloat32, {2, 5, 7}, rng));
    expect_error({&bad->tensor, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'", "dim 2", "7"});
  }
  {  // a dynamic dim out of its range
    std::mt19937 rng(4);
    auto bad = to_dlpack(random_tensor(ir::DType::kFloat32, {33, 5, 8}, rng));
    auto bad_idx = to_dlpack(random_tensor(ir::DType::kInt64, {33, 3}, rng, 0, 5));
    auto bad_mask = to_dlpack(random_tensor(ir::DType::kBool, {33, 5}, rng));
    expect_error({&bad->tensor, &bad_idx->tensor, &bad_mask->tensor}, KILN_ERROR_BAD_INPUT,
                 {"'x'", "dim 0", "33", "32"});
  }
  {  // unequal shared dims (batch of mask differs from x)
    std::mt19937 rng(5);
    auto bad = to_dlpack(random_tensor(ir::DType::kBool, {3, 5}, rng));
    expect_error({ok[0], ok[1], &bad->tensor}, KILN_ERROR_BAD_INPUT, {"'mask'", "dim 0", "3"});
  }
  {  // non-contiguous strides
    DLTensor t = x->tensor;
    int64_t strides[] = {1, 2, 10};
    t.strides = strides;
    expect_error({&t, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'", "strides"});
  }
  {  // null data pointer
    DLTensor t = x->tensor;
    t.data = nullptr;
    expect_error({&t, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'"});
  }
  {  // null tensor pointer
    expect_error({nullptr, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'"});
  }
  {  // wrong device
    DLTensor t = x->tensor;
    t.device = {kDLCUDA, 0};
    expect_error({&t, ok[1], ok[2]}, KILN_ERROR_BAD_INPUT, {"'x'"});
  }
  {  // wrong number of inputs
    expect_error({ok[0], ok[1]}, KILN_ERROR_INVALID_ARGUMENT, {"3"});
  }
}

TEST_F(MultiIoInputs, IndexOutOfRangeIsAnErrorNotACrash) {
  std::mt19937 rng(9);
  ref::Tensor idx = random_tensor(ir::DType::kInt64, {2, 3}, rng, 0, 5);
  idx.set_int(4, 99);
  auto x = to_dlpack(x_), bad = to_dlpack(idx), mask = to_dlpack(mask_);
  expect_error({&x->tensor, &bad->tensor, &mask->tensor}, KILN_ERROR_RUNTIME, {"99"});
}

// 8 threads x 1,000 runs each, against 1, 2 and 4 runners: identical to one thread.
TEST(CompiledConcurrency, ThreadsGetSingleThreadedResults) {
  const auto& so = compiled("mlp");
  std::mt19937 rng(11);
  std::vector<std::vector<ref::Tensor>> inputs;
  for (int64_t b : {1, 3, 8, 17}) inputs.push_back({random_tensor(ir::DType::kFloat32, {b, 16}, rng)});
  std::vector<std::vector<ref::Tensor>> expected;
  {
    CompiledModel single(so, 1);
    for (const auto& in : inputs) expected.push_back(single.run(in));
  }
  for (int runners : {1, 2, 4}) {
    CompiledModel model(so, runners);
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000; ++i) {
          const size_t k = static_cast<size_t>(t + i) % inputs.size();
          try {
            const auto out = model.run(inputs[k]);
            if (!same_values(out[0], expected[k][0])) ++mismatches;
          } catch (const kiln::Error&) {
            ++failures;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0) << runners << " runners";
    EXPECT_EQ(failures.load(), 0) << runners << " runners";
  }
}

}  // namespace
}  // namespace kiln::testing
