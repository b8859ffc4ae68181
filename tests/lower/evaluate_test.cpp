// The kernel-IR evaluator on hand-built programs, checked against values computed here by hand.
#include "lower/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "fixture_models.h"
#include "frontend/load.h"
#include "lower/lower_harness.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "ref/npy_io.h"
#include "util/error.h"
#include "util/float_formats.h"
#include "util/npy.h"

namespace kiln::lower {
namespace {

using ir::DType;
using testing::make_tensor;
using testing::random_tensor;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

sym::Expr sy(const std::string& name) {
  return sym::Expr::symbol(name);
}

Index vars(const std::string& prefix, size_t n) {
  Index out;
  for (size_t d = 0; d < n; ++d)
    out.push_back(sy(prefix + std::to_string(d)));
  return out;
}

// Builds a Program buffer by buffer and step by step.
struct IrBuilder {
  Program p;

  BufferId add(const std::string& name, BufferKind kind, DType dtype,
               std::vector<sym::Expr> sizes) {
    Buffer b;
    b.name = name;
    b.kind = kind;
    b.dtype = dtype;
    b.sizes = std::move(sizes);
    p.buffers.push_back(b);
    return static_cast<BufferId>(p.buffers.size() - 1);
  }
  BufferId input(const std::string& name, DType dtype, std::vector<sym::Expr> sizes) {
    BufferId id = add(name, BufferKind::kInput, dtype, std::move(sizes));
    p.buffers.back().input_index = static_cast<int32_t>(p.inputs.size());
    p.inputs.push_back(id);
    return id;
  }
  BufferId constant(const std::string& name, DType dtype, std::vector<sym::Expr> sizes) {
    BufferId id = add(name, BufferKind::kConstant, dtype, std::move(sizes));
    p.buffers.back().constant_index = static_cast<int32_t>(p.constants.size());
    p.constants.push_back(name);
    p.constant_inputs.push_back(-1);
    return id;
  }
  BufferId temp(const std::string& name, DType dtype, std::vector<sym::Expr> sizes) {
    return add(name, BufferKind::kTemp, dtype, std::move(sizes));
  }
  BufferId output(const std::string& name, DType dtype, std::vector<sym::Expr> sizes) {
    BufferId id = add(name, BufferKind::kOutput, dtype, std::move(sizes));
    p.buffers.back().output_index = static_cast<int32_t>(p.outputs.size());
    p.outputs.push_back({name, id});
    return id;
  }
  void kernel(Kernel k) {
    Step s;
    s.kernel = std::move(k);
    p.steps.push_back(std::move(s));
  }
  void call(ExternCall c) {
    Step s;
    s.call = std::move(c);
    p.steps.push_back(std::move(s));
  }
};

using BodyFn = std::function<int32_t(BodyBuilder& b, const Index& xs)>;

// One pointwise loop over `ranges` storing body(xs) to out[ravel(xs)].
Kernel pointwise(const std::vector<sym::Expr>& ranges, BufferId out, const BodyFn& body) {
  Kernel k;
  k.name = "kernel" + std::to_string(out);
  k.comment = "test";
  k.ranges = ranges;
  Loop loop;
  BodyBuilder b(loop.body);
  Index xs = vars("x", ranges.size());
  Store st;
  st.buffer = out;
  st.index = ravel(xs, ranges);
  st.value = body(b, xs);
  loop.stores.push_back(st);
  k.loops.push_back(std::move(loop));
  return k;
}

// Rows of in[rows, n] reduced by `op` into out[rows]: loop 0 reduces, loop 1 stores its
// result (or index, for arg reductions) cast to out's dtype.
Kernel row_reduction(BufferId in, DType in_dtype, BufferId out, DType out_dtype,
                     const sym::Expr& rows, const sym::Expr& n, ReduceOp op, DType acc) {
  Kernel k;
  k.name = "reduce";
  k.comment = "test";
  k.ranges = {rows};
  Loop red;
  red.ranges = {n};
  red.reduce = op;
  red.accumulate = acc;
  {
    BodyBuilder b(red.body);
    red.value = b.cast(b.load(in, in_dtype, sy("x0") * n + sy("r0_0")), acc);
  }
  k.loops.push_back(std::move(red));
  Loop store;
  {
    BodyBuilder b(store.body);
    bool arg = op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
    int32_t v = arg ? b.loop_index(0) : b.loop_result(0, acc);
    store.stores.push_back({out, sy("x0"), b.cast(v, compute_dtype(out_dtype))});
  }
  k.loops.push_back(std::move(store));
  return k;
}

// The message of the kiln::Error fn throws ("" when it throws none).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(expr, text)                                                \
  do {                                                                              \
    std::string kiln_msg_ = error_of([&] { (void)(expr); });                        \
    EXPECT_NE(kiln_msg_.find(text), std::string::npos) << "message: " << kiln_msg_; \
  } while (0)

float f32(double v) {
  return static_cast<float>(v);
}

TEST(Evaluate, PointwiseBroadcastRoundsEachFloat32Result) {
  IrBuilder ir;
  BufferId a = ir.input("a", DType::kFloat32, {3, 4});
  BufferId b = ir.input("b", DType::kFloat32, {4});
  BufferId out = ir.output("out", DType::kFloat32, {3, 4});
  // out = a + b * 2.5 / 3, with b broadcast along rows.
  ir.kernel(pointwise({3, 4}, out, [&](BodyBuilder& bb, const Index& x) {
    int32_t va = bb.load(a, DType::kFloat32, x[0] * 4 + x[1]);
    int32_t vb = bb.load(b, DType::kFloat32, x[1]);
    int32_t scaled = bb.binary(ScalarOp::kMul, vb, bb.constant(2.5, DType::kFloat32));
    scaled = bb.binary(ScalarOp::kDiv, scaled, bb.constant(3, DType::kFloat32));
    return bb.binary(ScalarOp::kAdd, va, scaled);
  }));
  std::mt19937 rng(7);
  ref::Tensor ta = random_tensor(DType::kFloat32, {3, 4}, rng);
  ref::Tensor tb = random_tensor(DType::kFloat32, {4}, rng);
  auto outs = evaluate(ir.p, {ta, tb}, {});
  ASSERT_EQ(outs.size(), 1u);
  ASSERT_EQ(outs[0].str(), "f32[3, 4]");
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      float want = f32(ta.get(i * 4 + j)) + f32(tb.get(j)) * 2.5f / 3.0f;
      EXPECT_EQ(outs[0].get(i * 4 + j), want) << i << ", " << j;
    }
  }
}

