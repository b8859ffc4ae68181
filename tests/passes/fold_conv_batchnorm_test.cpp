// fold_conv_batchnorm: the IR it leaves when a convolution's per-channel affine chain folds, the
// cases it must leave alone, equivalence on random inputs for the convolution kinds and chain
// shapes it folds, and the fixture models through the whole backend pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "fixture_models.h"
#include "frontend/load.h"
#include "pass_test_util.h"
#include "passes/passes.h"
#include "ref/npy_io.h"

namespace kiln::testing {
namespace {

using ir::DType;
using ir::InputKind;

// Running variances and divisors: away from zero.
ref::Tensor positive(DType dtype, std::vector<int64_t> sizes, std::mt19937& rng) {
  return random_tensor(dtype, std::move(sizes), rng, 0.5, 2.0);
}

int count_targets(const ir::Graph& g, std::string_view target) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                        [&](const ir::Node& n) { return n.target == target; }));
}

// The pass, then fold_constants, each checked against the program before on random inputs
// (within float rounding: the folded weights round differently). Returns the IR the pass
// left.
std::string fold_checked(const ir::ExportedProgram& before,
                         const std::vector<std::vector<ref::RValue>>& inputs,
                         double tolerance = 1e-5) {
  ir::ExportedProgram p = before;
  passes::fold_conv_batchnorm(p);
  ir::verify(p);
  std::string text = ir::print(p);
  ir::ExportedProgram folded = p;
  passes::fold_constants(folded);
  ir::verify(folded);
  for (const auto& in : inputs) {
    std::vector<ref::RValue> want = run_all(before, in);
    EXPECT_TRUE(same_outputs(run_all(p, in), want, tolerance));
    EXPECT_TRUE(same_outputs(run_all(folded, in), want, tolerance));
  }
  return text;
}

// ---- IR text ----

// conv2d(x, w, b) then (y - mean) * scale + beta, then relu.
ir::ExportedProgram conv_affine_relu() {
  std::mt19937 rng(11);
  ProgramBuilder b;
  auto w = b.stored("p_w", InputKind::kParameter, "conv.weight",
                    random_tensor(DType::kFloat32, {3, 2, 3, 3}, rng));
  auto bias =
      b.stored("p_b", InputKind::kParameter, "conv.bias", random_tensor(DType::kFloat32, {3}, rng));
  auto mean = b.stored("b_mean", InputKind::kBuffer, "mean",
                       random_tensor(DType::kFloat32, {3, 1, 1}, rng));
  auto scale = b.stored("p_scale", InputKind::kParameter, "scale",
                        positive(DType::kFloat32, {3, 1, 1}, rng));
  auto beta =
      b.stored("p_beta", InputKind::kParameter, "beta", random_tensor(DType::kFloat32, {3}, rng));
  auto x = b.input("x", DType::kFloat32, {sy("s0"), 2, 6, 6});
  b.program.ranges["s0"] = {1, 8};
  auto y = b.op("aten.convolution.default",
                {{"input", T(x)},
                 {"weight", T(w)},
                 {"bias", T(bias)},
                 {"stride", std::vector<int64_t>{1, 1}},
                 {"padding", std::vector<int64_t>{1, 1}},
                 {"dilation", std::vector<int64_t>{1, 1}},
                 {"transposed", false},
                 {"output_padding", std::vector<int64_t>{0, 0}},
                 {"groups", int64_t{1}}},
                "convolution");
  auto beta3 = b.op("aten.reshape.default",
                    {{"self", T(beta)}, {"shape", std::vector<int64_t>{-1, 1, 1}}}, "reshape");
  auto c = b.op("aten.sub.Tensor", {{"self", T(y)}, {"other", T(mean)}}, "sub");
  auto s = b.op("aten.mul.Tensor", {{"self", T(c)}, {"other", T(scale)}}, "mul");
  auto t = b.op("aten.add.Tensor", {{"self", T(s)}, {"other", T(beta3)}}, "add");
  b.output(b.op("aten.relu.default", {{"self", T(t)}}, "relu"));
  return b.finish();
}

std::vector<std::vector<ref::RValue>> images(std::vector<std::vector<int64_t>> shapes,
                                             uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<ref::RValue>> out;
  for (auto& s : shapes)
    out.push_back({random_tensor(DType::kFloat32, std::move(s), rng)});
  return out;
}

