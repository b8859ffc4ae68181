// Convolutions against direct loops written here (the transposed ones as a scatter of each
// input element through the kernel).
#include <gtest/gtest.h>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

struct Conv2dParams {
  int64_t sh = 1, sw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;  // top, left, bottom, right
  int64_t dh = 1, dw = 1;
  int64_t groups = 1;
  int64_t oph = 0, opw = 0;  // transposed only
};

// x [N, C, H, W], w [O, C/groups, KH, KW].
ref::Tensor naive_conv2d(const ref::Tensor& x, const ref::Tensor& w, const ref::Tensor* bias,
                         const Conv2dParams& p) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  int64_t o = w.size(0), kh = w.size(2), kw = w.size(3);
  int64_t oh = (h + p.pt + p.pb - p.dh * (kh - 1) - 1) / p.sh + 1;
  int64_t ow = (wd + p.pl + p.pr - p.dw * (kw - 1) - 1) / p.sw + 1;
  int64_t cg = c / p.groups, og = o / p.groups;
  ref::Tensor out(x.dtype(), {n, o, oh, ow});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t g = oc / og;
      for (int64_t y = 0; y < oh; ++y) {
        for (int64_t z = 0; z < ow; ++z) {
          double s = bias ? bias->get(oc) : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci) {
            for (int64_t i = 0; i < kh; ++i) {
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = y * p.sh - p.pt + i * p.dh, iz = z * p.sw - p.pl + j * p.dw;
                if (iy < 0 || iy >= h || iz < 0 || iz >= wd) continue;
                s += x.get(((b * c + g * cg + ci) * h + iy) * wd + iz) *
                     w.get(((oc * cg + ci) * kh + i) * kw + j);
              }
            }
          }
          out.set(((b * o + oc) * oh + y) * ow + z, s);
        }
      }
    }
  }
  return out;
}

// x [N, C, H, W], w [C, O/groups, KH, KW]: every input element scattered through the kernel.
ref::Tensor naive_conv_transpose2d(const ref::Tensor& x, const ref::Tensor& w,
                                   const ref::Tensor* bias, const Conv2dParams& p) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  int64_t og = w.size(1), kh = w.size(2), kw = w.size(3);
  int64_t o = og * p.groups, cg = c / p.groups;
  int64_t oh = (h - 1) * p.sh - 2 * p.pt + p.dh * (kh - 1) + p.oph + 1;
  int64_t ow = (wd - 1) * p.sw - 2 * p.pl + p.dw * (kw - 1) + p.opw + 1;
  std::vector<double> acc(static_cast<size_t>(n * o * oh * ow), 0.0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ci = 0; ci < c; ++ci) {
      int64_t g = ci / cg;
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t z = 0; z < wd; ++z) {
          double v = x.get(((b * c + ci) * h + y) * wd + z);
          for (int64_t co = 0; co < og; ++co) {
            for (int64_t i = 0; i < kh; ++i) {
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ty = y * p.sh - p.pt + i * p.dh, tz = z * p.sw - p.pl + j * p.dw;
                if (ty < 0 || ty >= oh || tz < 0 || tz >= ow) continue;
                acc[static_cast<size_t>(((b * o + g * og + co) * oh + ty) * ow + tz)] +=
                    v * w.get(((ci * og + co) * kh + i) * kw + j);
              }
            }
          }
        }
      }
    }
  }
  ref::Tensor out(x.dtype(), {n, o, oh, ow});
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t oc = (i / (oh * ow)) % o;
    out.set(i, acc[static_cast<size_t>(i)] + (bias ? bias->get(oc) : 0.0));
  }
  return out;
}

void expect_match(const ref::Tensor& got, const ref::Tensor& want) {
  if (want.dtype() == DType::kFloat32) {
    EXPECT_TENSOR_NEAR(got, want, 1e-6);
  } else if (ir::is_floating(want.dtype())) {
    EXPECT_TENSOR_NEAR(got, want, 1e-2);
  } else {
    EXPECT_TRUE(same_values(got, want)) << got.str() << " vs " << want.str();
  }
}

