// Pooling against naive window loops written here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

struct Pool {
  int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
  bool ceil = false;
};

int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + p) --out;  // the last window must start inside
  return out;
}

// Max over each window of the planes of x [..., H, W], padding never taken; NaN wins.
std::pair<ref::Tensor, ref::Tensor> naive_max_pool2d(const ref::Tensor& x, const Pool& p) {
  int64_t h = x.size(x.dim() - 2), w = x.size(x.dim() - 1);
  int64_t oh = out_len(h, p.kh, p.sh, p.ph, p.dh, p.ceil);
  int64_t ow = out_len(w, p.kw, p.sw, p.pw, p.dw, p.ceil);
  std::vector<int64_t> sizes = x.sizes();
  sizes[sizes.size() - 2] = oh;
  sizes[sizes.size() - 1] = ow;
  ref::Tensor out(x.dtype(), sizes), idx(DType::kInt64, sizes);
  int64_t planes = x.numel() / (h * w);
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t z = 0; z < ow; ++z) {
        bool have = false, nan = false;
        double best = 0;
        int64_t best_i = 0;
        for (int64_t i = 0; i < p.kh; ++i) {
          for (int64_t j = 0; j < p.kw; ++j) {
            int64_t iy = y * p.sh - p.ph + i * p.dh, iz = z * p.sw - p.pw + j * p.dw;
            if (iy < 0 || iy >= h || iz < 0 || iz >= w) continue;
            double v = x.get(pl * h * w + iy * w + iz);
            if (std::isnan(v)) {
              best = v;
              best_i = iy * w + iz;
              nan = true;
            } else if (!nan && (!have || v > best)) {
              best = v;
              best_i = iy * w + iz;
            }
            have = true;
          }
        }
        out.set((pl * oh + y) * ow + z, best);
        idx.set_int((pl * oh + y) * ow + z, best_i);
      }
    }
  }
  return {out, idx};
}

// Average over each window; the divisor as PyTorch's avg_pool2d defines it.
ref::Tensor naive_avg_pool2d(const ref::Tensor& x, const Pool& p, bool include_pad,
                             std::optional<int64_t> divisor) {
  int64_t h = x.size(x.dim() - 2), w = x.size(x.dim() - 1);
  int64_t oh = out_len(h, p.kh, p.sh, p.ph, 1, p.ceil),
          ow = out_len(w, p.kw, p.sw, p.pw, 1, p.ceil);
  std::vector<int64_t> sizes = x.sizes();
  sizes[sizes.size() - 2] = oh;
  sizes[sizes.size() - 1] = ow;
  ref::Tensor out(x.dtype(), sizes);
  int64_t planes = x.numel() / (h * w);
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t z = 0; z < ow; ++z) {
        double sum = 0;
        int64_t isum = 0, valid = 0, padded = 0;
        for (int64_t i = 0; i < p.kh; ++i) {
          for (int64_t j = 0; j < p.kw; ++j) {
            int64_t iy = y * p.sh - p.ph + i, iz = z * p.sw - p.pw + j;
            // Taps in the padding count for count_include_pad; taps past it never do.
            if (iy < h + p.ph && iz < w + p.pw) ++padded;
            if (iy < 0 || iy >= h || iz < 0 || iz >= w) continue;
            ++valid;
            sum += x.get(pl * h * w + iy * w + iz);
            isum += x.get_int(pl * h * w + iy * w + iz);
          }
        }
        int64_t div = divisor ? *divisor : include_pad ? padded : valid;
        int64_t o = (pl * oh + y) * ow + z;
        if (x.is_floating()) {
          out.set(o, sum / static_cast<double>(div));
        } else {
          out.set_int(o, isum / div);
        }
      }
    }
  }
  return out;
}

ref::Tensor insert_dim(const ref::Tensor& t, size_t at) {
  std::vector<int64_t> s = t.sizes();
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), 1);
  return t.reshaped(s);
}

void expect_match(const ref::Tensor& got, const ref::Tensor& want, double tol = 1e-6) {
  if (ir::is_floating(want.dtype())) {
    EXPECT_TENSOR_NEAR(got, want, tol);
  } else {
    EXPECT_TRUE(same_values(got, want)) << got.str() << " vs " << want.str();
  }
}

