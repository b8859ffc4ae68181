// Decompositions of the factories, the *_as views, flatten / unflatten, stack, the splits,
// repeat / repeat_interleave and diff, against the reference kernels; plus the check that every
// op with a decomposition is exercised by some test of this binary.
#include <gtest/gtest.h>

#include "decompose_test_util.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

TEST(DecomposeShape, FactoriesBecomeFull) {
  std::mt19937 rng(51);
  for (const Dims& shape : {Dims{2, 3}, Dims{1}, Dims{}, Dims{4, 1, 2}}) {
    ref::Tensor x = random_tensor(DType::kFloat16, shape, rng);
    ref::Tensor i = random_tensor(DType::kInt32, shape, rng, -9, 9);
    for (const char* t :
         {"aten.ones_like.default", "aten.zeros_like.default", "aten.empty_like.default"}) {
      EXPECT_TRUE(decomposes(t, {{"self", x}}));
      EXPECT_TRUE(decomposes(t, {{"self", i}, {"dtype", DType::kBool}}));
    }
    EXPECT_TRUE(decomposes("aten.full_like.default", {{"self", x}, {"fill_value", 2.5}}));
    EXPECT_TRUE(decomposes("aten.full_like.default",
                           {{"self", i}, {"fill_value", int64_t{7}}, {"dtype", DType::kFloat64}}));
    for (const char* t :
         {"aten.new_ones.default", "aten.new_zeros.default", "aten.new_empty.default"}) {
      EXPECT_TRUE(decomposes(t, {{"self", i}, {"size", Dims{3, 2}}}));
      EXPECT_TRUE(decomposes(t, {{"self", x}, {"size", Dims{4}}, {"dtype", DType::kInt64}}));
    }
    EXPECT_TRUE(decomposes("aten.new_full.default",
                           {{"self", x}, {"size", Dims{2, 2}}, {"fill_value", -1.5}}));
    EXPECT_TRUE(decomposes("aten.new_full.default",
                           {{"self", i}, {"size", Dims{5}}, {"fill_value", int64_t{3}}}));
  }
  for (const char* t : {"aten.ones.default", "aten.zeros.default", "aten.empty.memory_format"}) {
    EXPECT_TRUE(decomposes(t, {{"size", Dims{2, 3}}}));
    EXPECT_TRUE(decomposes(t, {{"size", Dims{4}}, {"dtype", DType::kInt8}}));
  }
}

TEST(DecomposeShape, AsViewsFlattenAndUnflatten) {
  std::mt19937 rng(52);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor small = random_tensor(DType::kFloat32, {3, 1}, rng);
  EXPECT_TRUE(decomposes("aten.expand_as.default", {{"self", small}, {"other", x}}));
  EXPECT_TRUE(decomposes("aten.view_as.default",
                         {{"self", x}, {"other", random_tensor(DType::kInt8, {6, 4}, rng)}}));
  for (int64_t start = -3; start < 3; ++start) {
    for (int64_t end = start < 0 ? start + 3 : start; end < 3; ++end) {
      EXPECT_TRUE(decomposes("aten.flatten.using_ints",
                             {{"self", x}, {"start_dim", start}, {"end_dim", end}}));
    }
  }
  ref::Tensor s = make_tensor(DType::kFloat32, {}, {4.5});
  EXPECT_TRUE(decomposes("aten.flatten.using_ints", {{"self", s}}));
  EXPECT_TRUE(
      decomposes("aten.unflatten.int", {{"self", x}, {"dim", int64_t{2}}, {"sizes", Dims{2, 2}}}));
  EXPECT_TRUE(
      decomposes("aten.unflatten.int", {{"self", x}, {"dim", int64_t{0}}, {"sizes", Dims{1, -1}}}));
  EXPECT_TRUE(
      decomposes("aten.unflatten.int", {{"self", x}, {"dim", int64_t{-2}}, {"sizes", Dims{3, 1}}}));
}

TEST(DecomposeShape, StackAlongEveryDim) {
  std::mt19937 rng(53);
  std::vector<ref::Tensor> ts;
  for (int k = 0; k < 3; ++k)
    ts.push_back(random_tensor(DType::kFloat32, {2, 3}, rng));
  for (int64_t dim = -3; dim < 3; ++dim)
    EXPECT_TRUE(decomposes("aten.stack.default", {{"tensors", ts}, {"dim", dim}}));
  std::vector<ref::Tensor> one{random_tensor(DType::kInt64, {4}, rng, -9, 9)};
  EXPECT_TRUE(decomposes("aten.stack.default", {{"tensors", one}}));
}

