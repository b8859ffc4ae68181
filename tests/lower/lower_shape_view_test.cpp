// Lowering of views: each is lowered as a one-node program (static and symbolic dims, with and
// without the backend passes, which drop some views as no-ops) and the evaluated kernel IR must
// match the reference interpreter on random data. Views must stay index maps: a view of an
// input lowers to the one kernel that writes the output.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ir/graph_edit.h"
#include "ir/verifier.h"
#include "lower/evaluate.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "ref/interpreter.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using Ints = std::vector<int64_t>;

// Without the backend passes: the lowering sees the op itself.
void check_unpassed(std::string_view target, const TestArgs& args) {
  LowerCheckOptions raw;
  raw.run_backend_passes = false;
  check_lowered_op(target, args, raw);
}

// With the backend passes (as kiln compiles) and without them, so that a view the passes
// would drop as a no-op still reaches its lowering.
void check(std::string_view target, const TestArgs& args) {
  check_lowered_op(target, args);
  check_unpassed(target, args);
}

const DType kDtypes[] = {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool};

TEST(LowerShapeView, ViewAndReshapeMergeAndSplitDims) {
  std::mt19937 rng(201);
  struct Case {
    Sizes in;
    Ints shape;
  };
  const Case cases[] = {
      {{2, 3, 4}, {6, 4}},
      {{2, 3, 4}, {2, 12}},
      {{2, 3, 4}, {24}},
      {{2, 3, 4}, {3, 8}},
      {{2, 3, 4}, {4, 3, 2}},
      {{2, 3, 4}, {-1, 2}},
      {{6, 4}, {2, 3, 2, 2}},
      {{1, 5, 1}, {5}},
      {{5}, {1, 5, 1, 1}},
      {{2, 1, 3}, {3, 1, 2}},
      {{7}, {7}},
      {{}, {1, 1}},
      {{1}, {}},
      {{3, 5, 2}, {15, -1}},
      {{4, 6}, {2, 2, 6}},
      {{2, 2, 6}, {4, 3, 2}},
  };
  for (const Case& c : cases) {
    for (DType dtype : kDtypes) {
      SCOPED_TRACE(ref::Tensor(dtype, c.in).str());
      ref::Tensor x = random_tensor(dtype, c.in, rng, -5, 5);
      check("aten.view.default", {{"self", x}, {"size", c.shape}});
      check("aten.reshape.default", {{"self", x}, {"shape", c.shape}});
      check("aten._unsafe_view.default", {{"self", x}, {"size", c.shape}});
    }
  }
}

TEST(LowerShapeView, FlattenUnflattenAndViewAs) {
  std::mt19937 rng(202);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4, 5}, rng);
  // Composite views the decompose pass rewrites: their own lowering runs without the passes.
  check_unpassed("aten.flatten.using_ints",
                 {{"self", x}, {"start_dim", int64_t{1}}, {"end_dim", int64_t{2}}});
  check_unpassed("aten.flatten.using_ints", {{"self", x}});
  check_unpassed("aten.flatten.using_ints", {{"self", x}, {"start_dim", int64_t{-2}}});
  check_unpassed("aten.unflatten.int", {{"self", x}, {"dim", int64_t{2}}, {"sizes", Ints{2, -1}}});
  check_unpassed("aten.unflatten.int", {{"self", x}, {"dim", int64_t{-1}}, {"sizes", Ints{5, 1}}});
  check_unpassed("aten.view_as.default",
                 {{"self", x}, {"other", random_tensor(DType::kFloat32, {6, 20}, rng)}});
}

