// layer_norm, group_norm, batch_norm, instance_norm and rms_norm against loops over the input
// viewed as [rows, cols] (trailing-dim norms) or [N, C, S] (channel norms), written here.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "ref/values.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Dims = std::vector<int64_t>;

int64_t prod(const Dims& d, size_t from = 0, size_t to = SIZE_MAX) {
  int64_t p = 1;
  for (size_t i = from; i < std::min(to, d.size()); ++i)
    p *= d[i];
  return p;
}

double w_or(const std::optional<ref::Tensor>& t, int64_t i, double absent) {
  return t ? t->get(i) : absent;
}

struct LayerNormWant {
  ref::Tensor out, mean, rstd;
};

// layer_norm over the last `k` dims: the input as [rows, cols], each row normalized with its
// mean and biased variance (sum of squares minus n * mean^2).
LayerNormWant want_layer_norm(const ref::Tensor& x, size_t k, const std::optional<ref::Tensor>& w,
                              const std::optional<ref::Tensor>& b, double eps, DType stat_dt) {
  const Dims& s = x.sizes();
  int64_t cols = prod(s, s.size() - k), rows = prod(s, 0, s.size() - k);
  Dims stat_sizes(s.begin(), s.end() - static_cast<long>(k));
  stat_sizes.resize(s.size(), 1);
  LayerNormWant r{ref::Tensor(x.dtype(), s), ref::Tensor(stat_dt, stat_sizes),
                  ref::Tensor(stat_dt, stat_sizes)};
  for (int64_t row = 0; row < rows; ++row) {
    double sum = 0, sq = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double v = x.get(row * cols + c);
      sum += v;
      sq += v * v;
    }
    double mean = sum / static_cast<double>(cols);
    double var = sq / static_cast<double>(cols) - mean * mean;
    double rstd = 1 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (x.get(row * cols + c) - mean) * rstd;
      r.out.set(row * cols + c, v * w_or(w, c, 1) + w_or(b, c, 0));
    }
    r.mean.set(row, mean);
    r.rstd.set(row, rstd);
  }
  return r;
}

TestArgs optional_args(TestArgs args, const std::optional<ref::Tensor>& w,
                       const std::optional<ref::Tensor>& b) {
  if (w) args.emplace_back("weight", *w);
  if (b) args.emplace_back("bias", *b);
  return args;
}

struct LayerCase {
  Dims shape;
  Dims normalized;
};

const std::vector<LayerCase> kLayerCases = {
    {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 4}}, {{1, 5}, {5}}, {{3, 1, 2}, {1, 2}}, {{6}, {6}}};

TEST(NormOps, LayerNormWithAndWithoutAffine) {
  std::mt19937 rng(61);
  for (const auto& [shape, normalized] : kLayerCases) {
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat32 ? 1e-5 : 2e-2;
      for (int affine = 0; affine < 4; ++affine) {
        std::optional<ref::Tensor> w, b;
        // Parameters stay float32 under a 16-bit input, as mixed-precision models keep them.
        if (affine & 1) w = random_tensor(DType::kFloat32, normalized, rng);
        if (affine & 2) b = random_tensor(DType::kFloat32, normalized, rng);
        double eps = affine == 3 ? 1e-3 : 1e-5;
        LayerNormWant want = want_layer_norm(x, normalized.size(), w, b, eps, dt);
        TestArgs args = optional_args({{"input", x}, {"normalized_shape", normalized}}, w, b);
        if (affine == 3) args.emplace_back("eps", eps);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.layer_norm.default", args), want.out, tol);
        if (affine != 3) args.emplace_back("eps", eps);
        auto out = run_op("aten.native_layer_norm.default", args);
        ASSERT_EQ(out.size(), 3u);
        EXPECT_TENSOR_NEAR(as_tensor(out[0]), want.out, tol);
        EXPECT_TENSOR_NEAR(as_tensor(out[1]), want.mean, tol);
        EXPECT_TENSOR_NEAR(as_tensor(out[2]), want.rstd, tol);
      }
    }
  }
}

