// Printed CPU kernels, compiled with the system compiler and run on random data; results are
// compared with values computed here. Each test builds its kernels by hand in kernel IR.

#include <cmath>
#include <limits>
#include <random>

#include "kernel_harness.h"
#include "util/float_formats.h"

namespace kiln::testing {
namespace {

using codegen::cpu::print_kernel;
using codegen::cpu::PrintContext;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -3, float hi = 3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

// out[x0, x1] = a[x0, x1] + b[x1] over [rows, cols].
lower::Kernel add_kernel(const std::string& name, lower::BufferId a, lower::BufferId b,
                         lower::BufferId out, Expr rows, Expr cols) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten.add.Tensor (add)";
  k.ranges = {rows, cols};
  lower::Loop loop;
  Nodes n(loop.body);
  const Expr flat = S("x0") * cols + S("x1");
  int sum = n.op(ScalarOp::kAdd, DType::kFloat32, n.load(a, DType::kFloat32, flat),
                 n.load(b, DType::kFloat32, S("x1")));
  store(loop, out, flat, sum);
  k.loops.push_back(std::move(loop));
  return k;
}

TEST(CpuKernelExec, PointwiseAddWithBroadcast) {
  lower::Program p;
  // Small (serial) and large (parallel, above the work threshold) variants.
  auto a0 = add_buffer(p, "arg0_1", DType::kFloat32, {4, 37});
  auto b0 = add_buffer(p, "arg1_1", DType::kFloat32, {37});
  auto o0 = add_buffer(p, "buf0", DType::kFloat32, {4, 37});
  auto a1 = add_buffer(p, "arg2_1", DType::kFloat32, {96, 1000});
  auto b1 = add_buffer(p, "arg3_1", DType::kFloat32, {1000});
  auto o1 = add_buffer(p, "buf1", DType::kFloat32, {96, 1000});
  PrintContext pc{&p, {}};
  const std::string small = print_kernel(add_kernel("small", a0, b0, o0, 4, 37), pc);
  const std::string large = print_kernel(add_kernel("large", a1, b1, o1, 96, 1000), pc);
  EXPECT_EQ(small.find("omp parallel"), std::string::npos) << small;
  EXPECT_NE(large.find("omp parallel"), std::string::npos) << large;
  CompiledKernels lib(small + large, {"small", "large"});
  ASSERT_TRUE(lib.ok());
  for (auto [name, rows, cols] : {std::tuple{"small", 4, 37}, std::tuple{"large", 96, 1000}}) {
    auto a = random_floats(static_cast<size_t>(rows * cols), 1);
    auto b = random_floats(static_cast<size_t>(cols), 2);
    std::vector<float> out(a.size(), kNaN);
    std::vector<void*> bufs(6, nullptr);
    const size_t base = std::string(name) == "small" ? 0 : 3;
    bufs[base] = a.data();
    bufs[base + 1] = b.data();
    bufs[base + 2] = out.data();
    ASSERT_TRUE(lib.run(name, bufs).ok);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r * cols + c);
        ASSERT_EQ(out[i], a[i] + b[static_cast<size_t>(c)]) << name << " at " << r << "," << c;
      }
    }
  }
}

