// scaled_dot_product_attention against a naive softmax(q k^T * scale + mask) v written here.
#include <gtest/gtest.h>

#include <cmath>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

struct Sdpa {
  const ref::Tensor* mask = nullptr;  // [MB, MH, L, S], size-1 dims broadcast
  bool causal = false;
  std::optional<double> scale = std::nullopt;
  bool gqa = false;
};

ref::Tensor as4d(const ref::Tensor& t) {
  std::vector<int64_t> s = t.sizes();
  while (s.size() < 4)
    s.insert(s.begin(), 1);
  return t.reshaped(s);
}

// q [B, H, L, E], k [B, Hk, S, E], v [B, Hk, S, Ev], each dim of B/H possibly 1 (broadcast).
ref::Tensor naive_sdpa(const ref::Tensor& q, const ref::Tensor& k, const ref::Tensor& v,
                       const Sdpa& p) {
  int64_t b = std::max({q.size(0), k.size(0), v.size(0)});
  int64_t hq = q.size(1), hk = k.size(1);
  int64_t h = p.gqa ? hq : std::max({hq, hk, v.size(1)});
  int64_t l = q.size(2), e = q.size(3), s = k.size(2), ev = v.size(3);
  double scale = p.scale ? *p.scale : 1 / std::sqrt(static_cast<double>(e));
  ref::Tensor out(q.dtype(), {b, h, l, ev});
  auto pick = [](int64_t size, int64_t i) { return size == 1 ? 0 : i; };
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t hi = 0; hi < h; ++hi) {
      int64_t qb = pick(q.size(0), bi), qh = pick(hq, hi);
      int64_t kb = pick(k.size(0), bi), kh = p.gqa ? hi / (hq / hk) : pick(hk, hi);
      int64_t vb = pick(v.size(0), bi), vh = p.gqa ? hi / (hq / v.size(1)) : pick(v.size(1), hi);
      for (int64_t i = 0; i < l; ++i) {
        std::vector<double> sc(static_cast<size_t>(s));
        for (int64_t j = 0; j < s; ++j) {
          double d = 0;
          for (int64_t x = 0; x < e; ++x) {
            d += q.get(((qb * hq + qh) * l + i) * e + x) * k.get(((kb * hk + kh) * s + j) * e + x);
          }
          d *= scale;
          if (p.causal && j > i) d = -INFINITY;
          if (p.mask) {
            const ref::Tensor& m = *p.mask;
            int64_t mi = ((pick(m.size(0), bi) * m.size(1) + pick(m.size(1), hi)) * m.size(2) +
                          pick(m.size(2), i)) *
                             m.size(3) +
                         pick(m.size(3), j);
            if (m.dtype() == DType::kBool) {
              if (m.get_int(mi) == 0) d = -INFINITY;
            } else {
              d += m.get(mi);
            }
          }
          sc[static_cast<size_t>(j)] = d;
        }
        double mx = -INFINITY;
        for (double d : sc)
          mx = std::max(mx, d);
        double z = 0;
        for (double& d : sc) {
          d = std::isinf(mx) ? 0.0 : std::exp(d - mx);
          z += d;
        }
        for (int64_t y = 0; y < ev; ++y) {
          double acc = 0;
          for (int64_t j = 0; j < s; ++j) {
            if (z > 0)
              acc +=
                  sc[static_cast<size_t>(j)] / z * v.get(((vb * v.size(1) + vh) * s + j) * ev + y);
          }
          out.set(((bi * h + hi) * l + i) * ev + y, acc);
        }
      }
    }
  }
  return out;
}

TestArgs sdpa_args(const ref::Tensor& q, const ref::Tensor& k, const ref::Tensor& v) {
  return {{"query", q}, {"key", k}, {"value", v}};
}

