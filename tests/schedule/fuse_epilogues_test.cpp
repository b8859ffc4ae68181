// fuse_epilogues: which pointwise kernels fold into gemm / conv calls as post-ops, and that the
// kernel-IR evaluator gives the same results before and after on random data.
#include "schedule/fuse_epilogues.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <optional>
#include <random>

#include "externs.h"
#include "lower/evaluate.h"
#include "lower/lower_nn_util.h"
#include "lower/lowering.h"

namespace kiln::schedule {
namespace {

using ir::DType;
using lower::BodyBuilder;
using lower::BufferId;
using lower::BufferKind;
using lower::Program;
using lower::ScalarOp;

sym::Expr X(int d) {
  return sym::Expr::symbol("x" + std::to_string(d));
}

BufferId add_buffer(Program& p, const std::string& name, BufferKind kind, DType dtype,
                    std::vector<sym::Expr> sizes) {
  lower::Buffer b;
  b.name = name;
  b.kind = kind;
  b.dtype = dtype;
  b.sizes = std::move(sizes);
  const auto id = static_cast<BufferId>(p.buffers.size());
  if (kind == BufferKind::kInput) {
    b.input_index = static_cast<int32_t>(p.inputs.size());
    p.inputs.push_back(id);
  } else if (kind == BufferKind::kConstant) {
    b.constant_index = static_cast<int32_t>(p.constants.size());
    p.constants.push_back(name);
    p.constant_inputs.push_back(static_cast<int32_t>(p.constants.size()) - 1);
  } else if (kind == BufferKind::kOutput) {
    b.output_index = static_cast<int32_t>(p.outputs.size());
    p.outputs.push_back({name, id});
  }
  p.buffers.push_back(std::move(b));
  return id;
}

// The body of the consumer: given the builder, the load of the call's output and the kernel's
// flat index, the stored value.
using EpilogueFn = std::function<int32_t(BodyBuilder&, int32_t v, const sym::Expr& flat)>;

// Adds a kernel over `ranges` storing fn(load(src)) to a new output buffer; src is read at
// `src_index`, by default the kernel's flat position.
BufferId add_consumer(Program& p, BufferId src, const std::vector<sym::Expr>& ranges,
                      const EpilogueFn& fn, DType out = DType::kFloat32,
                      std::optional<sym::Expr> src_index = {}) {
  const BufferId z =
      add_buffer(p, "out" + std::to_string(p.outputs.size()), BufferKind::kOutput, out, ranges);
  lower::Kernel k;
  k.name = "kernel" + std::to_string(p.steps.size());
  k.comment = "epilogue";
  k.ranges = ranges;
  lower::Loop loop;
  BodyBuilder b(loop.body);
  lower::Index xs;
  for (size_t d = 0; d < ranges.size(); ++d)
    xs.push_back(X(static_cast<int>(d)));
  const sym::Expr flat = lower::ravel(xs, ranges);
  const int32_t v =
      b.load(src, p.buffers[static_cast<size_t>(src)].dtype, src_index.value_or(flat));
  loop.stores.push_back({z, flat, fn(b, v, flat)});
  k.loops.push_back(std::move(loop));
  lower::Step step;
  step.kernel = std::move(k);
  p.steps.push_back(std::move(step));
  return z;
}

// x [2, 3, 6, 5] * w [4, 3, 3, 3] (pad 1, stride 1) + bias -> y [2, 4, 6, 5] (a temp).
struct ConvProgram {
  Program p;
  BufferId x = -1, w = -1, bias = -1, y = -1, other = -1, scale = -1;
};

ConvProgram conv_program(DType dtype = DType::kFloat32) {
  ConvProgram c;
  c.x = add_buffer(c.p, "x", BufferKind::kInput, dtype, {2, 3, 6, 5});
  c.other = add_buffer(c.p, "other", BufferKind::kInput, DType::kFloat32, {2, 4, 6, 5});
  c.w = add_buffer(c.p, "w", BufferKind::kConstant, dtype, {4, 3, 3, 3});
  c.bias = add_buffer(c.p, "b", BufferKind::kConstant, dtype, {4});
  c.scale = add_buffer(c.p, "scale", BufferKind::kConstant, DType::kFloat32, {4});
  c.y = add_buffer(c.p, "y", BufferKind::kTemp, dtype, {2, 4, 6, 5});
  lower::ExternCall call;
  call.kind = "conv";
  call.comment = "conv";
  call.inputs = {c.x, c.w, c.bias};
  call.outputs = {c.y};
  call.int_params = {
      static_cast<int64_t>(dtype), 2, 2, 3, 4, 1, 0, 1, 6, 6, 3, 1, 1, 1, 5, 5, 3, 1, 1, 1, 1, 0};
  lower::Step step;
  step.call = std::move(call);
  c.p.steps.push_back(std::move(step));
  return c;
}

// x [6, 8] @ w[5, 8]^T -> y [6, 5] (a Linear without bias).
struct GemmProgram {
  Program p;
  BufferId x = -1, w = -1, y = -1, other = -1, bias = -1;
};

GemmProgram gemm_program() {
  GemmProgram g;
  g.x = add_buffer(g.p, "x", BufferKind::kInput, DType::kFloat32, {6, 8});
  g.other = add_buffer(g.p, "other", BufferKind::kInput, DType::kFloat32, {6, 5});
  g.w = add_buffer(g.p, "w", BufferKind::kConstant, DType::kFloat32, {5, 8});
  g.bias = add_buffer(g.p, "b", BufferKind::kConstant, DType::kFloat32, {5});
  g.y = add_buffer(g.p, "y", BufferKind::kTemp, DType::kFloat32, {6, 5});
  lower::ExternCall call;
  call.kind = "gemm";
  call.comment = "mm";
  call.inputs = {g.x, g.w};
  call.outputs = {g.y};
  call.int_params = {10, 1, 6, 5, 8, 0, 0, 8, 1, 0, 0, 1, 8, 0, 0, 0, 0, 0, 1, 0};
  call.float_params = {1.0, 1.0};
  lower::Step step;
  step.call = std::move(call);
  g.p.steps.push_back(std::move(step));
  return g;
}

ref::Tensor random_tensor(const lower::Buffer& b, std::mt19937& rng) {
  std::vector<int64_t> sizes;
  for (const auto& s : b.sizes)
    sizes.push_back(*s.as_const());
  ref::Tensor t(b.dtype, sizes);
  std::uniform_real_distribution<double> u(-3, 3);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, u(rng));
  return t;
}

// Evaluates the program before and after the pass on the same random data; returns the folds.
int fuse_and_compare(Program& p, uint32_t seed) {
  lower::register_nn_extern_evaluators();
  std::mt19937 rng(seed);
  std::vector<ref::Tensor> inputs, constants;
  for (BufferId id : p.inputs)
    inputs.push_back(random_tensor(p.buffers[static_cast<size_t>(id)], rng));
  for (const auto& b : p.buffers) {
    if (b.kind == BufferKind::kConstant) constants.push_back(random_tensor(b, rng));
  }
  const auto before = lower::evaluate(p, inputs, constants);
  const int fused = fuse_epilogues(p);
  const auto after = lower::evaluate(p, inputs, constants);
  EXPECT_EQ(before.size(), after.size());
  for (size_t o = 0; o < before.size() && o < after.size(); ++o) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < before[o].numel(); ++i) {
      const double d = before[o].get(i) - after[o].get(i);
      num += d * d;
      den += before[o].get(i) * before[o].get(i);
    }
    EXPECT_LE(std::sqrt(num / std::max(den, 1e-30)), 1e-6) << "output " << o;
  }
  return fused;
}