TEST(CpuKernelExec, CastRoundTripThroughHalfAndBFloat16) {
  lower::Program p;
  const int64_t n = 64;
  auto in = add_buffer(p, "x", DType::kFloat32, {n});
  auto via16 = add_buffer(p, "via_f16", DType::kFloat32, {n});
  auto via_bf = add_buffer(p, "via_bf16", DType::kFloat32, {n});
  auto st16 = add_buffer(p, "stored_f16", DType::kFloat16, {n});
  auto st_bf = add_buffer(p, "stored_bf16", DType::kBFloat16, {n});
  auto back = add_buffer(p, "back", DType::kFloat32, {n});
  lower::Kernel k;
  k.name = "casts";
  k.comment = "aten._to_copy.default (to_f16)";
  k.ranges = {n};
  lower::Loop loop;
  Nodes nb(loop.body);
  int x = nb.load(in, DType::kFloat32, S("x0"));
  store(loop, via16, S("x0"), nb.cast(nb.cast(x, DType::kFloat16), DType::kFloat32));
  store(loop, via_bf, S("x0"), nb.cast(nb.cast(x, DType::kBFloat16), DType::kFloat32));
  store(loop, st16, S("x0"), x);
  store(loop, st_bf, S("x0"), x);
  k.loops.push_back(std::move(loop));
  // A second kernel reads the f16 buffer back, widening to f32.
  lower::Kernel k2;
  k2.name = "widen";
  k2.comment = "aten._to_copy.default (to_f32)";
  k2.ranges = {n};
  lower::Loop loop2;
  Nodes nb2(loop2.body);
  store(loop2, back, S("x0"), nb2.load(st16, DType::kFloat32, S("x0")));
  k2.loops.push_back(std::move(loop2));

  PrintContext pc{&p, {}};
  CompiledKernels lib(print_kernel(k, pc) + print_kernel(k2, pc), {"casts", "widen"});
  ASSERT_TRUE(lib.ok());

  // Ties to even, overflow, subnormals, signed zero, NaN and infinities, then random values.
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           1.0f + 0x1.0p-11f,
                           1.0f + 3 * 0x1.0p-11f,
                           1.0f + 0x1.0p-8f,
                           1.0f + 3 * 0x1.0p-8f,
                           65504.0f,
                           65519.0f,
                           65520.0f,
                           -1e6f,
                           1e-8f,
                           3e-8f,
                           6.1e-5f,
                           kNaN,
                           kInf,
                           -kInf,
                           3.0e38f};
  auto rnd = random_floats(static_cast<size_t>(n) - xs.size(), 3, -70000, 70000);
  xs.insert(xs.end(), rnd.begin(), rnd.end());
  std::vector<float> o16(n), obf(n), oback(n);
  std::vector<uint16_t> s16(n), sbf(n);
  std::vector<void*> bufs = {xs.data(),  o16.data(), obf.data(),
                             s16.data(), sbf.data(), oback.data()};
  ASSERT_TRUE(lib.run("casts", bufs).ok);
  ASSERT_TRUE(lib.run("widen", bufs).ok);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i];
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(o16[i]) && std::isnan(obf[i]) && std::isnan(oback[i]));
      EXPECT_EQ(s16[i] & 0x7C00, 0x7C00);
      EXPECT_NE(s16[i] & 0x03FF, 0);
      EXPECT_EQ(sbf[i] & 0x7F80, 0x7F80);
      EXPECT_NE(sbf[i] & 0x007F, 0);
      continue;
    }
    const double h = util::round_to_float_format(DType::kFloat16, v);
    const double bf = util::round_to_float_format(DType::kBFloat16, v);
    EXPECT_EQ(o16[i], static_cast<float>(h)) << "x = " << v;
    EXPECT_EQ(obf[i], static_cast<float>(bf)) << "x = " << v;
    EXPECT_EQ(std::signbit(o16[i]), std::signbit(v)) << "x = " << v;
    EXPECT_EQ(s16[i], util::double_to_half_bits(h)) << "x = " << v;
    EXPECT_EQ(sbf[i], util::double_to_bfloat16_bits(bf)) << "x = " << v;
    EXPECT_EQ(oback[i], static_cast<float>(h)) << "x = " << v;
  }
}

// out[x0] = sum over r of in[x0, r], accumulating in f32 (loads widen, the store rounds).
lower::Kernel sum_kernel(const std::string& name, lower::BufferId in, lower::BufferId out,
                         Expr rows, Expr cols) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten.sum.dim_IntList (sum_1)";
  k.ranges = {rows};
  auto red = reduction_loop({cols}, ReduceOp::kSum, DType::kFloat32);
  Nodes n(red.body);
  red.value = n.load(in, DType::kFloat32, S("x0") * cols + S("r0_0"));
  lower::Loop st;
  Nodes ns(st.body);
  store(st, out, S("x0"), ns.loop_result(0, DType::kFloat32));
  k.loops = {red, st};
  return k;
}

