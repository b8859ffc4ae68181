#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/passes.h"

namespace kiln::testing {
namespace {

using ir::DType;

TEST(EliminateDeadCode, RemovesUnusedNodesAndKeepsEffects) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 4});
  auto unused_input = b.input("y", DType::kFloat32, {4});
  (void)unused_input;
  b.program.ranges["s0"] = {2, 16};
  auto sz = b.op("aten.sym_size.int", {{"self", T(x)}, {"dim", int64_t{0}}}, "sym_size_int");
  auto sz2 = b.op("_operator.mul", {{"a", ir::SymIntArg{sz, 0}}, {"b", int64_t{2}}}, "mul");
  (void)sz2;
  auto lt = b.op("_operator.lt", {{"a", ir::SymIntArg{sz, 0}}, {"b", int64_t{10}}}, "lt");
  b.op("aten._assert_scalar.default",
       {{"self", ir::SymBoolArg{lt, false}}, {"assert_msg", std::string("s0 < 10")}},
       "_assert_scalar");
  auto dead = b.op("aten.relu.default", {{"self", T(x)}}, "relu");
  b.op("aten.neg.default", {{"self", T(dead)}}, "neg");
  auto live = b.op("aten.sigmoid.default", {{"self", T(x)}}, "sigmoid");
  b.output(live);
  ir::ExportedProgram p = b.finish();
  passes::eliminate_dead_code(p);
  ir::verify(p);
  EXPECT_EQ(ir::print(p),
            "graph(%x: f32[s0, 4], %y: f32[4]):\n"
            "  %sym_size_int: SymInt(s0) = aten.sym_size.int(%x, 0)\n"
            "  %lt: SymBool(s0 < 10) = _operator.lt(%sym_size_int, 10)\n"
            "  aten._assert_scalar.default(%lt, \"s0 < 10\")\n"
            "  %sigmoid: f32[s0, 4] = aten.sigmoid.default(%x)\n"
            "  return (%sigmoid)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  input %y: user_input\n"
            "  output %sigmoid: user_output\n"
            "ranges:\n"
            "  s0: [2, 16]\n");
}

TEST(EliminateDeadCode, KeepsInPlaceWritesBeforeFunctionalization) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4});
  b.op("aten.relu_.default", {{"self", T(x)}}, "relu_");
  auto s = b.op("aten.sigmoid.default", {{"self", T(x)}}, "sigmoid");
  b.output(s);
  ir::ExportedProgram p = b.finish();
  std::string text = ir::print(p);
  passes::eliminate_dead_code(p);
  EXPECT_EQ(ir::print(p), text);
}

}  // namespace
}  // namespace kiln::testing