TEST(NormOps, LayerNormChecks) {
  std::mt19937 rng(62);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_THROW(run_op("aten.layer_norm.default", {{"input", x}, {"normalized_shape", Dims{3}}}),
               Error);
  EXPECT_THROW(run_op("aten.layer_norm.default", {{"input", x}, {"normalized_shape", Dims{}}}),
               Error);
  EXPECT_THROW(
      run_op("aten.layer_norm.default", {{"input", x}, {"normalized_shape", Dims{1, 2, 3, 4}}}),
      Error);
  EXPECT_THROW(
      run_op("aten.layer_norm.default", {{"input", x},
                                         {"normalized_shape", Dims{4}},
                                         {"weight", random_tensor(DType::kFloat32, {3}, rng)}}),
      Error);
  EXPECT_THROW(
      run_op("aten.native_layer_norm.default", {{"input", x},
                                                {"normalized_shape", Dims{3, 4}},
                                                {"weight", ir::NoneArg{}},
                                                {"bias", random_tensor(DType::kFloat32, {12}, rng)},
                                                {"eps", 1e-5}}),
      Error);
  ref::Tensor i = random_tensor(DType::kInt64, {2, 3}, rng, -5, 5);
  EXPECT_THROW(run_op("aten.layer_norm.default", {{"input", i}, {"normalized_shape", Dims{3}}}),
               Error);
}

// Runs an op on a one-node graph whose tensor inputs live on `device`, for the outputs whose
// types depend on the device. Returns the kernel's values after checking the shape rule agrees.
std::vector<ref::RValue> run_on_device(std::string_view target, const TestArgs& args,
                                       const std::string& device) {
  ir::Graph g;
  ir::Node node;
  node.name = "op";
  node.target = std::string(target);
  std::vector<std::pair<ir::ValueId, ref::Tensor>> tensors;
  for (const auto& [name, arg] : args) {
    if (const auto* t = std::get_if<ref::Tensor>(&arg)) {
      ir::Value v;
      v.name = name;
      v.type = ref::concrete_type(*t, ir::Device{device, 0});
      ir::ValueId id = g.add_value(v);
      tensors.emplace_back(id, *t);
      node.inputs.push_back({name, ir::TensorArg{id}, ir::ArgKindHint::kKeyword});
    } else if (const auto* d = std::get_if<double>(&arg)) {
      node.inputs.push_back({name, *d, ir::ArgKindHint::kKeyword});
    } else if (const auto* l = std::get_if<Dims>(&arg)) {
      node.inputs.push_back({name, *l, ir::ArgKindHint::kKeyword});
    } else if (const auto* i = std::get_if<int64_t>(&arg)) {
      node.inputs.push_back({name, *i, ir::ArgKindHint::kKeyword});
    } else if (const auto* b = std::get_if<bool>(&arg)) {
      node.inputs.push_back({name, *b, ir::ArgKindHint::kKeyword});
    } else {
      node.inputs.push_back({name, ir::NoneArg{}, ir::ArgKindHint::kKeyword});
    }
  }
  const ops::OpDef* op = ops::find_op(target);
  ref::ConcreteValues values(g);
  for (const auto& [id, t] : tensors)
    values.set(id, t);
  ops::Args bound(*op, node, values);
  std::vector<ops::OutType> types = op->shape(bound);
  std::vector<ref::RValue> results = op->reference(bound);
  EXPECT_EQ(types.size(), results.size());
  for (size_t i = 0; i < std::min(types.size(), results.size()); ++i) {
    EXPECT_EQ(types[i].tensor.str(), ref::concrete_type(as_tensor(results[i])).str());
    EXPECT_EQ(types[i].tensor.device.type, device);
  }
  return results;
}