TEST(CpuKernelExec, SumReductionInFloatAndHalf) {
  lower::Program p;
  auto in32 = add_buffer(p, "a", DType::kFloat32, {96, 1000});
  auto out32 = add_buffer(p, "sum_a", DType::kFloat32, {96});
  auto in16 = add_buffer(p, "h", DType::kFloat16, {5, 301});
  auto out16 = add_buffer(p, "sum_h", DType::kFloat16, {5});
  PrintContext pc{&p, {}};
  const std::string code = print_kernel(sum_kernel("sum32", in32, out32, 96, 1000), pc) +
                           print_kernel(sum_kernel("sum16", in16, out16, 5, 301), pc);
  EXPECT_NE(code.find("reduction(+:acc0)"), std::string::npos) << code;
  CompiledKernels lib(code, {"sum32", "sum16"});
  ASSERT_TRUE(lib.ok());

  auto a = random_floats(96 * 1000, 4);
  std::vector<float> sa(96, kNaN);
  auto hf = random_floats(5 * 301, 5);
  std::vector<uint16_t> h(hf.size());
  for (size_t i = 0; i < hf.size(); ++i) {
    h[i] = util::double_to_half_bits(util::round_to_float_format(DType::kFloat16, hf[i]));
  }
  std::vector<uint16_t> sh(5, 0xFFFF);
  std::vector<void*> bufs = {a.data(), sa.data(), h.data(), sh.data()};
  for (int threads : {1, 4}) {
    ASSERT_TRUE(lib.run("sum32", bufs, {}, threads).ok);
    for (size_t r = 0; r < 96; ++r) {
      double want = 0;
      for (size_t c = 0; c < 1000; ++c)
        want += a[r * 1000 + c];
      EXPECT_NEAR(sa[r], want, 1e-3) << "row " << r;
    }
  }
  ASSERT_TRUE(lib.run("sum16", bufs).ok);
  for (size_t r = 0; r < 5; ++r) {
    double want = 0;
    for (size_t c = 0; c < 301; ++c)
      want += util::half_bits_to_double(h[r * 301 + c]);
    // The f32 sum rounds once to f16 on the store.
    const double got = util::half_bits_to_double(sh[r]);
    EXPECT_NEAR(got, want, std::abs(want) * 1e-3 + 1e-2) << "row " << r;
  }
}

// out[x0] = max (or min) over r of in[x0, r]; a kernel with no outer ranges reduces everything.
lower::Kernel minmax_kernel(const std::string& name, ReduceOp op, lower::BufferId in,
                            lower::BufferId out, std::vector<Expr> outer, Expr cols) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten.amax.default (amax)";
  k.ranges = outer;
  auto red = reduction_loop({cols}, op, DType::kFloat32);
  Nodes n(red.body);
  const Expr row = outer.empty() ? Expr(0) : S("x0") * cols;
  red.value = n.load(in, DType::kFloat32, row + S("r0_0"));
  lower::Loop st;
  Nodes ns(st.body);
  store(st, out, outer.empty() ? Expr(0) : S("x0"), ns.loop_result(0, DType::kFloat32));
  k.loops = {red, st};
  return k;
}

TEST(CpuKernelExec, MaxAndMinPropagateNaN) {
  const int64_t rows = 6, cols = 257, total = 100000;
  lower::Program p;
  auto in = add_buffer(p, "x", DType::kFloat32, {rows, cols});
  auto mx = add_buffer(p, "mx", DType::kFloat32, {rows});
  auto mn = add_buffer(p, "mn", DType::kFloat32, {rows});
  auto big = add_buffer(p, "big", DType::kFloat32, {total});
  auto all_max = add_buffer(p, "all_max", DType::kFloat32, {});
  PrintContext pc{&p, {}};
  const std::string code =
      print_kernel(minmax_kernel("rowmax", ReduceOp::kMax, in, mx, {rows}, cols), pc) +
      print_kernel(minmax_kernel("rowmin", ReduceOp::kMin, in, mn, {rows}, cols), pc) +
      print_kernel(minmax_kernel("fullmax", ReduceOp::kMax, big, all_max, {}, total), pc);
  CompiledKernels lib(code, {"rowmax", "rowmin", "fullmax"});
  ASSERT_TRUE(lib.ok());

  auto x = random_floats(static_cast<size_t>(rows * cols), 6);
  x[1 * cols + 0] = kNaN;         // first
  x[3 * cols + 100] = kNaN;       // middle
  x[4 * cols + cols - 1] = kNaN;  // last
  x[5 * cols + 7] = kInf;
  auto b = random_floats(total, 7);
  std::vector<float> omx(rows), omn(rows);
  float oall = 0;
  std::vector<void*> bufs = {x.data(), omx.data(), omn.data(), b.data(), &oall};
  ASSERT_TRUE(lib.run("rowmax", bufs).ok);
  ASSERT_TRUE(lib.run("rowmin", bufs).ok);
  for (int64_t r = 0; r < rows; ++r) {
    float want_max = -kInf, want_min = kInf;
    bool nan = false;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = x[static_cast<size_t>(r * cols + c)];
      nan |= std::isnan(v);
      want_max = std::max(want_max, v);
      want_min = std::min(want_min, v);
    }
    if (nan) {
      EXPECT_TRUE(std::isnan(omx[r])) << "row " << r;
      EXPECT_TRUE(std::isnan(omn[r])) << "row " << r;
    } else {
      EXPECT_EQ(omx[r], want_max) << "row " << r;
      EXPECT_EQ(omn[r], want_min) << "row " << r;
    }
  }
  for (int threads : {1, 4}) {
    ASSERT_TRUE(lib.run("fullmax", bufs, {}, threads).ok);
    EXPECT_EQ(oall, *std::max_element(b.begin(), b.end()));
    b[77777] = kNaN;
    ASSERT_TRUE(lib.run("fullmax", bufs, {}, threads).ok);
    EXPECT_TRUE(std::isnan(oall));
    b[77777] = 0.5f;
  }
}