TEST(FoldConvBatchNorm, ConvolutionTakesTheChainIntoWeightAndBias) {
  ir::ExportedProgram p = conv_affine_relu();
  std::string text = fold_checked(p, images({{1, 2, 6, 6}, {3, 2, 6, 6}}, 1));
  EXPECT_EQ(text,
            "graph(%p_w: f32[3, 2, 3, 3], %p_b: f32[3], %b_mean: f32[3, 1, 1], %p_scale: f32[3, "
            "1, 1], %p_beta: f32[3], %x: f32[s0, 2, 6, 6]):\n"
            "  %reshape: f32[3, 1, 1] = aten.reshape.default(%p_beta, [-1, 1, 1])\n"
            "  %convolution_scale: f32[3] = aten.reshape.default(%b_mean, [3])\n"
            "  %convolution_bias: f32[3] = aten.sub.Tensor(%p_b, %convolution_scale)\n"
            "  %convolution_scale_1: f32[3] = aten.reshape.default(%p_scale, [3])\n"
            "  %convolution_bias_1: f32[3] = aten.mul.Tensor(%convolution_bias, "
            "%convolution_scale_1)\n"
            "  %convolution_scale_2: f32[3] = aten.reshape.default(%reshape, [3])\n"
            "  %convolution_bias_2: f32[3] = aten.add.Tensor(%convolution_bias_1, "
            "%convolution_scale_2)\n"
            "  %convolution_scale_3: f32[3, 1, 1, 1] = "
            "aten.reshape.default(%convolution_scale_1, [3, 1, 1, 1])\n"
            "  %convolution_weight: f32[3, 2, 3, 3] = aten.mul.Tensor(%p_w, "
            "%convolution_scale_3)\n"
            "  %convolution: f32[s0, 3, 6, 6] = aten.convolution.default(%x, "
            "%convolution_weight, %convolution_bias_2, [1, 1], [1, 1], [1, 1], False, [0, 0], "
            "1)\n"
            "  %relu: f32[s0, 3, 6, 6] = aten.relu.default(%convolution)\n"
            "  return (%relu)\n"
            "signature:\n"
            "  input %p_w: parameter conv.weight\n"
            "  input %p_b: parameter conv.bias\n"
            "  input %b_mean: buffer mean\n"
            "  input %p_scale: parameter scale\n"
            "  input %p_beta: parameter beta\n"
            "  input %x: user_input\n"
            "  output %relu: user_output\n"
            "ranges:\n"
            "  s0: [1, 8]\n");
  // fold_constants then leaves the convolution alone, reading stored weight and bias.
  ir::ExportedProgram folded = p;
  passes::fold_conv_batchnorm(folded);
  passes::fold_constants(folded);
  EXPECT_EQ(folded.graph.nodes.size(), 2u);
  EXPECT_EQ(count_targets(folded.graph, "aten.convolution.default"), 1);
  EXPECT_EQ(folded.constants.size(), 2u);
}

// The program the pass must leave as it is.
void expect_unchanged(const ir::ExportedProgram& p) {
  ir::ExportedProgram q = p;
  passes::fold_conv_batchnorm(q);
  ir::verify(q);
  EXPECT_EQ(ir::print(q), ir::print(p));
}

struct NotFoldedCase {
  const char* name;
  // Builds conv -> one op by `operand` (and more) and marks outputs.
  std::function<void(ProgramBuilder&, ir::ValueId conv, ir::ValueId x, std::mt19937&)> tail;
};

ir::ExportedProgram conv_then(const NotFoldedCase& c, bool weight_is_input = false) {
  std::mt19937 rng(21);
  ProgramBuilder b;
  auto w = weight_is_input ? b.input("w", DType::kFloat32, {4, 2, 1, 1})
                           : b.stored("p_w", InputKind::kParameter, "conv.weight",
                                      random_tensor(DType::kFloat32, {4, 2, 1, 1}, rng));
  auto x = b.input("x", DType::kFloat32, {2, 2, 5, 5});
  auto y = b.op("aten.convolution.default",
                {{"input", T(x)},
                 {"weight", T(w)},
                 {"bias", ir::NoneArg{}},
                 {"stride", std::vector<int64_t>{1, 1}},
                 {"padding", std::vector<int64_t>{0, 0}},
                 {"dilation", std::vector<int64_t>{1, 1}},
                 {"transposed", false},
                 {"output_padding", std::vector<int64_t>{0, 0}},
                 {"groups", int64_t{1}}},
                "convolution");
  c.tail(b, y, x, rng);
  return b.finish();
}