std::vector<Pool> pool_cases() {
  return {
      {2, 2, 2, 2, 0, 0},
      {3, 3, 2, 2, 1, 1},
      {3, 2, 1, 2, 1, 1, 2, 1},
      {3, 3, 2, 2, 1, 0, 1, 1, true},
      {2, 3, 3, 2, 1, 1, 1, 2, true},
      {1, 1, 1, 1, 0, 0},
  };
}

TEST(NnPool, MaxPool2dWithIndicesMatchesWindowLoop) {
  std::mt19937 rng(41);
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    for (auto sizes : {std::vector<int64_t>{2, 3, 7, 6}, {3, 5, 5}, {1, 1, 6, 8}}) {
      for (const Pool& p : pool_cases()) {
        ref::Tensor x = random_tensor(dt, sizes, rng, -20, 20);
        TestArgs args = {{"self", x},
                         {"kernel_size", std::vector<int64_t>{p.kh, p.kw}},
                         {"stride", std::vector<int64_t>{p.sh, p.sw}},
                         {"padding", std::vector<int64_t>{p.ph, p.pw}},
                         {"dilation", std::vector<int64_t>{p.dh, p.dw}},
                         {"ceil_mode", p.ceil}};
        auto [want, want_idx] = naive_max_pool2d(x, p);
        auto got = run_op("aten.max_pool2d_with_indices.default", args);
        ASSERT_EQ(got.size(), 2u);
        expect_match(as_tensor(got[0]), want);
        EXPECT_TRUE(same_values(as_tensor(got[1]), want_idx));
        expect_match(run_op_tensor("aten.max_pool2d.default", args), want);
      }
    }
  }
}

TEST(NnPool, MaxPoolDefaultsNanAndNegativeValues) {
  std::mt19937 rng(42);
  // stride defaults to the kernel; all-negative inputs show padding is -inf, not 0.
  ref::Tensor x = random_tensor(DType::kFloat32, {1, 2, 5, 5}, rng, -9, -1);
  ref::Tensor got =
      run_op_tensor("aten.max_pool2d.default", {{"self", x},
                                                {"kernel_size", std::vector<int64_t>{3}},
                                                {"padding", std::vector<int64_t>{1}}});
  expect_match(got, naive_max_pool2d(x, {3, 3, 3, 3, 1, 1}).first);
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_LT(got.get(i), 0);
  // A NaN anywhere in the window wins, and its index is reported.
  ref::Tensor y = random_tensor(DType::kFloat32, {1, 4, 4}, rng);
  y.set(5, NAN);
  auto out = run_op("aten.max_pool2d_with_indices.default",
                    {{"self", y}, {"kernel_size", std::vector<int64_t>{2, 2}}});
  EXPECT_TRUE(std::isnan(as_tensor(out[0]).get(0)));
  EXPECT_EQ(as_tensor(out[1]).get_int(0), 5);
  EXPECT_FALSE(std::isnan(as_tensor(out[0]).get(1)));
  // max_pool1d: the 2-d loop over a height-1 plane.
  for (auto [k, s, pad, d, ceil] :
       {std::tuple{3, 2, 1, 1, false}, {2, 3, 1, 2, true}, {1, 1, 0, 1, false}}) {
    ref::Tensor v = random_tensor(DType::kFloat32, {3, 2, 9}, rng);
    ref::Tensor g =
        run_op_tensor("aten.max_pool1d.default", {{"self", v},
                                                  {"kernel_size", std::vector<int64_t>{k}},
                                                  {"stride", std::vector<int64_t>{s}},
                                                  {"padding", std::vector<int64_t>{pad}},
                                                  {"dilation", std::vector<int64_t>{d}},
                                                  {"ceil_mode", ceil}});
    ref::Tensor want = naive_max_pool2d(insert_dim(v, 2), {1, k, 1, s, 0, pad, 1, d, ceil}).first;
    std::vector<int64_t> ws = want.sizes();
    ws.erase(ws.begin() + 2);
    expect_match(g, want.reshaped(ws));
  }
}

