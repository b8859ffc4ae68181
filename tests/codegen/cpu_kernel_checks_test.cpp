// Printed CPU kernels that can fail at run time: indirect indices out of range and integer
// division by zero, on the serial and the parallel path, plus integer arithmetic semantics.

#include <random>

#include "kernel_harness.h"

namespace kiln::testing {
namespace {

using codegen::cpu::print_kernel;
using codegen::cpu::PrintContext;

// out[x0, x1] = table[idx[x0], x1] (embedding): the index is read and checked per point.
lower::Kernel gather_kernel(const std::string& name, lower::BufferId table, lower::BufferId idx,
                            lower::BufferId out, int64_t vocab, int64_t n, int64_t dim) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten.embedding.default (embedding)";
  k.ranges = {n, dim};
  lower::Loop loop;
  Nodes b(loop.body);
  int i = b.load(idx, DType::kInt64, S("x0"));
  int t = b.indirect(i, vocab);
  int v = b.load(table, DType::kFloat32, S(("t" + std::to_string(t)).c_str()) * dim + S("x1"));
  store(loop, out, S("x0") * dim + S("x1"), v);
  k.loops.push_back(std::move(loop));
  return k;
}

// The same with the row loop outside and the dim loop inside: the index is hoisted out of the
// inner loop (read and checked once per row, only when the row is not empty).
lower::Kernel gather_rows_kernel(const std::string& name, lower::BufferId table,
                                 lower::BufferId idx, lower::BufferId out, int64_t vocab, int64_t n,
                                 Expr dim) {
  lower::Kernel k;
  k.name = name;
  k.comment = "aten.index_select.default (index_select)";
  k.ranges = {n};
  lower::Loop loop;
  loop.ranges = {dim};
  Nodes b(loop.body);
  int i = b.load(idx, DType::kInt32, S("x0"));
  int t = b.indirect(i, vocab);
  int v = b.load(table, DType::kFloat32, S(("t" + std::to_string(t)).c_str()) * dim + S("r0_0"));
  store(loop, out, S("x0") * dim + S("r0_0"), v);
  k.loops.push_back(std::move(loop));
  return k;
}

TEST(CpuKernelChecks, GatherWrapsNegativeIndicesAndRejectsOutOfRange) {
  const int64_t vocab = 7;
  lower::Program p;
  auto table_s = add_buffer(p, "table_s", DType::kFloat32, {vocab, 5});
  auto idx_s = add_buffer(p, "idx_s", DType::kInt64, {6});
  auto out_s = add_buffer(p, "out_s", DType::kFloat32, {6, 5});
  auto table_l = add_buffer(p, "table_l", DType::kFloat32, {vocab, 1024});
  auto idx_l = add_buffer(p, "idx_l", DType::kInt64, {64});
  auto out_l = add_buffer(p, "out_l", DType::kFloat32, {64, 1024});
  auto idx_r = add_buffer(p, "idx_r", DType::kInt32, {6});
  auto out_r = add_buffer(p, "out_r", DType::kFloat32, {6, S("s0")});
  auto table_r = add_buffer(p, "table_r", DType::kFloat32, {vocab, S("s0")});
  PrintContext pc{&p, {"s0"}};
  const std::string small =
      print_kernel(gather_kernel("gather_small", table_s, idx_s, out_s, vocab, 6, 5), pc);
  const std::string large =
      print_kernel(gather_kernel("gather_large", table_l, idx_l, out_l, vocab, 64, 1024), pc);
  const std::string rows =
      print_kernel(gather_rows_kernel("gather_rows", table_r, idx_r, out_r, vocab, 6, S("s0")), pc);
  EXPECT_EQ(small.find("omp parallel"), std::string::npos) << small;
  EXPECT_NE(large.find("failure.record"), std::string::npos) << large;
  CompiledKernels lib(small + large + rows, {"gather_small", "gather_large", "gather_rows"});
  ASSERT_TRUE(lib.ok());

  std::mt19937 rng(10);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> ts(vocab * 5), tl(vocab * 1024), tr(vocab * 9);
  for (auto* t : {&ts, &tl, &tr}) {
    for (auto& v : *t)
      v = dist(rng);
  }
  std::vector<int64_t> is = {0, 6, -1, -7, 3, 2};
  std::vector<int64_t> il(64);
  std::uniform_int_distribution<int64_t> pick(-vocab, vocab - 1);
  for (auto& v : il)
    v = pick(rng);
  std::vector<int32_t> ir = {5, -2, 0, 1, -7, 6};
  std::vector<float> os(6 * 5), ol(64 * 1024), orow(6 * 9);
  std::vector<void*> bufs = {ts.data(), is.data(), os.data(),   tl.data(), il.data(),
                             ol.data(), ir.data(), orow.data(), tr.data()};
  auto check = [&](const std::string& what, const auto& idx, const std::vector<float>& table,
                   const std::vector<float>& out, int64_t dim) {
    for (size_t r = 0; r < idx.size(); ++r) {
      const int64_t row = idx[r] < 0 ? idx[r] + vocab : idx[r];
      for (int64_t c = 0; c < dim; ++c) {
        ASSERT_EQ(out[r * static_cast<size_t>(dim) + static_cast<size_t>(c)],
                  table[static_cast<size_t>(row * dim + c)])
            << what << " row " << r;
      }
    }
  };
  ASSERT_TRUE(lib.run("gather_small", bufs).ok);
  check("small", is, ts, os, 5);
  ASSERT_TRUE(lib.run("gather_large", bufs).ok);
  check("large", il, tl, ol, 1024);
  ASSERT_TRUE(lib.run("gather_rows", bufs, {9}).ok);
  check("rows", ir, tr, orow, 9);

  // Out of range: the kernels fail with the index, the size and the source op.
  is[4] = 7;
  auto r = lib.run("gather_small", bufs);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 4);
  EXPECT_STREQ(r.error.message,
               "index 7 is out of bounds for a dim of size 7 (aten.embedding.default (embedding))");
  il[40] = -8;
  for (int threads : {1, 4}) {
    r = lib.run("gather_large", bufs, {}, threads);
    EXPECT_FALSE(r.ok);
    EXPECT_STREQ(
        r.error.message,
        "index -8 is out of bounds for a dim of size 7 (aten.embedding.default (embedding))");
  }
  ir[2] = 100;
  r = lib.run("gather_rows", bufs, {9});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string(r.error.message).find("index 100 is out of bounds"), std::string::npos);
  // With empty rows the hoisted index is never read, as in the loop it came from.
  r = lib.run("gather_rows", bufs, {0});
  EXPECT_TRUE(r.ok) << r.error.message;
}