TEST(NnAttention, PlainAttentionAcrossRanksAndDtypes) {
  std::mt19937 rng(61);
  for (DType dt : {DType::kFloat32, DType::kBFloat16, DType::kFloat64}) {
    for (auto [b, h, l, s, e, ev] :
         {std::tuple{2, 3, 4, 6, 5, 7}, {1, 1, 1, 1, 3, 2}, {2, 1, 5, 3, 4, 4}}) {
      ref::Tensor q = random_tensor(dt, {b, h, l, e}, rng);
      ref::Tensor k = random_tensor(dt, {b, h, s, e}, rng);
      ref::Tensor v = random_tensor(dt, {b, h, s, ev}, rng);
      ref::Tensor got =
          run_op_tensor("aten.scaled_dot_product_attention.default", sdpa_args(q, k, v));
      EXPECT_TENSOR_NEAR(got, naive_sdpa(q, k, v, {}), dt == DType::kBFloat16 ? 1e-2 : 1e-6);
    }
  }
  // 3-D and 2-D inputs.
  for (std::vector<int64_t> lead : {std::vector<int64_t>{3}, {}}) {
    auto sizes = [&](int64_t a, int64_t c) {
      std::vector<int64_t> s = lead;
      s.push_back(a);
      s.push_back(c);
      return s;
    };
    ref::Tensor q = random_tensor(DType::kFloat32, sizes(4, 5), rng);
    ref::Tensor k = random_tensor(DType::kFloat32, sizes(6, 5), rng);
    ref::Tensor v = random_tensor(DType::kFloat32, sizes(6, 2), rng);
    ref::Tensor got =
        run_op_tensor("aten.scaled_dot_product_attention.default", sdpa_args(q, k, v));
    ref::Tensor want = naive_sdpa(as4d(q), as4d(k), as4d(v), {});
    EXPECT_TENSOR_NEAR(got, want.reshaped(sizes(4, 2)), 1e-6);
  }
}

TEST(NnAttention, BatchBroadcastScaleAndMasks) {
  std::mt19937 rng(62);
  ref::Tensor q = random_tensor(DType::kFloat32, {2, 2, 3, 4}, rng);
  ref::Tensor k = random_tensor(DType::kFloat32, {2, 1, 5, 4}, rng);
  ref::Tensor v = random_tensor(DType::kFloat32, {1, 1, 5, 6}, rng);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.scaled_dot_product_attention.default", sdpa_args(q, k, v)),
                     naive_sdpa(q, k, v, {}), 1e-6);
  TestArgs scaled = sdpa_args(q, k, v);
  scaled.emplace_back("scale", 0.3);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.scaled_dot_product_attention.default", scaled),
                     naive_sdpa(q, k, v, {.scale = 0.3}), 1e-6);
  // A bool mask [L, S] (True keeps) and a float mask [1, H, L, S] broadcast over the scores.
  ref::Tensor bmask = random_tensor(DType::kBool, {3, 5}, rng);
  bmask.set_int(0, 1);
  TestArgs with_bool = sdpa_args(q, k, v);
  with_bool.emplace_back("attn_mask", bmask);
  ref::Tensor bmask4 = as4d(bmask);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.scaled_dot_product_attention.default", with_bool),
                     naive_sdpa(q, k, v, {.mask = &bmask4}), 1e-6);
  ref::Tensor fmask = random_tensor(DType::kFloat32, {1, 2, 3, 5}, rng, -3, 3);
  TestArgs with_float = sdpa_args(q, k, v);
  with_float.emplace_back("attn_mask", fmask);
  with_float.emplace_back("scale", 1.7);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.scaled_dot_product_attention.default", with_float),
                     naive_sdpa(q, k, v, {.mask = &fmask, .scale = 1.7}), 1e-6);
}

TEST(NnAttention, CausalIsTopLeftAlignedAndMaskedRowsAreZero) {
  std::mt19937 rng(63);
  for (auto [l, s] : {std::pair{4, 4}, {3, 6}, {5, 2}}) {
    ref::Tensor q = random_tensor(DType::kFloat32, {2, 2, l, 4}, rng);
    ref::Tensor k = random_tensor(DType::kFloat32, {2, 2, s, 4}, rng);
    ref::Tensor v = random_tensor(DType::kFloat32, {2, 2, s, 3}, rng);
    TestArgs args = sdpa_args(q, k, v);
    args.emplace_back("is_causal", true);
    ref::Tensor got = run_op_tensor("aten.scaled_dot_product_attention.default", args);
    EXPECT_TENSOR_NEAR(got, naive_sdpa(q, k, v, {.causal = true}), 1e-6);
    // Query 0 sees only key 0: its output is v[..., 0, :].
    for (int64_t y = 0; y < 3; ++y)
      EXPECT_NEAR(got.get(y), v.get(y), 1e-6);
  }
  // A row whose every key is masked gives zeros (PyTorch's safe softmax), bool or float -inf.
  ref::Tensor q = random_tensor(DType::kFloat32, {1, 3, 4}, rng);
  ref::Tensor k = random_tensor(DType::kFloat32, {1, 3, 4}, rng);
  ref::Tensor v = random_tensor(DType::kFloat32, {1, 3, 4}, rng);
  ref::Tensor bm = make_tensor(DType::kBool, {3, 3}, {1, 1, 0, 0, 0, 0, 1, 0, 1});
  ref::Tensor fm = make_tensor(DType::kFloat32, {3, 3},
                               {0, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 0});
  for (const ref::Tensor& m : {bm, fm}) {
    TestArgs args = sdpa_args(q, k, v);
    args.emplace_back("attn_mask", m);
    ref::Tensor got = run_op_tensor("aten.scaled_dot_product_attention.default", args);
    for (int64_t y = 0; y < 4; ++y)
      EXPECT_EQ(got.get(4 + y), 0.0);
    ref::Tensor m4 = as4d(m);
    EXPECT_TENSOR_NEAR(
        got, naive_sdpa(as4d(q), as4d(k), as4d(v), {.mask = &m4}).reshaped({1, 3, 4}), 1e-6);
  }
}

