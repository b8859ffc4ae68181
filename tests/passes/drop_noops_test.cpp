#include <gtest/gtest.h>

#include <limits>

#include "pass_test_util.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

ir::ExportedProgram noisy_program() {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 4});
  auto y = b.input("y", DType::kFloat32, {sy("s1")});
  b.program.ranges["s0"] = {2, 16};
  b.program.ranges["s1"] = {2, 16};
  auto sz = b.op("aten.sym_size.int", {{"self", T(x)}, {"dim", int64_t{0}}}, "sym_size_int");
  auto sz1 = b.op("aten.sym_size.int", {{"self", T(y)}, {"dim", int64_t{0}}}, "sym_size_int_1");
  auto ge = b.op("_operator.ge", {{"a", ir::SymIntArg{sz, 0}}, {"b", int64_t{2}}}, "ge");
  b.op("aten._assert_scalar.default",
       {{"self", ir::SymBoolArg{ge, false}}, {"assert_msg", std::string("s0 >= 2")}},
       "_assert_scalar");
  auto lt = b.op("_operator.lt", {{"a", ir::SymIntArg{sz, 0}}, {"b", int64_t{10}}}, "lt");
  b.op("aten._assert_scalar.default",
       {{"self", ir::SymBoolArg{lt, false}}, {"assert_msg", std::string("s0 < 10")}},
       "_assert_scalar_1");
  b.op("aten._assert_tensor_metadata.default",
       {{"a", T(x)},
        {"dtype", ir::ScalarTypeArg{DType::kFloat32}},
        {"layout", ir::Layout::kStrided}},
       "_assert_tensor_metadata");
  b.op("aten._assert_tensor_metadata.default",
       {{"a", T(x)}, {"size", std::vector<ir::SymIntArg>{{sz1, 0}, {std::nullopt, 4}}}},
       "_assert_tensor_metadata_1");
  auto d = b.op("aten.dropout.default", {{"input", T(x)}, {"p", 0.1}, {"train", false}}, "dropout");
  auto c = b.op("aten.clone.default", {{"self", T(d)}}, "clone");
  auto a = b.op("aten.alias.default", {{"self", T(c)}}, "alias");
  auto same = b.op("aten._to_copy.default",
                   {{"self", T(a)},
                    {"dtype", ir::ScalarTypeArg{DType::kFloat32}},
                    {"device", ir::Device{"cuda", 0}}},
                   "_to_copy");
  auto half =
      b.op("aten._to_copy.default",
           {{"self", T(same)}, {"dtype", ir::ScalarTypeArg{DType::kFloat16}}}, "_to_copy_1");
  std::vector<ir::SymIntArg> shape{{sz, 0}, {std::nullopt, 4}};
  auto e = b.op("aten.expand.default", {{"self", T(half)}, {"size", shape}}, "expand");
  auto v = b.op("aten.view.default", {{"self", T(e)}, {"size", shape}}, "view");
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(v)},
                 {"dim", int64_t{0}},
                 {"start", int64_t{0}},
                 {"end", std::numeric_limits<int64_t>::max()}},
                "slice");
  auto t = b.op("aten.transpose.int", {{"self", T(s)}, {"dim0", int64_t{1}}, {"dim1", int64_t{-1}}},
                "transpose");
  auto r = b.op("aten.reshape.default", {{"self", T(t)}, {"shape", std::vector<int64_t>{-1}}},
                "reshape");
  auto cp = b.op("aten.copy.default", {{"self", T(c)}, {"src", T(x)}}, "copy");
  auto dt =
      b.op("aten.dropout.default", {{"input", T(cp)}, {"p", 0.0}, {"train", true}}, "dropout_1");
  b.output(r);
  b.output(dt);
  return b.finish();
}

TEST(DropNoops, RemovesIdentitiesAndProvenAssertions) {
  ir::ExportedProgram p = noisy_program();
  passes::drop_noops(p);
  ir::verify(p);
  // Kept: the assertion the ranges don't prove (s0 may be 10..16), the metadata assertion
  // they don't prove either (s0 == s1), the cast that changes dtype and the reshape that
  // changes shape. Dropout with p = 0 is the identity even in training mode. Types keep the
  // device the export recorded (cuda:0 from the dropped move); kiln runs on one device.
  EXPECT_EQ(ir::print(p),
            "graph(%x: f32[s0, 4], %y: f32[s1]):\n"
            "  %sym_size_int: SymInt(s0) = aten.sym_size.int(%x, 0)\n"
            "  %sym_size_int_1: SymInt(s1) = aten.sym_size.int(%y, 0)\n"
            "  %ge: SymBool(2 <= s0) = _operator.ge(%sym_size_int, 2)\n"
            "  %lt: SymBool(s0 < 10) = _operator.lt(%sym_size_int, 10)\n"
            "  aten._assert_scalar.default(%lt, \"s0 < 10\")\n"
            "  aten._assert_tensor_metadata.default(%x, [%sym_size_int_1, 4])\n"
            "  %_to_copy_1: f16[s0, 4] cuda:0 = aten._to_copy.default(%x, dtype=f16)\n"
            "  %reshape: f16[4*s0] cuda:0 = aten.reshape.default(%_to_copy_1, [-1])\n"
            "  return (%reshape, %x)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  input %y: user_input\n"
            "  output %reshape: user_output\n"
            "  output %x: user_output\n"
            "ranges:\n"
            "  s0: [2, 16]\n"
            "  s1: [2, 16]\n");
}

TEST(DropNoops, KeepsTheComputation) {
  ir::ExportedProgram before = noisy_program();
  ir::ExportedProgram after = before;
  passes::drop_noops(after);
  std::mt19937 rng(7);
  for (int64_t rows : {3, 8}) {
    std::vector<ref::RValue> in{random_tensor(DType::kFloat32, {rows, 4}, rng),
                                random_tensor(DType::kFloat32, {rows}, rng)};
    EXPECT_TRUE(same_outputs(run_all(after, in), run_all(before, in)));
  }
}

TEST(DropNoops, RefusesAProgramWithInPlaceOps) {
  // Dropping clone(x) in front of x.relu_() would write to x: functionalize first.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto r = b.op("aten.relu_.default", {{"self", T(c)}}, "relu_");
  b.output(r);
  ir::ExportedProgram p = b.finish();
  EXPECT_THROW(passes::drop_noops(p), Error);
}

TEST(DropNoops, ViewsAfterARemovedCopyDescribeTheirNewInput) {
  // x.t().contiguous().view(-1): without the copy, the view reads the transposed layout,
  // which it cannot view; its type says so (a contiguous copy, as reshape would make).
  // x.t().contiguous()[0]: the select now strides through the transpose.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {3, 4});
  auto t = b.op("aten.t.default", {{"self", T(x)}}, "t");
  auto c = b.op("aten.contiguous.default", {{"self", T(t)}}, "contiguous");
  auto s = b.op("aten.select.int", {{"self", T(c)}, {"dim", int64_t{0}}, {"index", int64_t{1}}},
                "select");
  b.output(s);
  ir::ExportedProgram p = b.finish();
  passes::drop_noops(p);
  ir::verify(p);
  EXPECT_EQ(ir::print(p),
            "graph(%x: f32[3, 4]):\n"
            "  %t: f32[4, 3] stride=[1, 4] = aten.t.default(%x)\n"
            "  %select: f32[3] stride=[4] offset=1 = aten.select.int(%t, 0, 1)\n"
            "  return (%select)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %select: user_output\n");
}

}  // namespace
}  // namespace kiln::testing