ref::Tensor insert_dim(const ref::Tensor& t, size_t at) {
  std::vector<int64_t> s = t.sizes();
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), 1);
  return t.reshaped(s);
}

ref::Tensor drop_dim(const ref::Tensor& t, size_t at) {
  std::vector<int64_t> s = t.sizes();
  s.erase(s.begin() + static_cast<std::ptrdiff_t>(at));
  return t.reshaped(s);
}

TEST(NnConv, Conv2dStridesPaddingDilationGroupsBias) {
  std::mt19937 rng(31);
  struct Case {
    std::vector<int64_t> x, w;
    Conv2dParams p;
  };
  std::vector<Case> cases = {
      {{2, 4, 7, 6}, {6, 4, 3, 3}, {}},
      {{1, 4, 7, 6},
       {6, 2, 3, 2},
       {.sh = 2, .sw = 1, .pt = 1, .pl = 2, .pb = 1, .pr = 2, .groups = 2}},
      {{2, 3, 9, 8}, {2, 3, 2, 3}, {.sh = 1, .sw = 3, .dh = 2, .dw = 2}},
      {{1, 1, 1, 5}, {3, 1, 1, 2}, {.pl = 1, .pr = 1}},
      {{3, 6, 5, 5}, {6, 1, 3, 3}, {.pt = 1, .pl = 1, .pb = 1, .pr = 1, .groups = 6}},
  };
  for (DType dt : {DType::kFloat32, DType::kBFloat16, DType::kInt64}) {
    for (const Case& c : cases) {
      ref::Tensor x = random_tensor(dt, c.x, rng, -3, 3);
      ref::Tensor w = random_tensor(dt, c.w, rng, -3, 3);
      ref::Tensor b = random_tensor(dt, {c.w[0]}, rng, -3, 3);
      for (bool with_bias : {false, true}) {
        TestArgs args = {{"input", x},
                         {"weight", w},
                         {"stride", std::vector<int64_t>{c.p.sh, c.p.sw}},
                         {"padding", std::vector<int64_t>{c.p.pt, c.p.pl}},
                         {"dilation", std::vector<int64_t>{c.p.dh, c.p.dw}},
                         {"groups", c.p.groups}};
        if (with_bias) args.emplace_back("bias", b);
        expect_match(run_op_tensor("aten.conv2d.default", args),
                     naive_conv2d(x, w, with_bias ? &b : nullptr, c.p));
      }
    }
  }
}

TEST(NnConv, UnbatchedInputAndSingleValueParams) {
  std::mt19937 rng(32);
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 6, 5}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {4, 3, 2, 2}, rng);
  // stride=[2] is repeated over both spatial dims, as PyTorch does.
  ref::Tensor got = run_op_tensor("aten.conv2d.default", {{"input", x},
                                                          {"weight", w},
                                                          {"stride", std::vector<int64_t>{2}},
                                                          {"padding", std::vector<int64_t>{1}}});
  Conv2dParams p{.sh = 2, .sw = 2, .pt = 1, .pl = 1, .pb = 1, .pr = 1};
  expect_match(got, drop_dim(naive_conv2d(insert_dim(x, 0), w, nullptr, p), 0));
}

