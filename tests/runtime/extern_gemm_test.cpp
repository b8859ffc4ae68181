// extern_gemm against a naive loop in double (or wrapping int64), over strided, transposed and
// broadcast operands, every dtype family, bias broadcasts and thread counts.
#include <cstring>

#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

enum class Layout { kContig, kTrans, kStrided, kBatchBroadcast };

// A strided [batch, rows, cols] operand over a buffer of random data.
struct Operand {
  Buf buf;
  int64_t off = 0, sb = 0, si = 0, sj = 0;
  int64_t at(int64_t b, int64_t i, int64_t j) const { return off + b * sb + i * si + j * sj; }
};

Operand make_operand(int64_t dtype, int64_t batch, int64_t rows, int64_t cols, Layout layout,
                     std::mt19937& rng, double lo = -2, double hi = 2) {
  Operand o;
  switch (layout) {
    case Layout::kContig:
      o.sb = rows * cols, o.si = cols, o.sj = 1;
      break;
    case Layout::kTrans:
      o.sb = rows * cols, o.si = 1, o.sj = rows;
      break;
    case Layout::kStrided:
      o.off = 3, o.si = 2 * cols + 1, o.sj = 2, o.sb = rows * o.si + 5;
      break;
    case Layout::kBatchBroadcast:
      o.sb = 0, o.si = cols, o.sj = 1;
      break;
  }
  int64_t extent = o.off + (batch - 1) * o.sb + (rows - 1) * o.si + (cols - 1) * o.sj + 1;
  o.buf = random_buf(dtype, std::max<int64_t>(extent, 1), rng, lo, hi);
  return o;
}

struct Case {
  int64_t dtype = kExtFloat32, batch = 1, m = 1, n = 1, k = 1;
  Layout la = Layout::kContig, lb = Layout::kContig;
  int bias = 0;  // 0 none, 1 full, 2 row [N], 3 column [M, 1], 4 scalar
  double alpha = 1, beta = 1;
  int threads = 2;
};

std::string describe(const Case& c) {
  return "dtype " + std::string(ext::dtype_name(c.dtype)) + " batch " + std::to_string(c.batch) +
         " M " + std::to_string(c.m) + " N " + std::to_string(c.n) + " K " + std::to_string(c.k) +
         " layouts " + std::to_string(static_cast<int>(c.la)) + "/" +
         std::to_string(static_cast<int>(c.lb)) + " bias " + std::to_string(c.bias) + " threads " +
         std::to_string(c.threads);
}

void run_case(const Case& c, std::mt19937& rng) {
  double lo = ext::is_floating(c.dtype) ? -2 : -50, hi = ext::is_floating(c.dtype) ? 2 : 50;
  Operand a = make_operand(c.dtype, c.batch, c.m, c.k, c.la, rng, lo, hi);
  Operand b = make_operand(c.dtype, c.batch, c.k, c.n, c.lb, rng, lo, hi);
  Operand bias;
  bias.buf = random_buf(c.dtype, c.batch * c.m * c.n + 1, rng, lo, hi);
  switch (c.bias) {
    case 1:
      bias.sb = c.m * c.n, bias.si = c.n, bias.sj = 1;
      break;
    case 2:
      bias.sj = 1;
      break;
    case 3:
      bias.si = 1;
      break;
    default:
      break;
  }
  Buf out = poisoned(c.dtype, c.batch * c.m * c.n);
  std::vector<int64_t> ints = {c.dtype, c.batch,     c.m,      c.n,     c.k,     a.off,
                               a.sb,    a.si,        a.sj,     b.off,   b.sb,    b.si,
                               b.sj,    c.bias != 0, bias.off, bias.sb, bias.si, bias.sj};
  std::vector<const Buf*> inputs = {&a.buf, &b.buf};
  if (c.bias != 0) inputs.push_back(&bias.buf);
  CallResult r = call(extern_gemm, inputs, {&out}, ints, {c.alpha, c.beta}, c.threads);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << describe(c);
  const bool use_bias = c.bias != 0 && c.beta != 0;
  if (ext::is_floating(c.dtype)) {
    std::vector<double> want;
    for (int64_t bi = 0; bi < c.batch; ++bi)
      for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < c.k; ++p)
            acc += a.buf.get(a.at(bi, i, p)) * b.buf.get(b.at(bi, p, j));
          acc *= c.alpha;
          if (use_bias) acc += c.beta * bias.buf.get(bias.at(bi, i, j));
          want.push_back(acc);
        }
    expect_close(out, want, describe(c));
  } else {
    std::vector<int64_t> want;
    for (int64_t bi = 0; bi < c.batch; ++bi)
      for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
          uint64_t acc = 0;
          for (int64_t p = 0; p < c.k; ++p)
            acc += static_cast<uint64_t>(a.buf.get_int(a.at(bi, i, p))) *
                   static_cast<uint64_t>(b.buf.get_int(b.at(bi, p, j)));
          acc *= static_cast<uint64_t>(static_cast<int64_t>(c.alpha));
          if (use_bias) {
            acc += static_cast<uint64_t>(static_cast<int64_t>(c.beta)) *
                   static_cast<uint64_t>(bias.buf.get_int(bias.at(bi, i, j)));
          }
          want.push_back(static_cast<int64_t>(acc));
        }
    expect_ints(out, want, describe(c));
  }
}