TEST(NnAttention, GroupedQueryAttention) {
  std::mt19937 rng(64);
  ref::Tensor q = random_tensor(DType::kFloat32, {2, 6, 3, 4}, rng);
  ref::Tensor k = random_tensor(DType::kFloat32, {2, 2, 5, 4}, rng);
  ref::Tensor v = random_tensor(DType::kFloat32, {2, 2, 5, 3}, rng);
  TestArgs args = sdpa_args(q, k, v);
  args.emplace_back("enable_gqa", true);
  EXPECT_TENSOR_NEAR(run_op_tensor("aten.scaled_dot_product_attention.default", args),
                     naive_sdpa(q, k, v, {.gqa = true}), 1e-6);
  // Without enable_gqa, 6 and 2 heads do not broadcast.
  EXPECT_THROW(run_op("aten.scaled_dot_product_attention.default", sdpa_args(q, k, v)), Error);
  ref::Tensor k4 = random_tensor(DType::kFloat32, {2, 4, 5, 4}, rng);
  ref::Tensor v4 = random_tensor(DType::kFloat32, {2, 4, 5, 3}, rng);
  TestArgs bad = sdpa_args(q, k4, v4);
  bad.emplace_back("enable_gqa", true);
  EXPECT_THROW(run_op("aten.scaled_dot_product_attention.default", bad), Error);
}

TEST(NnAttention, InvalidArgumentsFail) {
  std::mt19937 rng(65);
  ref::Tensor q = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor k = random_tensor(DType::kFloat32, {2, 5, 4}, rng);
  ref::Tensor v = random_tensor(DType::kFloat32, {2, 5, 6}, rng);
  auto call = [&](TestArgs extra, ref::Tensor qq, ref::Tensor kk, ref::Tensor vv) {
    TestArgs args = sdpa_args(qq, kk, vv);
    args.insert(args.end(), extra.begin(), extra.end());
    return run_op("aten.scaled_dot_product_attention.default", args);
  };
  EXPECT_THROW(call({{"dropout_p", 0.5}}, q, k, v), Error);
  EXPECT_THROW(
      call({{"attn_mask", random_tensor(DType::kFloat32, {3, 5}, rng)}, {"is_causal", true}}, q, k,
           v),
      Error);
  EXPECT_THROW(call({{"attn_mask", random_tensor(DType::kInt64, {3, 5}, rng)}}, q, k, v), Error);
  EXPECT_THROW(call({{"attn_mask", random_tensor(DType::kFloat64, {3, 5}, rng)}}, q, k, v), Error);
  EXPECT_THROW(call({{"attn_mask", random_tensor(DType::kFloat32, {4, 5}, rng)}}, q, k, v), Error);
  EXPECT_THROW(call({}, q, k, random_tensor(DType::kFloat32, {2, 4, 6}, rng)), Error);
  EXPECT_THROW(call({}, q, random_tensor(DType::kFloat32, {2, 5, 3}, rng), v), Error);
  EXPECT_THROW(call({}, q, random_tensor(DType::kFloat64, {2, 5, 4}, rng), v), Error);
  EXPECT_THROW(
      call({}, random_tensor(DType::kFloat32, {4}, rng), random_tensor(DType::kFloat32, {4}, rng),
           random_tensor(DType::kFloat32, {4}, rng)),
      Error);
  EXPECT_THROW(call({}, random_tensor(DType::kInt64, {2, 3, 4}, rng),
                    random_tensor(DType::kInt64, {2, 5, 4}, rng),
                    random_tensor(DType::kInt64, {2, 5, 6}, rng)),
               Error);
}

}  // namespace
}  // namespace kiln::testing
