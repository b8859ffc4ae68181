// Lowering of cat/stack, padding, repeats, diff, flips, rolls, tril/triu and the slice/select
// scatters, against the reference interpreter on random data (static and symbolic dims).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lower/lower_harness.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using Ints = std::vector<int64_t>;
using Tensors = std::vector<ref::Tensor>;

// Without the backend passes: for composite ops the decompose pass rewrites, this is the only
// way their own lowering runs.
void check_unpassed(std::string_view target, const TestArgs& args) {
  LowerCheckOptions raw;
  raw.run_backend_passes = false;
  check_lowered_op(target, args, raw);
}

ref::Tensor rnd(DType dtype, Sizes sizes, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, -9, 9);
}

TEST(LowerShapeConcat, CatAlongEachDim) {
  std::mt19937 rng(301);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kBool}) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    Tensors two = {rnd(dtype, {2, 3, 4}, rng), rnd(dtype, {2, 3, 4}, rng)};
    for (int64_t dim : {0, 1, 2, -1}) {
      check_lowered_op("aten.cat.default", {{"tensors", two}, {"dim", dim}});
    }
    Tensors uneven = {rnd(dtype, {2, 1}, rng), rnd(dtype, {2, 5}, rng), rnd(dtype, {2, 3}, rng)};
    check_lowered_op("aten.cat.default", {{"tensors", uneven}, {"dim", int64_t{1}}});
    Tensors rows = {rnd(dtype, {1, 3}, rng), rnd(dtype, {4, 3}, rng), rnd(dtype, {1, 3}, rng),
                    rnd(dtype, {2, 3}, rng)};
    check_lowered_op("aten.cat.default", {{"tensors", rows}});
    check_lowered_op("aten.concat.default", {{"tensors", rows}, {"dim", int64_t{0}}});
    check_lowered_op("aten.cat.default", {{"tensors", Tensors{rnd(dtype, {3, 2}, rng)}}});
  }
}

TEST(LowerShapeConcat, CatPromotesAndSkipsEmptyInputs) {
  std::mt19937 rng(302);
  Tensors mixed = {rnd(DType::kFloat16, {2, 3}, rng), rnd(DType::kFloat32, {1, 3}, rng)};
  check_lowered_op("aten.cat.default", {{"tensors", mixed}});
  Tensors ints = {rnd(DType::kInt64, {2, 2}, rng), rnd(DType::kFloat32, {2, 3}, rng),
                  rnd(DType::kBool, {2, 1}, rng)};
  check_lowered_op("aten.cat.default", {{"tensors", ints}, {"dim", int64_t{1}}});
  // Legacy 1-D empties are skipped; an empty slab along the cat dim adds nothing.
  Tensors legacy = {ref::Tensor(DType::kFloat32, {0}), rnd(DType::kFloat32, {2, 3}, rng),
                    rnd(DType::kFloat32, {0, 3}, rng), rnd(DType::kFloat32, {3, 3}, rng)};
  check_lowered_op("aten.cat.default", {{"tensors", legacy}});
  Tensors empty = {ref::Tensor(DType::kFloat32, {0}), ref::Tensor(DType::kFloat32, {0})};
  check_lowered_op("aten.cat.default", {{"tensors", empty}});
}

TEST(LowerShapeConcat, Stack) {
  std::mt19937 rng(303);
  for (DType dtype : {DType::kFloat32, DType::kInt64}) {
    Tensors three = {rnd(dtype, {2, 3}, rng), rnd(dtype, {2, 3}, rng), rnd(dtype, {2, 3}, rng)};
    for (int64_t dim : {0, 1, 2, -1}) {
      check_unpassed("aten.stack.default", {{"tensors", three}, {"dim", dim}});
    }
  }
  Tensors scalars = {rnd(DType::kFloat32, {}, rng), rnd(DType::kFloat16, {}, rng)};
  check_unpassed("aten.stack.default", {{"tensors", scalars}});
}

