#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/passes.h"

namespace kiln::testing {
namespace {

using ir::DType;
using ir::InputKind;

ref::Tensor iota(DType dtype, std::vector<int64_t> sizes, double scale = 1) {
  ref::Tensor t(dtype, std::move(sizes));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, scale * static_cast<double>(i));
  return t;
}

ir::ExportedProgram program_with_constants() {
  ProgramBuilder b;
  auto w =
      b.stored("p_w", InputKind::kParameter, "lin.weight", iota(DType::kFloat32, {4, 3}, 0.25));
  auto off = b.stored("b_offset", InputKind::kBuffer, "offset", iota(DType::kFloat32, {4}));
  auto count = b.stored("b_count", InputKind::kBuffer, "count", iota(DType::kInt64, {1}));
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 3});
  b.program.ranges["s0"] = {1, 8};
  auto w2 = b.op("aten.mul.Tensor", {{"self", T(w)}, {"other", 2.0}}, "mul");
  auto wt = b.op("aten.t.default", {{"self", T(w2)}}, "t");
  auto mm = b.op("aten.matmul.default", {{"self", T(x)}, {"other", T(wt)}}, "matmul");
  auto bias = b.op("aten.add.Tensor", {{"self", T(off)}, {"other", 1.0}}, "add");
  auto neg = b.op("aten.neg.default", {{"self", T(bias)}}, "neg");
  auto out = b.op("aten.sub.Tensor", {{"self", T(mm)}, {"other", T(neg)}}, "sub");
  // Too large to be worth storing: 128 KiB from no input at all.
  auto big = b.op("aten.zeros.default", {{"size", std::vector<int64_t>{128, 256}}}, "zeros");
  auto total = b.op("aten.sum.default", {{"self", T(big)}}, "sum");
  // count is written (it has a buffer_mutation output): not a constant.
  auto next = b.op("aten.add.Tensor", {{"self", T(count)}, {"other", int64_t{1}}}, "add_1");
  b.output(next, ir::OutputKind::kBufferMutation, "count");
  b.output(out);
  b.output(total);
  b.output(wt);
  return b.finish();
}

TEST(FoldConstants, FoldsIntoStoredConstantsTheInterpreterReads) {
  ir::ExportedProgram before = program_with_constants();
  ir::ExportedProgram after = before;
  passes::fold_constants(after);
  ir::verify(after);
  // mul(w, 2) is stored (t of it is a view: free, so not stored); add and neg fold into one
  // stored value; sum(zeros) folds, zeros alone would have been too large to store.
  EXPECT_EQ(ir::print(after),
            "graph(%p_w: f32[4, 3], %b_offset: f32[4], %b_count: i64[1], %_folded_mul: f32[4, 3], "
            "%_folded_neg: f32[4], %_folded_sum: f32[], %x: f32[s0, 3]):\n"
            "  %t: f32[3, 4] stride=[1, 3] = aten.t.default(%_folded_mul)\n"
            "  %matmul: f32[s0, 4] = aten.matmul.default(%x, %t)\n"
            "  %sub: f32[s0, 4] = aten.sub.Tensor(%matmul, %_folded_neg)\n"
            "  %add_1: i64[1] = aten.add.Tensor(%b_count, 1)\n"
            "  return (%add_1, %sub, %_folded_sum, %t)\n"
            "signature:\n"
            "  input %p_w: parameter lin.weight\n"
            "  input %b_offset: buffer offset\n"
            "  input %b_count: buffer count\n"
            "  input %_folded_mul: tensor_constant _folded.mul\n"
            "  input %_folded_neg: tensor_constant _folded.neg\n"
            "  input %_folded_sum: tensor_constant _folded.sum\n"
            "  input %x: user_input\n"
            "  output %add_1: buffer_mutation count\n"
            "  output %sub: user_output\n"
            "  output %_folded_sum: user_output\n"
            "  output %t: user_output\n"
            "constants:\n"
            "  _folded.mul: f32[4, 3], 48 bytes\n"
            "  _folded.neg: f32[4], 16 bytes\n"
            "  _folded.sum: f32[], 4 bytes\n"
            "ranges:\n"
            "  s0: [1, 8]\n");
  ref::Tensor neg = passes::tensor_from_constant(after.constants.at("_folded.neg"));
  EXPECT_TRUE(same_values(neg, make_tensor(DType::kFloat32, {4}, {-1, -2, -3, -4})));
  std::mt19937 rng(5);
  for (int64_t rows : {1, 6}) {
    std::vector<ref::RValue> in{random_tensor(DType::kFloat32, {rows, 3}, rng)};
    EXPECT_TRUE(same_outputs(run_all(after, in), run_all(before, in)));
  }
}

TEST(FoldConstants, NothingToFoldLeavesTheProgramAlone) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0")});
  b.program.ranges["s0"] = {1, 8};
  auto sz = b.op("aten.sym_size.int", {{"self", T(x)}, {"dim", int64_t{0}}}, "sym_size_int");
  // Depends on a SymInt: its value differs per call.
  auto a = b.op("aten.arange.default", {{"end", ir::SymIntArg{sz, 0}}}, "arange");
  b.output(a);
  ir::ExportedProgram p = b.finish();
  std::string text = ir::print(p);
  passes::fold_constants(p);
  EXPECT_EQ(ir::print(p), text);
}

TEST(FoldConstants, WithoutStoredTensorsOnlyLiteralsFold) {
  ir::ExportedProgram p = program_with_constants();
  p.read_stored = nullptr;
  passes::fold_constants(p);
  ir::verify(p);
  std::string text = ir::print(p);
  EXPECT_EQ(text.find("_folded.mul"), std::string::npos) << text;
  EXPECT_NE(text.find("_folded.sum"), std::string::npos) << text;
}

}  // namespace
}  // namespace kiln::testing
