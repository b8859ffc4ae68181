#include <gtest/gtest.h>

#include "fixture_models.h"
#include "frontend/load.h"
#include "pass_test_util.h"
#include "passes/passes.h"
#include "ref/npy_io.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using ir::InputKind;
using ir::OutputKind;

ir::ExportedProgram functionalized(ir::ExportedProgram p) {
  passes::functionalize(p);
  ir::verify(p);
  return p;
}

ref::Tensor iota(DType dtype, std::vector<int64_t> sizes) {
  ref::Tensor t(dtype, std::move(sizes));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, static_cast<double>(i));
  return t;
}

TEST(Functionalize, InPlaceOnUserInputBecomesAMutationOutput) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 4});
  auto r = b.op("aten.relu_.default", {{"self", T(x)}}, "relu_");
  auto a = b.op("aten.add_.Tensor", {{"self", T(r)}, {"other", 1.0}}, "add_");
  auto m = b.op("aten.mul.Tensor", {{"self", T(x)}, {"other", T(a)}}, "mul");
  b.output(m);
  b.program.ranges["s0"] = {2, 8};
  ir::ExportedProgram before = b.finish();
  ir::ExportedProgram after = functionalized(before);
  EXPECT_EQ(ir::print(after),
            "graph(%x: f32[s0, 4]):\n"
            "  %relu_: f32[s0, 4] = aten.relu.default(%x)\n"
            "  %add_: f32[s0, 4] = aten.add.Tensor(%relu_, 1.0)\n"
            "  %mul: f32[s0, 4] = aten.mul.Tensor(%add_, %add_)\n"
            "  return (%add_, %mul)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %add_: user_input_mutation x\n"
            "  output %mul: user_output\n"
            "ranges:\n"
            "  s0: [2, 8]\n");
  // x, relu_'s result and add_'s result are one tensor in eager PyTorch, so mul squares it.
  // (The interpreter alone gets this wrong: it updates only the argument an in-place op names.)
  std::mt19937 rng(1);
  ref::Tensor x_val = random_tensor(DType::kFloat32, {3, 4}, rng);
  ref::Tensor a_val = x_val, m_val = x_val;
  for (int64_t i = 0; i < x_val.numel(); ++i) {
    a_val.set(i, std::max(x_val.get(i), 0.0) + 1);
    m_val.set(i, a_val.get(i) * a_val.get(i));
  }
  EXPECT_TRUE(same_outputs(run_all(after, {x_val}), {a_val, m_val}));
}

// Writes through a slice and a select of one base; a view taken before the writes and read
// after them is taken again from the updated base.
ir::ExportedProgram slice_and_select_writes() {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4, 6});
  auto y = b.input("y", DType::kFloat32, {4, 2});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(c)}, {"dim", int64_t{1}}, {"start", int64_t{0}}, {"end", int64_t{2}}},
                "slice");
  auto r = b.op("aten.select.int", {{"self", T(c)}, {"dim", int64_t{0}}, {"index", int64_t{1}}},
                "select");
  b.op("aten.copy_.default", {{"self", T(s)}, {"src", T(y)}}, "copy_");
  b.op("aten.mul_.Tensor", {{"self", T(r)}, {"other", 2.0}}, "mul_");
  auto o = b.op("aten.add.Tensor", {{"self", T(s)}, {"other", 1.0}}, "add");
  b.output(c);
  b.output(o);
  return b.finish();
}