TEST(LowerShapeConcat, ConstantPadGrowsAndCrops) {
  std::mt19937 rng(304);
  const Ints pads[] = {{1, 2}, {0, 0, 2, 1}, {-1, 2}, {-1, -2, 1, 0}, {2, -3, 0, 1, 1, 1}, {0, 0}};
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool}) {
    ref::Tensor x = rnd(dtype, {2, 4, 5}, rng);
    for (const Ints& pad : pads) {
      check_lowered_op("aten.constant_pad_nd.default", {{"self", x}, {"pad", pad}});
      check_lowered_op("aten.constant_pad_nd.default",
                       {{"self", x}, {"pad", pad}, {"value", int64_t{3}}});
    }
  }
  ref::Tensor f = rnd(DType::kFloat32, {3, 1, 4}, rng);
  check_lowered_op("aten.constant_pad_nd.default",
                   {{"self", f}, {"pad", Ints{1, 1, 2, 0}}, {"value", -1.5}});
  check_lowered_op("aten.pad.default", {{"self", f}, {"pad", Ints{2, 1}}, {"value", 0.25}});
  ref::Tensor i = rnd(DType::kInt32, {2, 3}, rng);
  check_lowered_op("aten.constant_pad_nd.default",
                   {{"self", i}, {"pad", Ints{1, 1}}, {"value", 2.75}});  // truncates to 2
  // Padding an empty tensor gives the value everywhere.
  check_lowered_op(
      "aten.constant_pad_nd.default",
      {{"self", ref::Tensor(DType::kFloat32, {0, 3})}, {"pad", Ints{0, 0, 1, 1}}, {"value", 4.0}});
}

TEST(LowerShapeConcat, ReflectReplicateCircularPads) {
  std::mt19937 rng(305);
  struct Case {
    Sizes sizes;
    Ints pad;
  };
  const Case cases[] = {
      {{2, 6}, {2, 3}},
      {{2, 3, 5}, {1, 4}},
      {{2, 4, 5}, {2, 1, 3, 0}},
      {{1, 2, 4, 5}, {1, 2, 2, 3}},
      {{2, 3, 4, 3, 5}, {1, 1, 2, 0, 1, 2}},
      {{3, 7}, {-2, 3}},
      {{3, 7}, {0, 0}},
  };
  for (const char* mode : {"reflect", "replicate", "circular"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(mode) + " " + ref::Tensor(DType::kFloat32, c.sizes).str());
      ref::Tensor x = rnd(DType::kFloat32, c.sizes, rng);
      check_lowered_op("aten.pad.default",
                       {{"self", x}, {"pad", c.pad}, {"mode", std::string(mode)}});
    }
  }
  ref::Tensor h = rnd(DType::kFloat16, {2, 3, 4}, rng);
  check_lowered_op("aten.pad.default",
                   {{"self", h}, {"pad", Ints{3, 3}}, {"mode", std::string("reflect")}});
}

TEST(LowerShapeConcat, RepeatTileAndRepeatInterleave) {
  std::mt19937 rng(306);
  for (DType dtype : {DType::kFloat32, DType::kInt64}) {
    ref::Tensor x = rnd(dtype, {2, 1, 3}, rng);
    check_unpassed("aten.repeat.default", {{"self", x}, {"repeats", Ints{2, 3, 1}}});
    check_unpassed("aten.repeat.default", {{"self", x}, {"repeats", Ints{2, 1, 4, 2}}});
    check_lowered_op("aten.tile.default", {{"self", x}, {"dims", Ints{3}}});
    check_lowered_op("aten.tile.default", {{"self", x}, {"dims", Ints{2, 1, 2, 1}}});
    check_unpassed("aten.repeat_interleave.self_int", {{"self", x}, {"repeats", int64_t{3}}});
    check_unpassed("aten.repeat_interleave.self_int",
                   {{"self", x}, {"repeats", int64_t{2}}, {"dim", int64_t{-1}}});
    check_unpassed(
        "aten.repeat_interleave.self_int",
        {{"self", x}, {"repeats", int64_t{2}}, {"dim", int64_t{0}}, {"output_size", int64_t{4}}});
  }
  check_unpassed("aten.repeat_interleave.self_int",
                 {{"self", rnd(DType::kFloat32, {}, rng)}, {"repeats", int64_t{4}}});
  check_unpassed("aten.repeat.default",
                 {{"self", rnd(DType::kFloat32, {}, rng)}, {"repeats", Ints{3, 2}}});
}

