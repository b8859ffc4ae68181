// The text the CPU kernel printer writes for small kernels (stable and readable), the errors it
// gives for IR it cannot print, and that GCC vectorizes the loops it marks.

#include <algorithm>
#include <set>

#include "kernel_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using codegen::cpu::print_extern;
using codegen::cpu::print_kernel;
using codegen::cpu::PrintContext;

// Buffers shared by the golden kernels.
struct GoldenProgram {
  lower::Program p;
  lower::BufferId a, b, out, half_in, bf_out, table, ids, gathered, argmax;
  GoldenProgram() {
    a = add_buffer(p, "arg0_1", DType::kFloat32, {4, 8});
    b = add_buffer(p, "arg1_1", DType::kFloat32, {8});
    out = add_buffer(p, "buf0", DType::kFloat32, {4, 8});
    half_in = add_buffer(p, "arg2_1", DType::kFloat16, {S("s0"), 64});
    bf_out = add_buffer(p, "buf1", DType::kBFloat16, {S("s0")});
    table = add_buffer(p, "p_embed_weight", DType::kFloat32, {10, 16});
    ids = add_buffer(p, "arg3_1", DType::kInt64, {3});
    gathered = add_buffer(p, "buf2", DType::kFloat32, {3, 16});
    argmax = add_buffer(p, "buf3", DType::kInt64, {4});
  }
  PrintContext pc() const { return PrintContext{&p, {"s0"}}; }
};

TEST(CpuKernelPrinter, PointwiseKernelText) {
  GoldenProgram g;
  lower::Kernel k;
  k.name = "kernel0";
  k.comment = "aten.add.Tensor (add)";
  k.ranges = {4, 8};
  lower::Loop l;
  Nodes n(l.body);
  int va = n.load(g.a, DType::kFloat32, S("x0") * 8 + S("x1"));
  int vb = n.load(g.b, DType::kFloat32, S("x1"));
  store(l, g.out, S("x0") * 8 + S("x1"), n.op(ScalarOp::kAdd, DType::kFloat32, va, vb));
  k.loops.push_back(l);
  EXPECT_EQ(print_kernel(k, g.pc()), R"TXT(// aten.add.Tensor (add)
// iteration space: outer [4, 8], loops: pointwise
static bool kernel0([[maybe_unused]] const kiln::rt::RunContext& ctx, void* const* buffers) {
  const float* arg0_1 = static_cast<const float*>(buffers[0]);
  const float* arg1_1 = static_cast<const float*>(buffers[1]);
  float* buf0 = static_cast<float*>(buffers[2]);
  for (int64_t x0 = 0; x0 < 4; ++x0) {
    #pragma omp simd
    for (int64_t x1 = 0; x1 < 8; ++x1) {
      const float v0 = arg0_1[8*x0 + x1];
      const float v1 = arg1_1[x1];
      const float v2 = v0 + v1;
      buf0[8*x0 + x1] = v2;
    }
  }
  return true;
}
)TXT");
}

TEST(CpuKernelPrinter, ReductionKernelText) {
  GoldenProgram g;
  lower::Kernel k;
  k.name = "kernel1";
  k.comment = "aten.sum.dim_IntList (sum_1)";
  k.ranges = {S("s0")};
  auto red = reduction_loop({64}, ReduceOp::kSum, DType::kFloat32);
  Nodes n(red.body);
  red.value = n.load(g.half_in, DType::kFloat32, S("x0") * 64 + S("r0_0"));
  lower::Loop st;
  Nodes ns(st.body);
  store(st, g.bf_out, S("x0"), ns.loop_result(0, DType::kFloat32));
  k.loops = {red, st};
  EXPECT_EQ(print_kernel(k, g.pc()), R"TXT(// aten.sum.dim_IntList (sum_1)
// iteration space: outer [s0], loops: sum in f32 over [64], pointwise
static bool kernel1(const kiln::rt::RunContext& ctx, void* const* buffers) {
  const int64_t s0 = ctx.symbols[0];
  const uint16_t* arg2_1 = static_cast<const uint16_t*>(buffers[3]);
  uint16_t* buf1 = static_cast<uint16_t*>(buffers[4]);
  #pragma omp parallel for num_threads(ctx.num_threads) schedule(static) if(parallel: 65*s0 >= 32768)
  for (int64_t x0 = 0; x0 < s0; ++x0) {
    // loop 0: sum in f32 over [64]
    float acc0 = 0.0f;
    #pragma omp simd reduction(+:acc0)
    for (int64_t r0_0 = 0; r0_0 < 64; ++r0_0) {
      const float v0 = kern::f16_to_f32(arg2_1[r0_0 + 64*x0]);
      acc0 += v0;
    }
    // loop 1: pointwise
    {
      const float v0 = acc0;
      buf1[x0] = kern::f32_to_bf16(v0);
    }
  }
  return true;
}
)TXT");
}