// The post-ops of step 0's call: (kind, operand input or -1, alpha, beta).
struct Got {
  int64_t kind, input;
  double alpha, beta;
};
std::vector<Got> post_ops(const Program& p, size_t int_at, size_t float_at) {
  const auto& c = *p.steps.at(0).call;
  std::vector<Got> out;
  const int64_t count = *c.int_params.at(int_at + 1).as_const();
  for (int64_t k = 0; k < count; ++k) {
    out.push_back({*c.int_params.at(int_at + 2 + 2 * static_cast<size_t>(k)).as_const(),
                   *c.int_params.at(int_at + 3 + 2 * static_cast<size_t>(k)).as_const(),
                   c.float_params.at(float_at + 2 * static_cast<size_t>(k)),
                   c.float_params.at(float_at + 2 * static_cast<size_t>(k) + 1)});
  }
  return out;
}

const std::vector<sym::Expr> kConvOut = {2, 4, 6, 5};

int32_t relu(BodyBuilder& b, int32_t v) {
  const int32_t zero = b.constant(0, DType::kFloat32);
  return b.where(b.binary(ScalarOp::kLt, v, zero), zero, v);
}

int32_t scalar(BodyBuilder& b, double c) {
  return b.constant(c, DType::kFloat32);
}

TEST(FuseEpilogues, FoldsReluIntoConv) {
  ConvProgram c = conv_program();
  const BufferId z = add_consumer(
      c.p, c.y, kConvOut, [](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); });
  EXPECT_EQ(fuse_and_compare(c.p, 1), 1);
  ASSERT_EQ(c.p.steps.size(), 1u);
  EXPECT_EQ(c.p.steps[0].call->outputs, std::vector<BufferId>{z});
  const auto ops = post_ops(c.p, 20, 0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].kind, rt::kPostRelu);
}