TEST(Evaluate, Float16CastsRoundToHalfPrecision) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat16, {6});
  BufferId third = ir.output("third", DType::kFloat32, {6});
  BufferId sum = ir.output("sum", DType::kFloat16, {6});
  // third = f32(f16(x / 3)); sum = f16(x + 1e-4): loads widen to f32, stores round to f16.
  ir.kernel(pointwise({6}, third, [&](BodyBuilder& b, const Index& i) {
    int32_t v =
        b.binary(ScalarOp::kDiv, b.load(x, DType::kFloat16, i[0]), b.constant(3, DType::kFloat32));
    return b.cast(b.cast(v, DType::kFloat16), DType::kFloat32);
  }));
  ir.kernel(pointwise({6}, sum, [&](BodyBuilder& b, const Index& i) {
    return b.binary(ScalarOp::kAdd, b.load(x, DType::kFloat16, i[0]),
                    b.constant(1e-4, DType::kFloat32));
  }));
  ref::Tensor tx = make_tensor(DType::kFloat16, {6}, {1.0, -7.0, 0.3, 1000.0, 2.0e-5, 65504.0});
  auto outs = evaluate(ir.p, {tx}, {});
  EXPECT_EQ(outs[0].get(0), 0.333251953125);  // 1/3 in half precision
  for (int64_t i = 0; i < 6; ++i) {
    double x_f32 = tx.get(i);
    double third_want = util::round_to_float_format(DType::kFloat16, f32(x_f32 / 3.0));
    EXPECT_EQ(outs[0].get(i), third_want) << i;
    double sum_want = util::round_to_float_format(DType::kFloat16, f32(x_f32 + f32(1e-4)));
    EXPECT_EQ(outs[1].get(i), sum_want) << i;
  }
  EXPECT_EQ(outs[1].get(0), 1.0);  // 1 + 1e-4 rounds back to 1 in half (ulp 2^-10)
}