TEST(CpuKernelPrinter, GatherAndArgMaxText) {
  GoldenProgram g;
  lower::Kernel k;
  k.name = "kernel2";
  k.comment = "aten.embedding.default (embedding)";
  k.ranges = {3};
  lower::Loop l;
  l.ranges = {16};
  Nodes n(l.body);
  int t = n.indirect(n.load(g.ids, DType::kInt64, S("x0")), 10);
  store(l, g.gathered, S("x0") * 16 + S("r0_0"),
        n.load(g.table, DType::kFloat32, S(("t" + std::to_string(t)).c_str()) * 16 + S("r0_0")));
  k.loops.push_back(l);
  EXPECT_EQ(print_kernel(k, g.pc()), R"TXT(// aten.embedding.default (embedding)
// iteration space: outer [3], loops: pointwise over [16]
static bool kernel2(const kiln::rt::RunContext& ctx, void* const* buffers) {
  const float* p_embed_weight = static_cast<const float*>(buffers[5]);
  const int64_t* arg3_1 = static_cast<const int64_t*>(buffers[6]);
  float* buf2 = static_cast<float*>(buffers[7]);
  const char* const source_op = "aten.embedding.default (embedding)";
  for (int64_t x0 = 0; x0 < 3; ++x0) {
    // loop 0: pointwise over [16]
    {
      const int64_t v0 = arg3_1[x0];
      const int64_t t1 = kern::wrap_index(v0, 10);
      if (!kern::in_range(t1, 10)) return kern::fail_index(ctx, v0, 10, source_op);
      #pragma omp simd
      for (int64_t r0_0 = 0; r0_0 < 16; ++r0_0) {
        const float v2 = p_embed_weight[r0_0 + 16*t1];
        buf2[r0_0 + 16*x0] = v2;
      }
    }
  }
  return true;
}
)TXT");

  lower::Kernel am;
  am.name = "kernel3";
  am.comment = "aten.argmax.default (argmax)";
  am.ranges = {4};
  auto red = reduction_loop({8}, ReduceOp::kArgMax, DType::kFloat32);
  Nodes nr(red.body);
  red.value = nr.load(g.a, DType::kFloat32, S("x0") * 8 + S("r0_0"));
  lower::Loop st;
  Nodes ns(st.body);
  store(st, g.argmax, S("x0"), ns.loop_index(0));
  am.loops = {red, st};
  EXPECT_EQ(print_kernel(am, g.pc()), R"TXT(// aten.argmax.default (argmax)
// iteration space: outer [4], loops: argmax in f32 over [8], pointwise
static bool kernel3([[maybe_unused]] const kiln::rt::RunContext& ctx, void* const* buffers) {
  const float* arg0_1 = static_cast<const float*>(buffers[0]);
  int64_t* buf3 = static_cast<int64_t*>(buffers[8]);
  for (int64_t x0 = 0; x0 < 4; ++x0) {
    // loop 0: argmax in f32 over [8]
    [[maybe_unused]] float acc0 = -std::numeric_limits<float>::infinity();
    int64_t acc0_index = 0;
    for (int64_t r0_0 = 0; r0_0 < 8; ++r0_0) {
      const float v0 = arg0_1[r0_0 + 8*x0];
      if ((v0 > acc0) || (kern::isnan(v0) && !kern::isnan(acc0))) {
        acc0 = v0;
        acc0_index = r0_0;
      }
    }
    // loop 1: pointwise
    {
      const int64_t v0 = acc0_index;
      buf3[x0] = v0;
    }
  }
  return true;
}
)TXT");
}