TEST(CpuKernelExec, ArgMaxAndArgMinOverTwoDims) {
  // idx[x0] = argmax over (r0_0, r0_1) of in[x0, :, :] (flat index), val[x0] = the max.
  const int64_t rows = 5, d1 = 3, d2 = 7;
  lower::Program p;
  auto in = add_buffer(p, "x", DType::kFloat32, {rows, d1, d2});
  auto idx = add_buffer(p, "idx", DType::kInt64, {rows});
  auto val = add_buffer(p, "val", DType::kFloat32, {rows});
  auto idx_min = add_buffer(p, "idx_min", DType::kInt64, {rows});
  PrintContext pc{&p, {}};
  std::string code;
  for (ReduceOp op : {ReduceOp::kArgMax, ReduceOp::kArgMin}) {
    lower::Kernel k;
    k.name = op == ReduceOp::kArgMax ? "argmax" : "argmin";
    k.comment = "aten.argmax.default (argmax)";
    k.ranges = {rows};
    auto red = reduction_loop({d1, d2}, op, DType::kFloat32);
    Nodes n(red.body);
    red.value = n.load(in, DType::kFloat32, S("x0") * (d1 * d2) + S("r0_0") * d2 + S("r0_1"));
    lower::Loop st;
    Nodes ns(st.body);
    if (op == ReduceOp::kArgMax) {
      store(st, idx, S("x0"), ns.loop_index(0));
      store(st, val, S("x0"), ns.loop_result(0, DType::kFloat32));
    } else {
      store(st, idx_min, S("x0"), ns.loop_index(0));
    }
    k.loops = {red, st};
    code += print_kernel(k, pc);
  }
  CompiledKernels lib(code, {"argmax", "argmin"});
  ASSERT_TRUE(lib.ok());

  auto x = random_floats(static_cast<size_t>(rows * d1 * d2), 8);
  const size_t n = static_cast<size_t>(d1 * d2);
  x[0 * n + 4] = 9;  // row 0: tie of the max at 4 and 11: the first wins
  x[0 * n + 11] = 9;
  x[0 * n + 2] = -9;  // and of the min at 2 and 20
  x[0 * n + 20] = -9;
  x[1 * n + 6] = kNaN;  // row 1: the first NaN wins for both
  x[1 * n + 9] = kNaN;
  for (size_t i = 0; i < n; ++i)
    x[2 * n + i] = -kInf;  // row 2: all -inf: index 0
  x[3 * n + n - 1] = 50;   // row 3: the last element
  std::vector<int64_t> oidx(rows, -1), oidx_min(rows, -1);
  std::vector<float> oval(rows);
  std::vector<void*> bufs = {x.data(), oidx.data(), oval.data(), oidx_min.data()};
  ASSERT_TRUE(lib.run("argmax", bufs).ok);
  ASSERT_TRUE(lib.run("argmin", bufs).ok);
  for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
    // Reference: first NaN, else first strict extreme.
    int64_t want = 0, want_min = 0;
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(x[r * n + i])) {
        want = want_min = static_cast<int64_t>(i);
        break;
      }
      if (x[r * n + i] > x[r * n + static_cast<size_t>(want)]) want = static_cast<int64_t>(i);
      if (x[r * n + i] < x[r * n + static_cast<size_t>(want_min)])
        want_min = static_cast<int64_t>(i);
    }
    EXPECT_EQ(oidx[r], want) << "row " << r;
    EXPECT_EQ(oidx_min[r], want_min) << "row " << r;
    const float wv = x[r * n + static_cast<size_t>(want)];
    if (std::isnan(wv)) {
      EXPECT_TRUE(std::isnan(oval[r]));
    } else {
      EXPECT_EQ(oval[r], wv) << "row " << r;
    }
  }
  EXPECT_EQ(oidx[0], 4);
  EXPECT_EQ(oidx_min[0], 2);
  EXPECT_EQ(oidx[1], 6);
  EXPECT_EQ(oidx[2], 0);
  EXPECT_EQ(oidx[3], static_cast<int64_t>(n) - 1);
}

