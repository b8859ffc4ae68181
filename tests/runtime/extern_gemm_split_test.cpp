// extern_gemm with a two-level batch (the batch split section of externs.h) against a naive
// loop in double: attention's q/k/v read in place from a [B, S, 3, H, D] projection, broadcast
// batch levels, bias, every dtype family and both f32 paths (oneDNN matmul, sgemm). And the
// scratch an ExternState leases to calls: reused by sequential calls, one per concurrent call.
#include <thread>

#include "extern_dnnl.h"
#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

// Element (b, i, j) of a two-level operand, b = b1 * n2 + b2.
struct View {
  int64_t off = 0, s1 = 0, s2 = 0, si = 0, sj = 0;
  int64_t at(int64_t b, int64_t n2, int64_t i, int64_t j) const {
    return off + b / n2 * s1 + b % n2 * s2 + i * si + j * sj;
  }
};

struct SplitCase {
  int64_t dtype = kExtFloat32, b1 = 1, n2 = 1, m = 1, n = 1, k = 1;
  View a, b, bias;
  bool has_bias = false;
  double alpha = 1, beta = 1;
  int threads = 2;
  ExternState* state = nullptr;
};

// Elements a view reaches, plus one.
int64_t extent(const View& v, const SplitCase& c, int64_t rows, int64_t cols) {
  return v.off + (c.b1 - 1) * v.s1 + (c.n2 - 1) * v.s2 + (rows - 1) * v.si + (cols - 1) * v.sj + 1;
}

std::string describe(const SplitCase& c) {
  return std::string(ext::dtype_name(c.dtype)) + " b1 " + std::to_string(c.b1) + " n2 " +
         std::to_string(c.n2) + " M " + std::to_string(c.m) + " N " + std::to_string(c.n) + " K " +
         std::to_string(c.k) + " a strides " + std::to_string(c.a.s1) + "/" +
         std::to_string(c.a.s2) + " b strides " + std::to_string(c.b.s1) + "/" +
         std::to_string(c.b.s2) + " alpha " + std::to_string(c.alpha) + " threads " +
         std::to_string(c.threads);
}

void run_split(const SplitCase& c, std::mt19937& rng) {
  const bool fl = ext::is_floating(c.dtype);
  const double lo = fl ? -2 : -40, hi = fl ? 2 : 40;
  Buf a = random_buf(c.dtype, extent(c.a, c, c.m, c.k), rng, lo, hi);
  Buf b = random_buf(c.dtype, extent(c.b, c, c.k, c.n), rng, lo, hi);
  Buf bias = random_buf(c.dtype, extent(c.bias, c, c.m, c.n), rng, lo, hi);
  const int64_t batch = c.b1 * c.n2;
  Buf out = poisoned(c.dtype, batch * c.m * c.n);
  std::vector<int64_t> ints = {c.dtype, batch,      c.m,        c.n,       c.k,       c.a.off,
                               c.a.s1,  c.a.si,     c.a.sj,     c.b.off,   c.b.s1,    c.b.si,
                               c.b.sj,  c.has_bias, c.bias.off, c.bias.s1, c.bias.si, c.bias.sj,
                               0,       0,          c.n2,       c.a.s2,    c.b.s2,    c.bias.s2};
  ASSERT_EQ(ints.size(), 20u + kGemmSplitInts);
  std::vector<const Buf*> inputs = {&a, &b};
  if (c.has_bias) inputs.push_back(&bias);
  std::vector<const void*> in;
  for (const Buf* x : inputs)
    in.push_back(x->data());
  void* outs[] = {out.data()};
  const std::vector<double> floats = {c.alpha, c.beta};
  CallResult r;
  ExternArgs args{in.data(),     static_cast<int32_t>(in.size()),
                  outs,          1,
                  ints.data(),   static_cast<int32_t>(ints.size()),
                  floats.data(), 2,
                  c.threads,     &r.sink,
                  c.state};
  r.ok = extern_gemm(args);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << describe(c);
  std::vector<double> want;
  std::vector<int64_t> want_int;
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0;
        uint64_t iacc = 0;
        for (int64_t p = 0; p < c.k; ++p) {
          const int64_t ai = c.a.at(bi, c.n2, i, p), bj = c.b.at(bi, c.n2, p, j);
          acc += a.get(ai) * b.get(bj);
          iacc += static_cast<uint64_t>(a.get_int(ai)) * static_cast<uint64_t>(b.get_int(bj));
        }
        acc *= c.alpha;
        iacc *= static_cast<uint64_t>(static_cast<int64_t>(c.alpha));
        if (c.has_bias) {
          const int64_t at = c.bias.at(bi, c.n2, i, j);
          acc += c.beta * bias.get(at);
          iacc += static_cast<uint64_t>(static_cast<int64_t>(c.beta)) *
                  static_cast<uint64_t>(bias.get_int(at));
        }
        want.push_back(acc);
        want_int.push_back(static_cast<int64_t>(iacc));
      }
  if (fl) {
    expect_close(out, want, describe(c));
  } else {
    expect_ints(out, want_int, describe(c));
  }
}