TEST(NnPool, AvgPool2dDivisorsAndCeilMode) {
  std::mt19937 rng(43);
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat16}) {
    for (auto sizes : {std::vector<int64_t>{2, 3, 7, 6}, {2, 5, 5}, {1, 1, 1, 4}}) {
      for (const Pool& p :
           {Pool{2, 2, 2, 2, 0, 0}, Pool{3, 3, 2, 2, 1, 1}, Pool{3, 2, 1, 2, 1, 1},
            Pool{3, 3, 2, 2, 1, 0, 1, 1, true}, Pool{1, 3, 1, 2, 0, 1, 1, 1, true}}) {
        if (sizes[sizes.size() - 2] + 2 * p.ph < p.kh) continue;
        for (bool include_pad : {true, false}) {
          for (std::optional<int64_t> divisor :
               {std::optional<int64_t>{}, std::optional<int64_t>{3}}) {
            ref::Tensor x = random_tensor(dt, sizes, rng, -20, 20);
            TestArgs args = {{"self", x},
                             {"kernel_size", std::vector<int64_t>{p.kh, p.kw}},
                             {"stride", std::vector<int64_t>{p.sh, p.sw}},
                             {"padding", std::vector<int64_t>{p.ph, p.pw}},
                             {"ceil_mode", p.ceil},
                             {"count_include_pad", include_pad}};
            if (divisor) args.emplace_back("divisor_override", *divisor);
            expect_match(run_op_tensor("aten.avg_pool2d.default", args),
                         naive_avg_pool2d(x, p, include_pad, divisor),
                         dt == DType::kFloat16 ? 1e-3 : 1e-6);
          }
        }
      }
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 8}, rng);
  for (bool ceil : {false, true}) {
    for (bool include_pad : {false, true}) {
      ref::Tensor got =
          run_op_tensor("aten.avg_pool1d.default", {{"self", x},
                                                    {"kernel_size", std::vector<int64_t>{3}},
                                                    {"stride", std::vector<int64_t>{2}},
                                                    {"padding", std::vector<int64_t>{1}},
                                                    {"ceil_mode", ceil},
                                                    {"count_include_pad", include_pad}});
      ref::Tensor want = naive_avg_pool2d(insert_dim(x, 2), {1, 3, 1, 2, 0, 1, 1, 1, ceil},
                                          include_pad, std::nullopt);
      std::vector<int64_t> ws = want.sizes();
      ws.erase(ws.begin() + 2);
      expect_match(got, want.reshaped(ws));
    }
  }
}

// Adaptive windows: [floor(o*in/out), ceil((o+1)*in/out)).
TEST(NnPool, AdaptivePoolingWindows) {
  std::mt19937 rng(44);
  auto lo = [](int64_t o, int64_t in, int64_t out) { return (o * in) / out; };
  auto hi = [](int64_t o, int64_t in, int64_t out) {
    return static_cast<int64_t>(
        std::ceil(static_cast<double>((o + 1) * in) / static_cast<double>(out)));
  };
  for (auto sizes : {std::vector<int64_t>{2, 3, 7, 5}, {3, 6, 6}, {1, 1, 1, 4}}) {
    for (auto [oh, ow] : {std::pair{3, 2}, {1, 1}, {7, 5}, {4, 9}}) {
      ref::Tensor x = random_tensor(DType::kFloat32, sizes, rng);
      int64_t h = sizes[sizes.size() - 2], w = sizes.back(), planes = x.numel() / (h * w);
      std::vector<int64_t> out_sizes = sizes;
      out_sizes[sizes.size() - 2] = oh;
      out_sizes.back() = ow;
      ref::Tensor want_avg(DType::kFloat32, out_sizes), want_max(DType::kFloat32, out_sizes);
      ref::Tensor want_idx(DType::kInt64, out_sizes);
      for (int64_t pl = 0; pl < planes; ++pl) {
        for (int64_t y = 0; y < oh; ++y) {
          for (int64_t z = 0; z < ow; ++z) {
            double sum = 0, best = -INFINITY;
            int64_t n = 0, best_i = 0;
            for (int64_t iy = lo(y, h, oh); iy < hi(y, h, oh); ++iy) {
              for (int64_t iz = lo(z, w, ow); iz < hi(z, w, ow); ++iz) {
                double v = x.get(pl * h * w + iy * w + iz);
                sum += v;
                ++n;
                if (v > best) {
                  best = v;
                  best_i = iy * w + iz;
                }
              }
            }
            int64_t o = (pl * oh + y) * ow + z;
            want_avg.set(o, sum / static_cast<double>(n));
            want_max.set(o, best);
            want_idx.set_int(o, best_i);
          }
        }
      }
      TestArgs args = {{"self", x}, {"output_size", std::vector<int64_t>{oh, ow}}};
      expect_match(run_op_tensor("aten.adaptive_avg_pool2d.default", args), want_avg);
      expect_match(run_op_tensor("aten._adaptive_avg_pool2d.default", args), want_avg);
      auto mx = run_op("aten.adaptive_max_pool2d.default", args);
      expect_match(as_tensor(mx[0]), want_max);
      EXPECT_TRUE(same_values(as_tensor(mx[1]), want_idx));
      if (h == 1) {  // the 1-d ops on the same rows
        std::vector<int64_t> s1(sizes.begin(), sizes.end());
        s1.erase(s1.end() - 2);
        std::vector<int64_t> o1(out_sizes.begin(), out_sizes.end());
        o1.erase(o1.end() - 2);
        if (oh != 1) continue;
        TestArgs a1 = {{"self", x.reshaped(s1)}, {"output_size", std::vector<int64_t>{ow}}};
        expect_match(run_op_tensor("aten.adaptive_avg_pool1d.default", a1), want_avg.reshaped(o1));
        auto m1 = run_op("aten.adaptive_max_pool1d.default", a1);
        expect_match(as_tensor(m1[0]), want_max.reshaped(o1));
        EXPECT_TRUE(same_values(as_tensor(m1[1]), want_idx.reshaped(o1)));
      }
    }
  }
  ref::Tensor r = random_tensor(DType::kFloat32, {2, 10}, rng);
  ref::Tensor g = run_op_tensor("aten.adaptive_avg_pool1d.default",
                                {{"self", r}, {"output_size", std::vector<int64_t>{4}}});
  // Windows of 10 over 4: [0,3) [2,5) [5,8) [7,10).
  int64_t starts[] = {0, 2, 5, 7};
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t o = 0; o < 4; ++o) {
      double s = 0;
      for (int64_t i = starts[o]; i < starts[o] + 3; ++i)
        s += r.get(row * 10 + i);
      EXPECT_NEAR(g.get(row * 4 + o), s / 3, 1e-6);
    }
  }
  // NaN wins an adaptive max too.
  r.set(3, NAN);
  auto m = run_op("aten.adaptive_max_pool1d.default",
                  {{"self", r}, {"output_size", std::vector<int64_t>{4}}});
  EXPECT_TRUE(std::isnan(as_tensor(m[0]).get(1)));
  EXPECT_EQ(as_tensor(m[1]).get_int(1), 3);
}