// softmax over the last dim: max, sum of exp(x - max), then exp(x - max) / sum.
lower::Kernel softmax_kernel(const std::string& name, lower::BufferId in, lower::BufferId out,
                             Expr rows, Expr cols) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten._softmax.default (softmax)";
  k.ranges = {rows};
  const DType f = DType::kFloat32;
  auto mx = reduction_loop({cols}, ReduceOp::kMax, f);
  Nodes n0(mx.body);
  mx.value = n0.load(in, f, S("x0") * cols + S("r0_0"));
  auto sum = reduction_loop({cols}, ReduceOp::kSum, f);
  Nodes n1(sum.body);
  sum.value = n1.op(
      ScalarOp::kExp, f,
      n1.op(ScalarOp::kSub, f, n1.load(in, f, S("x0") * cols + S("r1_0")), n1.loop_result(0, f)));
  lower::Loop pw;
  pw.ranges = {cols};
  Nodes n2(pw.body);
  int e = n2.op(
      ScalarOp::kExp, f,
      n2.op(ScalarOp::kSub, f, n2.load(in, f, S("x0") * cols + S("r2_0")), n2.loop_result(0, f)));
  store(pw, out, S("x0") * cols + S("r2_0"), n2.op(ScalarOp::kDiv, f, e, n2.loop_result(1, f)));
  k.loops = {mx, sum, pw};
  return k;
}

TEST(CpuKernelExec, SoftmaxWithTwoReductionsAndAPointwiseLoop) {
  lower::Program p;
  auto in = add_buffer(p, "x", DType::kFloat32, {S("s0"), 300});
  auto out = add_buffer(p, "y", DType::kFloat32, {S("s0"), 300});
  PrintContext pc{&p, {"s0"}};
  const std::string code = print_kernel(softmax_kernel("softmax", in, out, S("s0"), 300), pc);
  CompiledKernels lib(code, {"softmax"});
  ASSERT_TRUE(lib.ok());
  for (int64_t rows : {0, 3, 200}) {
    auto x = random_floats(static_cast<size_t>(rows * 300), 9, -20, 20);
    if (rows > 0) x[17] = 80;  // large enough that exp overflows without the max
    std::vector<float> y(x.size(), kNaN);
    ASSERT_TRUE(lib.run("softmax", {x.data(), y.data()}, {rows}).ok);
    for (int64_t r = 0; r < rows; ++r) {
      double m = -INFINITY, s = 0;
      for (int64_t c = 0; c < 300; ++c)
        m = std::max<double>(m, x[static_cast<size_t>(r * 300 + c)]);
      for (int64_t c = 0; c < 300; ++c)
        s += std::exp(x[static_cast<size_t>(r * 300 + c)] - m);
      for (int64_t c = 0; c < 300; ++c) {
        const double want = std::exp(x[static_cast<size_t>(r * 300 + c)] - m) / s;
        ASSERT_NEAR(y[static_cast<size_t>(r * 300 + c)], want, 1e-6 + want * 1e-5)
            << "rows " << rows << " at " << r << "," << c;
      }
    }
  }
}

}  // namespace
}  // namespace kiln::testing