TEST(Evaluate, IntegerNodesWrapAndFollowPythonDivision) {
  IrBuilder ir;
  BufferId a = ir.input("a", DType::kInt8, {5});
  BufferId b = ir.input("b", DType::kInt8, {5});
  BufferId sum = ir.output("sum", DType::kInt8, {5});
  BufferId fdiv = ir.output("fdiv", DType::kInt64, {5});
  BufferId mod = ir.output("mod", DType::kInt64, {5});
  BufferId tdiv = ir.output("tdiv", DType::kInt64, {5});
  BufferId trunc = ir.output("trunc", DType::kInt32, {5});
  auto load64 = [&](BodyBuilder& bb, BufferId id, const Index& i) {
    return bb.cast(bb.load(id, DType::kInt8, i[0]), DType::kInt64);
  };
  ir.kernel(pointwise({5}, sum, [&](BodyBuilder& bb, const Index& i) {
    return bb.binary(ScalarOp::kAdd, bb.load(a, DType::kInt8, i[0]),
                     bb.load(b, DType::kInt8, i[0]));
  }));
  for (auto [out, op] : {std::pair{fdiv, ScalarOp::kFloorDiv}, std::pair{mod, ScalarOp::kMod},
                         std::pair{tdiv, ScalarOp::kDiv}}) {
    ir.kernel(pointwise({5}, out, [&, op = op](BodyBuilder& bb, const Index& i) {
      return bb.binary(op, load64(bb, a, i), load64(bb, b, i));
    }));
  }
  // float -> int truncates toward zero: a / 4.0 as float, cast to int32.
  ir.kernel(pointwise({5}, trunc, [&](BodyBuilder& bb, const Index& i) {
    int32_t q = bb.binary(ScalarOp::kDiv, bb.cast(bb.load(a, DType::kInt8, i[0]), DType::kFloat32),
                          bb.constant(4, DType::kFloat32));
    return bb.cast(q, DType::kInt32);
  }));
  ref::Tensor ta = make_tensor(DType::kInt8, {5}, {100, -7, 7, -128, 9});
  ref::Tensor tb = make_tensor(DType::kInt8, {5}, {100, 2, -2, -1, 3});
  auto outs = evaluate(ir.p, {ta, tb}, {});
  std::vector<int64_t> sum_want = {-56, -5, 5, 127, 12};  // 200 wraps to -56; -129 to 127
  std::vector<int64_t> fdiv_want = {1, -4, -4, 128, 3};
  std::vector<int64_t> mod_want = {0, 1, -1, 0, 0};
  std::vector<int64_t> tdiv_want = {1, -3, -3, 128, 3};
  std::vector<int64_t> trunc_want = {25, -1, 1, -32, 2};
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(outs[0].get_int(i), sum_want[i]) << i;
    EXPECT_EQ(outs[1].get_int(i), fdiv_want[i]) << i;
    EXPECT_EQ(outs[2].get_int(i), mod_want[i]) << i;
    EXPECT_EQ(outs[3].get_int(i), tdiv_want[i]) << i;
    EXPECT_EQ(outs[4].get_int(i), trunc_want[i]) << i;
  }
  ref::Tensor zero = make_tensor(DType::kInt8, {5}, {1, 2, 0, 4, 5});
  EXPECT_ERROR_HAS(evaluate(ir.p, {ta, zero}, {}), "integer division by zero");
}

TEST(Evaluate, SumAccumulatesInTheAccumulateDtype) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat16, {3, 50});
  BufferId s32 = ir.output("s32", DType::kFloat16, {3});
  BufferId s64 = ir.output("s64", DType::kFloat64, {3});
  BufferId xi = ir.input("xi", DType::kInt32, {3, 50});
  BufferId si = ir.output("si", DType::kInt32, {3});
  ir.kernel(row_reduction(x, DType::kFloat16, s32, DType::kFloat16, 3, 50, ReduceOp::kSum,
                          DType::kFloat32));
  ir.kernel(row_reduction(x, DType::kFloat16, s64, DType::kFloat64, 3, 50, ReduceOp::kSum,
                          DType::kFloat64));
  ir.kernel(
      row_reduction(xi, DType::kInt32, si, DType::kInt32, 3, 50, ReduceOp::kSum, DType::kInt64));
  std::mt19937 rng(11);
  ref::Tensor tx = random_tensor(DType::kFloat16, {3, 50}, rng, -100, 100);
  ref::Tensor ti = random_tensor(DType::kInt32, {3, 50}, rng, 4.0e7, 5.0e7);
  auto outs = evaluate(ir.p, {tx, ti}, {});
  for (int64_t r = 0; r < 3; ++r) {
    float acc32 = 0;
    double acc64 = 0;
    int64_t acci = 0;
    for (int64_t c = 0; c < 50; ++c) {
      acc32 += f32(tx.get(r * 50 + c));
      acc64 += tx.get(r * 50 + c);
      acci += ti.get_int(r * 50 + c);
    }
    EXPECT_EQ(outs[0].get(r), util::round_to_float_format(DType::kFloat16, acc32)) << r;
    EXPECT_EQ(outs[1].get(r), acc64) << r;
    EXPECT_EQ(outs[2].get_int(r), static_cast<int32_t>(acci)) << r;  // wraps on the store
  }
}

