// decompose: the IR it leaves for a few composite ops, how it rewires uses and repeats until
// only primitive ops remain, and every fixture model through the whole backend pipeline: no
// composite op is left and the interpreter still reproduces PyTorch's stored outputs.
#include <gtest/gtest.h>

#include "fixture_models.h"
#include "frontend/load.h"
#include "ops/op_table.h"
#include "pass_test_util.h"
#include "passes/passes.h"
#include "ref/npy_io.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

std::string composites(const ir::Graph& g) {
  std::string out;
  for (const ir::Node& n : g.nodes) {
    const ops::OpDef* op = ops::find_op(n.target);
    if (op != nullptr && op->decompose != nullptr) out += (out.empty() ? "" : ", ") + n.target;
  }
  return out;
}

// The program after decompose, checked against the program before on random inputs.
std::string decomposed(ir::ExportedProgram p, const std::vector<ref::RValue>& inputs) {
  ir::ExportedProgram before = p;
  passes::decompose(p);
  ir::verify(p);
  EXPECT_EQ(composites(p.graph), "");
  EXPECT_TRUE(same_outputs(run_all(p, inputs), run_all(before, inputs), 1e-5));
  return ir::print(p);
}

TEST(Decompose, SiluBecomesSigmoidTimesInput) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 8});
  b.program.ranges["s0"] = {1, 64};
  auto y = b.op("aten.silu.default", {{"self", T(x)}}, "silu");
  b.output(b.op("aten.neg.default", {{"self", T(y)}}, "neg"));
  ir::ExportedProgram p = b.finish();
  EXPECT_EQ(ir::print(p),
            "graph(%x: f32[s0, 8]):\n"
            "  %silu: f32[s0, 8] = aten.silu.default(%x)\n"
            "  %neg: f32[s0, 8] = aten.neg.default(%silu)\n"
            "  return (%neg)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %neg: user_output\n"
            "ranges:\n"
            "  s0: [1, 64]\n");
  std::mt19937 rng(1);
  EXPECT_EQ(decomposed(p, {random_tensor(DType::kFloat32, {3, 8}, rng)}),
            "graph(%x: f32[s0, 8]):\n"
            "  %silu_sigmoid: f32[s0, 8] = aten.sigmoid.default(%x)\n"
            "  %silu_mul: f32[s0, 8] = aten.mul.Tensor(%x, %silu_sigmoid)\n"
            "  %neg: f32[s0, 8] = aten.neg.default(%silu_mul)\n"
            "  return (%neg)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %neg: user_output\n"
            "ranges:\n"
            "  s0: [1, 64]\n");
}

TEST(Decompose, LinearOfABatchFoldsRowsIntoAddmm) {
  ProgramBuilder b;
  std::mt19937 rng(2);
  ref::Tensor w = random_tensor(DType::kFloat32, {4, 8}, rng);
  ref::Tensor bias = random_tensor(DType::kFloat32, {4}, rng);
  auto pw = b.stored("p_w", ir::InputKind::kParameter, "fc.weight", w);
  auto pb = b.stored("p_b", ir::InputKind::kParameter, "fc.bias", bias);
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 3, 8});
  b.program.ranges["s0"] = {1, 64};
  b.output(
      b.op("aten.linear.default", {{"input", T(x)}, {"weight", T(pw)}, {"bias", T(pb)}}, "linear"));
  EXPECT_EQ(decomposed(b.finish(), {random_tensor(DType::kFloat32, {2, 3, 8}, rng)}),
            "graph(%p_w: f32[4, 8], %p_b: f32[4], %x: f32[s0, 3, 8]):\n"
            "  %linear_permute: f32[8, 4] stride=[1, 8] = aten.permute.default(%p_w, [1, 0])\n"
            "  %linear_sym_size: SymInt(s0) = aten.sym_size.int(%x, 0)\n"
            "  %linear_mul: SymInt(3*s0) = _operator.mul(3, %linear_sym_size)\n"
            "  %linear_reshape: f32[3*s0, 8] = aten.reshape.default(%x, [%linear_mul, 8])\n"
            "  %linear_addmm: f32[3*s0, 4] = aten.addmm.default(%p_b, %linear_reshape, "
            "%linear_permute)\n"
            "  %linear_reshape_1: f32[s0, 3, 4] = aten.reshape.default(%linear_addmm, "
            "[%linear_sym_size, 3, 4])\n"
            "  return (%linear_reshape_1)\n"
            "signature:\n"
            "  input %p_w: parameter fc.weight\n"
            "  input %p_b: parameter fc.bias\n"
            "  input %x: user_input\n"
            "  output %linear_reshape_1: user_output\n"
            "ranges:\n"
            "  s0: [1, 64]\n");
}