TEST(NnConv, Conv1dAndConv3d) {
  std::mt19937 rng(33);
  for (auto [n, c, l, o, k, s, pad, d, g] : {std::tuple{2, 4, 9, 6, 3, 2, 1, 1, 2},
                                             {1, 1, 5, 1, 1, 1, 0, 1, 1},
                                             {3, 2, 8, 4, 2, 1, 2, 3, 1}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, {n, c, l}, rng);
    ref::Tensor w = random_tensor(DType::kFloat32, {o, c / g, k}, rng);
    ref::Tensor b = random_tensor(DType::kFloat32, {o}, rng);
    ref::Tensor got = run_op_tensor("aten.conv1d.default", {{"input", x},
                                                            {"weight", w},
                                                            {"bias", b},
                                                            {"stride", std::vector<int64_t>{s}},
                                                            {"padding", std::vector<int64_t>{pad}},
                                                            {"dilation", std::vector<int64_t>{d}},
                                                            {"groups", int64_t{g}}});
    Conv2dParams p{.sw = s, .pl = pad, .pr = pad, .dw = d, .groups = g};
    expect_match(got, drop_dim(naive_conv2d(insert_dim(x, 2), insert_dim(w, 2), &b, p), 2));
  }
  // conv3d: its own direct loop over [N, C, D, H, W].
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 2, 4, 5, 3}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {3, 2, 2, 3, 1}, rng);
  ref::Tensor b = random_tensor(DType::kFloat32, {3}, rng);
  ref::Tensor got =
      run_op_tensor("aten.conv3d.default", {{"input", x},
                                            {"weight", w},
                                            {"bias", b},
                                            {"stride", std::vector<int64_t>{1, 2, 1}},
                                            {"padding", std::vector<int64_t>{1, 0, 1}}});
  int64_t od = 5, oh = 2, ow = 5;
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 3, od, oh, ow}));
  for (int64_t bn = 0; bn < 2; ++bn) {
    for (int64_t o = 0; o < 3; ++o) {
      for (int64_t z = 0; z < od; ++z) {
        for (int64_t y = 0; y < oh; ++y) {
          for (int64_t v = 0; v < ow; ++v) {
            double s = b.get(o);
            for (int64_t c = 0; c < 2; ++c) {
              for (int64_t i = 0; i < 2; ++i) {
                for (int64_t j = 0; j < 3; ++j) {
                  int64_t iz = z - 1 + i, iy = y * 2 + j, iv = v - 1;
                  if (iz < 0 || iz >= 4 || iy >= 5 || iv < 0 || iv >= 3) continue;
                  s += x.get((((bn * 2 + c) * 4 + iz) * 5 + iy) * 3 + iv) *
                       w.get((((o * 2 + c) * 2 + i) * 3 + j));
                }
              }
            }
            EXPECT_NEAR(got.get((((bn * 3 + o) * od + z) * oh + y) * ow + v), s, 1e-5);
          }
        }
      }
    }
  }
}

TEST(NnConv, PaddingSameAndValid) {
  std::mt19937 rng(34);
  // An even kernel with dilation pads unevenly: the extra row/column goes at the end.
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 2, 6, 7}, rng);
  for (auto [kh, kw, dh, dw] : {std::tuple{2, 4, 1, 1}, {3, 2, 2, 3}, {1, 1, 1, 1}}) {
    ref::Tensor w = random_tensor(DType::kFloat32, {3, 2, kh, kw}, rng);
    ref::Tensor got =
        run_op_tensor("aten.conv2d.padding", {{"input", x},
                                              {"weight", w},
                                              {"padding", std::string("same")},
                                              {"dilation", std::vector<int64_t>{dh, dw}}});
    int64_t th = dh * (kh - 1), tw = dw * (kw - 1);
    Conv2dParams p{
        .pt = th / 2, .pl = tw / 2, .pb = th - th / 2, .pr = tw - tw / 2, .dh = dh, .dw = dw};
    expect_match(got, naive_conv2d(x, w, nullptr, p));
    EXPECT_EQ(got.sizes(), (std::vector<int64_t>{2, 3, 6, 7}));
    ref::Tensor valid =
        run_op_tensor("aten.conv2d.padding",
                      {{"input", x}, {"weight", w}, {"dilation", std::vector<int64_t>{dh, dw}}});
    expect_match(valid, naive_conv2d(x, w, nullptr, Conv2dParams{.dh = dh, .dw = dw}));
  }
  ref::Tensor x1 = random_tensor(DType::kFloat32, {1, 2, 9}, rng);
  ref::Tensor w1 = random_tensor(DType::kFloat32, {2, 1, 4}, rng);
  ref::Tensor got = run_op_tensor(
      "aten.conv1d.padding",
      {{"input", x1}, {"weight", w1}, {"padding", std::string("same")}, {"groups", int64_t{2}}});
  Conv2dParams p{.pl = 1, .pr = 2, .groups = 2};
  expect_match(got, drop_dim(naive_conv2d(insert_dim(x1, 2), insert_dim(w1, 2), nullptr, p), 2));
  ref::Tensor w = random_tensor(DType::kFloat32, {3, 2, 3, 3}, rng);
  EXPECT_THROW(run_op("aten.conv2d.padding", {{"input", x},
                                              {"weight", w},
                                              {"padding", std::string("same")},
                                              {"stride", std::vector<int64_t>{2, 1}}}),
               Error);
  EXPECT_THROW(run_op("aten.conv2d.padding",
                      {{"input", x}, {"weight", w}, {"padding", std::string("full")}}),
               Error);
}