TEST(LowerShapeView, PermutesAndTransposes) {
  std::mt19937 rng(203);
  for (DType dtype : kDtypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 4}, rng, -9, 9);
    check("aten.permute.default", {{"self", x}, {"dims", Ints{2, 0, 1}}});
    check("aten.permute.default", {{"self", x}, {"dims", Ints{-1, 1, 0}}});
    check("aten.transpose.int", {{"self", x}, {"dim0", int64_t{0}}, {"dim1", int64_t{2}}});
    check("aten.transpose.int", {{"self", x}, {"dim0", int64_t{-1}}, {"dim1", int64_t{-2}}});
    check("aten.movedim.int", {{"self", x}, {"source", int64_t{0}}, {"destination", int64_t{-1}}});
    check("aten.movedim.int", {{"self", x}, {"source", int64_t{2}}, {"destination", int64_t{0}}});
    ref::Tensor m = random_tensor(dtype, {3, 1, 5}, rng, -9, 9);
    check("aten.permute.default", {{"self", m}, {"dims", Ints{1, 2, 0}}});
  }
  for (const Sizes& s : {Sizes{4, 7}, Sizes{1, 3}, Sizes{5}, Sizes{}}) {
    check("aten.t.default", {{"self", random_tensor(DType::kFloat32, s, rng)}});
  }
}

TEST(LowerShapeView, ExpandBroadcastsUnitDims) {
  std::mt19937 rng(204);
  for (DType dtype : kDtypes) {
    ref::Tensor x = random_tensor(dtype, {3, 1}, rng, -9, 9);
    check("aten.expand.default", {{"self", x}, {"size", Ints{3, 4}}});
    check("aten.expand.default", {{"self", x}, {"size", Ints{2, -1, 5}}});
    check("aten.expand.default", {{"self", x}, {"size", Ints{3, 1}}});
    ref::Tensor s = random_tensor(dtype, {}, rng, -9, 9);
    check("aten.expand.default", {{"self", s}, {"size", Ints{2, 3}}});
    ref::Tensor y = random_tensor(dtype, {1, 4, 1}, rng, -9, 9);
    check_unpassed("aten.expand_as.default",
                   {{"self", y}, {"other", random_tensor(dtype, {2, 3, 4, 5}, rng)}});
  }
}

TEST(LowerShapeView, UnsqueezeSqueezeAndAlias) {
  std::mt19937 rng(205);
  for (DType dtype : kDtypes) {
    ref::Tensor x = random_tensor(dtype, {2, 1, 3, 1}, rng, -9, 9);
    for (int64_t dim : {0, 2, 4, -1, -5}) {
      check("aten.unsqueeze.default", {{"self", x}, {"dim", dim}});
    }
    check("aten.squeeze.default", {{"self", x}});
    check("aten.squeeze.dim", {{"self", x}, {"dim", int64_t{1}}});
    check("aten.squeeze.dim", {{"self", x}, {"dim", int64_t{0}}});  // not 1: no-op
    check("aten.squeeze.dims", {{"self", x}, {"dim", Ints{-1, 1}}});
    check("aten.squeeze.dims", {{"self", x}, {"dim", Ints{3}}});
    check("aten.alias.default", {{"self", x}});
    check("aten.detach.default", {{"self", x}});
  }
  check("aten.unsqueeze.default",
        {{"self", random_tensor(DType::kFloat32, {}, rng)}, {"dim", int64_t{0}}});
  check("aten.squeeze.default", {{"self", random_tensor(DType::kFloat32, {1, 1}, rng)}});
}

TEST(LowerShapeView, SliceClampsBoundsAsPyTorch) {
  std::mt19937 rng(206);
  ref::Tensor x = random_tensor(DType::kFloat32, {7, 5}, rng);
  struct Case {
    int64_t dim;
    std::optional<int64_t> start, end;
    int64_t step;
  };
  const int64_t kEnd = INT64_MAX;
  const Case cases[] = {
      {0, 1, 4, 1},
      {0, 0, kEnd, 2},
      {1, -3, kEnd, 1},
      {1, -100, 2, 1},
      {0, 2, 100, 3},
      {0, -2, -1, 1},
      {1, 4, 2, 1},
      {0, std::nullopt, 3, 1},
      {-1, 1, std::nullopt, 2},
      {0, std::nullopt, std::nullopt, 4},
      {0, 7, kEnd, 1},
  };
  for (const Case& c : cases) {
    TestArgs args = {{"self", x}, {"dim", c.dim}, {"step", c.step}};
    args.push_back({"start", c.start ? TestArg(*c.start) : TestArg(ir::NoneArg{})});
    args.push_back({"end", c.end ? TestArg(*c.end) : TestArg(ir::NoneArg{})});
    SCOPED_TRACE("slice dim " + std::to_string(c.dim));
    check("aten.slice.Tensor", args);
  }
  ref::Tensor h = random_tensor(DType::kFloat16, {4, 1, 6}, rng);
  check("aten.slice.Tensor", {{"self", h},
                              {"dim", int64_t{2}},
                              {"start", int64_t{1}},
                              {"end", int64_t{5}},
                              {"step", int64_t{2}}});
}