// out_<op>[x0] = a[x0] <op> b[x0] for the integer division family, in `dtype`.
TEST(CpuKernelChecks, IntegerDivisionFollowsPythonAndFailsOnZero) {
  const int64_t n = 40;
  lower::Program p;
  auto a = add_buffer(p, "a", DType::kInt32, {n});
  auto b = add_buffer(p, "b", DType::kInt32, {n});
  std::vector<lower::BufferId> outs;
  const std::vector<ScalarOp> ops = {ScalarOp::kFloorDiv, ScalarOp::kMod, ScalarOp::kFmod,
                                     ScalarOp::kDiv};
  for (size_t i = 0; i < ops.size(); ++i) {
    outs.push_back(add_buffer(p, "out" + std::to_string(i), DType::kInt32, {n}));
  }
  auto by3 = add_buffer(p, "by3", DType::kInt32, {n});
  lower::Kernel k;
  k.name = "divs";
  k.comment = "aten.floor_divide.default (floor_divide)";
  k.ranges = {n};
  lower::Loop loop;
  Nodes nb(loop.body);
  int va = nb.load(a, DType::kInt32, S("x0"));
  int vb = nb.load(b, DType::kInt32, S("x0"));
  for (size_t i = 0; i < ops.size(); ++i)
    store(loop, outs[i], S("x0"), nb.op(ops[i], DType::kInt32, va, vb));
  // A constant nonzero divisor needs no check.
  store(loop, by3, S("x0"),
        nb.op(ScalarOp::kFloorDiv, DType::kInt32, va, nb.iconst(-3, DType::kInt32)));
  k.loops.push_back(std::move(loop));
  PrintContext pc{&p, {}};
  const std::string code = print_kernel(k, pc);
  CompiledKernels lib(code, {"divs"});
  ASSERT_TRUE(lib.ok());

  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> dist(-50, 50);
  std::vector<int32_t> va_(n), vb_(n);
  for (int64_t i = 0; i < n; ++i) {
    va_[i] = dist(rng);
    do
      vb_[i] = dist(rng) / 5;
    while (vb_[i] == 0);
  }
  va_[0] = std::numeric_limits<int32_t>::min();  // MIN / -1 wraps
  vb_[0] = -1;
  std::vector<std::vector<int32_t>> o(ops.size() + 1, std::vector<int32_t>(n));
  std::vector<void*> bufs = {va_.data(), vb_.data()};
  for (auto& v : o)
    bufs.push_back(v.data());
  ASSERT_TRUE(lib.run("divs", bufs).ok);
  for (int64_t i = 1; i < n; ++i) {
    const int64_t x = va_[i], y = vb_[i];
    int64_t q = x / y;
    if (x % y != 0 && ((x < 0) != (y < 0))) --q;
    EXPECT_EQ(o[0][i], q) << x << " // " << y;
    EXPECT_EQ(o[1][i], x - q * y) << x << " % " << y;
    EXPECT_EQ(o[2][i], x % y) << "fmod " << x << ", " << y;
    EXPECT_EQ(o[3][i], x / y) << x << " / " << y;
    int64_t q3 = x / -3;
    if (x % 3 != 0 && x > 0) --q3;
    EXPECT_EQ(o[4][i], q3) << x << " // -3";
  }
  EXPECT_EQ(o[0][0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(o[1][0], 0);

  vb_[17] = 0;
  auto r = lib.run("divs", bufs);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 4);
  EXPECT_STREQ(r.error.message,
               "ZeroDivisionError: integer division by zero (aten.floor_divide.default "
               "(floor_divide))");
}

TEST(CpuKernelChecks, CastsAndBitOpsFollowPyTorch) {
  // From float: i64, i32, u8 and i8 truncate (through int32 for the narrow ones), bool is != 0.
  const int64_t n = 16;
  lower::Program p;
  auto x = add_buffer(p, "x", DType::kFloat32, {n});
  auto i64 = add_buffer(p, "i64", DType::kInt64, {n});
  auto u8 = add_buffer(p, "u8", DType::kUInt8, {n});
  auto i8 = add_buffer(p, "i8", DType::kInt8, {n});
  auto b8 = add_buffer(p, "b8", DType::kBool, {n});
  auto shl = add_buffer(p, "shl", DType::kInt8, {n});
  auto neg = add_buffer(p, "neg", DType::kInt8, {n});
  lower::Kernel k;
  k.name = "casts";
  k.comment = "aten._to_copy.default (to)";
  k.ranges = {n};
  lower::Loop loop;
  Nodes nb(loop.body);
  int v = nb.load(x, DType::kFloat32, S("x0"));
  store(loop, i64, S("x0"), v);
  store(loop, u8, S("x0"), v);
  store(loop, b8, S("x0"), v);
  int c8 = nb.cast(v, DType::kInt8);
  store(loop, i8, S("x0"), c8);
  int sh = nb.index(S("x0") - 4, DType::kInt8);  // shift amounts -4 .. 11
  store(loop, shl, S("x0"), nb.op(ScalarOp::kShl, DType::kInt8, c8, sh));
  store(loop, neg, S("x0"), nb.op(ScalarOp::kNeg, DType::kInt8, c8));
  k.loops.push_back(std::move(loop));
  PrintContext pc{&p, {}};
  CompiledKernels lib(print_kernel(k, pc), {"casts"});
  ASSERT_TRUE(lib.ok());

  std::vector<float> xs = {0.0f,   -0.0f,   1.9f,   -1.9f,
                           127.5f, -128.7f, 200.0f, -1.0f,
                           300.0f, 0.25f,   5e9f,   std::numeric_limits<float>::quiet_NaN(),
                           -3.0f,  100.0f,  7.0f,   -7.0f};
  std::vector<int64_t> o64(n);
  std::vector<uint8_t> ou8(n);
  std::vector<int8_t> oi8(n), oshl(n), oneg(n);
  std::vector<char> ob(n);
  std::vector<void*> bufs = {xs.data(), o64.data(),  ou8.data(), oi8.data(),
                             ob.data(), oshl.data(), oneg.data()};
  ASSERT_TRUE(lib.run("casts", bufs).ok);
  for (int64_t i = 0; i < n; ++i) {
    const float f = xs[i];
    const bool fits32 = f >= -2147483648.0f && f < 2147483648.0f;
    const int32_t t32 = fits32 ? static_cast<int32_t>(f) : std::numeric_limits<int32_t>::min();
    const int64_t t64 =
        std::isnan(f) ? std::numeric_limits<int64_t>::min() : static_cast<int64_t>(f);
    EXPECT_EQ(o64[i], t64) << f;
    EXPECT_EQ(ou8[i], static_cast<uint8_t>(t32)) << f;
    EXPECT_EQ(oi8[i], static_cast<int8_t>(t32)) << f;
    EXPECT_EQ(ob[i] != 0, f != 0 || std::isnan(f)) << f;
    const int s = static_cast<int>(i) - 4;
    const int8_t want_shl =
        s < 0 || s >= 8 ? 0 : static_cast<int8_t>(static_cast<uint8_t>(oi8[i]) << s);
    EXPECT_EQ(oshl[i], want_shl) << int(oi8[i]) << " << " << s;
    EXPECT_EQ(oneg[i], static_cast<int8_t>(-static_cast<int>(oi8[i]))) << int(oi8[i]);
  }
}

}  // namespace
}  // namespace kiln::testing