TEST(NnConv, TransposedConvolutions) {
  std::mt19937 rng(35);
  struct Case {
    std::vector<int64_t> x, w;
    Conv2dParams p;
  };
  std::vector<Case> cases = {
      {{2, 4, 3, 4}, {4, 3, 3, 3}, {}},
      {{1, 4, 3, 2},
       {4, 2, 3, 2},
       {.sh = 2, .sw = 3, .pt = 1, .pl = 1, .groups = 2, .oph = 1, .opw = 2}},
      {{2, 2, 4, 4}, {2, 3, 2, 3}, {.sh = 1, .sw = 2, .dh = 2, .dw = 1, .oph = 1}},
      {{1, 1, 1, 1}, {1, 1, 1, 1}, {}},
  };
  for (DType dt : {DType::kFloat32, DType::kFloat16}) {
    for (const Case& c : cases) {
      ref::Tensor x = random_tensor(dt, c.x, rng);
      ref::Tensor w = random_tensor(dt, c.w, rng);
      ref::Tensor b = random_tensor(dt, {c.w[1] * c.p.groups}, rng);
      ref::Tensor want = naive_conv_transpose2d(x, w, &b, c.p);
      TestArgs args = {{"input", x},
                       {"weight", w},
                       {"bias", b},
                       {"stride", std::vector<int64_t>{c.p.sh, c.p.sw}},
                       {"padding", std::vector<int64_t>{c.p.pt, c.p.pl}},
                       {"output_padding", std::vector<int64_t>{c.p.oph, c.p.opw}},
                       {"groups", c.p.groups},
                       {"dilation", std::vector<int64_t>{c.p.dh, c.p.dw}}};
      expect_match(run_op_tensor("aten.conv_transpose2d.input", args), want);
      // convolution.default with transposed=True is the same op.
      TestArgs conv = {{"input", x},
                       {"weight", w},
                       {"bias", b},
                       {"stride", std::vector<int64_t>{c.p.sh, c.p.sw}},
                       {"padding", std::vector<int64_t>{c.p.pt, c.p.pl}},
                       {"dilation", std::vector<int64_t>{c.p.dh, c.p.dw}},
                       {"transposed", true},
                       {"output_padding", std::vector<int64_t>{c.p.oph, c.p.opw}},
                       {"groups", c.p.groups}};
      expect_match(run_op_tensor("aten.convolution.default", conv), want);
    }
  }
  // conv_transpose1d, unbatched and batched.
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 5}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {4, 3, 3}, rng);
  Conv2dParams p{.sw = 2, .pl = 1, .groups = 2, .opw = 1};
  ref::Tensor got =
      run_op_tensor("aten.conv_transpose1d.default", {{"input", x},
                                                      {"weight", w},
                                                      {"stride", std::vector<int64_t>{2}},
                                                      {"padding", std::vector<int64_t>{1}},
                                                      {"output_padding", std::vector<int64_t>{1}},
                                                      {"groups", int64_t{2}}});
  ref::Tensor want = drop_dim(
      drop_dim(
          naive_conv_transpose2d(insert_dim(insert_dim(x, 0), 2), insert_dim(w, 2), nullptr, p), 2),
      0);
  expect_match(got, want);
  EXPECT_EQ(got.sizes(), (std::vector<int64_t>{6, 10}));
}

