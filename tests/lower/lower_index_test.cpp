// Lowering of gather, index_select, embedding and advanced indexing against the reference
// interpreter on random data and random indices (static and symbolic dims). Out-of-range
// indices must fail when the kernel runs, as PyTorch fails; bool masks are refused when
// compiling.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lower/evaluate.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using Opt = std::vector<std::optional<ref::Tensor>>;

ref::Tensor rnd(DType dtype, Sizes sizes, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, -9, 9);
}

// Indices uniform in [lo, hi).
ref::Tensor indices(DType dtype, Sizes sizes, int64_t lo, int64_t hi, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, static_cast<double>(lo),
                       static_cast<double>(hi));
}

// Lowers and evaluates the one-node program with static dims; throws what either throws.
std::vector<ref::Tensor> lower_and_run(std::string_view target, const TestArgs& args) {
  OpProgram op = build_op_program(target, args, false);
  lower::Program p = lower::lower_program(op.program);
  return lower::evaluate(p, op.inputs, {});
}

TEST(LowerIndex, Gather) {
  std::mt19937 rng(501);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool}) {
    for (DType itype : {DType::kInt64, DType::kInt32}) {
      ref::Tensor x = rnd(dtype, {3, 4, 5}, rng);
      check_lowered_op(
          "aten.gather.default",
          {{"self", x}, {"dim", int64_t{0}}, {"index", indices(itype, {2, 4, 5}, 0, 3, rng)}});
      check_lowered_op(
          "aten.gather.default",
          {{"self", x}, {"dim", int64_t{1}}, {"index", indices(itype, {3, 7, 2}, 0, 4, rng)}});
      check_lowered_op(
          "aten.gather.default",
          {{"self", x}, {"dim", int64_t{-1}}, {"index", indices(itype, {1, 4, 1}, 0, 5, rng)}});
    }
  }
  ref::Tensor v = rnd(DType::kFloat32, {6}, rng);
  check_lowered_op(
      "aten.gather.default",
      {{"self", v}, {"dim", int64_t{0}}, {"index", indices(DType::kInt64, {}, 0, 6, rng)}});
  check_lowered_op("aten.gather.default", {{"self", rnd(DType::kFloat32, {}, rng)},
                                           {"dim", int64_t{0}},
                                           {"index", indices(DType::kInt64, {3}, 0, 1, rng)}});
}

TEST(LowerIndex, IndexSelect) {
  std::mt19937 rng(502);
  for (DType dtype : {DType::kFloat32, DType::kBFloat16, DType::kInt32}) {
    ref::Tensor x = rnd(dtype, {4, 3, 5}, rng);
    for (int64_t dim : {0, 1, 2, -1}) {
      int64_t size = x.sizes()[static_cast<size_t>((dim + 3) % 3)];
      check_lowered_op(
          "aten.index_select.default",
          {{"self", x}, {"dim", dim}, {"index", indices(DType::kInt64, {6}, 0, size, rng)}});
      check_lowered_op(
          "aten.index_select.default",
          {{"self", x}, {"dim", dim}, {"index", indices(DType::kInt32, {1}, 0, size, rng)}});
    }
    check_lowered_op(
        "aten.index_select.default",
        {{"self", x}, {"dim", int64_t{1}}, {"index", indices(DType::kInt64, {}, 0, 3, rng)}});
  }
  check_lowered_op("aten.index_select.default",
                   {{"self", rnd(DType::kFloat32, {}, rng)},
                    {"dim", int64_t{0}},
                    {"index", indices(DType::kInt64, {1}, 0, 1, rng)}});
}

TEST(LowerIndex, Embedding) {
  std::mt19937 rng(503);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
    ref::Tensor w = rnd(dtype, {10, 4}, rng);
    for (const Sizes& s : {Sizes{5}, Sizes{2, 3}, Sizes{}, Sizes{1, 1, 4}}) {
      for (DType itype : {DType::kInt64, DType::kInt32}) {
        check_lowered_op("aten.embedding.default",
                         {{"weight", w}, {"indices", indices(itype, s, 0, 10, rng)}});
      }
    }
    check_lowered_op("aten.embedding.default",
                     {{"weight", w},
                      {"indices", indices(DType::kInt64, {7}, 0, 10, rng)},
                      {"padding_idx", int64_t{3}}});
  }
}