ir::ValueId param(ProgramBuilder& b, const std::string& name, DType dtype,
                  std::vector<int64_t> sizes, std::mt19937& rng) {
  return b.stored(name, InputKind::kParameter, name, positive(dtype, std::move(sizes), rng));
}

TEST(FoldConvBatchNorm, LeavesAloneWhatItCannotFold) {
  const NotFoldedCase cases[] = {
      {"conv output has a second user",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {4, 1, 1}, rng);
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
         b.output(b.op("aten.relu.default", {{"self", T(y)}}, "relu"));
       }},
      {"conv output is a graph output",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {4, 1, 1}, rng);
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
         b.output(y);
       }},
      {"operand is a user input",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937&) {
         auto s = b.input("s", DType::kFloat32, {4, 1, 1});
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
       }},
      {"operand computed from the input",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId x, std::mt19937&) {
         auto m =
             b.op("aten.amax.default",
                  {{"self", T(x)}, {"dim", std::vector<int64_t>{}}, {"keepdim", false}}, "amax");
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(m)}}, "mul"));
       }},
      {"operand varies along a spatial dim",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {1, 1, 5}, rng);
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
       }},
      {"operand varies along the channel and a spatial dim",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {4, 5, 1}, rng);
         b.output(b.op("aten.add.Tensor", {{"self", T(y)}, {"other", T(s)}}, "add"));
       }},
      {"operand varies along the batch dim",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {2, 1, 1, 1}, rng);
         b.output(b.op("aten.add.Tensor", {{"self", T(y)}, {"other", T(s)}}, "add"));
       }},
      {"operand of another dtype",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat64, {4, 1, 1}, rng);
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
       }},
      {"the convolution's output divides",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
         auto s = param(b, "s", DType::kFloat32, {4, 1, 1}, rng);
         b.output(b.op("aten.div.Tensor", {{"self", T(s)}, {"other", T(y)}}, "div"));
       }},
      {"the convolution's output squared",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937&) {
         b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(y)}}, "mul"));
       }},
      {"a non-affine op",
       [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937&) {
         auto r = b.op("aten.relu.default", {{"self", T(y)}}, "relu");
         b.output(b.op("aten.mul.Tensor", {{"self", T(r)}, {"other", 2.0}}, "mul"));
       }},
  };
  for (const NotFoldedCase& c : cases) {
    SCOPED_TRACE(c.name);
    expect_unchanged(conv_then(c));
  }
  SCOPED_TRACE("weight is a user input");
  expect_unchanged(
      conv_then({"",
                 [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
                   auto s = param(b, "s", DType::kFloat32, {4, 1, 1}, rng);
                   b.output(b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul"));
                 }},
                true));
}

TEST(FoldConvBatchNorm, StopsWhereAnIntermediateValueHasAnotherUser) {
  // conv * s folds; its result is also returned, so the add after it stays.
  NotFoldedCase c{"", [](ProgramBuilder& b, ir::ValueId y, ir::ValueId, std::mt19937& rng) {
                    auto s = param(b, "s", DType::kFloat32, {4, 1, 1}, rng);
                    auto t = param(b, "t", DType::kFloat32, {4, 1, 1}, rng);
                    auto m = b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul");
                    b.output(b.op("aten.add.Tensor", {{"self", T(m)}, {"other", T(t)}}, "add"));
                    b.output(m);
                  }};
  ir::ExportedProgram p = conv_then(c);
  EXPECT_EQ(fold_checked(p, images({{2, 2, 5, 5}}, 3)),
            "graph(%p_w: f32[4, 2, 1, 1], %x: f32[2, 2, 5, 5], %s: f32[4, 1, 1], %t: f32[4, 1, "
            "1]):\n"
            "  %convolution_scale: f32[4] = aten.reshape.default(%s, [4])\n"
            "  %convolution_scale_1: f32[4, 1, 1, 1] = aten.reshape.default(%convolution_scale, "
            "[4, 1, 1, 1])\n"
            "  %convolution_weight: f32[4, 2, 1, 1] = aten.mul.Tensor(%p_w, "
            "%convolution_scale_1)\n"
            "  %convolution: f32[2, 4, 5, 5] = aten.convolution.default(%x, "
            "%convolution_weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)\n"
            "  %add: f32[2, 4, 5, 5] = aten.add.Tensor(%convolution, %t)\n"
            "  return (%add, %convolution)\n"
            "signature:\n"
            "  input %p_w: parameter conv.weight\n"
            "  input %x: user_input\n"
            "  input %s: parameter s\n"
            "  input %t: parameter t\n"
            "  output %add: user_output\n"
            "  output %convolution: user_output\n");
}