TEST(CpuKernelPrinter, ExternCallText) {
  GoldenProgram g;
  lower::ExternCall c;
  c.kind = "gemm";
  c.comment = "aten.mm.default (mm)";
  c.inputs = {g.a, g.table};
  c.outputs = {g.out};
  c.int_params = {S("s0"), 8, 16};
  c.float_params = {1.0, 0.0};
  EXPECT_EQ(print_extern(c, "extern0", g.pc()), R"TXT(// aten.mm.default (mm)
// extern gemm
static bool extern0(const kiln::rt::RunContext& ctx, void* const* buffers) {
  const int64_t s0 = ctx.symbols[0];
  const void* const inputs[] = {buffers[0] /* arg0_1 */, buffers[5] /* p_embed_weight */};
  void* const outputs[] = {buffers[2] /* buf0 */};
  const int64_t ints[] = {s0, 8, 16};
  const double floats[] = {1.0, 0.0};
  const kiln::rt::ExternArgs args{
      .inputs = inputs,
      .num_inputs = 2,
      .outputs = outputs,
      .num_outputs = 1,
      .ints = ints,
      .num_ints = 3,
      .floats = floats,
      .num_floats = 2,
      .num_threads = ctx.num_threads,
      .error = ctx.error,
      .state = ctx.extern_state,
  };
  return kiln::rt::extern_gemm(args);
}
)TXT");
}

// print_kernel's error for a one-loop kernel whose body `fill` builds (over outer [4]).
std::string kernel_error(const std::function<void(lower::Program&, lower::Loop&)>& fill,
                         std::vector<std::string> symbols = {"s0"}) {
  lower::Program p;
  lower::Kernel k;
  k.name = "kernel9";
  k.comment = "test";
  k.ranges = {4};
  lower::Loop loop;
  fill(p, loop);
  k.loops.push_back(loop);
  try {
    print_kernel(k, PrintContext{&p, std::move(symbols)});
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

TEST(CpuKernelPrinter, RejectsMalformedKernelsWithClearErrors) {
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kFloat32, {4});
                         Nodes n(l.body);
                         int v = n.fconst(1, DType::kFloat32);
                         store(l, o, S("x0"), n.op(ScalarOp::kAdd, DType::kFloat32, v, 5));
                       }),
                       "kernel kernel9 loop 0 node 1 (add): operand b = 5 is not an earlier node"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kFloat32, {4});
                         Nodes n(l.body);
                         store(l, o, S("x0") + S("s7"), n.fconst(1, DType::kFloat32));
                       }),
                       "uses s7, which is neither a symbol of the program"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kFloat32, {4});
                         Nodes n(l.body);
                         store(l, o, S("x0"), n.load(o, DType::kFloat32, S("r1_0")));
                       }),
                       "kernel kernel9 loop 0 node 0 load index (r1_0) uses r1_0"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kComplex64, {4});
                         Nodes n(l.body);
                         store(l, o, S("x0"), n.fconst(1, DType::kFloat32));
                       }),
                       "buffer o: dtype c64 is not supported by CPU kernels"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kInt64, {4});
                         Nodes n(l.body);
                         store(l, o, S("x0"),
                               n.op(ScalarOp::kExp, DType::kInt64, n.index(S("x0"))));
                       }),
                       "kernel kernel9 loop 0 node 1: exp is not defined for dtype i64"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         auto o = add_buffer(p, "o", DType::kFloat32, {4});
                         Nodes n(l.body);
                         store(l, o, S("x0"), n.loop_result(0, DType::kFloat32));
                       }),
                       "loop_result of loop 0, which is not an earlier reduction loop"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program& p, lower::Loop& l) {
                         add_buffer(p, "o", DType::kFloat32, {4});
                         Nodes n(l.body);
                         store(l, 3, S("x0"), n.fconst(1, DType::kFloat32));
                       }),
                       "buffer 3 is not a buffer of the program (it has 1)"));
  EXPECT_TRUE(Contains(kernel_error([](lower::Program&, lower::Loop&) {}, {"s0", "x1"}),
                       "symbol x1 clashes with a name generated kernels use"));

  lower::Program p;
  add_buffer(p, "o", DType::kFloat32, {4});
  lower::ExternCall c;
  c.kind = "gemm-1";
  EXPECT_THROW(
      {
        try {
          print_extern(c, "extern0", PrintContext{&p, {}});
        } catch (const Error& e) {
          EXPECT_TRUE(Contains(e.what(), "extern kind 'gemm-1' is not a C identifier"));
          throw;
        }
      },
      Error);
  c.kind = "gemm";
  c.int_params = {S("x0")};
  try {
    print_extern(c, "extern0", PrintContext{&p, {}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "int parameter 0 (x0) uses x0, which is not a symbol"));
  }
}

