#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

TEST(ResolveViews, ViewChainsBecomeStridesOverTheirRoot) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 8});
  b.program.ranges["s0"] = {2, 16};
  auto sz = b.op("aten.sym_size.int", {{"self", T(x)}, {"dim", int64_t{0}}}, "sym_size_int");
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(x)}, {"dim", int64_t{1}}, {"start", int64_t{2}}, {"end", int64_t{6}}},
                "slice");
  auto v =
      b.op("aten.view.default",
           {{"self", T(s)},
            {"size", std::vector<ir::SymIntArg>{{sz, 0}, {std::nullopt, 2}, {std::nullopt, 2}}}},
           "view");
  auto t = b.op("aten.transpose.int", {{"self", T(v)}, {"dim0", int64_t{0}}, {"dim1", int64_t{2}}},
                "transpose");
  auto u = b.op("aten.unsqueeze.default", {{"self", T(t)}, {"dim", int64_t{0}}}, "unsqueeze");
  auto sel = b.op("aten.select.int", {{"self", T(x)}, {"dim", int64_t{0}}, {"index", int64_t{1}}},
                  "select");
  auto e =
      b.op("aten.expand.default",
           {{"self", T(sel)}, {"size", std::vector<ir::SymIntArg>{{sz, 0}, {std::nullopt, 8}}}},
           "expand");
  auto r = b.op("aten.relu.default", {{"self", T(t)}}, "relu");
  auto p = b.op("aten.permute.default", {{"self", T(r)}, {"dims", std::vector<int64_t>{2, 0, 1}}},
                "permute");
  b.output(u);
  b.output(e);
  b.output(p);
  ir::ExportedProgram prog = b.finish();
  ir::ExportedProgram before = prog;
  passes::resolve_views(prog);
  ir::verify(prog);
  // s0 rows of 8: the slice starts at column 2; view splits its 4 columns in 2 x 2, which the
  // transpose and unsqueeze rearrange. relu's output is a new root, so its permute strides over
  // a contiguous [2, 2, s0].
  EXPECT_EQ(ir::print(prog),
            "graph(%x: f32[s0, 8]):\n"
            "  %sym_size_int: SymInt(s0) = aten.sym_size.int(%x, 0)\n"
            "  %slice: f32[s0, 4] stride=[8, 1] offset=2 view_of=%x = aten.slice.Tensor(%x, 1, 2, "
            "6)\n"
            "  %view: f32[s0, 2, 2] stride=[8, 2, 1] offset=2 view_of=%x = "
            "aten.view.default(%slice, [%sym_size_int, 2, 2])\n"
            "  %transpose: f32[2, 2, s0] stride=[1, 2, 8] offset=2 view_of=%x = "
            "aten.transpose.int(%view, 0, 2)\n"
            "  %unsqueeze: f32[1, 2, 2, s0] stride=[2, 1, 2, 8] offset=2 view_of=%x = "
            "aten.unsqueeze.default(%transpose, 0)\n"
            "  %select: f32[8] offset=8 view_of=%x = aten.select.int(%x, 0, 1)\n"
            "  %expand: f32[s0, 8] stride=[0, 1] offset=8 view_of=%x = "
            "aten.expand.default(%select, [%sym_size_int, 8])\n"
            "  %relu: f32[2, 2, s0] = aten.relu.default(%transpose)\n"
            "  %permute: f32[s0, 2, 2] stride=[1, 2*s0, s0] view_of=%relu = "
            "aten.permute.default(%relu, [2, 0, 1])\n"
            "  return (%unsqueeze, %expand, %permute)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %unsqueeze: user_output\n"
            "  output %expand: user_output\n"
            "  output %permute: user_output\n"
            "ranges:\n"
            "  s0: [2, 16]\n");
  std::mt19937 rng(3);
  std::vector<ref::RValue> in{random_tensor(DType::kFloat32, {5, 8}, rng)};
  EXPECT_TRUE(same_outputs(run_all(prog, in), run_all(before, in)));
}

