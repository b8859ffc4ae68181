// Printed CPU kernels over symbolic and empty iteration spaces, kernels without outer ranges
// (whole-tensor reductions, pointwise loops parallelized by themselves), and extern calls.

#include <random>

#include "kernel_harness.h"

namespace kiln::testing {
namespace {

using codegen::cpu::print_extern;
using codegen::cpu::print_kernel;
using codegen::cpu::PrintContext;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

TEST(CpuKernelShapes, SymbolicRangesIncludingEmptyOnes) {
  const Expr s0 = S("s0"), s1 = S("s1");
  const DType f = DType::kFloat32;
  lower::Program p;
  auto a = add_buffer(p, "a", f, {s0, s1});
  auto b = add_buffer(p, "b", f, {s1});
  auto out = add_buffer(p, "out", f, {s0, s1});
  auto rowsum = add_buffer(p, "rowsum", f, {s0});
  auto transposed = add_buffer(p, "transposed", f, {s1, s0});
  PrintContext pc{&p, {"s0", "s1"}};

  // out = a + 1.5 * b (broadcast), over [s0, s1].
  lower::Kernel k1;
  k1.name = "axpb";
  k1.comment = "aten.add.Tensor (add)";
  k1.ranges = {s0, s1};
  lower::Loop l1;
  Nodes n1(l1.body);
  int scaled = n1.op(ScalarOp::kMul, f, n1.load(b, f, S("x1")), n1.fconst(1.5, f));
  store(l1, out, S("x0") * s1 + S("x1"),
        n1.op(ScalarOp::kAdd, f, n1.load(a, f, S("x0") * s1 + S("x1")), scaled));
  k1.loops.push_back(std::move(l1));

  // rowsum[x0] = sum over r of a[x0, r].
  lower::Kernel k2;
  k2.name = "rowsum";
  k2.comment = "aten.sum.dim_IntList (sum)";
  k2.ranges = {s0};
  auto red = reduction_loop({s1}, ReduceOp::kSum, f);
  Nodes n2(red.body);
  red.value = n2.load(a, f, S("x0") * s1 + S("r0_0"));
  lower::Loop st;
  Nodes n2s(st.body);
  store(st, rowsum, S("x0"), n2s.loop_result(0, f));
  k2.loops = {red, st};

  // transposed[j, i] = a[i, j] over the flat index: floor division and modulo in indices.
  lower::Kernel k3;
  k3.name = "transpose";
  k3.comment = "aten.permute.default (permute) + aten.clone.default (clone)";
  k3.ranges = {s0 * s1};
  lower::Loop l3;
  Nodes n3(l3.body);
  const Expr x0 = S("x0");
  store(l3, transposed, sym::mod(x0, s1) * s0 + sym::floor_div(x0, s1), n3.load(a, f, x0));
  k3.loops.push_back(std::move(l3));

  const std::string code = print_kernel(k1, pc) + print_kernel(k2, pc) + print_kernel(k3, pc);
  EXPECT_NE(code.find("kiln_floordiv(x0, s1)"), std::string::npos) << code;
  CompiledKernels lib(code, {"axpb", "rowsum", "transpose"});
  ASSERT_TRUE(lib.ok());

  for (auto [r, c] : {std::pair<int64_t, int64_t>{3, 5}, {0, 5}, {4, 0}, {200, 300}}) {
    const size_t rows = static_cast<size_t>(r), cols = static_cast<size_t>(c);
    auto va = random_floats(rows * cols, 12);
    auto vb = random_floats(cols, 13);
    std::vector<float> vout(rows * cols + 1, 7), vsum(rows + 1, 7), vt(rows * cols + 1, 7);
    std::vector<void*> bufs = {va.data(), vb.data(), vout.data(), vsum.data(), vt.data()};
    for (const char* k : {"axpb", "rowsum", "transpose"}) {
      ASSERT_TRUE(lib.run(k, bufs, {r, c}).ok) << k;
    }
    for (size_t i = 0; i < rows; ++i) {
      double want_sum = 0;
      for (size_t j = 0; j < cols; ++j) {
        ASSERT_EQ(vout[i * cols + j], va[i * cols + j] + vb[j] * 1.5f);
        ASSERT_EQ(vt[j * rows + i], va[i * cols + j]);
        want_sum += va[i * cols + j];
      }
      ASSERT_NEAR(vsum[i], want_sum, 1e-3) << "rows " << r << " cols " << c;
    }
    // Nothing is written past the tensors (and an empty sum is 0).
    EXPECT_EQ(vout[rows * cols], 7);
    EXPECT_EQ(vsum[rows], 7);
    EXPECT_EQ(vt[rows * cols], 7);
  }
}

TEST(CpuKernelShapes, KernelsWithoutOuterRanges) {
  const Expr s0 = S("s0");
  const DType f = DType::kFloat32;
  lower::Program p;
  auto x = add_buffer(p, "x", f, {s0, 300});
  auto total = add_buffer(p, "total", f, {});
  auto doubled = add_buffer(p, "doubled", f, {s0, 300});
  auto mask = add_buffer(p, "mask", DType::kBool, {s0});
  auto flags = add_buffer(p, "flags", DType::kBool, {2});
  auto ints = add_buffer(p, "ints", DType::kInt32, {s0});
  auto int_total = add_buffer(p, "int_total", DType::kInt64, {});
  PrintContext pc{&p, {"s0"}};

  auto whole = [&](const std::string& name, ReduceOp op, DType acc, lower::BufferId in,
                   DType in_dtype, std::vector<Expr> ranges, Expr index, lower::BufferId dst,
                   Expr dst_index, std::vector<Expr> outer = {}) {
    lower::Kernel k;
    k.name = name;
    k.comment = "aten.sum.default (" + name + ")";
    k.ranges = std::move(outer);
    auto red = reduction_loop(std::move(ranges), op, acc);
    Nodes n(red.body);
    red.value = n.load(in, in_dtype, std::move(index));
    lower::Loop st;
    Nodes ns(st.body);
    store(st, dst, std::move(dst_index), ns.loop_result(0, acc));
    k.loops = {red, st};
    return print_kernel(k, pc);
  };
  std::string code;
  // With keepdim the outer ranges are [1, 1]: still one parallel reduction.
  code += whole("fsum", ReduceOp::kSum, f, x, f, {s0, 300}, S("r0_0") * 300 + S("r0_1"), total,
                S("x0") + S("x1"), {1, 1});
  code += whole("any", ReduceOp::kAny, DType::kBool, mask, DType::kBool, {s0}, S("r0_0"), flags, 0);
  code += whole("all", ReduceOp::kAll, DType::kBool, mask, DType::kBool, {s0}, S("r0_0"), flags, 1);
  code += whole("isum", ReduceOp::kSum, DType::kInt64, ints, DType::kInt64, {s0}, S("r0_0"),
                int_total, 0);
  // doubled = 2 * x as one loop of its own, parallelized over its leading dim.
  lower::Kernel k;
  k.name = "twice";
  k.comment = "aten.mul.Tensor (mul)";
  lower::Loop pw;
  pw.ranges = {s0, 300};
  Nodes n(pw.body);
  const Expr flat = S("r0_0") * 300 + S("r0_1");
  store(pw, doubled, flat, n.op(ScalarOp::kMul, f, n.load(x, f, flat), n.fconst(2, f)));
  k.loops.push_back(std::move(pw));
  code += print_kernel(k, pc);
  EXPECT_NE(code.find("reduction(+:acc0) if(parallel: 300*s0 >= 32768)"), std::string::npos)
      << code;
  CompiledKernels lib(code, {"fsum", "any", "all", "isum", "twice"});
  ASSERT_TRUE(lib.ok());

  for (int64_t rows : {0, 3, 500}) {
    const size_t n300 = static_cast<size_t>(rows) * 300;
    auto vx = random_floats(n300, 14);
    std::vector<float> vt(1, 7), vd(n300 + 1, 7);
    std::vector<char> vm(static_cast<size_t>(rows), 1), vf(2, 7);
    if (rows > 2) vm[2] = 0;
    std::vector<int32_t> vi(static_cast<size_t>(rows));
    for (size_t i = 0; i < vi.size(); ++i)
      vi[i] = 2000000000 - static_cast<int32_t>(i);
    int64_t vit = 7;
    std::vector<void*> bufs = {vx.data(), vt.data(), vd.data(), vm.data(),
                               vf.data(), vi.data(), &vit};
    for (int threads : {1, 4}) {
      for (const char* name : {"fsum", "any", "all", "isum", "twice"}) {
        ASSERT_TRUE(lib.run(name, bufs, {rows}, threads).ok) << name;
      }
      double want = 0;
      for (float v : vx)
        want += v;
      EXPECT_NEAR(vt[0], want, 1e-2) << rows;
      EXPECT_EQ(vf[0] != 0, rows > 0) << "any of " << rows;
      EXPECT_EQ(vf[1] != 0, rows <= 2) << "all of " << rows;
      int64_t want_int = 0;  // int32 values summed in int64: no overflow
      for (int32_t v : vi)
        want_int += v;
      EXPECT_EQ(vit, want_int);
      for (size_t i = 0; i < n300; ++i)
        ASSERT_EQ(vd[i], 2 * vx[i]);
      EXPECT_EQ(vd[n300], 7);
    }
  }
}

TEST(CpuKernelShapes, ExternCallPassesBuffersAndParameters) {
  lower::Program p;
  auto x = add_buffer(p, "x", DType::kFloat32, {S("s0"), 3});
  auto y = add_buffer(p, "y", DType::kFloat32, {S("s0"), 3});
  auto out = add_buffer(p, "out", DType::kFloat32, {S("s0"), 3});
  lower::ExternCall call;
  call.kind = "test_axpy";
  call.comment = "aten.addcmul.default (addcmul)";
  call.inputs = {x, y};
  call.outputs = {out};
  call.int_params = {S("s0") * 3, sym::floor_div(S("s1") + 1, 2)};
  call.float_params = {2.5, -0.0};
  PrintContext pc{&p, {"s1", "s0"}};
  const std::string code = print_extern(call, "extern0", pc);
  // The routine: out = alpha * x + y over ints[0] elements, and echoes its other parameters.
  const std::string routine = R"(
namespace kiln::rt {
double seen_beta = 1;
int64_t seen_half = -1;
int seen_threads = -1;
bool extern_test_axpy(const ExternArgs& args) {
  if (args.num_inputs != 2 || args.num_outputs != 1 || args.num_ints != 2 || args.num_floats != 2)
    return fail(args.error, 2, "bad argument counts");
  if (args.ints[0] == 0) return fail(args.error, 4, "nothing to do");
  const float* xs = static_cast<const float*>(args.inputs[0]);
  const float* ys = static_cast<const float*>(args.inputs[1]);
  float* o = static_cast<float*>(args.outputs[0]);
  for (int64_t i = 0; i < args.ints[0]; ++i) o[i] = static_cast<float>(args.floats[0]) * xs[i] + ys[i];
  seen_beta = args.floats[1];
  seen_half = args.ints[1];
  seen_threads = args.num_threads;
  return true;
}
}  // namespace kiln::rt
extern "C" double beta() { return kiln::rt::seen_beta; }
extern "C" int64_t half() { return kiln::rt::seen_half; }
extern "C" int threads() { return kiln::rt::seen_threads; }
)";
  CompiledKernels lib(code, {"extern0"}, routine);
  ASSERT_TRUE(lib.ok());
  auto vx = random_floats(12, 15), vy = random_floats(12, 16);
  std::vector<float> vo(12, 0);
  std::vector<void*> bufs = {vx.data(), vy.data(), vo.data()};
  auto r = lib.run("extern0", bufs, {9, 4}, 3);
  ASSERT_TRUE(r.ok) << r.error.message;
  for (size_t i = 0; i < 12; ++i)
    EXPECT_EQ(vo[i], 2.5f * vx[i] + vy[i]);
  auto beta = reinterpret_cast<double (*)()>(lib.symbol("beta"));
  auto half = reinterpret_cast<int64_t (*)()>(lib.symbol("half"));
  auto threads = reinterpret_cast<int (*)()>(lib.symbol("threads"));
  ASSERT_TRUE(beta && half && threads);
  EXPECT_TRUE(beta() == 0 && std::signbit(beta()));
  EXPECT_EQ(half(), 5);  // (s1 + 1) // 2 with s1 = 9
  EXPECT_EQ(threads(), 3);
  r = lib.run("extern0", bufs, {9, 0});
  EXPECT_FALSE(r.ok);
  EXPECT_STREQ(r.error.message, "nothing to do");
}

}  // namespace
}  // namespace kiln::testing