TEST(ExternGemm, F32ShapesLayoutsAndBiases) {
  std::mt19937 rng(11);
  const int64_t shapes[][4] = {{1, 1, 1, 1},   {1, 3, 5, 7},  {2, 4, 1, 3},
                               {3, 17, 9, 33}, {1, 1, 12, 5}, {1, 64, 48, 80}};
  for (const auto& s : shapes) {
    for (Layout la : {Layout::kContig, Layout::kTrans, Layout::kStrided}) {
      for (Layout lb : {Layout::kContig, Layout::kTrans, Layout::kStrided}) {
        for (int bias : {0, 1, 2, 3, 4}) {
          Case c;
          c.batch = s[0], c.m = s[1], c.n = s[2], c.k = s[3];
          c.la = la, c.lb = lb, c.bias = bias;
          c.alpha = bias % 2 == 0 ? 1.0 : 1.5;
          c.beta = bias == 3 ? -0.5 : 1.0;
          c.threads = bias % 2 == 0 ? 1 : 3;
          run_case(c, rng);
        }
      }
    }
  }
}

TEST(ExternGemm, BatchedWithBroadcastOperandAndPerMatrixThreads) {
  std::mt19937 rng(12);
  for (int threads : {1, 4}) {
    for (int64_t batch : {2, 7}) {
      Case c;
      c.batch = batch, c.m = 6, c.n = 5, c.k = 9;
      c.lb = Layout::kBatchBroadcast;
      c.bias = 2;
      c.threads = threads;
      run_case(c, rng);
      c.la = Layout::kBatchBroadcast;
      c.lb = Layout::kTrans;
      c.bias = 1;
      run_case(c, rng);
    }
  }
}

TEST(ExternGemm, SixteenBitFloats) {
  std::mt19937 rng(13);
  for (int64_t dtype : {kExtFloat16, kExtBFloat16}) {
    for (Layout la : {Layout::kContig, Layout::kTrans}) {
      Case c;
      c.dtype = dtype, c.batch = 2, c.m = 7, c.n = 11, c.k = 13, c.la = la, c.bias = 2;
      c.alpha = 0.5, c.beta = 2;
      run_case(c, rng);
    }
  }
}

TEST(ExternGemm, Float64) {
  std::mt19937 rng(14);
  for (Layout lb : {Layout::kContig, Layout::kStrided, Layout::kBatchBroadcast}) {
    Case c;
    c.dtype = kExtFloat64, c.batch = 3, c.m = 5, c.n = 4, c.k = 6, c.lb = lb, c.bias = 3;
    c.alpha = -1.25, c.beta = 0.75;
    run_case(c, rng);
  }
}