TEST(Decompose, SoftmaxSubtractsTheMaximum) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat16, {2, 5});
  b.output(b.op("aten.softmax.int", {{"self", T(x)}, {"dim", int64_t{-1}}}, "softmax"));
  std::mt19937 rng(3);
  ir::ExportedProgram p = b.finish();
  ir::ExportedProgram before = p;
  passes::decompose(p);
  EXPECT_EQ(ir::print(p),
            "graph(%x: f16[2, 5]):\n"
            "  %softmax_to_copy: f32[2, 5] = aten._to_copy.default(%x, dtype=f32)\n"
            "  %softmax_amax: f32[2, 1] = aten.amax.default(%softmax_to_copy, [1], True)\n"
            "  %softmax_sub: f32[2, 5] = aten.sub.Tensor(%softmax_to_copy, %softmax_amax)\n"
            "  %softmax_exp: f32[2, 5] = aten.exp.default(%softmax_sub)\n"
            "  %softmax_sum: f32[2, 1] = aten.sum.dim_IntList(%softmax_exp, [1], True)\n"
            "  %softmax_div: f32[2, 5] = aten.div.Tensor(%softmax_exp, %softmax_sum)\n"
            "  %softmax_to_copy_1: f16[2, 5] = aten._to_copy.default(%softmax_div, "
            "dtype=f16)\n"
            "  return (%softmax_to_copy_1)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %softmax_to_copy_1: user_output\n");
  std::vector<ref::RValue> in{random_tensor(DType::kFloat16, {2, 5}, rng, -6, 6)};
  EXPECT_TRUE(same_outputs(run_all(p, in), run_all(before, in), 2e-3));
}

TEST(Decompose, RepeatsUntilOnlyPrimitivesRemain) {
  // sdpa emits matmul and _softmax, which decompose in later rounds; chunk's outputs feed
  // other nodes and the graph outputs.
  ProgramBuilder b;
  auto q = b.input("q", DType::kFloat32, {2, sy("s0"), 4});
  b.program.ranges["s0"] = {1, 32};
  auto parts = b.ops("aten.chunk.default", {{"self", T(q)}, {"chunks", int64_t{2}}}, "chunk");
  auto att = b.op(
      "aten.scaled_dot_product_attention.default",
      {{"query", T(parts[0])}, {"key", T(parts[1])}, {"value", T(parts[1])}, {"is_causal", true}},
      "sdpa");
  b.output(att);
  b.output(parts[1]);
  std::mt19937 rng(4);
  std::string ir = decomposed(b.finish(), {random_tensor(DType::kFloat32, {2, 5, 4}, rng)});
  EXPECT_NE(ir.find("aten.bmm.default"), std::string::npos) << ir;
  EXPECT_NE(ir.find("aten.exp.default"), std::string::npos) << ir;
  EXPECT_NE(ir.find("aten.slice.Tensor"), std::string::npos) << ir;
}

TEST(Decompose, LeavesPrimitiveProgramsAlone) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {3, 4});
  b.output(b.op("aten.relu.default", {{"self", T(x)}}, "relu"));
  ir::ExportedProgram p = b.finish();
  std::string before = ir::print(p);
  passes::decompose(p);
  EXPECT_EQ(ir::print(p), before);
}