TEST(NormOps, NativeLayerNormStatsStayFloat32OffTheCpu) {
  std::mt19937 rng(63);
  ref::Tensor x = random_tensor(DType::kFloat16, {2, 3, 4}, rng, -3, 3);
  auto out = run_on_device("aten.native_layer_norm.default",
                           {{"input", x}, {"normalized_shape", Dims{4}}, {"eps", 1e-5}}, "cuda");
  LayerNormWant want = want_layer_norm(x, 1, std::nullopt, std::nullopt, 1e-5, DType::kFloat32);
  EXPECT_TENSOR_NEAR(as_tensor(out[0]), want.out, 1e-2);
  EXPECT_TENSOR_NEAR(as_tensor(out[1]), want.mean, 1e-6);
  EXPECT_TENSOR_NEAR(as_tensor(out[2]), want.rstd, 1e-6);
}

// rms_norm over the last k dims, as [rows, cols].
ref::Tensor want_rms_norm(const ref::Tensor& x, size_t k, const std::optional<ref::Tensor>& w,
                          double eps) {
  const Dims& s = x.sizes();
  int64_t cols = prod(s, s.size() - k), rows = prod(s, 0, s.size() - k);
  ref::Tensor out(x.dtype(), s);
  for (int64_t row = 0; row < rows; ++row) {
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c)
      sq += std::pow(x.get(row * cols + c), 2);
    double scale = 1 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c)
      out.set(row * cols + c, x.get(row * cols + c) * scale * w_or(w, c, 1));
  }
  return out;
}

TEST(NormOps, RmsNorm) {
  std::mt19937 rng(64);
  for (const auto& [shape, normalized] : kLayerCases) {
    for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kFloat64}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat16 ? 1e-2 : 1e-6;
      // eps=None: float32's epsilon for float32 and 16-bit inputs, float64's for float64.
      double default_eps = dt == DType::kFloat64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
      EXPECT_TENSOR_NEAR(
          run_op_tensor("aten.rms_norm.default", {{"input", x}, {"normalized_shape", normalized}}),
          want_rms_norm(x, normalized.size(), std::nullopt, default_eps), tol);
      ref::Tensor w = random_tensor(DType::kFloat32, normalized, rng);
      EXPECT_TENSOR_NEAR(
          run_op_tensor(
              "aten.rms_norm.default",
              {{"input", x}, {"normalized_shape", normalized}, {"weight", w}, {"eps", 0.25}}),
          want_rms_norm(x, normalized.size(), w, 0.25), tol);
    }
  }
  // The default eps matters for tiny inputs: float32's epsilon, not float16's, for float16.
  ref::Tensor tiny = make_tensor(DType::kFloat16, {1, 3}, {1e-3, -2e-3, 1.5e-3});
  EXPECT_TENSOR_NEAR(
      run_op_tensor("aten.rms_norm.default", {{"input", tiny}, {"normalized_shape", Dims{3}}}),
      want_rms_norm(tiny, 1, std::nullopt, 1.1920928955078125e-07), 1e-3);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_THROW(run_op("aten.rms_norm.default", {{"input", x}, {"normalized_shape", Dims{3}}}),
               Error);
  EXPECT_THROW(run_op("aten.rms_norm.default", {{"input", x}, {"normalized_shape", Dims{}}}),
               Error);
  EXPECT_THROW(
      run_op("aten.rms_norm.default", {{"input", x},
                                       {"normalized_shape", Dims{4}},
                                       {"weight", random_tensor(DType::kFloat32, {3}, rng)}}),
      Error);
}

// Channel norms over the input viewed as [N, C, S]: `stats_of(n, c)` gives the (mean, var) an
// element uses.
template <typename StatsOf>
ref::Tensor want_channel_norm(const ref::Tensor& x, const std::optional<ref::Tensor>& w,
                              const std::optional<ref::Tensor>& b, double eps, StatsOf stats_of) {
  int64_t N = x.size(0), C = x.size(1), S = prod(x.sizes(), 2);
  ref::Tensor out(x.dtype(), x.sizes());
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      auto [mean, var] = stats_of(n, c);
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * C + c) * S + s;
        out.set(i, (x.get(i) - mean) / std::sqrt(var + eps) * w_or(w, c, 1) + w_or(b, c, 0));
      }
    }
  }
  return out;
}