TEST(NnConv, ConvolutionForwardIsBatchedOnly) {
  std::mt19937 rng(36);
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 2, 5, 5}, rng);
  ref::Tensor w = random_tensor(DType::kFloat32, {3, 2, 3, 3}, rng);
  TestArgs args = {{"input", x},
                   {"weight", w},
                   {"bias", ir::NoneArg{}},
                   {"stride", std::vector<int64_t>{2, 1}},
                   {"padding", std::vector<int64_t>{1}},
                   {"dilation", std::vector<int64_t>{1, 1}},
                   {"transposed", false},
                   {"output_padding", std::vector<int64_t>{0}},
                   {"groups", int64_t{1}}};
  expect_match(run_op_tensor("aten.convolution.default", args),
               naive_conv2d(x, w, nullptr, {.sh = 2, .pt = 1, .pl = 1, .pb = 1, .pr = 1}));
  args[0].second = random_tensor(DType::kFloat32, {2, 5, 5}, rng);
  EXPECT_THROW(run_op("aten.convolution.default", args), Error);
}

TEST(NnConv, InvalidArgumentsFail) {
  std::mt19937 rng(37);
  auto f = [&](std::vector<int64_t> s, DType dt = DType::kFloat32) {
    return random_tensor(dt, std::move(s), rng);
  };
  auto conv2d = [&](ref::Tensor x, ref::Tensor w, TestArgs extra = {}) {
    TestArgs args = {{"input", std::move(x)}, {"weight", std::move(w)}};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_op("aten.conv2d.default", args);
  };
  EXPECT_THROW(conv2d(f({1, 4, 5, 5}), f({4, 3, 3, 3})), Error);  // channels
  EXPECT_THROW(conv2d(f({1, 4, 5, 5}), f({3, 2, 3, 3}), {{"groups", int64_t{2}}}), Error);
  EXPECT_THROW(conv2d(f({1, 2, 2, 2}), f({3, 2, 3, 3})), Error);  // kernel > input
  EXPECT_THROW(conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}), {{"stride", std::vector<int64_t>{0}}}),
               Error);
  EXPECT_THROW(conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}), {{"padding", std::vector<int64_t>{-1}}}),
               Error);
  EXPECT_THROW(
      conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}), {{"stride", std::vector<int64_t>{1, 1, 1}}}), Error);
  EXPECT_THROW(conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}, DType::kFloat64)), Error);
  EXPECT_THROW(conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}), {{"bias", f({4})}}), Error);
  EXPECT_THROW(conv2d(f({1, 2, 5, 5}), f({3, 2, 3, 3}), {{"bias", f({3}, DType::kFloat64)}}),
               Error);
  EXPECT_THROW(conv2d(f({2, 5, 5}, DType::kBool), f({3, 2, 3, 3}, DType::kBool)), Error);
  EXPECT_THROW(conv2d(f({5, 5}), f({3, 2, 3, 3})), Error);
  EXPECT_THROW(run_op("aten.conv_transpose2d.input", {{"input", f({1, 2, 5, 5})},
                                                      {"weight", f({2, 3, 3, 3})},
                                                      {"output_padding", std::vector<int64_t>{1}}}),
               Error);
  EXPECT_THROW(run_op("aten.conv_transpose2d.input",
                      {{"input", f({1, 3, 5, 5})}, {"weight", f({2, 3, 3, 3})}}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