TEST(FuseEpilogues, FoldsResidualAddThenReluIntoGemm) {
  GemmProgram g = gemm_program();
  const BufferId other = g.other;
  add_consumer(g.p, g.y, {6, 5}, [&](BodyBuilder& b, int32_t v, const sym::Expr& flat) {
    return relu(b, b.binary(ScalarOp::kAdd, v, b.load(other, DType::kFloat32, flat)));
  });
  EXPECT_EQ(fuse_and_compare(g.p, 2), 1);
  ASSERT_EQ(g.p.steps.size(), 1u);
  const auto ops = post_ops(g.p, 18, 2);
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].kind, rt::kPostAdd);
  EXPECT_EQ(ops[0].input, 2);
  EXPECT_EQ(g.p.steps[0].call->inputs.at(2), other);
  EXPECT_EQ(ops[1].kind, rt::kPostRelu);
}

TEST(FuseEpilogues, FoldsPerChannelScaleShiftAndClamp) {
  ConvProgram c = conv_program();
  const BufferId scale = c.scale, shift = c.bias;
  add_consumer(c.p, c.y, kConvOut, [&](BodyBuilder& b, int32_t v, const sym::Expr&) {
    int32_t r = b.binary(ScalarOp::kSub, v, b.load(shift, DType::kFloat32, X(1)));
    r = b.binary(ScalarOp::kMul, b.load(scale, DType::kFloat32, X(1)), r);
    r = b.binary(ScalarOp::kAdd, r, b.load(shift, DType::kFloat32, X(1)));
    r = b.binary(ScalarOp::kMax, r, scalar(b, 0));
    return b.binary(ScalarOp::kMin, r, scalar(b, 6));
  });
  EXPECT_EQ(fuse_and_compare(c.p, 3), 1);
  const auto ops = post_ops(c.p, 20, 0);
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0].kind, rt::kPostSubChannel);
  EXPECT_EQ(ops[1].kind, rt::kPostMulChannel);
  EXPECT_EQ(ops[2].kind, rt::kPostAddChannel);
  EXPECT_EQ(ops[3].kind, rt::kPostClamp);
  EXPECT_EQ(ops[3].alpha, 0);
  EXPECT_EQ(ops[3].beta, 6);
}

