// Lowering of GEMMs (mm, bmm, addmm, baddbmm, and linear/matmul through their decompositions)
// to "gemm" extern calls, checked against the reference interpreter on random data with static
// and symbolic dims; and the calls' structure: a transposed weight is read in place through
// strides, never copied.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "externs.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "passes/passes.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;

double range_of(DType dtype) {
  return ir::is_floating(dtype) ? 2.0 : 20.0;
}

ref::Tensor sample(DType dtype, Sizes sizes, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, -range_of(dtype), range_of(dtype));
}

const DType kAllDtypes[] = {DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                            DType::kBFloat16, DType::kInt32,   DType::kInt64};

TEST(LowerNnGemm, MmShapesAndDtypes) {
  std::mt19937 rng(501);
  const Sizes shapes[] = {{1, 1, 1}, {3, 5, 4}, {1, 7, 1}, {6, 1, 3}, {17, 33, 9}};
  for (DType dtype : kAllDtypes) {
    for (const Sizes& s : shapes) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
      check_lowered_op("aten.mm.default", {{"self", sample(dtype, {s[0], s[1]}, rng)},
                                           {"mat2", sample(dtype, {s[1], s[2]}, rng)}});
    }
  }
}

TEST(LowerNnGemm, BmmShapesAndDtypes) {
  std::mt19937 rng(502);
  const Sizes shapes[] = {{2, 3, 4, 5}, {1, 1, 3, 2}, {4, 6, 1, 7}, {3, 5, 8, 1}};
  for (DType dtype : kAllDtypes) {
    for (const Sizes& s : shapes) {
      SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
      check_lowered_op("aten.bmm.default", {{"self", sample(dtype, {s[0], s[1], s[2]}, rng)},
                                            {"mat2", sample(dtype, {s[0], s[2], s[3]}, rng)}});
    }
  }
}

TEST(LowerNnGemm, AddmmBiasBroadcastsAndScales) {
  std::mt19937 rng(503);
  const Sizes bias_shapes[] = {{5}, {4, 5}, {1, 5}, {4, 1}, {}, {1, 1}};
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt64}) {
    for (const Sizes& bs : bias_shapes) {
      for (auto [beta, alpha] : {std::pair{1.0, 1.0}, std::pair{0.5, -2.0}, std::pair{3.0, 2.0}}) {
        SCOPED_TRACE(std::string(ir::dtype_name(dtype)) + " beta " + std::to_string(beta));
        TestArgs args = {{"self", sample(dtype, bs, rng)},
                         {"mat1", sample(dtype, {4, 3}, rng)},
                         {"mat2", sample(dtype, {3, 5}, rng)}};
        if (ir::is_floating(dtype)) {
          args.emplace_back("beta", beta);
          args.emplace_back("alpha", alpha);
        } else {
          args.emplace_back("beta", static_cast<int64_t>(beta));
          args.emplace_back("alpha", static_cast<int64_t>(alpha));
        }
        check_lowered_op("aten.addmm.default", args);
      }
    }
  }
}

TEST(LowerNnGemm, AddmmWithZeroBetaIgnoresNaNBias) {
  std::mt19937 rng(504);
  ref::Tensor bias = sample(DType::kFloat32, {2, 3}, rng);
  bias.set(1, std::nan(""));
  check_lowered_op("aten.addmm.default", {{"self", bias},
                                          {"mat1", sample(DType::kFloat32, {2, 4}, rng)},
                                          {"mat2", sample(DType::kFloat32, {4, 3}, rng)},
                                          {"beta", 0.0},
                                          {"alpha", 1.5}});
}

TEST(LowerNnGemm, BaddbmmDirectAndDecomposed) {
  std::mt19937 rng(505);
  for (bool passes : {true, false}) {
    for (const Sizes& bs : {Sizes{3, 4, 5}, Sizes{5}, Sizes{1, 4, 1}}) {
      LowerCheckOptions options;
      options.run_backend_passes = passes;
      check_lowered_op("aten.baddbmm.default",
                       {{"self", sample(DType::kFloat32, bs, rng)},
                        {"batch1", sample(DType::kFloat32, {3, 4, 6}, rng)},
                        {"batch2", sample(DType::kFloat32, {3, 6, 5}, rng)},
                        {"beta", 0.25},
                        {"alpha", 2.0}},
                       options);
    }
  }
}