TEST(Evaluate, MaxAndMinPropagateNaN) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {3, 4});
  BufferId mx = ir.output("mx", DType::kFloat32, {3});
  BufferId mn = ir.output("mn", DType::kFloat32, {3});
  ir.kernel(row_reduction(x, DType::kFloat32, mx, DType::kFloat32, 3, 4, ReduceOp::kMax,
                          DType::kFloat32));
  ir.kernel(row_reduction(x, DType::kFloat32, mn, DType::kFloat32, 3, 4, ReduceOp::kMin,
                          DType::kFloat32));
  ref::Tensor tx = make_tensor(DType::kFloat32, {3, 4},
                               {1.5, -3, 7.25, 0, 2, kNaN, 9, -4, -INFINITY, -1, -2, kNaN});
  auto outs = evaluate(ir.p, {tx}, {});
  EXPECT_EQ(outs[0].get(0), 7.25);
  EXPECT_TRUE(std::isnan(outs[0].get(1)));
  EXPECT_TRUE(std::isnan(outs[0].get(2)));
  EXPECT_EQ(outs[1].get(0), -3);
  EXPECT_TRUE(std::isnan(outs[1].get(1)));
  EXPECT_TRUE(std::isnan(outs[1].get(2)));
}

TEST(Evaluate, ArgReductionsTakeTheFirstExtremeAndNaN) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {4, 5});
  BufferId am = ir.output("argmax", DType::kInt64, {4});
  BufferId an = ir.output("argmin", DType::kInt64, {4});
  ir.kernel(row_reduction(x, DType::kFloat32, am, DType::kInt64, 4, 5, ReduceOp::kArgMax,
                          DType::kFloat32));
  ir.kernel(row_reduction(x, DType::kFloat32, an, DType::kInt64, 4, 5, ReduceOp::kArgMin,
                          DType::kFloat32));
  ref::Tensor tx =
      make_tensor(DType::kFloat32, {4, 5}, {1,  3,    3, 2,    -1,   // ties: first 3, first -1
                                            -2, -2,   5, 5,    -2,   // ties at both ends
                                            1,  kNaN, 5, kNaN, -9,   // the first NaN wins both
                                            4,  4,    4, 4,    4});  // all equal: index 0
  auto outs = evaluate(ir.p, {tx}, {});
  std::vector<int64_t> argmax = {1, 2, 1, 0}, argmin = {4, 0, 1, 0};
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(outs[0].get_int(r), argmax[r]) << r;
    EXPECT_EQ(outs[1].get_int(r), argmin[r]) << r;
  }
}

TEST(Evaluate, AnyAllAndEmptyReductions) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {3, sy("s0")});
  BufferId any = ir.output("any", DType::kBool, {3});
  BufferId all = ir.output("all", DType::kBool, {3});
  BufferId sum = ir.output("sum", DType::kFloat32, {3});
  ir.kernel(row_reduction(x, DType::kFloat32, any, DType::kBool, 3, sy("s0"), ReduceOp::kAny,
                          DType::kBool));
  ir.kernel(row_reduction(x, DType::kFloat32, all, DType::kBool, 3, sy("s0"), ReduceOp::kAll,
                          DType::kBool));
  ir.kernel(row_reduction(x, DType::kFloat32, sum, DType::kFloat32, 3, sy("s0"), ReduceOp::kSum,
                          DType::kFloat32));
  ref::Tensor tx = make_tensor(DType::kFloat32, {3, 3}, {0, 0, 0, 0, -0.5, 0, 2, kNaN, 1});
  auto outs = evaluate(ir.p, {tx}, {});
  EXPECT_EQ(outs[0].get_int(0), 0);
  EXPECT_EQ(outs[0].get_int(1), 1);
  EXPECT_EQ(outs[0].get_int(2), 1);
  EXPECT_EQ(outs[1].get_int(0), 0);
  EXPECT_EQ(outs[1].get_int(1), 0);
  EXPECT_EQ(outs[1].get_int(2), 1);  // NaN is true
  // Over zero elements: any is false, all is true, sum is 0; max has no identity.
  auto empty = evaluate(ir.p, {ref::Tensor(DType::kFloat32, {3, 0})}, {});
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_EQ(empty[0].get_int(r), 0);
    EXPECT_EQ(empty[1].get_int(r), 1);
    EXPECT_EQ(empty[2].get(r), 0.0);
  }
  IrBuilder ir2;
  BufferId y = ir2.input("y", DType::kFloat32, {2, sy("s0")});
  BufferId mx = ir2.output("mx", DType::kFloat32, {2});
  ir2.kernel(row_reduction(y, DType::kFloat32, mx, DType::kFloat32, 2, sy("s0"), ReduceOp::kMax,
                           DType::kFloat32));
  EXPECT_ERROR_HAS(evaluate(ir2.p, {ref::Tensor(DType::kFloat32, {2, 0})}, {}),
                   "a max reduction over zero elements");
}