TEST(LowerShapeView, SelectAndNarrow) {
  std::mt19937 rng(207);
  for (DType dtype : kDtypes) {
    ref::Tensor x = random_tensor(dtype, {3, 4, 2}, rng, -9, 9);
    for (int64_t index : {0, 2, -1, -3}) {
      check("aten.select.int", {{"self", x}, {"dim", int64_t{0}}, {"index", index}});
    }
    check("aten.select.int", {{"self", x}, {"dim", int64_t{-1}}, {"index", int64_t{1}}});
    check("aten.narrow.default",
          {{"self", x}, {"dim", int64_t{1}}, {"start", int64_t{1}}, {"length", int64_t{2}}});
    check("aten.narrow.default",
          {{"self", x}, {"dim", int64_t{1}}, {"start", int64_t{-3}}, {"length", int64_t{3}}});
  }
  check("aten.select.int", {{"self", random_tensor(DType::kFloat32, {5}, rng)},
                            {"dim", int64_t{0}},
                            {"index", int64_t{4}}});
}

TEST(LowerShapeView, AsStridedReadsByStrides) {
  std::mt19937 rng(208);
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 6}, rng);
  check("aten.as_strided.default", {{"self", x}, {"size", Ints{3, 3}}, {"stride", Ints{6, 2}}});
  check("aten.as_strided.default", {{"self", x},
                                    {"size", Ints{2, 2, 3}},
                                    {"stride", Ints{1, 12, 4}},
                                    {"storage_offset", int64_t{2}}});
  check("aten.as_strided.default", {{"self", x}, {"size", Ints{5}}, {"stride", Ints{0}}});
  // Reading past the input is refused when compiling.
  OpProgram op = build_op_program(
      "aten.as_strided.default",
      {{"self", x}, {"size", Ints{4, 6}}, {"stride", Ints{6, 1}}, {"storage_offset", int64_t{1}}},
      false);
  EXPECT_THROW(lower::lower_program(op.program), Error);
}

// Two views in a row: `first` on the tensor args, then `second` (its other arguments in `rest`)
// on first's output, which reaches the second lowering as a lazy tensor, not a buffer. Views
// copy exactly, so the result must equal the reference's bit for bit.
void check_chain(std::string_view first, const TestArgs& args, std::string_view second,
                 const ir::CallArgs& rest) {
  for (bool symbolic : {false, true}) {
    for (bool backend_passes : {false, true}) {
      SCOPED_TRACE(std::string(first) + " then " + std::string(second) +
                   (symbolic ? ", symbolic" : "") + (backend_passes ? ", passes" : ""));
      OpProgram op = build_op_program(first, args, symbolic);
      ir::ExportedProgram& p = op.program;
      ir::CallArgs call = {{"self", ir::TensorArg{ir::node_outputs(p.graph.nodes.back())[0]}}};
      call.insert(call.end(), rest.begin(), rest.end());
      ir::ValueId out = ir::append_node(p.graph, second, call, "op2")[0];
      passes::refresh_view_layout(p.graph, p.graph.nodes.back(), p.ranges);
      p.graph.outputs = {ir::TensorArg{out}};
      p.signature.outputs = {{ir::OutputKind::kUserOutput, ir::TensorArg{out}, ""}};
      ir::verify(p);
      ref::Interpreter interpreter(
          p, std::vector<std::optional<ref::Tensor>>(p.signature.inputs.size()));
      std::vector<ref::RValue> want = interpreter.run_user_outputs(
          std::vector<ref::RValue>(op.inputs.begin(), op.inputs.end()));
      if (backend_passes) passes::prepare_for_backend(p);
      std::vector<ref::Tensor> got = lower::evaluate(lower::lower_program(p), op.inputs, {});
      ASSERT_EQ(got.size(), 1u);
      EXPECT_TRUE(same_values(got[0], as_tensor(want[0])))
          << got[0].str() << " vs " << as_tensor(want[0]).str();
    }
  }
}