TEST(LowerNnGemm, LinearAndMatmulThroughDecomposition) {
  std::mt19937 rng(506);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
    for (const Sizes& xs : {Sizes{4, 6}, Sizes{2, 3, 6}, Sizes{6}, Sizes{1, 1, 6}}) {
      for (bool bias : {false, true}) {
        TestArgs args = {{"input", sample(dtype, xs, rng)}, {"weight", sample(dtype, {5, 6}, rng)}};
        if (bias) args.emplace_back("bias", sample(dtype, {5}, rng));
        check_lowered_op("aten.linear.default", args);
      }
    }
    // Broadcast batch dims: the smaller operand is expanded, which the GEMM reads with a zero
    // batch stride.
    check_lowered_op("aten.matmul.default", {{"self", sample(dtype, {2, 3, 4, 5}, rng)},
                                             {"other", sample(dtype, {5, 2}, rng)}});
    check_lowered_op("aten.matmul.default", {{"self", sample(dtype, {4, 5}, rng)},
                                             {"other", sample(dtype, {3, 5, 2}, rng)}});
    check_lowered_op("aten.matmul.default", {{"self", sample(dtype, {2, 1, 4, 5}, rng)},
                                             {"other", sample(dtype, {3, 5, 2}, rng)}});
  }
}

// The lowered program of one op, after the backend passes.
lower::Program lowered(std::string_view target, const TestArgs& args) {
  OpProgram op = build_op_program(target, args, false);
  passes::prepare_for_backend(op.program);
  return lower::lower_program(op.program);
}

TEST(LowerNnGemm, TransposedWeightIsReadInPlace) {
  std::mt19937 rng(507);
  lower::Program p =
      lowered("aten.linear.default", {{"input", sample(DType::kFloat32, {4, 6}, rng)},
                                      {"weight", sample(DType::kFloat32, {5, 6}, rng)},
                                      {"bias", sample(DType::kFloat32, {5}, rng)}});
  int calls = 0, kernels = 0;
  for (const lower::Step& s : p.steps) {
    if (s.kernel) ++kernels;
    if (!s.call) continue;
    ++calls;
    const lower::ExternCall& c = *s.call;
    ASSERT_EQ(c.kind, "gemm");
    // A, B and the bias are the program's inputs themselves.
    ASSERT_EQ(c.inputs.size(), 3u);
    for (lower::BufferId b : c.inputs)
      EXPECT_EQ(p.buffers[b].kind, lower::BufferKind::kInput) << p.buffers[b].name;
    // B = weight^T: (k, n) strides (1, 6); the bias row broadcasts over M (stride 0).
    EXPECT_EQ(c.int_params[11], sym::Expr(1));
    EXPECT_EQ(c.int_params[12], sym::Expr(6));
    EXPECT_EQ(c.int_params[13], sym::Expr(1));
    EXPECT_EQ(c.int_params[16], sym::Expr(0));
    EXPECT_EQ(c.int_params[17], sym::Expr(1));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(kernels, 0);
}

TEST(LowerNnGemm, DtypeCodesAreTheRuntimeNumbering) {
  // The routines read the dtype parameter as runtime/externs.h numbers it.
  EXPECT_EQ(static_cast<int64_t>(DType::kBool), rt::kExtBool);
  EXPECT_EQ(static_cast<int64_t>(DType::kUInt8), rt::kExtUInt8);
  EXPECT_EQ(static_cast<int64_t>(DType::kInt8), rt::kExtInt8);
  EXPECT_EQ(static_cast<int64_t>(DType::kInt16), rt::kExtInt16);
  EXPECT_EQ(static_cast<int64_t>(DType::kUInt16), rt::kExtUInt16);
  EXPECT_EQ(static_cast<int64_t>(DType::kInt32), rt::kExtInt32);
  EXPECT_EQ(static_cast<int64_t>(DType::kInt64), rt::kExtInt64);
  EXPECT_EQ(static_cast<int64_t>(DType::kFloat16), rt::kExtFloat16);
  EXPECT_EQ(static_cast<int64_t>(DType::kBFloat16), rt::kExtBFloat16);
  EXPECT_EQ(static_cast<int64_t>(DType::kFloat32), rt::kExtFloat32);
  EXPECT_EQ(static_cast<int64_t>(DType::kFloat64), rt::kExtFloat64);
  std::mt19937 rng(508);
  lower::Program p = lowered("aten.mm.default", {{"self", sample(DType::kFloat16, {2, 3}, rng)},
                                                 {"mat2", sample(DType::kFloat16, {3, 2}, rng)}});
  ASSERT_EQ(p.steps.size(), 1u);
  ASSERT_TRUE(p.steps[0].call);
  EXPECT_EQ(p.steps[0].call->int_params[0], sym::Expr(rt::kExtFloat16));
}

}  // namespace
}  // namespace kiln::testing