TEST(ExternGemm, IntegersWrapAsInt64) {
  std::mt19937 rng(15);
  for (int64_t dtype : {kExtInt64, kExtInt32, kExtInt16, kExtInt8, kExtUInt8}) {
    Case c;
    c.dtype = dtype, c.batch = 2, c.m = 4, c.n = 3, c.k = 5, c.la = Layout::kTrans, c.bias = 1;
    c.alpha = 3, c.beta = -2;
    run_case(c, rng);
  }
  // Products that overflow 32 bits wrap in the int32 result exactly as int64 math truncated.
  Buf a(kExtInt32, 2), b(kExtInt32, 2), out(kExtInt32, 1);
  a.set_int(0, 2000000000), a.set_int(1, 7), b.set_int(0, 3), b.set_int(1, 5);
  CallResult r = call(extern_gemm, {&a, &b}, {&out},
                      {kExtInt32, 1, 1, 1, 2, 0, 0, 2, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}, {1, 1});
  ASSERT_TRUE(r.ok) << r.sink.message;
  EXPECT_EQ(out.get_int(0), static_cast<int32_t>(static_cast<uint32_t>(6000000035LL)));
}

TEST(ExternGemm, ZeroBetaLeavesBiasUnread) {
  std::mt19937 rng(16);
  Buf a = random_buf(kExtFloat32, 6, rng), b = random_buf(kExtFloat32, 6, rng);
  Buf bias(kExtFloat32, 4);
  for (int i = 0; i < 4; ++i)
    bias.set(i, std::nan(""));
  Buf out = poisoned(kExtFloat32, 4);
  CallResult r = call(extern_gemm, {&a, &b, &bias}, {&out},
                      {kExtFloat32, 1, 2, 2, 3, 0, 0, 3, 1, 0, 0, 2, 1, 1, 0, 0, 2, 1}, {1, 0});
  ASSERT_TRUE(r.ok) << r.sink.message;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double want = 0;
      for (int p = 0; p < 3; ++p)
        want += a.get(i * 3 + p) * b.get(p * 2 + j);
      EXPECT_NEAR(out.get(i * 2 + j), want, 1e-5);
    }
}

TEST(ExternGemm, EmptyReductionGivesTheScaledBias) {
  std::mt19937 rng(17);
  Buf a(kExtFloat32, 1), b(kExtFloat32, 1);
  Buf bias = random_buf(kExtFloat32, 6, rng);
  Buf out = poisoned(kExtFloat32, 6);
  CallResult r = call(extern_gemm, {&a, &b, &bias}, {&out},
                      {kExtFloat32, 1, 2, 3, 0, 0, 0, 0, 1, 0, 0, 3, 1, 1, 0, 0, 3, 1}, {2, 3});
  ASSERT_TRUE(r.ok) << r.sink.message;
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(out.get(i), static_cast<float>(3 * bias.get(i)));
}

TEST(ExternGemm, MalformedCallsFailWithAMessage) {
  Buf a(kExtFloat32, 4), b(kExtFloat32, 4), out(kExtFloat32, 4);
  CallResult r = call(extern_gemm, {&a, &b}, {&out}, {kExtFloat32, 1, 2, 2}, {1, 1});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sink.status, 4);
  EXPECT_NE(std::strstr(r.sink.message, "gemm: expected at least 18 int parameters"), nullptr)
      << r.sink.message;
  r = call(extern_gemm, {&a}, {&out},
           {kExtFloat32, 1, 2, 2, 2, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0, 0, 0, 0}, {1, 1});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "inputs"), nullptr) << r.sink.message;
  r = call(extern_gemm, {&a, &b}, {&out}, {99, 1, 2, 2, 2, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0, 0, 0, 0},
           {1, 1});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "unsupported dtype code 99"), nullptr) << r.sink.message;
}

}  // namespace
}  // namespace kiln::rt::test