// q, k and v of attention as views of one [B, S, 3, H, D] projection: q [B*H, S, D] (A of
// q k^T), k^T [B*H, D, S] (its B) and v [B*H, S, D] (B of p v).
struct Attention {
  int64_t b = 2, s = 5, h = 3, d = 4;
  int64_t row() const { return 3 * h * d; }  // the projection's row stride
  View q() const { return {0, s * row(), d, row(), 1}; }
  View kt() const { return {h * d, s * row(), d, 1, row()}; }
  View v() const { return {2 * h * d, s * row(), d, row(), 1}; }
};

TEST(ExternGemmSplit, AttentionOperandsInPlace) {
  std::mt19937 rng(71);
  ExternState* state = extern_state_create();
  ASSERT_NE(state, nullptr);
  const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 5, 3, 4}, {3, 17, 4, 8}, {1, 64, 12, 16}};
  for (const auto& sh : shapes) {
    const Attention at{sh[0], sh[1], sh[2], sh[3]};
    for (int threads : {1, 3}) {
      for (double alpha : {1.0, 0.25}) {  // 0.25: the sgemm path
        for (ExternState* st : {static_cast<ExternState*>(nullptr), state}) {
          SplitCase qk;
          qk.b1 = at.b, qk.n2 = at.h, qk.m = at.s, qk.n = at.s, qk.k = at.d;
          qk.a = at.q(), qk.b = at.kt(), qk.alpha = alpha, qk.threads = threads, qk.state = st;
          run_split(qk, rng);
          // p [B*H, S, S] dense times v.
          SplitCase pv = qk;
          pv.n = at.d, pv.k = at.s;
          pv.a = {0, at.h * at.s * at.s, at.s * at.s, at.s, 1};
          pv.b = at.v();
          run_split(pv, rng);
        }
      }
    }
  }
  // The two-level calls with alpha 1 ran as oneDNN matmuls over 4-D strided descriptors.
  EXPECT_GT(extern_state_stats(state).primitives, 0);
  extern_state_destroy(state);
}

TEST(ExternGemmSplit, BroadcastLevelsAndBias) {
  std::mt19937 rng(72);
  // B broadcast over the outer level (s1 = 0), over the inner one (s2 = 0), or over both;
  // A transposed in its matrix; bias broadcast per row, per outer batch only, or full.
  const int64_t b1 = 3, n2 = 4, m = 6, n = 7, k = 5;
  const View a_plain{2, n2 * m * k + 3, m * k, 1, m};
  const View b_views[] = {{0, 0, k * n, n, 1}, {1, n * k, 0, 1, k}, {0, 0, 0, n, 1}};
  const View bias_views[] = {{0, 0, 0, 0, 1}, {0, m * n, 0, n, 1}, {0, n2 * m * n, m * n, n, 1}};
  for (const View& bv : b_views) {
    for (const View& cv : bias_views) {
      for (double alpha : {1.0, -1.5}) {
        SplitCase c;
        c.b1 = b1, c.n2 = n2, c.m = m, c.n = n, c.k = k;
        c.a = a_plain, c.b = bv, c.bias = cv, c.has_bias = true, c.alpha = alpha;
        c.beta = alpha == 1.0 ? 1.0 : 0.5;
        run_split(c, rng);
      }
    }
  }
}