TEST(Functionalize, WritesThroughSliceAndSelectScatterIntoTheBase) {
  ir::ExportedProgram after = functionalized(slice_and_select_writes());
  EXPECT_EQ(ir::print(after),
            "graph(%x: f32[4, 6], %y: f32[4, 2]):\n"
            "  %clone: f32[4, 6] = aten.clone.default(%x)\n"
            "  %slice: f32[4, 2] stride=[6, 1] = aten.slice.Tensor(%clone, 1, 0, 2)\n"
            "  %select: f32[6] offset=6 = aten.select.int(%clone, 0, 1)\n"
            "  %copy_: f32[4, 2] = aten.copy.default(%slice, %y)\n"
            "  %slice_scatter: f32[4, 6] = aten.slice_scatter.default(%clone, %copy_, 1, 0, 2)\n"
            "  %select_1: f32[6] offset=6 = aten.select.int(%slice_scatter, 0, 1)\n"
            "  %mul_: f32[6] = aten.mul.Tensor(%select_1, 2.0)\n"
            "  %select_scatter: f32[4, 6] = aten.select_scatter.default(%slice_scatter, %mul_, 0, "
            "1)\n"
            "  %slice_1: f32[4, 2] stride=[6, 1] = aten.slice.Tensor(%select_scatter, 1, 0, 2)\n"
            "  %add: f32[4, 2] = aten.add.Tensor(%slice_1, 1.0)\n"
            "  return (%select_scatter, %add)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  input %y: user_input\n"
            "  output %select_scatter: user_output\n"
            "  output %add: user_output\n");
  // What eager PyTorch computes: c = x; c[:, :2] = y; c[1] *= 2; (c, c[:, :2] + 1).
  ref::Tensor x = iota(DType::kFloat32, {4, 6});
  ref::Tensor y = iota(DType::kFloat32, {4, 2});
  for (int64_t i = 0; i < y.numel(); ++i)
    y.set(i, 100 + y.get(i));
  ref::Tensor c = x;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      c.set(i * 6 + j, y.get(i * 2 + j));
  for (int64_t j = 0; j < 6; ++j)
    c.set(6 + j, c.get(6 + j) * 2);
  ref::Tensor o(DType::kFloat32, {4, 2});
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      o.set(i * 2 + j, c.get(i * 6 + j) + 1);
  EXPECT_TRUE(same_outputs(run_all(after, {x, y}), {c, o}));
}

TEST(Functionalize, WriteThroughAViewChainInvertsEachStep) {
  // c.view(4, 2, 3).transpose(0, 2)[1:3] += 10, then c is returned.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4, 6});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto v =
      b.op("aten.view.default", {{"self", T(c)}, {"size", std::vector<int64_t>{4, 2, 3}}}, "view");
  auto t = b.op("aten.transpose.int", {{"self", T(v)}, {"dim0", int64_t{0}}, {"dim1", int64_t{2}}},
                "transpose");
  auto s = b.op("aten.slice.Tensor",
                {{"self", T(t)}, {"dim", int64_t{0}}, {"start", int64_t{1}}, {"end", int64_t{3}}},
                "slice");
  b.op("aten.add_.Tensor", {{"self", T(s)}, {"other", 10.0}}, "add_");
  b.output(c);
  ir::ExportedProgram after = functionalized(b.finish());
  EXPECT_EQ(ir::print(after),
            "graph(%x: f32[4, 6]):\n"
            "  %clone: f32[4, 6] = aten.clone.default(%x)\n"
            "  %view: f32[4, 2, 3] = aten.view.default(%clone, [4, 2, 3])\n"
            "  %transpose: f32[3, 2, 4] stride=[1, 3, 6] = aten.transpose.int(%view, 0, 2)\n"
            "  %slice: f32[2, 2, 4] stride=[1, 3, 6] offset=1 = aten.slice.Tensor(%transpose, 0, "
            "1, 3)\n"
            "  %add_: f32[2, 2, 4] = aten.add.Tensor(%slice, 10.0)\n"
            "  %slice_scatter: f32[3, 2, 4] = aten.slice_scatter.default(%transpose, %add_, 0, 1, "
            "3)\n"
            "  %transpose_1: f32[4, 2, 3] stride=[1, 4, 8] = aten.transpose.int(%slice_scatter, "
            "0, 2)\n"
            "  %reshape: f32[4, 6] = aten.reshape.default(%transpose_1, [4, 6])\n"
            "  return (%reshape)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %reshape: user_output\n");
  ref::Tensor x_val = iota(DType::kFloat32, {4, 6});
  ref::Tensor want = x_val;
  // Element (i, j, k) of view(4, 2, 3) is c[i, 3j + k]; the slice takes k in {1, 2}.
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 1; k < 3; ++k)
        want.set(i * 6 + 3 * j + k, want.get(i * 6 + 3 * j + k) + 10);
  EXPECT_TRUE(same_outputs(run_all(after, {x_val}), {want}));
}