TEST(CpuKernelPrinter, BufferNamesThatClashWithLocalsAreRenamed) {
  lower::Program p;
  auto in = add_buffer(p, "x0", DType::kFloat32, {4});
  auto out = add_buffer(p, "s0", DType::kFloat32, {4});
  lower::Kernel k;
  k.name = "kernel0";
  k.comment = "aten.neg.default (neg)";
  k.ranges = {4};
  lower::Loop l;
  Nodes n(l.body);
  store(l, out, S("x0"),
        n.op(ScalarOp::kNeg, DType::kFloat32, n.load(in, DType::kFloat32, S("x0"))));
  k.loops.push_back(l);
  const std::string code = print_kernel(k, PrintContext{&p, {"s0"}});
  EXPECT_NE(code.find("const float* kiln_buf0 = static_cast<const float*>(buffers[0]);"),
            std::string::npos)
      << code;
  EXPECT_NE(code.find("kiln_buf1[x0] = v1;"), std::string::npos) << code;
}

// GCC vectorizes the loops the printer marks: pointwise (with f16 conversions), sum and max
// reductions and exp.
// Compiles `code` and expects GCC to report every `for (int64_t <loop_var>...` loop of it as
// vectorized; returns how many such loops the source has.
int expect_loops_vectorized(const std::string& code, const std::string& kernel,
                            const std::string& loop_var) {
  CompiledKernels lib(code, {kernel}, "", "-fopt-info-vec-optimized");
  EXPECT_TRUE(lib.ok());
  if (!lib.ok()) return -1;
  // One "loop vectorized" per marked loop (GCC may report an epilogue too).
  std::set<int> lines;
  const std::string& out = lib.compiler_output();
  for (size_t at = out.find("loop vectorized"); at != std::string::npos;
       at = out.find("loop vectorized", at + 1)) {
    const size_t start = out.rfind('\n', at) + 1;
    const size_t colon = out.find(':', start);
    lines.insert(std::stoi(out.substr(colon + 1)));
  }
  // The line spans of the `for (int64_t r...` loops in the compiled source, from the `for` to
  // its closing brace. GCC also reports "loop vectorized" at an `omp simd` pragma for the
  // helper loop of its reduction arrays, even when the loop itself stays scalar: the pragma's
  // line does not count.
  const std::string& src = lib.source();
  auto line_of = [&](size_t pos) {
    return 1 + static_cast<int>(
                   std::count(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
  };
  int loops = 0;
  for (size_t at = src.find("for (int64_t " + loop_var); at != std::string::npos;
       at = src.find("for (int64_t " + loop_var, at + 1)) {
    ++loops;
    size_t pos = src.find('{', at);
    int depth = 0;
    for (; pos < src.size(); ++pos) {
      depth += src[pos] == '{' ? 1 : src[pos] == '}' ? -1 : 0;
      if (depth == 0) break;
    }
    const int first = line_of(at), last = line_of(pos);
    bool vectorized = false;
    for (int l : lines)
      vectorized |= l >= first && l <= last;
    EXPECT_TRUE(vectorized) << "loop at lines " << first << "-" << last << " not vectorized:\n"
                            << out << "\n"
                            << code;
  }
  return loops;
}

TEST(CpuKernelPrinter, MarkedLoopsVectorize) {
  lower::Program p;
  auto h = add_buffer(p, "h", DType::kFloat16, {S("s0"), 256});
  auto y = add_buffer(p, "y", DType::kFloat16, {S("s0"), 256});
  lower::Kernel k;
  k.name = "softmax_f16";
  k.comment = "aten._softmax.default (softmax)";
  k.ranges = {S("s0")};
  const DType f = DType::kFloat32;
  auto mx = reduction_loop({256}, ReduceOp::kMax, f);
  Nodes n0(mx.body);
  mx.value = n0.load(h, f, S("x0") * 256 + S("r0_0"));
  auto sum = reduction_loop({256}, ReduceOp::kSum, f);
  Nodes n1(sum.body);
  sum.value = n1.op(
      ScalarOp::kExp, f,
      n1.op(ScalarOp::kSub, f, n1.load(h, f, S("x0") * 256 + S("r1_0")), n1.loop_result(0, f)));
  lower::Loop pw;
  pw.ranges = {256};
  Nodes n2(pw.body);
  int e = n2.op(
      ScalarOp::kExp, f,
      n2.op(ScalarOp::kSub, f, n2.load(h, f, S("x0") * 256 + S("r2_0")), n2.loop_result(0, f)));
  store(pw, y, S("x0") * 256 + S("r2_0"), n2.op(ScalarOp::kDiv, f, e, n2.loop_result(1, f)));
  k.loops = {mx, sum, pw};
  const std::string code = print_kernel(k, PrintContext{&p, {"s0"}});
  EXPECT_EQ(expect_loops_vectorized(code, "softmax_f16", "r"), 3) << code;
}

// The float math kiln provides instead of <cmath> calls (exp, tanh, erf, sigmoid) keeps a loop
// vectorized: GELU both ways and a sigmoid.
TEST(CpuKernelPrinter, VectorizableMathLoopsVectorize) {
  lower::Program p;
  auto x = add_buffer(p, "x", DType::kFloat32, {S("s0"), 256});
  auto y = add_buffer(p, "y", DType::kFloat32, {S("s0"), 256});
  const DType f = DType::kFloat32;
  lower::Kernel k;
  k.name = "math_f32";
  k.comment = "gelu, gelu(tanh), sigmoid";
  k.ranges = {S("s0")};
  for (ScalarOp op : {ScalarOp::kErf, ScalarOp::kTanh, ScalarOp::kSigmoid, ScalarOp::kExp}) {
    lower::Loop pw;
    pw.ranges = {256};
    Nodes n(pw.body);
    const std::string r = "r" + std::to_string(k.loops.size()) + "_0";
    const int v = n.load(x, f, S("x0") * 256 + S(r.c_str()));
    store(pw, y, S("x0") * 256 + S(r.c_str()), n.op(ScalarOp::kMul, f, v, n.op(op, f, v)));
    k.loops.push_back(pw);
  }
  const std::string code = print_kernel(k, PrintContext{&p, {"s0"}});
  EXPECT_EQ(expect_loops_vectorized(code, "math_f32", "r"), 4) << code;
}

// A masked softmax as scaled_dot_product_attention decomposes it: a bool mask read from memory
// selects between scores and -inf, an `all` reduction finds fully masked rows, and the max keeps
// a NaN flag. Each loop vectorizes (bool loads, bool accumulators and selects were each enough
// to keep a loop scalar).
TEST(CpuKernelPrinter, MaskedSoftmaxLoopsVectorize) {
  lower::Program p;
  auto x = add_buffer(p, "x", DType::kFloat32, {S("s0"), 128});
  auto mask = add_buffer(p, "mask", DType::kBool, {128});
  auto y = add_buffer(p, "y", DType::kFloat32, {S("s0"), 128});
  const DType f = DType::kFloat32, b = DType::kBool;
  lower::Kernel k;
  k.name = "masked_softmax";
  k.comment = "masked softmax";
  k.ranges = {S("s0")};
  // where(mask[r], x[x0, r] * 0.125, -inf) in a loop's body.
  auto masked = [&](Nodes& n, const char* r) {
    const int m = n.load(mask, b, S(r));
    const int scaled = n.op(ScalarOp::kMul, f, n.load(x, f, S("x0") * 128 + S(r)),
                            n.fconst(0.125, f));
    return n.op(ScalarOp::kWhere, f, m, scaled, n.fconst(-std::numeric_limits<double>::infinity(), f));
  };
  auto all = reduction_loop({128}, ReduceOp::kAll, b);
  Nodes n0(all.body);
  all.value = n0.op(ScalarOp::kEq, b, masked(n0, "r0_0"), n0.fconst(-std::numeric_limits<double>::infinity(), f));
  auto mx = reduction_loop({128}, ReduceOp::kMax, f);
  Nodes n1(mx.body);
  mx.value = masked(n1, "r1_0");
  auto sum = reduction_loop({128}, ReduceOp::kSum, f);
  Nodes n2(sum.body);
  sum.value =
      n2.op(ScalarOp::kExp, f, n2.op(ScalarOp::kSub, f, masked(n2, "r2_0"), n2.loop_result(1, f)));
  lower::Loop pw;
  pw.ranges = {128};
  Nodes n3(pw.body);
  const int e =
      n3.op(ScalarOp::kExp, f, n3.op(ScalarOp::kSub, f, masked(n3, "r3_0"), n3.loop_result(1, f)));
  const int soft = n3.op(ScalarOp::kDiv, f, e, n3.loop_result(2, f));
  store(pw, y, S("x0") * 128 + S("r3_0"),
        n3.op(ScalarOp::kWhere, f, n3.loop_result(0, b), n3.fconst(0, f), soft));
  k.loops = {all, mx, sum, pw};
  const std::string code = print_kernel(k, PrintContext{&p, {"s0"}});
  EXPECT_EQ(expect_loops_vectorized(code, "masked_softmax", "r"), 4) << code;
}

// A max pool over channels-last data: taps at clamped rows (min/max index expressions), combined
// with torch.maximum's NaN rule. The channel loop vectorizes (reference-binding std::min/max in
// the index, or a short-circuit || in the maximum, kept it scalar).
TEST(CpuKernelPrinter, MaxOfClampedTapsVectorizes) {
  lower::Program p;
  auto x = add_buffer(p, "x", DType::kFloat32, {112, 64});
  auto y = add_buffer(p, "y", DType::kFloat32, {56, 64});
  const DType f = DType::kFloat32;
  lower::Kernel k;
  k.name = "max_taps";
  k.comment = "max pool taps";
  k.ranges = {56, 64};
  lower::Loop pw;
  Nodes n(pw.body);
  int best = -1;
  for (int64_t t = 0; t < 3; ++t) {
    const Expr row = sym::max(sym::min(S("x0") * 2 - 1 + t, 111), 0);
    const int v = n.load(x, f, row * 64 + S("x1"));
    best = best < 0 ? v : n.op(ScalarOp::kMax, f, best, v);
  }
  store(pw, y, S("x0") * 64 + S("x1"), best);
  k.loops = {pw};
  const std::string code = print_kernel(k, PrintContext{&p, {}});
  EXPECT_EQ(expect_loops_vectorized(code, "max_taps", "x1"), 1) << code;
}

}  // namespace
}  // namespace kiln::testing