// ---- Equivalence on random inputs ----

struct ConvSpec {
  int64_t dims = 2;  // spatial dims
  int64_t in_channels = 4, out_channels = 6, groups = 1, kernel = 3, stride = 1;
  bool transposed = false;
  bool bias = true;
  DType dtype = DType::kFloat32;
};

// A program of x -> convolution -> tail(...) -> tanh (so the chain's end feeds a node).
using Tail = std::function<ir::ValueId(ProgramBuilder&, ir::ValueId conv, std::mt19937&)>;

ir::ExportedProgram conv_program(const ConvSpec& c, const Tail& tail, uint32_t seed) {
  std::mt19937 rng(seed);
  ProgramBuilder b;
  std::vector<int64_t> wsizes =
      c.transposed ? std::vector<int64_t>{c.in_channels, c.out_channels / c.groups}
                   : std::vector<int64_t>{c.out_channels, c.in_channels / c.groups};
  for (int64_t d = 0; d < c.dims; ++d)
    wsizes.push_back(c.kernel);
  auto w =
      b.stored("p_w", InputKind::kParameter, "conv.weight", random_tensor(c.dtype, wsizes, rng));
  ir::Argument bias = ir::NoneArg{};
  if (c.bias) {
    bias = T(b.stored("p_b", InputKind::kParameter, "conv.bias",
                      random_tensor(c.dtype, {c.out_channels}, rng)));
  }
  std::vector<sym::Expr> xs{sy("s0"), c.in_channels};
  for (int64_t d = 0; d < c.dims; ++d)
    xs.emplace_back(7);
  auto x = b.input("x", c.dtype, xs);
  b.program.ranges["s0"] = {1, 4};
  auto n = static_cast<size_t>(c.dims);
  auto y = b.op("aten.convolution.default",
                {{"input", T(x)},
                 {"weight", T(w)},
                 {"bias", bias},
                 {"stride", std::vector<int64_t>(n, c.stride)},
                 {"padding", std::vector<int64_t>(n, 1)},
                 {"dilation", std::vector<int64_t>(n, 1)},
                 {"transposed", c.transposed},
                 {"output_padding", std::vector<int64_t>(n, c.transposed ? c.stride - 1 : 0)},
                 {"groups", c.groups}},
                "convolution");
  b.output(b.op("aten.tanh.default", {{"self", T(tail(b, y, rng))}}, "tanh"));
  return b.finish();
}

// Inference batch norm as the export writes it, decomposed (the form the pass meets).
Tail batch_norm(int64_t channels, DType dtype, bool affine = true) {
  return [=](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
    ir::Argument gamma = ir::NoneArg{}, beta = ir::NoneArg{};
    if (affine) {
      gamma = T(b.stored("p_gamma", InputKind::kParameter, "bn.weight",
                         random_tensor(dtype, {channels}, rng)));
      beta = T(b.stored("p_beta", InputKind::kParameter, "bn.bias",
                        random_tensor(dtype, {channels}, rng)));
    }
    auto mean = b.stored("b_mean", InputKind::kBuffer, "bn.running_mean",
                         random_tensor(dtype, {channels}, rng));
    auto var =
        b.stored("b_var", InputKind::kBuffer, "bn.running_var", positive(dtype, {channels}, rng));
    return b.op("aten._native_batch_norm_legit_no_training.default",
                {{"input", T(y)},
                 {"weight", gamma},
                 {"bias", beta},
                 {"running_mean", T(mean)},
                 {"running_var", T(var)},
                 {"momentum", 0.1},
                 {"eps", 1e-5}},
                "bn");
  };
}