// Mean and biased variance over the (n, c) pairs `take` accepts, all spatial positions.
template <typename Take>
std::pair<double, double> moments(const ref::Tensor& x, Take take) {
  int64_t N = x.size(0), C = x.size(1), S = prod(x.sizes(), 2);
  double sum = 0, sq = 0, count = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      if (!take(n, c)) continue;
      for (int64_t s = 0; s < S; ++s) {
        double v = x.get((n * C + c) * S + s);
        sum += v;
        sq += v * v;
        ++count;
      }
    }
  }
  double mean = sum / count;
  return {mean, sq / count - mean * mean};
}

const std::vector<Dims> kChannelShapes = {{2, 6, 3}, {1, 4, 2, 2}, {3, 2}, {2, 3, 1, 5}};

TEST(NormOps, GroupNormBothForms) {
  std::mt19937 rng(65);
  for (const Dims& shape : kChannelShapes) {
    int64_t C = shape[1];
    for (DType dt : {DType::kFloat32, DType::kFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat32 ? 1e-5 : 1e-2;
      for (int64_t G = 1; G <= C; ++G) {
        if (C % G != 0) continue;
        int64_t per = C / G;
        for (bool affine : {false, true}) {
          std::optional<ref::Tensor> w, b;
          if (affine) {
            w = random_tensor(DType::kFloat32, {C}, rng);
            b = random_tensor(DType::kFloat32, {C}, rng);
          }
          auto stats = [&](int64_t n, int64_t c) {
            return moments(x,
                           [&](int64_t n2, int64_t c2) { return n2 == n && c2 / per == c / per; });
          };
          ref::Tensor want = want_channel_norm(x, w, b, 1e-5, stats);
          EXPECT_TENSOR_NEAR(run_op_tensor("aten.group_norm.default",
                                           optional_args({{"input", x}, {"num_groups", G}}, w, b)),
                             want, tol);
          int64_t N = shape[0], HxW = prod(shape, 2);
          auto out = run_op(
              "aten.native_group_norm.default",
              optional_args(
                  {{"input", x}, {"N", N}, {"C", C}, {"HxW", HxW}, {"group", G}, {"eps", 1e-5}}, w,
                  b));
          ASSERT_EQ(out.size(), 3u);
          EXPECT_TENSOR_NEAR(as_tensor(out[0]), want, tol);
          ref::Tensor mean(dt, {N, G}), rstd(dt, {N, G});
          for (int64_t n = 0; n < N; ++n) {
            for (int64_t g = 0; g < G; ++g) {
              auto [m, v] = stats(n, g * per);
              mean.set(n * G + g, m);
              rstd.set(n * G + g, 1 / std::sqrt(v + 1e-5));
            }
          }
          EXPECT_TENSOR_NEAR(as_tensor(out[1]), mean, tol);
          EXPECT_TENSOR_NEAR(as_tensor(out[2]), rstd, tol);
        }
      }
    }
  }
}

TEST(NormOps, GroupNormChecks) {
  std::mt19937 rng(66);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  EXPECT_THROW(run_op("aten.group_norm.default", {{"input", x}, {"num_groups", int64_t{2}}}),
               Error);
  EXPECT_THROW(run_op("aten.group_norm.default", {{"input", x}, {"num_groups", int64_t{0}}}),
               Error);
  EXPECT_THROW(
      run_op("aten.group_norm.default", {{"input", x},
                                         {"num_groups", int64_t{3}},
                                         {"weight", random_tensor(DType::kFloat32, {4}, rng)}}),
      Error);
  EXPECT_THROW(
      run_op("aten.group_norm.default",
             {{"input", random_tensor(DType::kFloat32, {3}, rng)}, {"num_groups", int64_t{3}}}),
      Error);
  EXPECT_THROW(
      run_op("aten.group_norm.default",
             {{"input", ref::Tensor(DType::kFloat32, {2, 4, 0})}, {"num_groups", int64_t{2}}}),
      Error);
  EXPECT_THROW(run_op("aten.native_group_norm.default", {{"input", x},
                                                         {"N", int64_t{2}},
                                                         {"C", int64_t{3}},
                                                         {"HxW", int64_t{5}},
                                                         {"group", int64_t{3}},
                                                         {"eps", 1e-5}}),
               Error);
}

struct BatchParams {
  std::optional<ref::Tensor> w, b;
  ref::Tensor rm, rv;
};

BatchParams batch_params(int64_t C, std::mt19937& rng, bool affine) {
  BatchParams p{std::nullopt, std::nullopt, random_tensor(DType::kFloat32, {C}, rng),
                random_tensor(DType::kFloat32, {C}, rng, 0.2, 2)};
  if (affine) {
    p.w = random_tensor(DType::kFloat32, {C}, rng);
    p.b = random_tensor(DType::kFloat32, {C}, rng);
  }
  return p;
}

// `args` with the running statistics of `p` (None without `p`) and the op's mode flag.
TestArgs with_running(TestArgs args, const BatchParams* p, const char* flag, bool value) {
  args.emplace_back("running_mean", p ? TestArg(p->rm) : TestArg(ir::NoneArg{}));
  args.emplace_back("running_var", p ? TestArg(p->rv) : TestArg(ir::NoneArg{}));
  args.emplace_back(flag, value);
  return args;
}

// The statistics per (batch, channel) that normalize with the running ones.
auto running_stats(const BatchParams& p) {
  return [&p](int64_t, int64_t c) { return std::pair(p.rm.get(c), p.rv.get(c)); };
}

TEST(NormOps, BatchNormEvalAndTraining) {
  std::mt19937 rng(67);
  for (const Dims& shape : kChannelShapes) {
    int64_t C = shape[1];
    for (DType dt : {DType::kFloat32, DType::kFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat32 ? 1e-5 : 1e-2;
      for (bool affine : {false, true}) {
        BatchParams p = batch_params(C, rng, affine);
        TestArgs base = optional_args({{"input", x}}, p.w, p.b);
        base.emplace_back("momentum", 0.1);
        base.emplace_back("eps", 1e-3);
        base.emplace_back("cudnn_enabled", true);
        ref::Tensor want_eval = want_channel_norm(x, p.w, p.b, 1e-3, running_stats(p));
        EXPECT_TENSOR_NEAR(
            run_op_tensor("aten.batch_norm.default", with_running(base, &p, "training", false)),
            want_eval, tol);
        // training: the batch's statistics per channel, whether or not buffers are passed.
        ref::Tensor want_train = want_channel_norm(x, p.w, p.b, 1e-3, [&](int64_t, int64_t c) {
          return moments(x, [&](int64_t, int64_t c2) { return c2 == c; });
        });
        for (const BatchParams* running : std::initializer_list<const BatchParams*>{nullptr, &p}) {
          EXPECT_TENSOR_NEAR(run_op_tensor("aten.batch_norm.default",
                                           with_running(base, running, "training", true)),
                             want_train, tol);
        }
        // The no-training form: the same output, and empty saved statistics on the CPU.
        TestArgs legit =
            optional_args({{"input", x}, {"running_mean", p.rm}, {"running_var", p.rv}}, p.w, p.b);
        legit.emplace_back("momentum", 0.1);
        legit.emplace_back("eps", 1e-3);
        auto out = run_op("aten._native_batch_norm_legit_no_training.default", legit);
        ASSERT_EQ(out.size(), 3u);
        EXPECT_TENSOR_NEAR(as_tensor(out[0]), want_eval, tol);
        EXPECT_EQ(as_tensor(out[1]).str(), ref::Tensor(dt, {0}).str());
        EXPECT_EQ(as_tensor(out[2]).str(), ref::Tensor(dt, {0}).str());
      }
    }
  }
}

TEST(NormOps, NoTrainingBatchNormSavesStatsOffTheCpu) {
  std::mt19937 rng(68);
  ref::Tensor x = random_tensor(DType::kFloat16, {2, 3, 4}, rng, -3, 3);
  BatchParams p = batch_params(3, rng, false);
  auto out = run_on_device("aten._native_batch_norm_legit_no_training.default",
                           {{"input", x},
                            {"weight", ir::NoneArg{}},
                            {"bias", ir::NoneArg{}},
                            {"running_mean", p.rm},
                            {"running_var", p.rv},
                            {"momentum", 0.1},
                            {"eps", 1e-5}},
                           "cuda");
  ASSERT_EQ(out.size(), 3u);
  ref::Tensor mean(DType::kFloat32, {3}), invstd(DType::kFloat32, {3});
  for (int64_t c = 0; c < 3; ++c) {
    mean.set(c, p.rm.get(c));
    invstd.set(c, 1 / std::sqrt(p.rv.get(c) + 1e-5));
  }
  EXPECT_TENSOR_NEAR(as_tensor(out[1]), mean, 1e-7);
  EXPECT_TENSOR_NEAR(as_tensor(out[2]), invstd, 1e-6);
}

TEST(NormOps, BatchNormChecks) {
  std::mt19937 rng(69);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  BatchParams p = batch_params(3, rng, false);
  TestArgs args = {
      {"input", x},  {"weight", ir::NoneArg{}}, {"bias", ir::NoneArg{}}, {"momentum", 0.1},
      {"eps", 1e-5}, {"cudnn_enabled", true},   {"training", false},     {"running_var", p.rv}};
  EXPECT_THROW(run_op("aten.batch_norm.default", args), Error);  // no running_mean in eval
  args.emplace_back("running_mean", random_tensor(DType::kFloat32, {4}, rng));
  EXPECT_THROW(run_op("aten.batch_norm.default", args), Error);  // wrong size
  EXPECT_THROW(
      run_op("aten.batch_norm.default", {{"input", random_tensor(DType::kFloat32, {3}, rng)},
                                         {"weight", ir::NoneArg{}},
                                         {"bias", ir::NoneArg{}},
                                         {"running_mean", p.rm},
                                         {"running_var", p.rv},
                                         {"training", false},
                                         {"momentum", 0.1},
                                         {"eps", 1e-5},
                                         {"cudnn_enabled", true}}),
      Error);
}

TEST(NormOps, InstanceNorm) {
  std::mt19937 rng(70);
  for (const Dims& shape : kChannelShapes) {
    int64_t C = shape[1];
    for (DType dt : {DType::kFloat32, DType::kBFloat16}) {
      ref::Tensor x = random_tensor(dt, shape, rng, -3, 3);
      double tol = dt == DType::kFloat32 ? 1e-5 : 2e-2;
      for (bool affine : {false, true}) {
        BatchParams p = batch_params(C, rng, affine);
        TestArgs base = optional_args({{"input", x}}, p.w, p.b);
        base.emplace_back("momentum", 0.1);
        base.emplace_back("eps", 1e-5);
        base.emplace_back("cudnn_enabled", false);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.instance_norm.default",
                                         with_running(base, nullptr, "use_input_stats", true)),
                           want_channel_norm(x, p.w, p.b, 1e-5,
                                             [&](int64_t n, int64_t c) {
                                               return moments(x, [&](int64_t n2, int64_t c2) {
                                                 return n2 == n && c2 == c;
                                               });
                                             }),
                           tol);
        EXPECT_TENSOR_NEAR(run_op_tensor("aten.instance_norm.default",
                                         with_running(base, &p, "use_input_stats", false)),
                           want_channel_norm(x, p.w, p.b, 1e-5, running_stats(p)), tol);
      }
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  TestArgs args = {{"input", x},
                   {"weight", ir::NoneArg{}},
                   {"bias", ir::NoneArg{}},
                   {"momentum", 0.1},
                   {"eps", 1e-5},
                   {"cudnn_enabled", false},
                   {"running_mean", ir::NoneArg{}},
                   {"running_var", ir::NoneArg{}},
                   {"use_input_stats", false}};
  EXPECT_THROW(run_op("aten.instance_norm.default", args), Error);
  args.back().second = true;
  args.emplace_back("weight", random_tensor(DType::kFloat32, {4}, rng));
  args.erase(args.begin() + 1);
  EXPECT_THROW(run_op("aten.instance_norm.default", args), Error);
}

}  // namespace
}  // namespace kiln::testing