TEST(Functionalize, UnbindSplitAndPermuteWritesReachTheBase) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {4, 6});
  auto parts = b.ops("aten.unbind.int", {{"self", T(x)}, {"dim", int64_t{0}}}, "getitem");
  b.op("aten.fill_.Scalar", {{"self", T(parts[2])}, {"value", 7.0}}, "fill_");
  auto chunks = b.ops("aten.split.Tensor",
                      {{"self", T(x)}, {"split_size", int64_t{4}}, {"dim", int64_t{1}}}, "split");
  b.op("aten.mul_.Tensor", {{"self", T(chunks[1])}, {"other", -1.0}}, "mul_");
  auto p = b.op("aten.permute.default", {{"self", T(x)}, {"dims", std::vector<int64_t>{1, 0}}},
                "permute");
  b.op("aten.add_.Tensor", {{"self", T(p)}, {"other", 0.5}}, "add_");
  auto o = b.op("aten.sum.default", {{"self", T(parts[0])}}, "sum");
  b.output(o);
  ir::ExportedProgram after = functionalized(b.finish());
  ref::Tensor x_val = iota(DType::kFloat32, {4, 6});
  ref::Tensor want = x_val;
  for (int64_t j = 0; j < 6; ++j)
    want.set(2 * 6 + j, 7);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 4; j < 6; ++j)
      want.set(i * 6 + j, -want.get(i * 6 + j));
  for (int64_t i = 0; i < want.numel(); ++i)
    want.set(i, want.get(i) + 0.5);
  ref::Tensor sum(DType::kFloat32, {});
  for (int64_t j = 0; j < 6; ++j)
    sum.set(0, sum.get(0) + want.get(j));
  EXPECT_TRUE(same_outputs(run_all(after, {x_val}), {want, sum}));
  ASSERT_EQ(after.signature.outputs.size(), 2u);
  EXPECT_EQ(after.signature.outputs[0].kind, OutputKind::kUserInputMutation);
}

TEST(Functionalize, BufferWrittenInPlaceGetsABufferMutationOutput) {
  ProgramBuilder b;
  auto buf = b.stored("b_count", InputKind::kBuffer, "count", iota(DType::kFloat32, {3}));
  auto x = b.input("x", DType::kFloat32, {3});
  b.op("aten.add_.Tensor", {{"self", T(buf)}, {"other", T(x)}}, "add_");
  auto m = b.op("aten.mul.Tensor", {{"self", T(buf)}, {"other", 2.0}}, "mul");
  b.output(m);
  ir::ExportedProgram after = functionalized(b.finish());
  EXPECT_EQ(ir::print(after),
            "graph(%b_count: f32[3], %x: f32[3]):\n"
            "  %add_: f32[3] = aten.add.Tensor(%b_count, %x)\n"
            "  %mul: f32[3] = aten.mul.Tensor(%add_, 2.0)\n"
            "  return (%add_, %mul)\n"
            "signature:\n"
            "  input %b_count: buffer count\n"
            "  input %x: user_input\n"
            "  output %add_: buffer_mutation count\n"
            "  output %mul: user_output\n");
}

TEST(Functionalize, DtypeOfTheMutatedTensorIsKept) {
  // f16 *= f32 computes in f32 and stores f16.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat16, {2, 3});
  auto y = b.input("y", DType::kFloat32, {2, 3});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  b.op("aten.mul_.Tensor", {{"self", T(c)}, {"other", T(y)}}, "mul_");
  b.output(c);
  ir::ExportedProgram after = functionalized(b.finish());
  EXPECT_EQ(ir::print(after),
            "graph(%x: f16[2, 3], %y: f32[2, 3]):\n"
            "  %clone: f16[2, 3] = aten.clone.default(%x)\n"
            "  %mul_: f32[2, 3] = aten.mul.Tensor(%clone, %y)\n"
            "  %_to_copy: f16[2, 3] = aten._to_copy.default(%mul_, dtype=f16)\n"
            "  return (%_to_copy)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  input %y: user_input\n"
            "  output %_to_copy: user_output\n");
}

TEST(Functionalize, AlreadyFunctionalProgramIsUnchanged) {
  ProgramBuilder b;
  auto buf = b.stored("b_ema", InputKind::kBuffer, "ema", iota(DType::kFloat32, {3}));
  auto x = b.input("x", DType::kFloat32, {3});
  auto m = b.op("aten.mul.Tensor", {{"self", T(buf)}, {"other", 0.9}}, "mul");
  auto a = b.op("aten.add.Tensor", {{"self", T(m)}, {"other", T(x)}}, "add");
  b.output(a, OutputKind::kBufferMutation, "ema");
  b.output(a);
  ir::ExportedProgram before = b.finish();
  EXPECT_EQ(ir::print(functionalized(before)), ir::print(before));
}

TEST(Functionalize, WriteThroughExpandIsRefused) {
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {1, 3});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto e =
      b.op("aten.expand.default", {{"self", T(c)}, {"size", std::vector<int64_t>{4, 3}}}, "expand");
  b.op("aten.add_.Tensor", {{"self", T(e)}, {"other", 1.0}}, "add_");
  b.output(c);
  ir::ExportedProgram p = b.finish();
  try {
    passes::functionalize(p);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("node 'expand' (aten.expand.default)"),
              std::string::npos)
        << err.what();
  }
}

