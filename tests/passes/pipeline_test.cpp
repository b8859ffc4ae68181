#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

TEST(Pipeline, RunsThePassesInOrderAndFindsThemByName) {
  std::vector<std::string> names;
  for (const passes::PassInfo& p : passes::backend_pipeline())
    names.emplace_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"inline_higher_order", "functionalize", "drop_noops",
                                             "decompose", "fold_conv_batchnorm", "resolve_views",
                                             "fold_constants", "eliminate_dead_code"}));
  ASSERT_NE(passes::find_pass("resolve_views"), nullptr);
  EXPECT_EQ(passes::find_pass("resolve_views")->run, &passes::resolve_views);
  EXPECT_EQ(passes::find_pass("no_such_pass"), nullptr);
}

TEST(Pipeline, PreparesAProgramForTheBackend) {
  // x: user input; w: a parameter. c = x.clone(); c[:, :2] = w.t() * 2; c[1] *= 2;
  // returns (c, c.t().reshape(-1)).
  ProgramBuilder b;
  ref::Tensor w_val(DType::kFloat32, {2, 4});
  for (int64_t i = 0; i < 8; ++i)
    w_val.set(i, static_cast<double>(i));
  auto w = b.stored("p_w", ir::InputKind::kParameter, "w", w_val);
  auto x = b.input("x", DType::kFloat32, {4, 6});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto wt = b.op("aten.t.default", {{"self", T(w)}}, "t");
  auto w2 = b.op("aten.mul.Tensor", {{"self", T(wt)}, {"other", 2.0}}, "mul");
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(c)}, {"dim", int64_t{1}}, {"start", int64_t{0}}, {"end", int64_t{2}}},
                "slice");
  b.op("aten.copy_.default", {{"self", T(s)}, {"src", T(w2)}}, "copy_");
  auto r = b.op("aten.select.int", {{"self", T(c)}, {"dim", int64_t{0}}, {"index", int64_t{1}}},
                "select");
  b.op("aten.mul_.Tensor", {{"self", T(r)}, {"other", 2.0}}, "mul_");
  auto ct = b.op("aten.t.default", {{"self", T(c)}}, "t_1");
  auto flat = b.op("aten.reshape.default", {{"self", T(ct)}, {"shape", std::vector<int64_t>{-1}}},
                   "reshape");
  b.output(c);
  b.output(flat);
  ir::ExportedProgram before = b.finish();
  ir::ExportedProgram p = before;
  std::vector<std::string> seen;
  passes::prepare_for_backend(p, [&](const passes::PassInfo& pass, const ir::ExportedProgram& q) {
    seen.emplace_back(pass.name);
    EXPECT_NO_THROW(ir::verify(q));
  });
  EXPECT_EQ(seen.size(), passes::backend_pipeline().size());
  EXPECT_EQ(ir::print(p),
            "graph(%p_w: f32[2, 4], %_folded_mul: f32[4, 2], %x: f32[4, 6]):\n"
            "  %slice_scatter: f32[4, 6] = aten.slice_scatter.default(%x, %_folded_mul, 1, 0, "
            "2)\n"
            "  %select: f32[6] offset=6 view_of=%slice_scatter = aten.select.int(%slice_scatter, "
            "0, 1)\n"
            "  %mul_: f32[6] = aten.mul.Tensor(%select, 2.0)\n"
            "  %select_scatter: f32[4, 6] = aten.select_scatter.default(%slice_scatter, %mul_, 0, "
            "1)\n"
            "  %t_1: f32[6, 4] stride=[1, 6] view_of=%select_scatter = "
            "aten.t.default(%select_scatter)\n"
            "  %t_1_contiguous: f32[6, 4] = aten.clone.default(%t_1, "
            "memory_format=contiguous_format)\n"
            "  %reshape: f32[24] view_of=%t_1_contiguous = aten.reshape.default(%t_1_contiguous, "
            "[-1])\n"
            "  return (%select_scatter, %reshape)\n"
            "signature:\n"
            "  input %p_w: parameter w\n"
            "  input %_folded_mul: tensor_constant _folded.mul\n"
            "  input %x: user_input\n"
            "  output %select_scatter: user_output\n"
            "  output %reshape: user_output\n"
            "constants:\n"
            "  _folded.mul: f32[4, 2], 32 bytes\n");
  std::mt19937 rng(9);
  ref::Tensor x_val = random_tensor(DType::kFloat32, {4, 6}, rng);
  ref::Tensor c_val = x_val;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      c_val.set(i * 6 + j, 2 * w_val.get(j * 4 + i));
  for (int64_t j = 0; j < 6; ++j)
    c_val.set(6 + j, 2 * c_val.get(6 + j));
  ref::Tensor flat_val(DType::kFloat32, {24});
  for (int64_t j = 0; j < 6; ++j)
    for (int64_t i = 0; i < 4; ++i)
      flat_val.set(j * 4 + i, c_val.get(i * 6 + j));
  EXPECT_TRUE(same_outputs(run_all(p, {x_val}), {c_val, flat_val}));
}