// Checks the decomposed program folds: no arithmetic is left between the convolution and tanh,
// and the results agree on random inputs at two batch sizes.
void expect_folds(const ConvSpec& c, const Tail& tail, uint32_t seed) {
  ir::ExportedProgram p = conv_program(c, tail, seed);
  passes::decompose(p);
  ir::verify(p);
  std::mt19937 rng(seed + 100);
  std::vector<std::vector<ref::RValue>> inputs;
  for (int64_t batch : {1, 3}) {
    std::vector<int64_t> xs{batch, c.in_channels};
    for (int64_t d = 0; d < c.dims; ++d)
      xs.push_back(7);
    inputs.push_back({random_tensor(c.dtype, xs, rng)});
  }
  // 16-bit folds round the scaled weights to 8 or 11 bits where the original rounded the
  // convolution's output.
  const double tolerance = c.dtype == DType::kFloat64   ? 1e-12
                           : c.dtype == DType::kFloat32 ? 1e-5
                                                        : 2e-2;
  fold_checked(p, inputs, tolerance);
  ir::ExportedProgram q = p;
  passes::fold_conv_batchnorm(q);
  const ir::Graph& g = q.graph;
  const ir::Node& tanh = g.nodes[static_cast<size_t>(g.values[*g.find("tanh")].producer)];
  const int conv = g.values[std::get<ir::TensorArg>(tanh.inputs[0].arg).value].producer;
  ASSERT_GE(conv, 0);
  EXPECT_EQ(g.nodes[static_cast<size_t>(conv)].target, "aten.convolution.default") << ir::print(q);
  EXPECT_EQ(count_targets(q.graph, "aten.convolution.default"), 1);
  // The chain's scales gather into one per-channel factor: the weight is multiplied once.
  const ir::Node& folded = g.nodes[static_cast<size_t>(conv)];
  auto numel = [&](ir::ValueId id) {
    int64_t n = 1;
    for (const sym::Expr& s : g.values[static_cast<size_t>(id)].type.sizes)
      n *= s.value();
    return n;
  };
  const int64_t weight_numel = numel(std::get<ir::TensorArg>(folded.inputs[1].arg).value);
  int weight_products = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.target.starts_with("aten.mul.") || n.target.starts_with("aten.div.")) {
      weight_products += numel(ir::node_outputs(n)[0]) == weight_numel;
    }
  }
  EXPECT_EQ(weight_products, 1) << ir::print(q);
}

TEST(FoldConvBatchNorm, Conv2dBatchNorm) {
  expect_folds({}, batch_norm(6, DType::kFloat32), 1);
}

TEST(FoldConvBatchNorm, Conv1dAndConv3dBatchNorm) {
  expect_folds({.dims = 1, .stride = 2}, batch_norm(6, DType::kFloat32), 2);
  expect_folds({.dims = 3, .in_channels = 2, .out_channels = 3}, batch_norm(3, DType::kFloat32), 3);
}

TEST(FoldConvBatchNorm, GroupedAndDepthwise) {
  expect_folds({.in_channels = 4, .out_channels = 6, .groups = 2}, batch_norm(6, DType::kFloat32),
               4);
  expect_folds({.in_channels = 5, .out_channels = 5, .groups = 5}, batch_norm(5, DType::kFloat32),
               5);
  expect_folds({.in_channels = 3, .out_channels = 6, .groups = 3, .bias = false},
               batch_norm(6, DType::kFloat32), 6);
}

TEST(FoldConvBatchNorm, WithoutBiasOrAffineParameters) {
  expect_folds({.bias = false}, batch_norm(6, DType::kFloat32), 7);
  expect_folds({.bias = false}, batch_norm(6, DType::kFloat32, false), 8);
}

TEST(FoldConvBatchNorm, TransposedConvolution) {
  expect_folds({.transposed = true}, batch_norm(6, DType::kFloat32), 9);
  expect_folds({.in_channels = 4, .out_channels = 6, .groups = 2, .stride = 2, .transposed = true},
               batch_norm(6, DType::kFloat32), 10);
  expect_folds({.dims = 1,
                .in_channels = 4,
                .out_channels = 2,
                .groups = 2,
                .transposed = true,
                .bias = false},
               batch_norm(2, DType::kFloat32), 11);
}

TEST(FoldConvBatchNorm, Float64) {
  expect_folds({.dtype = DType::kFloat64}, batch_norm(6, DType::kFloat64), 12);
}

// A per-channel affine written directly in a 16-bit dtype folds in that dtype.
TEST(FoldConvBatchNorm, SixteenBitAffine) {
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    SCOPED_TRACE(std::string(ir::dtype_name(t)));
    expect_folds(
        {.dtype = t},
        [t](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
          auto s = b.stored("s", InputKind::kParameter, "s", positive(t, {6, 1, 1}, rng));
          auto m = b.op("aten.mul.Tensor", {{"self", T(y)}, {"other", T(s)}}, "mul");
          auto sh = b.stored("t", InputKind::kParameter, "t", random_tensor(t, {1, 6, 1, 1}, rng));
          return b.op("aten.add.Tensor", {{"self", T(m)}, {"other", T(sh)}}, "add");
        },
        13);
  }
}