TEST(Evaluate, SoftmaxKernelReadsEarlierLoopResults) {
  IrBuilder ir;
  sym::Expr n = sy("s1");
  BufferId x = ir.input("x", DType::kFloat32, {sy("s0"), n});
  BufferId out = ir.output("out", DType::kFloat32, {sy("s0"), n});
  Kernel k;
  k.name = "softmax";
  k.ranges = {sy("s0")};
  auto load_x = [&](BodyBuilder& b, const sym::Expr& col) {
    return b.load(x, DType::kFloat32, sy("x0") * n + col);
  };
  Loop max;  // loop 0: the row's max
  max.ranges = {n};
  max.reduce = ReduceOp::kMax;
  max.value = BodyBuilder(max.body).load(x, DType::kFloat32, sy("x0") * n + sy("r0_0"));
  Loop sum;  // loop 1: sum(exp(x - max))
  sum.ranges = {n};
  sum.reduce = ReduceOp::kSum;
  {
    BodyBuilder b(sum.body);
    sum.value = b.unary(ScalarOp::kExp, b.binary(ScalarOp::kSub, load_x(b, sy("r1_0")),
                                                 b.loop_result(0, DType::kFloat32)));
  }
  Loop store;  // loop 2: exp(x - max) / sum
  store.ranges = {n};
  {
    BodyBuilder b(store.body);
    int32_t e = b.unary(ScalarOp::kExp, b.binary(ScalarOp::kSub, load_x(b, sy("r2_0")),
                                                 b.loop_result(0, DType::kFloat32)));
    int32_t v = b.binary(ScalarOp::kDiv, e, b.loop_result(1, DType::kFloat32));
    store.stores.push_back({out, sy("x0") * n + sy("r2_0"), v});
  }
  k.loops = {max, sum, store};
  ir.kernel(k);
  std::mt19937 rng(3);
  for (std::vector<int64_t> sizes : {std::vector<int64_t>{4, 7}, std::vector<int64_t>{2, 33}}) {
    ref::Tensor tx = random_tensor(DType::kFloat32, sizes, rng, -5, 5);
    auto outs = evaluate(ir.p, {tx}, {});
    ASSERT_EQ(outs[0].sizes(), sizes);
    for (int64_t r = 0; r < sizes[0]; ++r) {
      double m = -INFINITY, s = 0;
      for (int64_t c = 0; c < sizes[1]; ++c)
        m = std::max(m, tx.get(r * sizes[1] + c));
      for (int64_t c = 0; c < sizes[1]; ++c)
        s += std::exp(tx.get(r * sizes[1] + c) - m);
      for (int64_t c = 0; c < sizes[1]; ++c) {
        double want = std::exp(tx.get(r * sizes[1] + c) - m) / s;
        EXPECT_NEAR(outs[0].get(r * sizes[1] + c), want, 2e-5 * want + 1e-9);
      }
    }
  }
}

// out[i, j] = table[idx[i], j], the way embedding lowers: an indirect index variable t<N>.
Program gather_program() {
  IrBuilder ir;
  BufferId table = ir.constant("table", DType::kFloat32, {4, 3});
  BufferId idx = ir.input("idx", DType::kInt64, {sy("s0")});
  BufferId out = ir.output("out", DType::kFloat32, {sy("s0"), 3});
  ir.kernel(pointwise({sy("s0"), 3}, out, [&](BodyBuilder& b, const Index& x) {
    sym::Expr row = b.indirect(b.load(idx, DType::kInt64, x[0]), 4);
    return b.load(table, DType::kFloat32, row * 3 + x[1]);
  }));
  return ir.p;
}

TEST(Evaluate, IndirectLoadWrapsNegativeIndices) {
  std::mt19937 rng(5);
  ref::Tensor table = random_tensor(DType::kFloat32, {4, 3}, rng);
  ref::Tensor idx = make_tensor(DType::kInt64, {5}, {2, -1, 0, -4, 3});
  auto outs = evaluate(gather_program(), {idx}, {table});
  ASSERT_EQ(outs[0].str(), "f32[5, 3]");
  std::vector<int64_t> rows = {2, 3, 0, 0, 3};
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(outs[0].get(i * 3 + j), table.get(rows[i] * 3 + j)) << i << ", " << j;
  }
}