TEST(LowerShapeConcat, Diff) {
  std::mt19937 rng(307);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kBool}) {
    ref::Tensor x = rnd(dtype, {3, 6}, rng);
    for (int64_t n : {0, 1, 2, 3, 5}) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " n=" + std::to_string(n));
      check_unpassed("aten.diff.default", {{"self", x}, {"n", n}});
      check_unpassed("aten.diff.default", {{"self", x}, {"n", n}, {"dim", int64_t{0}}});
    }
    check_unpassed("aten.diff.default", {{"self", x},
                                         {"n", int64_t{2}},
                                         {"prepend", rnd(dtype, {3, 2}, rng)},
                                         {"append", rnd(dtype, {3, 1}, rng)}});
  }
  check_unpassed("aten.diff.default", {{"self", rnd(DType::kFloat32, {4, 3}, rng)},
                                       {"n", int64_t{1}},
                                       {"dim", int64_t{0}},
                                       {"append", rnd(DType::kFloat64, {2, 3}, rng)}});
  check_unpassed("aten.diff.default",
                 {{"self", rnd(DType::kFloat32, {2, 2}, rng)}, {"n", int64_t{4}}});
}

TEST(LowerShapeConcat, FlipAndRoll) {
  std::mt19937 rng(308);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBool}) {
    ref::Tensor x = rnd(dtype, {3, 4, 5}, rng);
    check_lowered_op("aten.flip.default", {{"self", x}, {"dims", Ints{0}}});
    check_lowered_op("aten.flip.default", {{"self", x}, {"dims", Ints{-1, 1}}});
    check_lowered_op("aten.flip.default", {{"self", x}, {"dims", Ints{}}});
    check_lowered_op("aten.roll.default", {{"self", x}, {"shifts", Ints{2}}, {"dims", Ints{1}}});
    check_lowered_op("aten.roll.default",
                     {{"self", x}, {"shifts", Ints{-7, 3}}, {"dims", Ints{0, -1}}});
    check_lowered_op("aten.roll.default", {{"self", x}, {"shifts", Ints{13}}});
    check_lowered_op("aten.roll.default", {{"self", x}, {"shifts", Ints{-4}}});
    check_lowered_op("aten.roll.default",
                     {{"self", x}, {"shifts", Ints{1, 2}}, {"dims", Ints{2, 2}}});
  }
  check_lowered_op("aten.flip.default",
                   {{"self", rnd(DType::kFloat32, {1, 6}, rng)}, {"dims", Ints{0, 1}}});
  check_lowered_op("aten.roll.default",
                   {{"self", rnd(DType::kFloat32, {}, rng)}, {"shifts", Ints{3}}});
}

TEST(LowerShapeConcat, TrilTriu) {
  std::mt19937 rng(309);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kBool}) {
    for (const Sizes& s : {Sizes{4, 4}, Sizes{3, 5}, Sizes{2, 6, 3}, Sizes{1, 1}}) {
      ref::Tensor x = rnd(dtype, s, rng);
      for (int64_t diagonal : {0, 1, -1, 3, -5}) {
        check_lowered_op("aten.tril.default", {{"self", x}, {"diagonal", diagonal}});
        check_lowered_op("aten.triu.default", {{"self", x}, {"diagonal", diagonal}});
      }
    }
  }
}

TEST(LowerShapeConcat, SliceAndSelectScatter) {
  std::mt19937 rng(310);
  for (DType dtype : {DType::kFloat32, DType::kInt64}) {
    ref::Tensor x = rnd(dtype, {6, 4}, rng);
    check_lowered_op("aten.slice_scatter.default", {{"self", x},
                                                    {"src", rnd(dtype, {2, 4}, rng)},
                                                    {"start", int64_t{1}},
                                                    {"end", int64_t{3}}});
    check_lowered_op("aten.slice_scatter.default", {{"self", x},
                                                    {"src", rnd(dtype, {3, 4}, rng)},
                                                    {"start", int64_t{0}},
                                                    {"end", int64_t{6}},
                                                    {"step", int64_t{2}}});
    check_lowered_op("aten.slice_scatter.default", {{"self", x},
                                                    {"src", rnd(dtype, {6, 2}, rng)},
                                                    {"dim", int64_t{1}},
                                                    {"start", int64_t{-2}}});
    check_lowered_op("aten.slice_scatter.default", {{"self", x},
                                                    {"src", rnd(dtype, {2, 4}, rng)},
                                                    {"start", int64_t{1}},
                                                    {"step", int64_t{3}}});
    check_lowered_op(
        "aten.select_scatter.default",
        {{"self", x}, {"src", rnd(dtype, {4}, rng)}, {"dim", int64_t{0}}, {"index", int64_t{-2}}});
    check_lowered_op(
        "aten.select_scatter.default",
        {{"self", x}, {"src", rnd(dtype, {6}, rng)}, {"dim", int64_t{1}}, {"index", int64_t{3}}});
  }
}

}  // namespace
}  // namespace kiln::testing