TEST(ResolveViews, ReshapeOfAPermutedTensorStaysACopy) {
  // permute(x, [2, 0, 1]) keeps dims 0 and 1 of x adjacent in memory: merging them is a view;
  // flattening everything, or merging x's dim 2 with dim 0, needs a copy.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {2, 3, 4});
  auto p = b.op("aten.permute.default", {{"self", T(x)}, {"dims", std::vector<int64_t>{2, 0, 1}}},
                "permute");
  auto merged = b.op("aten.reshape.default",
                     {{"self", T(p)}, {"shape", std::vector<int64_t>{4, 6}}}, "reshape");
  auto flat = b.op("aten.reshape.default", {{"self", T(p)}, {"shape", std::vector<int64_t>{24}}},
                   "reshape_1");
  auto other = b.op("aten.reshape.default", {{"self", T(p)}, {"shape", std::vector<int64_t>{8, 3}}},
                    "reshape_2");
  b.output(merged);
  b.output(flat);
  b.output(other);
  ir::ExportedProgram prog = b.finish();
  ir::ExportedProgram before = prog;
  passes::resolve_views(prog);
  ir::verify(prog);
  EXPECT_EQ(ir::print(prog),
            "graph(%x: f32[2, 3, 4]):\n"
            "  %permute: f32[4, 2, 3] stride=[1, 12, 4] view_of=%x = aten.permute.default(%x, [2, "
            "0, 1])\n"
            "  %reshape: f32[4, 6] stride=[1, 4] view_of=%x = aten.reshape.default(%permute, [4, "
            "6])\n"
            "  %permute_contiguous: f32[4, 2, 3] = aten.clone.default(%permute, "
            "memory_format=contiguous_format)\n"
            "  %reshape_1: f32[24] view_of=%permute_contiguous = "
            "aten.reshape.default(%permute_contiguous, [24])\n"
            "  %permute_contiguous_1: f32[4, 2, 3] = aten.clone.default(%permute, "
            "memory_format=contiguous_format)\n"
            "  %reshape_2: f32[8, 3] view_of=%permute_contiguous_1 = "
            "aten.reshape.default(%permute_contiguous_1, [8, 3])\n"
            "  return (%reshape, %reshape_1, %reshape_2)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %reshape: user_output\n"
            "  output %reshape_1: user_output\n"
            "  output %reshape_2: user_output\n");
  std::mt19937 rng(4);
  std::vector<ref::RValue> in{random_tensor(DType::kFloat32, {2, 3, 4}, rng)};
  EXPECT_TRUE(same_outputs(run_all(prog, in), run_all(before, in)));
}

TEST(ResolveViews, SymbolicReshapeOfATransposeIsACopy) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 8});
  b.program.ranges["s0"] = {2, 16};
  auto t = b.op("aten.transpose.int", {{"self", T(x)}, {"dim0", int64_t{0}}, {"dim1", int64_t{1}}},
                "transpose");
  auto f = b.op("aten.flatten.using_ints", {{"self", T(t)}}, "flatten");
  b.output(f);
  ir::ExportedProgram prog = b.finish();
  passes::resolve_views(prog);
  ir::verify(prog);
  EXPECT_EQ(ir::print(prog),
            "graph(%x: f32[s0, 8]):\n"
            "  %transpose: f32[8, s0] stride=[1, 8] view_of=%x = aten.transpose.int(%x, 0, 1)\n"
            "  %transpose_contiguous: f32[8, s0] = aten.clone.default(%transpose, "
            "memory_format=contiguous_format)\n"
            "  %flatten: f32[8*s0] view_of=%transpose_contiguous = "
            "aten.flatten.using_ints(%transpose_contiguous)\n"
            "  return (%flatten)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %flatten: user_output\n"
            "ranges:\n"
            "  s0: [2, 16]\n");
}

TEST(ResolveViews, DisagreementWithTheRecordedStridesThrows) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4, 8});
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(x)}, {"dim", int64_t{1}}, {"start", int64_t{2}}, {"end", int64_t{6}}},
                "slice");
  b.output(s);
  ir::ExportedProgram prog = b.finish();
  prog.graph.values[static_cast<size_t>(s)].type.strides = {4, 1};  // as if the rule were wrong
  try {
    passes::resolve_views(prog);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "resolve_views: node 'slice' (aten.slice.Tensor): computed stride=[8, 1] offset=2 "
              "for %slice but the export records stride=[4, 1] offset=2");
  }
}

TEST(ViewLayout, ViewStridesFollowPyTorch) {
  sym::RangeMap ranges{{"s0", {2, 16}}};
  auto strides = [&](std::vector<sym::Expr> sizes, std::vector<sym::Expr> st,
                     std::vector<sym::Expr> to) -> std::string {
    auto r = passes::view_strides(sizes, st, to, ranges);
    if (!r) return "copy";
    std::string out;
    for (const auto& e : *r)
      out += (out.empty() ? "" : ",") + e.str();
    return out;
  };
  EXPECT_EQ(strides({2, 3, 4}, {12, 4, 1}, {6, 4}), "4,1");
  EXPECT_EQ(strides({4, 2, 3}, {1, 12, 4}, {4, 6}), "1,4");
  EXPECT_EQ(strides({4, 2, 3}, {1, 12, 4}, {24}), "copy");
  EXPECT_EQ(strides({4, 1, 3}, {1, 7, 4}, {4, 3}), "1,4");  // size-1 dims place no constraint
  EXPECT_EQ(strides({sy("s0"), 4}, {8, 1}, {sy("s0"), 2, 2}), "8,2,1");
  EXPECT_EQ(strides({8, sy("s0")}, {1, 8}, {8 * sy("s0")}), "copy");
  EXPECT_EQ(strides({sy("s0"), 8}, {8, 1}, {2 * sy("s0"), 4}), "4,1");
  EXPECT_TRUE(passes::provably_equal(sym::min(4, 4 * sy("s1")), 4, {{"s1", {5, 9}}}));
  EXPECT_TRUE(passes::provably_different(4 * sy("s0"), 8, ranges));
  EXPECT_FALSE(passes::provably_different(sym::max(sy("s0"), 2), sy("s0"), ranges));
}

}  // namespace
}  // namespace kiln::testing