ir::ValueId per_channel(ProgramBuilder& b, const std::string& name, std::vector<int64_t> sizes,
                        std::mt19937& rng) {
  return b.stored(name, InputKind::kParameter, name, positive(DType::kFloat32, sizes, rng));
}

ir::ValueId binary(ProgramBuilder& b, std::string_view target, const ir::Argument& self,
                   const ir::Argument& other, std::optional<ir::Argument> alpha = {}) {
  ir::CallArgs args{{"self", self}, {"other", other}};
  if (alpha) args.emplace_back("alpha", *alpha);
  return b.op(target, args, "op");
}

TEST(FoldConvBatchNorm, ChainVariants) {
  const std::pair<const char*, Tail> chains[] = {
      {"x * s + t", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto s = per_channel(b, "s", {6, 1, 1}, rng), t = per_channel(b, "t", {1, 6, 1, 1}, rng);
         return binary(b, "aten.add.Tensor", T(binary(b, "aten.mul.Tensor", T(y), T(s))), T(t));
       })},
      {"(x - m) * s", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto m = per_channel(b, "m", {6, 1, 1}, rng), s = per_channel(b, "s", {6, 1, 1}, rng);
         return binary(b, "aten.mul.Tensor", T(binary(b, "aten.sub.Tensor", T(y), T(m))), T(s));
       })},
      {"x / s", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         return binary(b, "aten.div.Tensor", T(y), T(per_channel(b, "s", {6, 1, 1}, rng)));
       })},
      {"t + s * x", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto s = per_channel(b, "s", {6, 1, 1}, rng), t = per_channel(b, "t", {6, 1, 1}, rng);
         return binary(b, "aten.add.Tensor", T(t), T(binary(b, "aten.mul.Tensor", T(s), T(y))));
       })},
      {"t - x", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         return binary(b, "aten.sub.Tensor", T(per_channel(b, "t", {6, 1, 1}, rng)), T(y));
       })},
      {"1.5 - 2 * x (rsub as decomposed)",
       Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937&) {
         return binary(b, "aten.sub.Tensor", 1.5, T(y), int64_t{2});
       })},
      {"t + 0.5 * x", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         return binary(b, "aten.add.Tensor", T(per_channel(b, "t", {6, 1, 1}, rng)), T(y), 0.5);
       })},
      {"(x - 2.5 * m) / 3 + 0.25", Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto m = per_channel(b, "m", {6, 1, 1}, rng);
         auto d = binary(b, "aten.div.Tensor", T(binary(b, "aten.sub.Tensor", T(y), T(m), 2.5)),
                         int64_t{3});
         return binary(b, "aten.add.Scalar", T(d), 0.25);
       })},
      {"x * k (a 0-dim constant) - 1",
       Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto k = per_channel(b, "k", {}, rng);
         return binary(b, "aten.sub.Scalar", T(binary(b, "aten.mul.Tensor", T(y), T(k))),
                       int64_t{1});
       })},
      {"x * s where s = exp(p) (a computed constant)",
       Tail([](ProgramBuilder& b, ir::ValueId y, std::mt19937& rng) {
         auto p =
             b.stored("p", InputKind::kParameter, "p", random_tensor(DType::kFloat32, {6}, rng));
         auto e = b.op("aten.exp.default", {{"self", T(p)}}, "exp");
         auto s = b.op("aten.reshape.default",
                       {{"self", T(e)}, {"shape", std::vector<int64_t>{6, 1, 1}}}, "reshape");
         return binary(b, "aten.mul.Tensor", T(y), T(s));
       })},
  };
  for (const auto& [name, tail] : chains) {
    SCOPED_TRACE(name);
    expect_folds({}, tail, 20);
    expect_folds({.bias = false}, tail, 21);
    expect_folds({.in_channels = 6, .groups = 6, .transposed = true}, tail, 22);
  }
}

// ---- The fixture models through the backend pipeline ----