TEST(FuseEpilogues, RecognizesCompositeActivations) {
  struct Case {
    const char* name;
    int64_t kind;
    std::function<int32_t(BodyBuilder&, int32_t)> body;
  };
  const Case cases[] = {
      // Constants as lowering leaves them in f32 bodies: rounded to f32.
      {"gelu", rt::kPostGeluErf,
       [](BodyBuilder& b, int32_t v) {
         int32_t inner = b.unary(
             ScalarOp::kErf,
             b.binary(ScalarOp::kMul, v, scalar(b, static_cast<float>(1 / std::numbers::sqrt2))));
         return b.binary(ScalarOp::kMul, b.binary(ScalarOp::kMul, v, scalar(b, 0.5)),
                         b.binary(ScalarOp::kAdd, inner, scalar(b, 1)));
       }},
      {"gelu_tanh", rt::kPostGeluTanh,
       [](BodyBuilder& b, int32_t v) {
         int32_t cube = b.binary(ScalarOp::kMul, b.binary(ScalarOp::kMul, v, v), v);
         int32_t poly =
             b.binary(ScalarOp::kAdd, v,
                      b.binary(ScalarOp::kMul, cube, scalar(b, static_cast<float>(0.044715))));
         int32_t inner =
             b.unary(ScalarOp::kTanh,
                     b.binary(ScalarOp::kMul, poly,
                              scalar(b, static_cast<float>(std::sqrt(2 / std::numbers::pi)))));
         return b.binary(ScalarOp::kMul, b.binary(ScalarOp::kMul, v, scalar(b, 0.5)),
                         b.binary(ScalarOp::kAdd, inner, scalar(b, 1)));
       }},
      {"silu", rt::kPostSilu,
       [](BodyBuilder& b, int32_t v) {
         return b.binary(ScalarOp::kMul, v, b.unary(ScalarOp::kSigmoid, v));
       }},
      {"hardswish", rt::kPostHardswish,
       [](BodyBuilder& b, int32_t v) {
         int32_t g = b.binary(ScalarOp::kAdd, v, scalar(b, 3));
         g = b.binary(ScalarOp::kMin, b.binary(ScalarOp::kMax, g, scalar(b, 0)), scalar(b, 6));
         return b.binary(ScalarOp::kMul, v, b.binary(ScalarOp::kDiv, g, scalar(b, 6)));
       }},
      {"leaky_relu", rt::kPostLeakyRelu,
       [](BodyBuilder& b, int32_t v) {
         return b.where(b.binary(ScalarOp::kGt, v, scalar(b, 0)), v,
                        b.binary(ScalarOp::kMul, v, scalar(b, 0.01)));
       }},
      {"tanh", rt::kPostTanh,
       [](BodyBuilder& b, int32_t v) { return b.unary(ScalarOp::kTanh, v); }},
  };
  uint32_t seed = 10;
  for (const Case& k : cases) {
    ConvProgram c = conv_program();
    add_consumer(c.p, c.y, kConvOut,
                 [&](BodyBuilder& b, int32_t v, const sym::Expr&) { return k.body(b, v); });
    EXPECT_EQ(fuse_and_compare(c.p, seed++), 1) << k.name;
    const auto ops = post_ops(c.p, 20, 0);
    ASSERT_EQ(ops.size(), 1u) << k.name;
    EXPECT_EQ(ops[0].kind, k.kind) << k.name;
  }
}

TEST(FuseEpilogues, LeavesASecondReaderAlone) {
  ConvProgram c = conv_program();
  add_consumer(c.p, c.y, kConvOut,
               [](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); });
  add_consumer(c.p, c.y, kConvOut, [](BodyBuilder& b, int32_t v, const sym::Expr&) {
    return b.unary(ScalarOp::kTanh, v);
  });
  EXPECT_EQ(fuse_and_compare(c.p, 20), 0);
  EXPECT_EQ(c.p.steps.size(), 3u);
}