ir::Argument ints(std::vector<int64_t> v) {
  return v;
}

TEST(LowerShapeView, ReshapesOfLazyViews) {
  std::mt19937 rng(210);
  for (DType dtype : {DType::kFloat32, DType::kInt64}) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 4}, rng, -9, 9);
    TestArgs permute = {{"self", x}, {"dims", Ints{1, 0, 2}}};
    for (const Ints& shape :
         {Ints{6, 4}, Ints{3, 8}, Ints{24}, Ints{3, 2, 2, 2}, Ints{1, 6, 4, 1}}) {
      check_chain("aten.permute.default", permute, "aten.reshape.default",
                  {{"shape", ints(shape)}});
    }
    TestArgs expand = {{"self", random_tensor(dtype, {3, 1}, rng, -9, 9)}, {"size", Ints{2, 3, 4}}};
    for (const Ints& shape : {Ints{6, 4}, Ints{2, 12}, Ints{24}, Ints{4, 6}}) {
      check_chain("aten.expand.default", expand, "aten.reshape.default", {{"shape", ints(shape)}});
    }
    TestArgs slice = {{"self", random_tensor(dtype, {4, 6}, rng, -9, 9)},
                      {"dim", int64_t{1}},
                      {"start", int64_t{1}},
                      {"end", int64_t{5}}};
    check_chain("aten.slice.Tensor", slice, "aten.reshape.default", {{"shape", ints({2, 2, 4})}});
    check_chain("aten.slice.Tensor", slice, "aten.reshape.default", {{"shape", ints({16})}});
    check_chain("aten.view.default", {{"self", x}, {"size", Ints{6, 4}}}, "aten.permute.default",
                {{"dims", ints({1, 0})}});
    check_chain("aten.transpose.int", {{"self", x}, {"dim0", int64_t{0}}, {"dim1", int64_t{2}}},
                "aten.select.int", {{"dim", int64_t{1}}, {"index", int64_t{-1}}});
  }
}

// The number of kernels and extern calls a one-node program lowers to.
size_t steps_of(std::string_view target, const TestArgs& args, bool symbolic) {
  OpProgram op = build_op_program(target, args, symbolic);
  return lower::lower_program(op.program).steps.size();
}

TEST(LowerShapeView, ViewsAreIndexMapsNotCopies) {
  std::mt19937 rng(209);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  const std::pair<const char*, TestArgs> views[] = {
      {"aten.view.default", {{"self", x}, {"size", Ints{4, 6}}}},
      {"aten.permute.default", {{"self", x}, {"dims", Ints{2, 1, 0}}}},
      {"aten.expand.default", {{"self", x}, {"size", Ints{5, 2, 3, 4}}}},
      {"aten.slice.Tensor", {{"self", x}, {"dim", int64_t{2}}, {"start", int64_t{1}}}},
      {"aten.select.int", {{"self", x}, {"dim", int64_t{1}}, {"index", int64_t{2}}}},
      {"aten.unsqueeze.default", {{"self", x}, {"dim", int64_t{1}}}},
  };
  for (bool symbolic : {false, true}) {
    for (const auto& [target, args] : views) {
      // One kernel: the copy into the output buffer, reading the input through the view.
      EXPECT_EQ(steps_of(target, args, symbolic), 1u) << target;
    }
  }
}

}  // namespace
}  // namespace kiln::testing