TEST(ExternGemmSplit, EveryDtypeFamily) {
  std::mt19937 rng(73);
  const Attention at{2, 6, 3, 5};
  for (int64_t dtype : {kExtFloat16, kExtBFloat16, kExtFloat64, kExtInt32, kExtInt64}) {
    SplitCase c;
    c.dtype = dtype;
    c.b1 = at.b, c.n2 = at.h, c.m = at.s, c.n = at.s, c.k = at.d;
    c.a = at.q(), c.b = at.kt();
    c.has_bias = true;
    c.bias = {0, 0, 0, at.s, 1};
    c.alpha = 2, c.beta = 3;
    run_split(c, rng);
  }
}

TEST(ExternGemmSplit, MalformedSplitIsRefused) {
  std::mt19937 rng(74);
  Buf a = random_buf(kExtFloat32, 64, rng), b = random_buf(kExtFloat32, 64, rng);
  Buf out = poisoned(kExtFloat32, 6 * 4);
  // batch 6 does not split into inner batches of 4.
  std::vector<int64_t> ints = {kExtFloat32, 6, 2, 2, 2, 0, 4, 2, 1, 0, 4, 2,
                               1,           0, 0, 0, 0, 0, 0, 0, 4, 1, 1, 0};
  CallResult r = call(extern_gemm, {&a, &b}, {&out}, ints, {1.0, 1.0});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string(r.sink.message).find("does not split"), std::string::npos)
      << r.sink.message;
  ints[20] = 0;
  r = call(extern_gemm, {&a, &b}, {&out}, ints, {1.0, 1.0});
  EXPECT_FALSE(r.ok);
  // A section of the wrong length is an epilogue error, not a split.
  ints.pop_back();
  r = call(extern_gemm, {&a, &b}, {&out}, ints, {1.0, 1.0});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string(r.sink.message).find("post-ops"), std::string::npos) << r.sink.message;
}

// A call on the sgemm path with an operand it must pack (a broadcast inside the matrix) uses
// leased scratch: sequential calls reuse one workspace; concurrent ones get one each.
TEST(ExternScratch, LeasesAreReusedAndNeverShared) {
  ExternState* state = extern_state_create();
  ASSERT_NE(state, nullptr);
  auto one_call = [&](uint32_t seed) {
    std::mt19937 rng(seed);
    SplitCase c;
    c.b1 = 2, c.n2 = 3, c.m = 9, c.n = 11, c.k = 7;
    c.a = {0, 3 * 9 * 7, 9 * 7, 0, 1};  // rows broadcast: oneDNN cannot take it, sgemm packs
    c.b = {0, 0, 7 * 11, 11, 1};
    c.threads = 2;
    c.state = state;
    run_split(c, rng);
  };
  for (uint32_t i = 0; i < 4; ++i)
    one_call(80 + i);
  EXPECT_EQ(extern_state_stats(state).workspaces, 1);
  constexpr int kThreads = 4;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (uint32_t i = 0; i < 5; ++i)
          one_call(static_cast<uint32_t>(100 + 10 * t) + i);
      });
    for (auto& t : threads)
      t.join();
  }
  const int64_t made = extern_state_stats(state).workspaces;
  EXPECT_GE(made, 1);
  EXPECT_LE(made, kThreads);
  extern_state_destroy(state);
}

}  // namespace
}  // namespace kiln::rt::test