TEST(FuseEpilogues, LeavesBroadcastingAndPermutingConsumersAlone) {
  {
    // The output read at every point of a larger space: a broadcast, not an epilogue.
    GemmProgram g = gemm_program();
    add_consumer(
        g.p, g.y, {3, 30}, [&](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); },
        DType::kFloat32, X(1));
    EXPECT_EQ(fuse_and_compare(g.p, 21), 0);
  }
  {
    // A transposed read: the value stored at (i, j) comes from (j, i).
    GemmProgram g = gemm_program();
    add_consumer(
        g.p, g.y, {5, 6}, [&](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); },
        DType::kFloat32, X(1) * 5 + X(0));
    EXPECT_EQ(fuse_and_compare(g.p, 22), 0);
  }
  {
    // A residual read at a transposed position is not an elementwise operand.
    GemmProgram g = gemm_program();
    const BufferId other = g.other;
    add_consumer(g.p, g.y, {6, 5}, [&](BodyBuilder& b, int32_t v, const sym::Expr&) {
      return b.binary(ScalarOp::kAdd, v, b.load(other, DType::kFloat32, X(1) * 6 + X(0)));
    });
    EXPECT_EQ(fuse_and_compare(g.p, 23), 0);
  }
}

TEST(FuseEpilogues, LeavesUnsupportedOpsAndDtypesAlone) {
  {
    ConvProgram c = conv_program();
    add_consumer(c.p, c.y, kConvOut, [](BodyBuilder& b, int32_t v, const sym::Expr&) {
      return relu(b, b.unary(ScalarOp::kExp, v));
    });
    EXPECT_EQ(fuse_and_compare(c.p, 24), 0);
  }
  {
    // other - v: only the call's value on the left has a post-op.
    GemmProgram g = gemm_program();
    const BufferId other = g.other;
    add_consumer(g.p, g.y, {6, 5}, [&](BodyBuilder& b, int32_t v, const sym::Expr& flat) {
      return b.binary(ScalarOp::kSub, b.load(other, DType::kFloat32, flat), v);
    });
    EXPECT_EQ(fuse_and_compare(g.p, 25), 0);
  }
  {
    ConvProgram c = conv_program(DType::kFloat64);
    add_consumer(
        c.p, c.y, kConvOut,
        [](BodyBuilder& b, int32_t v, const sym::Expr&) {
          const int32_t zero = b.constant(0, DType::kFloat64);
          return b.where(b.binary(ScalarOp::kLt, v, zero), zero, v);
        },
        DType::kFloat64);
    EXPECT_EQ(fuse_and_compare(c.p, 26), 0);
  }
  {
    // A cast on the way out (f32 -> f16 store) is not an epilogue.
    ConvProgram c = conv_program();
    add_consumer(
        c.p, c.y, kConvOut, [](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); },
        DType::kFloat16);
    EXPECT_EQ(fuse_and_compare(c.p, 27), 0);
  }
}

TEST(FuseEpilogues, ChainsKernelsIntoOneCall) {
  // conv -> kernel (+ other) -> kernel (relu): both fold, in order.
  ConvProgram c = conv_program();
  const BufferId other = c.other;
  const BufferId mid =
      add_consumer(c.p, c.y, kConvOut, [&](BodyBuilder& b, int32_t v, const sym::Expr& flat) {
        return b.binary(ScalarOp::kAdd, v, b.load(other, DType::kFloat32, flat));
      });
  // Make the intermediate a temp so it can fold further.
  c.p.buffers[static_cast<size_t>(mid)].kind = BufferKind::kTemp;
  c.p.buffers[static_cast<size_t>(mid)].output_index = -1;
  c.p.buffers[static_cast<size_t>(mid)].name = "mid";
  c.p.outputs.clear();
  add_consumer(c.p, mid, kConvOut,
               [](BodyBuilder& b, int32_t v, const sym::Expr&) { return relu(b, v); });
  EXPECT_EQ(fuse_and_compare(c.p, 28), 2);
  ASSERT_EQ(c.p.steps.size(), 1u);
  const auto ops = post_ops(c.p, 20, 0);
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].kind, rt::kPostAdd);
  EXPECT_EQ(ops[1].kind, rt::kPostRelu);
}

}  // namespace
}  // namespace kiln::schedule