TEST(LowerIndex, AdvancedIndexingPlacesTheBlockAsPyTorch) {
  std::mt19937 rng(504);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBool}) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    ref::Tensor x = rnd(dtype, {4, 5, 6, 7}, rng);
    // Negative positions wrap, as in PyTorch.
    ref::Tensor i = indices(DType::kInt64, {3}, -4, 4, rng);
    ref::Tensor j = indices(DType::kInt32, {2, 1}, -5, 5, rng);
    ref::Tensor k = indices(DType::kInt64, {2, 3}, -6, 6, rng);
    ref::Tensor l = indices(DType::kInt64, {}, 0, 7, rng);
    check_lowered_op("aten.index.Tensor", {{"self", x}, {"indices", Opt{i}}});
    check_lowered_op("aten.index.Tensor", {{"self", x}, {"indices", Opt{i, j}}});
    check_lowered_op("aten.index.Tensor",
                     {{"self", x}, {"indices", Opt{std::nullopt, j, k}}});  // adjacent, inside
    check_lowered_op("aten.index.Tensor",
                     {{"self", x}, {"indices", Opt{i, std::nullopt, k}}});  // separated: first
    check_lowered_op("aten.index.Tensor",
                     {{"self", x}, {"indices", Opt{std::nullopt, std::nullopt, std::nullopt, l}}});
    check_lowered_op("aten.index.Tensor",
                     {{"self", x}, {"indices", Opt{std::nullopt, j, std::nullopt, l}}});
    check_lowered_op("aten.index.Tensor", {{"self", x}, {"indices", Opt{i, j, k, l}}});
  }
  ref::Tensor v = rnd(DType::kFloat16, {8}, rng);
  check_lowered_op("aten.index.Tensor",
                   {{"self", v}, {"indices", Opt{indices(DType::kInt64, {3, 2, 2}, -8, 8, rng)}}});
}

TEST(LowerIndex, OutOfRangeIndicesFailWhenRun) {
  ref::Tensor x = make_tensor(DType::kFloat32, {2, 3}, {0.5, -1.25, 2, 3.5, -4, 5.75});
  ref::Tensor neg = make_tensor(DType::kInt64, {2, 3}, {0, 1, -1, 1, 0, 1});
  ref::Tensor big = make_tensor(DType::kInt64, {2}, {1, 3});
  // gather, index_select and embedding do not wrap negatives; index.Tensor does, up to -size.
  EXPECT_THROW(
      lower_and_run("aten.gather.default", {{"self", x}, {"dim", int64_t{0}}, {"index", neg}}),
      Error);
  EXPECT_THROW(lower_and_run("aten.index_select.default",
                             {{"self", x}, {"dim", int64_t{1}}, {"index", big}}),
               Error);
  EXPECT_THROW(
      lower_and_run(
          "aten.index_select.default",
          {{"self", x}, {"dim", int64_t{0}}, {"index", make_tensor(DType::kInt64, {1}, {-1})}}),
      Error);
  EXPECT_THROW(lower_and_run("aten.embedding.default",
                             {{"weight", x}, {"indices", make_tensor(DType::kInt32, {1}, {-2})}}),
               Error);
  EXPECT_THROW(
      lower_and_run("aten.index.Tensor",
                    {{"self", x}, {"indices", Opt{make_tensor(DType::kInt64, {1}, {-3})}}}),
      Error);
  // In range, the same programs run.
  EXPECT_NO_THROW(lower_and_run(
      "aten.index.Tensor", {{"self", x}, {"indices", Opt{make_tensor(DType::kInt64, {1}, {-2})}}}));
  EXPECT_NO_THROW(lower_and_run(
      "aten.index_select.default",
      {{"self", x}, {"dim", int64_t{1}}, {"index", make_tensor(DType::kInt64, {2}, {2, 0})}}));
}

TEST(LowerIndex, BoolMaskIndexingIsRefused) {
  std::mt19937 rng(505);
  ref::Tensor x = rnd(DType::kFloat32, {3, 4}, rng);
  // A mask's result size is data; the graph of an exported program records it as an unbacked
  // symbol. Here: an integer-index program whose index input is retyped as a mask.
  OpProgram op = build_op_program(
      "aten.index.Tensor", {{"self", x}, {"indices", Opt{indices(DType::kInt64, {3}, 0, 3, rng)}}},
      false);
  ir::ExportedProgram& p = op.program;
  p.graph.values[static_cast<size_t>(p.graph.inputs[1])].type.dtype = DType::kBool;
  try {
    lower::lower_program(p);
    ADD_FAILURE() << "a bool mask index was lowered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mask"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::testing