TEST(Evaluate, IndirectIndexOutOfRangeFails) {
  std::mt19937 rng(5);
  ref::Tensor table = random_tensor(DType::kFloat32, {4, 3}, rng);
  EXPECT_ERROR_HAS(evaluate(gather_program(), {make_tensor(DType::kInt64, {2}, {1, 4})}, {table}),
                   "index 4 is out of bounds for a dim of size 4");
  EXPECT_ERROR_HAS(evaluate(gather_program(), {make_tensor(DType::kInt64, {1}, {-5})}, {table}),
                   "index -5 is out of bounds for a dim of size 4");
}

// out = x[s0, s1] transposed, through floor division and modulo of a flat index.
TEST(Evaluate, SymbolicSizesAndNonAffineIndices) {
  IrBuilder ir;
  sym::Expr s0 = sy("s0"), s1 = sy("s1");
  BufferId x = ir.input("x", DType::kFloat64, {s0, s1});
  BufferId out = ir.output("out", DType::kFloat64, {s1, s0});
  ir.kernel(pointwise({s0 * s1}, out, [&](BodyBuilder& b, const Index& f) {
    Index ij = unravel(f[0], {s1, s0});  // the output's (i, j) from its flat index
    return b.load(x, DType::kFloat64, ij[1] * s1 + ij[0]);
  }));
  std::mt19937 rng(9);
  for (auto [r, c] : {std::pair<int64_t, int64_t>{3, 5}, {7, 2}, {1, 6}}) {
    ref::Tensor tx = random_tensor(DType::kFloat64, {r, c}, rng);
    auto outs = evaluate(ir.p, {tx}, {});
    ASSERT_EQ(outs[0].sizes(), (std::vector<int64_t>{c, r}));
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t j = 0; j < r; ++j)
        EXPECT_EQ(outs[0].get(i * r + j), tx.get(j * c + i));
    }
  }
}

TEST(Evaluate, BindsSymbolsAndNamesMismatchedInputs) {
  IrBuilder ir;
  sym::Expr s0 = sy("s0");
  BufferId a = ir.input("a", DType::kFloat32, {2 * s0});  // s0 solved from 2*s0
  BufferId b = ir.input("b", DType::kFloat32, {s0 + 1, 3});
  BufferId out = ir.output("out", DType::kFloat32, {s0});
  ir.kernel(pointwise({s0}, out, [&](BodyBuilder& bb, const Index& i) {
    return bb.binary(ScalarOp::kSub, bb.load(a, DType::kFloat32, 2 * i[0] + 1),
                     bb.load(b, DType::kFloat32, 3 * i[0] + 2));
  }));
  std::mt19937 rng(13);
  ref::Tensor ta = random_tensor(DType::kFloat32, {8}, rng);
  ref::Tensor tb = random_tensor(DType::kFloat32, {5, 3}, rng);
  EXPECT_EQ(bind_symbols(ir.p, {ta, tb}), (SymbolValues{{"s0", 4}}));
  auto outs = evaluate(ir.p, {ta, tb}, {});
  ASSERT_EQ(outs[0].str(), "f32[4]");
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(outs[0].get(i), f32(ta.get(2 * i + 1) - tb.get(3 * i + 2)));

  ref::Tensor odd = random_tensor(DType::kFloat32, {7}, rng);
  EXPECT_ERROR_HAS(evaluate(ir.p, {odd, tb}, {}), "input 0 (a) dim 0");
  ref::Tensor wrong = random_tensor(DType::kFloat32, {6, 3}, rng);
  EXPECT_ERROR_HAS(evaluate(ir.p, {ta, wrong}, {}),
                   "input 1 (b) dim 0: expected s0 + 1 = 5, got 6");
  ref::Tensor wrong_static = random_tensor(DType::kFloat32, {5, 2}, rng);
  EXPECT_ERROR_HAS(evaluate(ir.p, {ta, wrong_static}, {}), "input 1 (b) dim 1: expected 3, got 2");
  ref::Tensor ints = random_tensor(DType::kInt32, {8}, rng);
  EXPECT_ERROR_HAS(evaluate(ir.p, {ints, tb}, {}), "input 0 (a): expected dtype f32, got i32");
  EXPECT_ERROR_HAS(evaluate(ir.p, {ta}, {}), "the program takes 2 inputs, but 1 were given");
}

TEST(Evaluate, ConstantsAreChecked) {
  std::mt19937 rng(5);
  ref::Tensor idx = make_tensor(DType::kInt64, {1}, {0});
  EXPECT_ERROR_HAS(evaluate(gather_program(), {idx}, {}), "the program has 1 constants");
  EXPECT_ERROR_HAS(evaluate(gather_program(), {idx}, {random_tensor(DType::kFloat32, {3, 4}, rng)}),
                   "constant 0 (table): expected f32[4, 3], got f32[3, 4]");
}