TEST(NnPool, InvalidArgumentsFail) {
  std::mt19937 rng(45);
  ref::Tensor x = random_tensor(DType::kFloat32, {1, 1, 4, 4}, rng);
  auto mp = [&](ref::Tensor t, TestArgs extra) {
    TestArgs args = {{"self", std::move(t)}};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_op("aten.max_pool2d.default", args);
  };
  EXPECT_THROW(
      mp(x, {{"kernel_size", std::vector<int64_t>{2}}, {"padding", std::vector<int64_t>{2}}}),
      Error);
  EXPECT_THROW(
      mp(x, {{"kernel_size", std::vector<int64_t>{2}}, {"stride", std::vector<int64_t>{0}}}),
      Error);
  EXPECT_THROW(mp(x, {{"kernel_size", std::vector<int64_t>{5}}}), Error);  // output too small
  EXPECT_THROW(
      mp(random_tensor(DType::kFloat32, {4, 4}, rng), {{"kernel_size", std::vector<int64_t>{2}}}),
      Error);
  EXPECT_THROW(mp(x, {{"kernel_size", std::vector<int64_t>{2, 2, 2}}}), Error);
  EXPECT_THROW(
      mp(random_tensor(DType::kBool, {1, 4, 4}, rng), {{"kernel_size", std::vector<int64_t>{2}}}),
      Error);
  EXPECT_THROW(run_op("aten.avg_pool2d.default", {{"self", x},
                                                  {"kernel_size", std::vector<int64_t>{2}},
                                                  {"divisor_override", int64_t{0}}}),
               Error);
  EXPECT_THROW(run_op("aten.adaptive_avg_pool2d.default",
                      {{"self", random_tensor(DType::kInt64, {1, 4, 4}, rng)},
                       {"output_size", std::vector<int64_t>{2, 2}}}),
               Error);
  EXPECT_THROW(run_op("aten.adaptive_avg_pool2d.default",
                      {{"self", x}, {"output_size", std::vector<int64_t>{-1, 2}}}),
               Error);
  EXPECT_THROW(run_op("aten.adaptive_max_pool1d.default",
                      {{"self", random_tensor(DType::kFloat32, {4}, rng)},
                       {"output_size", std::vector<int64_t>{2}}}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