TEST(Pipeline, AFailingVerificationNamesThePass) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4});
  auto r = b.op("aten.relu.default", {{"self", T(x)}}, "relu");
  b.output(r);
  ir::ExportedProgram p = b.finish();
  p.signature.outputs.clear();  // no longer matches the graph's outputs
  try {
    passes::prepare_for_backend(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("after pass inline_higher_order: IR verification failed", 0),
        0u)
        << e.what();
  }
}

TEST(InlineHigherOrder, SplicesTheSubgraphIntoTheGraph) {
  auto body = std::make_shared<ir::Graph>();
  {
    ir::Value in;
    in.name = "x";
    in.type = ir::TensorType::contiguous(DType::kFloat32, {sy("s0")});
    body->inputs.push_back(body->add_value(in));
    auto r = ir::append_node(*body, "aten.relu.default", {{"self", T(body->inputs[0])}}, "relu");
    auto n = ir::append_node(*body, "aten.neg.default", {{"self", T(r[0])}}, "neg");
    body->outputs = {T(r[0]), T(n[0])};
  }
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0")});
  b.program.ranges["s0"] = {1, 8};
  ir::Node hop;
  hop.name = "wrap";
  hop.target = "higher_order.wrap_with_set_grad_enabled";
  hop.inputs = {{"", false, ir::ArgKindHint::kPositional},
                {"", ir::SubgraphArg{"submod_1", body}, ir::ArgKindHint::kPositional},
                {"", T(x), ir::ArgKindHint::kPositional}};
  ir::Value o0, o1;
  o0.name = "relu";
  o0.type = body->values[1].type;
  o1.name = "neg";
  o1.type = body->values[2].type;
  auto v0 = b.program.graph.add_value(o0);
  auto v1 = b.program.graph.add_value(o1);
  hop.outputs = {T(v0), T(v1)};
  b.program.graph.nodes.push_back(hop);
  ir::renumber_producers(b.program.graph);
  auto s = b.op("aten.add.Tensor", {{"self", T(v0)}, {"other", T(v1)}}, "add");
  b.output(s);
  ir::ExportedProgram p = b.finish();
  passes::inline_higher_order(p);
  ir::verify(p);
  EXPECT_EQ(ir::print(p),
            "graph(%x: f32[s0]):\n"
            "  %relu: f32[s0] = aten.relu.default(%x)\n"
            "  %neg: f32[s0] = aten.neg.default(%relu)\n"
            "  %add: f32[s0] = aten.add.Tensor(%relu, %neg)\n"
            "  return (%add)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %add: user_output\n"
            "ranges:\n"
            "  s0: [1, 8]\n");
}

TEST(IrAdditions, VerifierChecksViewsAndConstants) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4, 6});
  auto t = b.op("aten.t.default", {{"self", T(x)}}, "t");
  auto s = b.op("aten.select.int", {{"self", T(t)}, {"dim", int64_t{0}}, {"index", int64_t{1}}},
                "select");
  b.output(s);
  ir::ExportedProgram p = b.finish();
  passes::resolve_views(p);
  ASSERT_NO_THROW(ir::verify(p));
  ir::ExportedProgram bad = p;
  bad.graph.values[static_cast<size_t>(s)].view_of = t;  // a view of a view
  EXPECT_THROW(ir::verify(bad), Error);
  bad = p;
  bad.graph.values[static_cast<size_t>(t)].view_of = s;  // a root defined later
  EXPECT_THROW(ir::verify(bad), Error);
  bad = p;
  bad.constants["_folded.nothing"] = {DType::kFloat32, {1}, std::vector<std::byte>(4)};
  EXPECT_THROW(ir::verify(bad), Error);  // no input takes it
}

}  // namespace
}  // namespace kiln::testing
