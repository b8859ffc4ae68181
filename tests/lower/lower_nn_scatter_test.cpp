// Lowering of scans and scatters to runtime-routine calls: cumsum / cumprod (dims, dtype
// argument, integer and bool inputs), scatter (value, src, add; int32 and int64 indices; 0-d
// tensors) and index_put (integer indices, None entries, negative indices, masks, accumulate),
// against the reference interpreter; and the run-time error for an out-of-range index.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lower/evaluate.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using OptTensors = std::vector<std::optional<ref::Tensor>>;

ref::Tensor sample(DType dtype, Sizes sizes, std::mt19937& rng, double lo = -3, double hi = 3) {
  return random_tensor(dtype, std::move(sizes), rng, lo, hi);
}

ref::Tensor indices(DType dtype, Sizes sizes, int64_t lo, int64_t hi, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, static_cast<double>(lo),
                       static_cast<double>(hi));
}

TEST(LowerNnScatter, CumsumAndCumprod) {
  std::mt19937 rng(901);
  for (const char* op : {"aten.cumsum.default", "aten.cumprod.default"}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32,
                        DType::kInt8, DType::kBool}) {
      for (const Sizes& s : {Sizes{3, 4, 5}, Sizes{1, 7, 1}, Sizes{6}}) {
        for (int64_t dim = -1; dim < static_cast<int64_t>(s.size()); ++dim) {
          SCOPED_TRACE(std::string(op) + " " + std::string(ir::dtype_name(dtype)) + " dim " +
                       std::to_string(dim));
          double r = ir::is_floating(dtype) ? 1.5 : 4;
          check_lowered_op(op, {{"self", sample(dtype, s, rng, -r, r)}, {"dim", dim}});
        }
      }
    }
    // An explicit dtype converts first; a 0-d input scans itself.
    check_lowered_op(op, {{"self", sample(DType::kFloat32, {4, 6}, rng)},
                          {"dim", int64_t{1}},
                          {"dtype", DType::kFloat64}});
    check_lowered_op(op, {{"self", sample(DType::kFloat32, {4, 6}, rng)},
                          {"dim", int64_t{0}},
                          {"dtype", DType::kFloat16}});
    check_lowered_op(op, {{"self", sample(DType::kFloat64, {5, 3}, rng, -20, 20)},
                          {"dim", int64_t{0}},
                          {"dtype", DType::kInt32}});
    check_lowered_op(op, {{"self", sample(DType::kFloat32, {}, rng)}, {"dim", int64_t{0}}});
  }
}

TEST(LowerNnScatter, ScatterModes) {
  std::mt19937 rng(902);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool}) {
    for (DType idt : {DType::kInt64, DType::kInt32}) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " index " + ir::dtype_name(idt).data());
      ref::Tensor self = sample(dtype, {4, 5}, rng);
      // dim 0: indices into 4 rows, index no larger than src.
      ref::Tensor index0 = indices(idt, {3, 5}, 0, 4, rng);
      ref::Tensor index1 = indices(idt, {4, 3}, 0, 5, rng);
      ref::Tensor src = sample(dtype, {4, 6}, rng);
      check_lowered_op("aten.scatter.src",
                       {{"self", self}, {"dim", int64_t{0}}, {"index", index0}, {"src", src}});
      check_lowered_op("aten.scatter.src",
                       {{"self", self}, {"dim", int64_t{-1}}, {"index", index1}, {"src", src}});
      check_lowered_op("aten.scatter.value",
                       {{"self", self}, {"dim", int64_t{1}}, {"index", index1}, {"value", 2.5}});
      check_lowered_op(
          "aten.scatter.value",
          {{"self", self}, {"dim", int64_t{0}}, {"index", index0}, {"value", int64_t{-3}}});
      if (dtype != DType::kBool) {
        check_lowered_op("aten.scatter_add.default",
                         {{"self", self}, {"dim", int64_t{0}}, {"index", index0}, {"src", src}});
        check_lowered_op("aten.scatter_add.default",
                         {{"self", self}, {"dim", int64_t{1}}, {"index", index1}, {"src", src}});
      }
    }
  }
  // 0-d tensors count as [1].
  check_lowered_op("aten.scatter.src", {{"self", sample(DType::kFloat32, {}, rng)},
                                        {"dim", int64_t{0}},
                                        {"index", indices(DType::kInt64, {}, 0, 1, rng)},
                                        {"src", sample(DType::kFloat32, {}, rng)}});
}

TEST(LowerNnScatter, IndexPut) {
  std::mt19937 rng(903);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64}) {
    for (bool accumulate : {false, true}) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + (accumulate ? " accumulate" : ""));
      ref::Tensor self = sample(dtype, {4, 5, 3}, rng);
      // x[rows] = v, rows with negatives.
      check_lowered_op("aten.index_put.default",
                       {{"self", self},
                        {"indices", OptTensors{indices(DType::kInt64, {6}, -4, 4, rng)}},
                        {"values", sample(dtype, {6, 5, 3}, rng)},
                        {"accumulate", accumulate}});
      // x[:, cols] = v (broadcast values), int32 indices.
      check_lowered_op(
          "aten.index_put.default",
          {{"self", self},
           {"indices", OptTensors{std::nullopt, indices(DType::kInt32, {2, 2}, 0, 5, rng)}},
           {"values", sample(dtype, {2, 1, 3}, rng)},
           {"accumulate", accumulate}});
      // x[rows, :, last] with broadcast index tensors (non-adjacent: index shape leads).
      check_lowered_op(
          "aten.index_put.default",
          {{"self", self},
           {"indices", OptTensors{indices(DType::kInt64, {3, 1}, 0, 4, rng), std::nullopt,
                                  indices(DType::kInt64, {2}, -3, 3, rng)}},
           {"values", sample(dtype, {5}, rng)},
           {"accumulate", accumulate}});
      // A bool mask over the first two dims.
      check_lowered_op("aten.index_put.default",
                       {{"self", self},
                        {"indices", OptTensors{random_tensor(DType::kBool, {4, 5}, rng)}},
                        {"values", sample(dtype, {1}, rng)},
                        {"accumulate", accumulate}});
    }
  }
}

TEST(LowerNnScatter, OutOfRangeIndexFailsWhenRun) {
  std::mt19937 rng(904);
  ref::Tensor self = sample(DType::kFloat32, {5}, rng);
  ref::Tensor index = make_tensor(DType::kInt64, {2}, {1, 7});
  OpProgram op = build_op_program(
      "aten.scatter.src", {{"self", self}, {"dim", int64_t{0}}, {"index", index}, {"src", self}},
      false);
  passes::prepare_for_backend(op.program);
  lower::Program p = lower::lower_program(op.program);
  try {
    lower::evaluate(p, op.inputs, {});
    ADD_FAILURE() << "expected an out-of-range error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 7 is out of bounds for dimension 0 with size 5"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::testing