TEST(Evaluate, UnwrittenElementsArePoison) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {4});
  BufferId tmp = ir.temp("tmp", DType::kFloat32, {4});
  BufferId out = ir.output("out", DType::kFloat32, {4});
  ir.output("never", DType::kInt32, {2});
  // Only the first two elements of tmp are written; out copies all four.
  ir.kernel(pointwise(
      {2}, tmp, [&](BodyBuilder& b, const Index& i) { return b.load(x, DType::kFloat32, i[0]); }));
  ir.kernel(pointwise({4}, out, [&](BodyBuilder& b, const Index& i) {
    return b.load(tmp, DType::kFloat32, i[0]);
  }));
  ref::Tensor tx = make_tensor(DType::kFloat32, {4}, {1.5, -2, 3, 4});
  auto outs = evaluate(ir.p, {tx}, {});
  EXPECT_EQ(outs[0].get(0), 1.5);
  EXPECT_EQ(outs[0].get(1), -2);
  EXPECT_TRUE(std::isnan(outs[0].get(2)));
  EXPECT_TRUE(std::isnan(outs[0].get(3)));
  EXPECT_EQ(outs[1].get_int(0), static_cast<int32_t>(0xA5A5A5A5u));
}

TEST(Evaluate, OutOfRangeLoadsAndBadStoresFail) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {4});
  BufferId out = ir.output("out", DType::kFloat32, {4});
  ir.kernel(pointwise({4}, out, [&](BodyBuilder& b, const Index& i) {
    return b.load(x, DType::kFloat32, i[0] + 1);
  }));
  ref::Tensor tx = make_tensor(DType::kFloat32, {4}, {1, 2, 3, 4});
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}), "loads x (f32[4]) at element 4 (x0 + 1)");

  IrBuilder bad;
  BufferId y = bad.input("y", DType::kFloat32, {4});
  bad.output("o", DType::kFloat32, {4});
  bad.kernel(pointwise(
      {4}, y, [&](BodyBuilder& b, const Index& i) { return b.load(y, DType::kFloat32, i[0]); }));
  EXPECT_ERROR_HAS(evaluate(bad.p, {tx}, {}), "a store writes to y, an input or constant buffer");
}

// Both branches of a where are evaluated, as the printed code evaluates every node: a guarded
// load must still be in range.
TEST(Evaluate, WhereEvaluatesBothBranches) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {4});
  BufferId out = ir.output("out", DType::kFloat32, {5});
  auto body = [&](const sym::Expr& index) {
    return [&, index](BodyBuilder& b, const Index& i) {
      int32_t inside = b.binary(ScalarOp::kLt, b.index_value(i[0]), b.constant(4, DType::kInt64));
      return b.where(inside, b.load(x, DType::kFloat32, index.substitute({{"x0", i[0]}})),
                     b.constant(-1, DType::kFloat32));
    };
  };
  ir.kernel(pointwise({5}, out, body(sym::min(sy("x0"), 3))));  // clamped: fine
  ref::Tensor tx = make_tensor(DType::kFloat32, {4}, {1, 2, 3, 4});
  auto outs = evaluate(ir.p, {tx}, {});
  EXPECT_TRUE(testing::same_values(outs[0], make_tensor(DType::kFloat32, {5}, {1, 2, 3, 4, -1})));
  ir.p.steps.clear();
  ir.kernel(pointwise({5}, out, body(sy("x0"))));  // unclamped: x[4] is read
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}), "at element 4");
}

// A test routine: outputs[0] = alpha * inputs[0] + inputs[1] over int_params[0] elements.
void axpy(const ExternCall& call, std::vector<ref::Tensor*> inputs,
          std::vector<ref::Tensor*> outputs, const SymbolValues& symbols) {
  int64_t n = call.int_params.at(0).eval(symbols);
  for (int64_t i = 0; i < n; ++i)
    outputs[0]->set(i, call.float_params.at(0) * inputs[0]->get(i) + inputs[1]->get(i));
}