// Arithmetic nodes reading a convolution's output with a number or a value computed from no
// user input as the other operand: the per-channel work left after convolutions.
int affine_after_conv(const ir::ExportedProgram& p) {
  const ir::Graph& g = p.graph;
  std::vector<bool> varies(g.values.size(), false);  // depends on a user input
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == InputKind::kUserInput) varies[g.inputs[i]] = true;
  }
  for (const ir::Node& n : g.nodes) {
    bool any = false;
    for (const ir::NamedArgument& in : n.inputs) {
      for (ir::ValueId id : ir::argument_values(in.arg))
        any = any || varies[static_cast<size_t>(id)];
    }
    for (ir::ValueId id : ir::node_outputs(n))
      varies[static_cast<size_t>(id)] = any;
  }
  auto from_conv = [&](const ir::Argument* a) {
    const auto* t = a ? std::get_if<ir::TensorArg>(a) : nullptr;
    if (t == nullptr) return false;
    int producer = g.values[static_cast<size_t>(t->value)].producer;
    return producer >= 0 &&
           g.nodes[static_cast<size_t>(producer)].target == "aten.convolution.default";
  };
  auto constant = [&](const ir::Argument* a) {
    if (a == nullptr) return false;
    if (const auto* t = std::get_if<ir::TensorArg>(a))
      return !varies[static_cast<size_t>(t->value)];
    return std::holds_alternative<double>(*a) || std::holds_alternative<int64_t>(*a);
  };
  int count = 0;
  for (const ir::Node& n : g.nodes) {
    if (!n.target.starts_with("aten.mul.") && !n.target.starts_with("aten.add.") &&
        !n.target.starts_with("aten.sub.") && !n.target.starts_with("aten.div.")) {
      continue;
    }
    int s = ir::input_index(n, "self"), o = ir::input_index(n, "other");
    if (s < 0 || o < 0) continue;
    const ir::Argument* self = &n.inputs[static_cast<size_t>(s)].arg;
    const ir::Argument* other = &n.inputs[static_cast<size_t>(o)].arg;
    if ((from_conv(self) && constant(other)) || (from_conv(other) && constant(self))) ++count;
  }
  return count;
}

class FoldOnFixture : public ::testing::TestWithParam<FixtureModel> {};

std::vector<FixtureModel> conv_fixtures() {
  const std::set<std::string> names{"resnet18", "mobilenet_v2", "efficientnet_b0", "unet_block",
                                    "op_conv"};
  std::vector<FixtureModel> out;
  for (const FixtureModel& m : fixture_models()) {
    if (names.count(m.dir.filename().string())) out.push_back(m);
  }
  return out;
}

TEST_P(FoldOnFixture, PipelineReproducesTorchWithFewerChannelOps) {
  const FixtureModel& fx = GetParam();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram with = loaded.program;
  passes::prepare_for_backend(with);
  ir::ExportedProgram without = loaded.program;
  for (const passes::PassInfo& pass : passes::backend_pipeline()) {
    if (pass.name != "fold_conv_batchnorm") pass.run(without);
  }
  const int before = affine_after_conv(without), after = affine_after_conv(with);
  RecordProperty("channel_ops_before", before);
  RecordProperty("nodes_before", static_cast<int>(without.graph.nodes.size()));
  RecordProperty("nodes_after", static_cast<int>(with.graph.nodes.size()));
  EXPECT_EQ(after, 0) << before << " before folding";
  const std::string name = fx.dir.filename().string();
  if (name == "resnet18" || name == "mobilenet_v2" || name == "efficientnet_b0") {
    EXPECT_GT(before, 0);
  }
  EXPECT_EQ(count_targets(with.graph, "aten.convolution.default"),
            count_targets(without.graph, "aten.convolution.default"));

  ref::Interpreter interpreter(with, passes::stored_tensors(loaded, with));
  std::vector<size_t> user;
  for (size_t i = 0; i < with.signature.inputs.size(); ++i) {
    if (with.signature.inputs[i].kind == InputKind::kUserInput) user.push_back(i);
  }
  for (const auto& c : fx.manifest()["cases"]) {
    std::vector<ref::RValue> args;
    for (size_t i = 0; i < c["inputs"].size(); ++i) {
      auto file = (fx.dir / c["inputs"][i]["file"].get<std::string>()).string();
      const ir::Value& v = with.graph.values[static_cast<size_t>(with.graph.inputs[user.at(i)])];
      args.push_back(ref::value_from_npy(util::read_npy(file), v, file));
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
      EXPECT_LE(relative_error(have, want), 1e-4);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FoldOnFixture, ::testing::ValuesIn(conv_fixtures()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