TEST(Functionalize, WriteToAReshapeThatCopiedStaysThere) {
  // c.t().reshape(6) copies in eager PyTorch (the transpose cannot be flattened in place), so
  // writing to it leaves c alone.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {2, 3});
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto t = b.op("aten.t.default", {{"self", T(c)}}, "t");
  auto r =
      b.op("aten.reshape.default", {{"self", T(t)}, {"shape", std::vector<int64_t>{6}}}, "reshape");
  b.op("aten.add_.Tensor", {{"self", T(r)}, {"other", 1.0}}, "add_");
  b.output(c);
  b.output(r);
  ir::ExportedProgram after = functionalized(b.finish());
  ref::Tensor x_val = iota(DType::kFloat32, {2, 3});
  ref::Tensor r_val(DType::kFloat32, {6});
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t i = 0; i < 2; ++i)
      r_val.set(j * 2 + i, x_val.get(i * 3 + j) + 1);
  EXPECT_TRUE(same_outputs(run_all(after, {x_val}), {x_val, r_val}));
}

TEST(Functionalize, WriteThroughAReshapeOfUnknownLayoutIsRefused) {
  // With a symbolic dim, whether reshape viewed or copied is not decidable here.
  ProgramBuilder b;
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 3});
  b.program.ranges["s0"] = {2, 8};
  auto c = b.op("aten.clone.default", {{"self", T(x)}}, "clone");
  auto t = b.op("aten.t.default", {{"self", T(c)}}, "t");
  auto r = b.op("aten.reshape.default", {{"self", T(t)}, {"shape", std::vector<int64_t>{-1}}},
                "reshape");
  b.op("aten.add_.Tensor", {{"self", T(r)}, {"other", 1.0}}, "add_");
  b.output(c);
  ir::ExportedProgram p = b.finish();
  try {
    passes::functionalize(p);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("the view node 'reshape'"), std::string::npos)
        << err.what();
  }
}

// The fixtures that write in place, against PyTorch's stored outputs: the interpreter alone
// cannot run them right (writes through views need functionalization).
void expect_matches_torch(const std::string& name) {
  int found = 0;
  for (const FixtureModel& fx : fixture_models()) {
    if (fx.dir.filename() != name) continue;
    ++found;
    SCOPED_TRACE(fx.id);
    frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
    ir::ExportedProgram p = functionalized(loaded.program);
    std::vector<ir::ValueId> user;
    for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
      if (p.signature.inputs[i].kind == InputKind::kUserInput) user.push_back(p.graph.inputs[i]);
    }
    for (const auto& c : fx.manifest()["cases"]) {
      std::vector<ref::RValue> args;
      for (size_t i = 0; i < c["inputs"].size(); ++i) {
        auto file = (fx.dir / c["inputs"][i]["file"].get<std::string>()).string();
        args.push_back(ref::value_from_npy(util::read_npy(file), p.graph.values[user[i]], file));
      }
      auto got = outputs_of_kind(p, run_all(p, args, passes::stored_tensors(loaded, p)),
                                 OutputKind::kUserOutput);
      std::vector<ref::RValue> want;
      for (const auto& o : c["outputs"]) {
        want.emplace_back(
            ref::tensor_from_npy(util::read_npy(fx.dir / o["file"].get<std::string>())));
      }
      EXPECT_TRUE(same_outputs(got, want, 1e-5)) << name;
    }
  }
  EXPECT_GT(found, 0) << "no fixture " << name;
}

TEST(Functionalize, InplaceOpsFixtureMatchesTorch) {
  expect_matches_torch("inplace_ops");
}

TEST(Functionalize, BufferMutationFixtureMatchesTorchAndReturnsTheBuffers) {
  expect_matches_torch("buffer_mutation");
  for (const FixtureModel& fx : fixture_models()) {
    if (fx.dir.filename() != "buffer_mutation") continue;
    frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
    ir::ExportedProgram p = functionalized(loaded.program);
    std::string kinds;
    for (const auto& o : p.signature.outputs)
      kinds += std::string(ir::output_kind_name(o.kind)) + " " + o.target + "; ";
    EXPECT_EQ(kinds,
              "buffer_mutation count; buffer_mutation ema; user_input_mutation acc; "
              "user_output ; user_output ; user_output ; user_output ; ");
  }
}

}  // namespace
}  // namespace kiln::testing