TEST(DecomposeShape, SplitsBecomeSlicesAndSelects) {
  std::mt19937 rng(54);
  ref::Tensor x = random_tensor(DType::kFloat32, {7, 4, 6}, rng);
  // The piece counts of chunk, split and unbind must be known: the split dim stays concrete.
  DecomposeOptions dim0, dim1, dim2;
  dim0.concrete_sizes = {7};
  dim1.concrete_sizes = {4};
  dim2.concrete_sizes = {6};
  for (int64_t chunks : {1, 2, 3, 7, 9}) {
    EXPECT_TRUE(decomposes("aten.chunk.default", {{"self", x}, {"chunks", chunks}}, dim0));
    EXPECT_TRUE(decomposes("aten.chunk.default",
                           {{"self", x}, {"chunks", chunks}, {"dim", int64_t{-1}}}, dim2));
  }
  for (int64_t size : {1, 2, 3, 7, 10}) {
    EXPECT_TRUE(decomposes("aten.split.Tensor", {{"self", x}, {"split_size", size}}, dim0));
    EXPECT_TRUE(decomposes("aten.split.Tensor",
                           {{"self", x}, {"split_size", size}, {"dim", int64_t{2}}}, dim2));
  }
  EXPECT_TRUE(
      decomposes("aten.split_with_sizes.default", {{"self", x}, {"split_sizes", Dims{2, 0, 5}}}));
  EXPECT_TRUE(decomposes("aten.split_with_sizes.default",
                         {{"self", x}, {"split_sizes", Dims{1, 1, 4}}, {"dim", int64_t{2}}}));
  EXPECT_TRUE(decomposes("aten.split_with_sizes.default",
                         {{"self", x}, {"split_sizes", Dims{4}}, {"dim", int64_t{1}}}));
  for (int64_t dim = -3; dim < 3; ++dim) {
    const DecomposeOptions& known = dim == 0 || dim == -3   ? dim0
                                    : dim == 1 || dim == -2 ? dim1
                                                            : dim2;
    EXPECT_TRUE(decomposes("aten.unbind.int", {{"self", x}, {"dim", dim}}, known));
  }
}

TEST(DecomposeShape, RepeatAndRepeatInterleave) {
  std::mt19937 rng(55);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  for (const Dims& reps :
       {Dims{1, 1}, Dims{2, 1}, Dims{1, 3}, Dims{2, 2}, Dims{3, 1, 2}, Dims{2, 1, 1, 2}}) {
    EXPECT_TRUE(decomposes("aten.repeat.default", {{"self", x}, {"repeats", reps}}));
  }
  ref::Tensor s = make_tensor(DType::kInt32, {}, {5});
  EXPECT_TRUE(decomposes("aten.repeat.default", {{"self", s}, {"repeats", Dims{3}}}));
  ref::Tensor y = random_tensor(DType::kInt64, {2, 1, 3}, rng, -9, 9);
  for (int64_t r : {1, 2, 3}) {
    EXPECT_TRUE(decomposes("aten.repeat_interleave.self_int", {{"self", y}, {"repeats", r}}));
    for (int64_t dim = -3; dim < 3; ++dim) {
      EXPECT_TRUE(decomposes("aten.repeat_interleave.self_int",
                             {{"self", y}, {"repeats", r}, {"dim", dim}}));
    }
  }
}

TEST(DecomposeShape, DiffWithPrependAppendAndOrders) {
  std::mt19937 rng(56);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 5}, rng, -9, 9);
  ref::Tensor pre = random_tensor(DType::kFloat32, {3, 2}, rng, -9, 9);
  ref::Tensor app = random_tensor(DType::kFloat32, {3, 1}, rng, -9, 9);
  for (int64_t n : {0, 1, 2, 3}) {
    EXPECT_TRUE(decomposes("aten.diff.default", {{"self", x}, {"n", n}}));
    EXPECT_TRUE(decomposes("aten.diff.default", {{"self", x}, {"n", n}, {"dim", int64_t{0}}}));
    EXPECT_TRUE(decomposes("aten.diff.default",
                           {{"self", x}, {"n", n}, {"prepend", pre}, {"append", app}}));
  }
  ref::Tensor b = random_tensor(DType::kBool, {6}, rng);
  EXPECT_TRUE(decomposes("aten.diff.default", {{"self", b}, {"n", int64_t{2}}}));
  ref::Tensor i = random_tensor(DType::kInt32, {4, 2}, rng, -9, 9);
  ref::Tensor ipre = random_tensor(DType::kInt64, {1, 2}, rng, -9, 9);
  EXPECT_TRUE(
      decomposes("aten.diff.default", {{"self", i}, {"dim", int64_t{0}}, {"prepend", ipre}}));
}

// Runs last in this binary's shape tests: every op with a decomposition has been checked by
// one of the Decompose* tests (when the whole binary runs).
class CoverageCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    if (::testing::GTEST_FLAG(filter) != "*") return;
    std::string missing;
    for (const ops::OpDef& op : ops::all_ops()) {
      if (op.decompose != nullptr && !decomposed_targets().contains(std::string(op.target))) {
        missing += (missing.empty() ? "" : ", ") + std::string(op.target);
      }
    }
    EXPECT_EQ(missing, "") << "ops with a decomposition no test decomposes";
  }
};

const bool kCoverageRegistered = [] {
  ::testing::AddGlobalTestEnvironment(new CoverageCheck);
  return true;
}();

}  // namespace
}  // namespace kiln::testing