TEST(Decompose, ViewsOfAReplacedValueFollowItsNewLayout) {
  // empty_like in channels-last order becomes a contiguous full; the permute viewing it was
  // laid out for channels-last and must describe the new layout, or resolve_views, which
  // checks recorded strides against computed ones, would find them disagreeing.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {2, 3, 4, 5});
  auto e = b.op("aten.empty_like.default",
                {{"self", T(x)}, {"memory_format", ir::MemoryFormat::kChannelsLast}}, "empty");
  const std::vector<int64_t> nhwc{0, 2, 3, 1};
  auto pe = b.op("aten.permute.default", {{"self", T(e)}, {"dims", nhwc}}, "pe");
  auto px = b.op("aten.permute.default", {{"self", T(x)}, {"dims", nhwc}}, "px");
  b.output(b.op("aten.add.Tensor", {{"self", T(pe)}, {"other", T(px)}}, "sum"));
  ir::ExportedProgram p = b.finish();
  auto strides_of = [](const ir::ExportedProgram& prog, std::string_view name) {
    std::string out;
    for (const sym::Expr& stride :
         prog.graph.values[static_cast<size_t>(*prog.graph.find(name))].type.strides)
      out += stride.str() + " ";
    return out;
  };
  ASSERT_EQ(strides_of(p, "pe"), "60 15 3 1 ");
  std::mt19937 rng(5);
  std::vector<ref::RValue> in{random_tensor(DType::kFloat32, {2, 3, 4, 5}, rng)};
  ir::ExportedProgram q = p;
  passes::decompose(q);
  EXPECT_EQ(q.graph.nodes.at(0).target, "aten.full.default");
  EXPECT_EQ(strides_of(q, "pe"), "60 5 1 20 ");
  ASSERT_NO_THROW(passes::resolve_views(q));
  ir::verify(q);
  EXPECT_TRUE(same_outputs(run_all(q, in), run_all(p, in)));
}

class DecomposeOnFixture : public ::testing::TestWithParam<FixtureModel> {};

double tolerance(const std::string& dtype) {
  if (dtype == "f32" || dtype == "f64") return 1e-5;
  if (dtype == "f16" || dtype == "bf16") return 1e-2;
  return 0;
}

TEST_P(DecomposeOnFixture, PipelineLeavesOnlyPrimitivesAndMatchesTorch) {
  const FixtureModel& fx = GetParam();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram p = loaded.program;
  ASSERT_NO_THROW(passes::prepare_for_backend(p));
  EXPECT_EQ(composites(p.graph), "");
  ref::Interpreter interpreter(p, passes::stored_tensors(loaded, p));
  std::vector<const ir::Value*> user_inputs;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput) {
      user_inputs.push_back(&p.graph.values[static_cast<size_t>(p.graph.inputs[i])]);
    }
  }
  for (const auto& c : fx.manifest()["cases"]) {
    std::vector<ref::RValue> args;
    for (size_t i = 0; i < c["inputs"].size(); ++i) {
      auto file = (fx.dir / c["inputs"][i]["file"].get<std::string>()).string();
      args.push_back(ref::value_from_npy(util::read_npy(file), *user_inputs.at(i), file));
    }
    std::vector<ref::RValue> got = interpreter.run_user_outputs(args);
    ASSERT_EQ(got.size(), c["outputs"].size());
    for (size_t o = 0; o < got.size(); ++o) {
      SCOPED_TRACE("output " + std::to_string(o));
      const auto& spec = c["outputs"][o];
      ref::Tensor want =
          ref::tensor_from_npy(util::read_npy(fx.dir / spec["file"].get<std::string>()));
      ref::Tensor have = ref::tensor_from_npy(ref::npy_from_value(got[o], o));
      ASSERT_EQ(have.sizes(), want.sizes());
      double tol = tolerance(spec["dtype"].get<std::string>());
      if (tol == 0) {
        EXPECT_TRUE(same_values(have, want));
      } else {
        EXPECT_LE(relative_error(have, want), tol);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecomposeOnFixture, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