TEST(Evaluate, ExternCallsRunTheRegisteredEvaluator) {
  register_extern_evaluator("test_axpy", axpy);
  register_extern_evaluator("test_axpy", axpy);  // the same function again is fine
  EXPECT_EQ(find_extern_evaluator("test_axpy"), axpy);
  EXPECT_EQ(find_extern_evaluator("test_nothing"), nullptr);
  EXPECT_ERROR_HAS(
      register_extern_evaluator("test_axpy", [](const ExternCall&, std::vector<ref::Tensor*>,
                                                std::vector<ref::Tensor*>, const SymbolValues&) {}),
      "another evaluator is already registered for extern kind 'test_axpy'");

  IrBuilder ir;
  sym::Expr s0 = sy("s0");
  BufferId x = ir.input("x", DType::kFloat32, {s0});
  BufferId sq = ir.temp("sq", DType::kFloat32, {s0});
  BufferId ax = ir.temp("ax", DType::kFloat32, {s0});
  BufferId out = ir.output("out", DType::kFloat32, {s0});
  ir.kernel(pointwise({s0}, sq, [&](BodyBuilder& b, const Index& i) {
    int32_t v = b.load(x, DType::kFloat32, i[0]);
    return b.binary(ScalarOp::kMul, v, v);
  }));
  ExternCall call;
  call.kind = "test_axpy";
  call.comment = "test";
  call.inputs = {sq, x};
  call.outputs = {ax};
  call.int_params = {s0};
  call.float_params = {0.5};
  ir.call(call);
  ir.kernel(pointwise({s0}, out, [&](BodyBuilder& b, const Index& i) {
    return b.unary(ScalarOp::kNeg, b.load(ax, DType::kFloat32, i[0]));
  }));
  std::mt19937 rng(17);
  ref::Tensor tx = random_tensor(DType::kFloat32, {6}, rng);
  auto outs = evaluate(ir.p, {tx}, {});
  for (int64_t i = 0; i < 6; ++i) {
    float v = f32(tx.get(i));
    EXPECT_EQ(outs[0].get(i), -f32(0.5 * f32(v * v) + v)) << i;
  }
  ir.p.steps[1].call->kind = "test_unknown";
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}),
                   "no evaluator is registered for extern calls of kind 'test_unknown'");
}

TEST(Evaluate, MalformedBodiesAreReported) {
  IrBuilder ir;
  BufferId x = ir.input("x", DType::kFloat32, {2});
  BufferId out = ir.output("out", DType::kFloat32, {2});
  ir.kernel(pointwise({2}, out, [&](BodyBuilder& b, const Index& i) {
    return b.load(x, DType::kFloat32, i[0] + sy("r0_0"));  // a pointwise loop has no r vars
  }));
  ref::Tensor tx = make_tensor(DType::kFloat32, {2}, {1, 2});
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}), "variable r0_0 is not a variable of loop 0");
  ir.p.steps[0].kernel->loops[0].body.nodes[0].index = sy("u7");
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}), "symbol u7 is unbound");
  ir.p.steps[0].kernel->loops[0].body.nodes[0].index = sy("x0");
  ir.p.steps[0].kernel->loops[0].stores[0].value = 5;
  EXPECT_ERROR_HAS(evaluate(ir.p, {tx}, {}), "operand value = 5 is not an earlier node");
}

// The harness end to end: one op through passes, lowering and the evaluator.
TEST(LowerHarness, ChecksALoweredOp) {
  std::mt19937 rng(19);
  testing::check_lowered_op("aten.add.Tensor",
                            {{"self", random_tensor(DType::kFloat32, {3, 4}, rng)},
                             {"other", random_tensor(DType::kFloat32, {4}, rng)}});
}

// Whole fixture programs (weights, derived dims like 2*s0, conv externs) evaluated after
// lowering reproduce PyTorch's stored outputs.
TEST(LowerHarness, FixtureProgramsReproduceTorch) {
  int checked = 0;
  for (const testing::FixtureModel& fx : testing::fixture_models()) {
    if (fx.id != "torch2_15_unet_block" && fx.id != "torch2_15_op_reduce") continue;
    SCOPED_TRACE(fx.id);
    frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
    for (const auto& c : fx.manifest()["cases"]) {
      std::vector<ref::Tensor> inputs;
      for (const auto& in : c["inputs"])
        inputs.push_back(
            ref::tensor_from_npy(util::read_npy(fx.dir / in["file"].get<std::string>())));
      std::vector<ref::Tensor> got = testing::evaluate_lowered(loaded, inputs);
      ASSERT_EQ(got.size(), c["outputs"].size());
      for (size_t o = 0; o < got.size(); ++o) {
        ref::Tensor want = ref::tensor_from_npy(
            util::read_npy(fx.dir / c["outputs"][o]["file"].get<std::string>()));
        ASSERT_EQ(got[o].str(), want.str()) << "output " << o;
        if (got[o].is_floating()) {
          EXPECT_LE(testing::relative_error(got[o], want), 1e-5) << "output " << o;
        } else {
          EXPECT_TRUE(testing::same_values(got[o], want)) << "output " << o;
        }
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 2);
}

}  // namespace
}  // namespace kiln::lower
