// GEMMs and einsum against naive loops written here.
#include <gtest/gtest.h>

#include <cmath>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

// a [n, k] @ b [k, m], summed in double (or exact int64), rounded once into `dtype`.
ref::Tensor naive_mm(const ref::Tensor& a, const ref::Tensor& b, DType dtype) {
  int64_t n = a.size(0), k = a.size(1), m = b.size(1);
  ref::Tensor out(dtype, {n, m});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      int64_t si = 0;
      for (int64_t p = 0; p < k; ++p) {
        s += a.get(i * k + p) * b.get(p * m + j);
        si += a.get_int(i * k + p) * b.get_int(p * m + j);
      }
      if (ir::is_floating(dtype)) {
        out.set(i * m + j, s);
      } else {
        out.set_int(i * m + j, si);
      }
    }
  }
  return out;
}

// Slice [i] of the leading dim (the rest contiguous).
ref::Tensor slice0(const ref::Tensor& t, int64_t i) {
  std::vector<int64_t> sizes(t.sizes().begin() + 1, t.sizes().end());
  ref::Tensor out(t.dtype(), sizes);
  for (int64_t j = 0; j < out.numel(); ++j)
    out.set(j, t.get(i * out.numel() + j));
  return out;
}

void expect_match(const ref::Tensor& got, const ref::Tensor& want) {
  if (ir::is_floating(want.dtype()) && want.dtype() != DType::kFloat32) {
    EXPECT_TENSOR_NEAR(got, want, 1e-2);
  } else if (ir::is_floating(want.dtype())) {
    EXPECT_TENSOR_NEAR(got, want, 1e-6);
  } else {
    EXPECT_TRUE(same_values(got, want)) << got.str();
  }
}

TEST(NnLinear, MmMatchesTripleLoopPerDtype) {
  std::mt19937 rng(11);
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBFloat16, DType::kFloat64}) {
    for (auto [n, k, m] : {std::tuple{3, 4, 5}, {1, 4, 1}, {2, 1, 3}, {4, 7, 2}}) {
      ref::Tensor a = random_tensor(dt, {n, k}, rng, -5, 5);
      ref::Tensor b = random_tensor(dt, {k, m}, rng, -5, 5);
      ref::Tensor got = run_op_tensor("aten.mm.default", {{"self", a}, {"mat2", b}});
      expect_match(got, naive_mm(a, b, dt));
    }
  }
}

TEST(NnLinear, MmChecksShapesAndDtypes) {
  std::mt19937 rng(12);
  auto f = [&](std::vector<int64_t> s, DType dt = DType::kFloat32) {
    return random_tensor(dt, std::move(s), rng);
  };
  EXPECT_THROW(run_op("aten.mm.default", {{"self", f({2, 3})}, {"mat2", f({4, 2})}}), Error);
  EXPECT_THROW(run_op("aten.mm.default", {{"self", f({2, 3, 1})}, {"mat2", f({3, 2})}}), Error);
  EXPECT_THROW(
      run_op("aten.mm.default", {{"self", f({2, 3})}, {"mat2", f({3, 2}, DType::kFloat64)}}),
      Error);
  EXPECT_THROW(run_op("aten.mm.default",
                      {{"self", f({2, 3}, DType::kBool)}, {"mat2", f({3, 2}, DType::kBool)}}),
               Error);
}

// matmul by its definition: promote 1-D operands, broadcast the batch dims by materializing
// both operands, multiply each matrix, then drop the added dims.
ref::Tensor naive_matmul(const ref::Tensor& a, const ref::Tensor& b) {
  std::vector<int64_t> as = a.sizes(), bs = b.sizes();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  size_t batch_rank = std::max(as.size(), bs.size()) - 2;
  std::vector<int64_t> batch(batch_rank, 1);
  auto dim = [&](const std::vector<int64_t>& s, size_t i) {
    size_t off = batch_rank - (s.size() - 2);
    return i < off ? int64_t{1} : s[i - off];
  };
  for (size_t i = 0; i < batch_rank; ++i)
    batch[i] = std::max(dim(as, i), dim(bs, i));
  int64_t n = as[as.size() - 2], m = bs.back();
  int64_t nb = 1;
  for (int64_t s : batch)
    nb *= s;
  std::vector<int64_t> out_sizes = batch;
  if (a.dim() > 1) out_sizes.push_back(n);
  if (b.dim() > 1) out_sizes.push_back(m);
  ref::Tensor out(a.dtype(), out_sizes);
  for (int64_t bi = 0; bi < nb; ++bi) {
    // The operands' matrix for this batch index (size-1 batch dims read index 0).
    auto matrix = [&](const ref::Tensor& t, const std::vector<int64_t>& s) {
      int64_t off = 0, rem = bi;
      std::vector<int64_t> idx(batch_rank);
      for (size_t i = batch_rank; i-- > 0;) {
        idx[i] = rem % batch[i];
        rem /= batch[i];
      }
      size_t lead = batch_rank - (s.size() - 2);
      for (size_t i = lead; i < batch_rank; ++i)
        off = off * s[i - lead] + (s[i - lead] == 1 ? 0 : idx[i]);
      int64_t r = s[s.size() - 2], c = s.back();
      ref::Tensor mtx(t.dtype(), {r, c});
      for (int64_t j = 0; j < r * c; ++j)
        mtx.set(j, t.get(off * r * c + j));
      return mtx;
    };
    ref::Tensor p = naive_mm(matrix(a, as), matrix(b, bs), a.dtype());
    for (int64_t j = 0; j < n * m; ++j)
      out.set(bi * n * m + j, p.get(j));
  }
  return out;
}

TEST(NnLinear, MatmulCoversEveryRankCase) {
  std::mt19937 rng(13);
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{3}, {3}},
      {{2, 3}, {3}},
      {{3}, {3, 4}},
      {{2, 3}, {3, 4}},
      {{5, 2, 3}, {3}},
      {{3}, {2, 5, 3, 4}},
      {{2, 1, 4, 3}, {5, 3, 6}},
      {{4, 3}, {2, 3, 5}},
      {{2, 4, 3}, {3, 5}},
      {{1, 1}, {1, 1}},
      {{7, 1, 2, 2}, {1, 3, 2, 1}}};
  for (DType dt : {DType::kFloat32, DType::kInt64}) {
    for (const auto& [sa, sb] : cases) {
      ref::Tensor a = random_tensor(dt, sa, rng, -4, 4);
      ref::Tensor b = random_tensor(dt, sb, rng, -4, 4);
      ref::Tensor got = run_op_tensor("aten.matmul.default", {{"self", a}, {"other", b}});
      expect_match(got, naive_matmul(a, b));
    }
  }
  ref::Tensor s = random_tensor(DType::kFloat32, {}, rng);
  ref::Tensor v = random_tensor(DType::kFloat32, {3}, rng);
  EXPECT_THROW(run_op("aten.matmul.default", {{"self", s}, {"other", v}}), Error);
  ref::Tensor m = random_tensor(DType::kFloat32, {2, 4}, rng);
  EXPECT_THROW(run_op("aten.matmul.default", {{"self", m}, {"other", v}}), Error);
  ref::Tensor b1 = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor b2 = random_tensor(DType::kFloat32, {3, 4, 5}, rng);
  EXPECT_THROW(run_op("aten.matmul.default", {{"self", b1}, {"other", b2}}), Error);
  ref::Tensor d = random_tensor(DType::kFloat64, {3}, rng);
  EXPECT_THROW(run_op("aten.matmul.default", {{"self", v}, {"other", d}}), Error);
}

TEST(NnLinear, BmmAndDot) {
  std::mt19937 rng(14);
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat16}) {
    for (auto [b, n, k, m] : {std::tuple{2, 3, 4, 5}, {1, 1, 3, 1}, {3, 2, 1, 2}}) {
      ref::Tensor x = random_tensor(dt, {b, n, k}, rng, -3, 3);
      ref::Tensor y = random_tensor(dt, {b, k, m}, rng, -3, 3);
      ref::Tensor got = run_op_tensor("aten.bmm.default", {{"self", x}, {"mat2", y}});
      ref::Tensor want(dt, {b, n, m});
      for (int64_t i = 0; i < b; ++i) {
        ref::Tensor p = naive_mm(slice0(x, i), slice0(y, i), dt);
        for (int64_t j = 0; j < n * m; ++j)
          want.set(i * n * m + j, p.get(j));
      }
      expect_match(got, want);
    }
    for (int64_t k : {1, 5}) {
      ref::Tensor x = random_tensor(dt, {k}, rng, -3, 3);
      ref::Tensor y = random_tensor(dt, {k}, rng, -3, 3);
      ref::Tensor got = run_op_tensor("aten.dot.default", {{"self", x}, {"tensor", y}});
      double s = 0;
      for (int64_t i = 0; i < k; ++i)
        s += x.get(i) * y.get(i);
      ref::Tensor want(dt, {});
      want.set(0, s);
      expect_match(got, want);
    }
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3, 4}, rng);
  ref::Tensor y = random_tensor(DType::kFloat32, {1, 4, 2}, rng);
  EXPECT_THROW(run_op("aten.bmm.default", {{"self", x}, {"mat2", y}}), Error);
  ref::Tensor v3 = random_tensor(DType::kFloat32, {3}, rng);
  ref::Tensor v4 = random_tensor(DType::kFloat32, {4}, rng);
  EXPECT_THROW(run_op("aten.dot.default", {{"self", v3}, {"tensor", v4}}), Error);
}

TEST(NnLinear, AddmmAppliesBetaAlphaAndBroadcastsSelf) {
  std::mt19937 rng(15);
  for (auto self_sizes : {std::vector<int64_t>{3, 4}, {4}, {1, 4}, {3, 1}, {}}) {
    ref::Tensor s = random_tensor(DType::kFloat32, self_sizes, rng);
    ref::Tensor m1 = random_tensor(DType::kFloat32, {3, 5}, rng);
    ref::Tensor m2 = random_tensor(DType::kFloat32, {5, 4}, rng);
    ref::Tensor got =
        run_op_tensor("aten.addmm.default",
                      {{"self", s}, {"mat1", m1}, {"mat2", m2}, {"beta", 0.5}, {"alpha", -2.0}});
    ref::Tensor p = naive_mm(m1, m2, DType::kFloat64);
    ref::Tensor want(DType::kFloat32, {3, 4});
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 4; ++j) {
        int64_t si = 0;
        if (self_sizes.size() == 2) {
          si = (self_sizes[0] == 1 ? 0 : i) * self_sizes[1] + (self_sizes[1] == 1 ? 0 : j);
        } else if (self_sizes.size() == 1) {
          si = j;
        }
        want.set(i * 4 + j, 0.5 * s.get(si) - 2.0 * p.get(i * 4 + j));
      }
    }
    EXPECT_TENSOR_NEAR(got, want, 1e-6);
  }
  // beta = 0: self is not read, so its NaNs do not reach the result.
  ref::Tensor nan_self = make_tensor(DType::kFloat32, {2, 2}, {NAN, NAN, NAN, NAN});
  ref::Tensor m1 = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor m2 = random_tensor(DType::kFloat32, {3, 2}, rng);
  ref::Tensor got = run_op_tensor("aten.addmm.default",
                                  {{"self", nan_self}, {"mat1", m1}, {"mat2", m2}, {"beta", 0.0}});
  EXPECT_TENSOR_NEAR(got, naive_mm(m1, m2, DType::kFloat32), 1e-6);
  // Integral: beta and alpha are truncated to ints (PyTorch: beta=1.5 acts as 1).
  ref::Tensor is = random_tensor(DType::kInt64, {2, 2}, rng, -9, 9);
  ref::Tensor i1 = random_tensor(DType::kInt64, {2, 3}, rng, -9, 9);
  ref::Tensor i2 = random_tensor(DType::kInt64, {3, 2}, rng, -9, 9);
  ref::Tensor ig =
      run_op_tensor("aten.addmm.default",
                    {{"self", is}, {"mat1", i1}, {"mat2", i2}, {"beta", 1.5}, {"alpha", 2.5}});
  ref::Tensor ip = naive_mm(i1, i2, DType::kInt64);
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(ig.get_int(i), is.get_int(i) + 2 * ip.get_int(i));
  EXPECT_THROW(
      run_op("aten.addmm.default",
             {{"self", random_tensor(DType::kFloat32, {3, 2}, rng)}, {"mat1", m1}, {"mat2", m2}}),
      Error);
  EXPECT_THROW(
      run_op("aten.addmm.default",
             {{"self", random_tensor(DType::kFloat64, {2, 2}, rng)}, {"mat1", m1}, {"mat2", m2}}),
      Error);
}

TEST(NnLinear, BaddbmmBroadcastsSelfOverTheBatch) {
  std::mt19937 rng(16);
  for (auto self_sizes : {std::vector<int64_t>{2, 3, 4}, {3, 4}, {1, 1, 4}}) {
    ref::Tensor s = random_tensor(DType::kFloat32, self_sizes, rng);
    ref::Tensor b1 = random_tensor(DType::kFloat32, {2, 3, 5}, rng);
    ref::Tensor b2 = random_tensor(DType::kFloat32, {2, 5, 4}, rng);
    ref::Tensor got = run_op_tensor(
        "aten.baddbmm.default",
        {{"self", s}, {"batch1", b1}, {"batch2", b2}, {"beta", 2.0}, {"alpha", 0.25}});
    ref::Tensor want(DType::kFloat32, {2, 3, 4});
    for (int64_t b = 0; b < 2; ++b) {
      ref::Tensor p = naive_mm(slice0(b1, b), slice0(b2, b), DType::kFloat64);
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t j = 0; j < 4; ++j) {
          int64_t si = self_sizes.size() == 3 && self_sizes[0] == 2 ? (b * 3 + i) * 4 + j
                       : self_sizes.size() == 2                     ? i * 4 + j
                                                                    : j;
          want.set((b * 3 + i) * 4 + j, 2.0 * s.get(si) + 0.25 * p.get(i * 4 + j));
        }
      }
    }
    EXPECT_TENSOR_NEAR(got, want, 1e-6);
  }
}

TEST(NnLinear, OuterPromotesLikeAProduct) {
  std::mt19937 rng(17);
  struct Case {
    DType a, b, out;
  };
  for (Case c : {Case{DType::kFloat32, DType::kFloat32, DType::kFloat32},
                 Case{DType::kInt64, DType::kFloat32, DType::kFloat32},
                 Case{DType::kInt64, DType::kInt64, DType::kInt64},
                 Case{DType::kBool, DType::kBool, DType::kBool}}) {
    for (auto [n, m] : {std::pair{3, 4}, {1, 5}, {2, 1}}) {
      ref::Tensor x = random_tensor(c.a, {n}, rng, -4, 4);
      ref::Tensor y = random_tensor(c.b, {m}, rng, -4, 4);
      ref::Tensor got = run_op_tensor("aten.outer.default", {{"self", x}, {"vec2", y}});
      ref::Tensor want(c.out, {n, m});
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < m; ++j)
          want.set(i * m + j, x.get(i) * y.get(j));
      }
      expect_match(got, want);
    }
  }
  ref::Tensor m = random_tensor(DType::kFloat32, {3, 1}, rng);
  EXPECT_THROW(run_op("aten.outer.default", {{"self", m}, {"vec2", m}}), Error);
}

TEST(NnLinear, LinearWithAndWithoutBias) {
  std::mt19937 rng(18);
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    for (auto in_sizes : {std::vector<int64_t>{4, 3}, {2, 5, 3}, {3}, {1, 1, 3}, {2, 1, 2, 3}}) {
      ref::Tensor x = random_tensor(dt, in_sizes, rng, -4, 4);
      ref::Tensor w = random_tensor(dt, {6, 3}, rng, -4, 4);
      ref::Tensor b = random_tensor(dt, {6}, rng, -4, 4);
      int64_t rows = x.numel() / 3;
      std::vector<int64_t> out_sizes(in_sizes.begin(), in_sizes.end() - 1);
      out_sizes.push_back(6);
      for (bool with_bias : {false, true}) {
        TestArgs args = {{"input", x}, {"weight", w}};
        if (with_bias) args.emplace_back("bias", b);
        ref::Tensor got = run_op_tensor("aten.linear.default", args);
        ref::Tensor want(dt, out_sizes);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t o = 0; o < 6; ++o) {
            double s = with_bias ? b.get(o) : 0.0;
            for (int64_t i = 0; i < 3; ++i)
              s += x.get(r * 3 + i) * w.get(o * 3 + i);
            want.set(r * 6 + o, s);
          }
        }
        expect_match(got, want);
      }
    }
  }
  // A 1-D weight (no bias) is a matrix-vector product; a 2-D bias expands over the rows.
  ref::Tensor x = random_tensor(DType::kFloat32, {4, 3}, rng);
  ref::Tensor w1 = random_tensor(DType::kFloat32, {3}, rng);
  ref::Tensor got = run_op_tensor("aten.linear.default", {{"input", x}, {"weight", w1}});
  ref::Tensor want(DType::kFloat32, {4});
  for (int64_t r = 0; r < 4; ++r) {
    double s = 0;
    for (int64_t i = 0; i < 3; ++i)
      s += x.get(r * 3 + i) * w1.get(i);
    want.set(r, s);
  }
  EXPECT_TENSOR_NEAR(got, want, 1e-6);
  ref::Tensor w = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor b2 = random_tensor(DType::kFloat32, {4, 2}, rng);
  ref::Tensor got2 =
      run_op_tensor("aten.linear.default", {{"input", x}, {"weight", w}, {"bias", b2}});
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t o = 0; o < 2; ++o) {
      double s = b2.get(r * 2 + o);
      for (int64_t i = 0; i < 3; ++i)
        s += x.get(r * 3 + i) * w.get(o * 3 + i);
      EXPECT_NEAR(got2.get(r * 2 + o), s, 1e-5);
    }
  }
  EXPECT_THROW(
      run_op("aten.linear.default",
             {{"input", x}, {"weight", w}, {"bias", random_tensor(DType::kFloat32, {5, 2}, rng)}}),
      Error);
  EXPECT_THROW(
      run_op("aten.linear.default",
             {{"input", x}, {"weight", w}, {"bias", random_tensor(DType::kFloat64, {2}, rng)}}),
      Error);
  EXPECT_THROW(run_op("aten.linear.default", {{"input", x}, {"weight", w1}, {"bias", w1}}), Error);
  EXPECT_THROW(run_op("aten.linear.default",
                      {{"input", x}, {"weight", random_tensor(DType::kFloat32, {2, 4}, rng)}}),
               Error);
}

// einsum: each equation against its own closed-form loop.
TEST(NnEinsum, ContractionsTransposesAndOuterProducts) {
  std::mt19937 rng(19);
  for (DType dt : {DType::kFloat32, DType::kInt64}) {
    ref::Tensor a = random_tensor(dt, {2, 3}, rng, -4, 4);
    ref::Tensor b = random_tensor(dt, {3, 4}, rng, -4, 4);
    expect_match(
        run_op_tensor("aten.einsum.default", {{"equation", std::string("ij,jk->ik")},
                                              {"tensors", std::vector<ref::Tensor>{a, b}}}),
        naive_mm(a, b, dt));
    // Implicit output: the subscripts seen once, sorted ("ik").
    expect_match(
        run_op_tensor("aten.einsum.default", {{"equation", std::string("ij, jk")},
                                              {"tensors", std::vector<ref::Tensor>{a, b}}}),
        naive_mm(a, b, dt));
    ref::Tensor t = run_op_tensor(
        "aten.einsum.default",
        {{"equation", std::string("ij->ji")}, {"tensors", std::vector<ref::Tensor>{a}}});
    ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 2}));
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 3; ++j)
        EXPECT_EQ(t.get(j * 2 + i), a.get(i * 3 + j));
    }
    ref::Tensor u = random_tensor(dt, {2}, rng, -4, 4);
    ref::Tensor v = random_tensor(dt, {5}, rng, -4, 4);
    ref::Tensor o = run_op_tensor(
        "aten.einsum.default",
        {{"equation", std::string("i,j")}, {"tensors", std::vector<ref::Tensor>{u, v}}});
    ASSERT_EQ(o.sizes(), (std::vector<int64_t>{2, 5}));
    for (int64_t i = 0; i < 10; ++i)
      EXPECT_NEAR(o.get(i), u.get(i / 5) * v.get(i % 5), 1e-6);
  }
}

TEST(NnEinsum, DiagonalTraceBatchAndImplicitOrder) {
  std::mt19937 rng(20);
  ref::Tensor sq = random_tensor(DType::kFloat32, {4, 4}, rng);
  ref::Tensor diag = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("ii->i")}, {"tensors", std::vector<ref::Tensor>{sq}}});
  ref::Tensor trace =
      run_op_tensor("aten.einsum.default",
                    {{"equation", std::string("ii")}, {"tensors", std::vector<ref::Tensor>{sq}}});
  double tr = 0;
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(diag.get(i), sq.get(i * 5));
    tr += sq.get(i * 5);
  }
  EXPECT_EQ(trace.dim(), 0);
  EXPECT_NEAR(trace.get(0), tr, 1e-5);
  // "ba,b": implicit output "a" (b is summed).
  ref::Tensor x = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor y = random_tensor(DType::kFloat32, {2}, rng);
  ref::Tensor r = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("ba,b")}, {"tensors", std::vector<ref::Tensor>{x, y}}});
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{3}));
  for (int64_t a = 0; a < 3; ++a)
    EXPECT_NEAR(r.get(a), x.get(a) * y.get(0) + x.get(3 + a) * y.get(1), 1e-6);
  // Uppercase sorts before lowercase: "Ba,b" -> "Bab".
  ref::Tensor r2 = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("Ba,b")}, {"tensors", std::vector<ref::Tensor>{x, y}}});
  EXPECT_EQ(r2.sizes(), (std::vector<int64_t>{2, 3, 2}));
  // Batched: "bij,bjk->bik"; and a size-1 subscript dim broadcasts ("bi,bi->b" with [1, 3]).
  ref::Tensor p = random_tensor(DType::kFloat32, {3, 2, 4}, rng);
  ref::Tensor q = random_tensor(DType::kFloat32, {3, 4, 1}, rng);
  ref::Tensor bm = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("bij,bjk->bik")}, {"tensors", std::vector<ref::Tensor>{p, q}}});
  for (int64_t b = 0; b < 3; ++b) {
    ref::Tensor want = naive_mm(slice0(p, b), slice0(q, b), DType::kFloat32);
    for (int64_t i = 0; i < 2; ++i)
      EXPECT_NEAR(bm.get(b * 2 + i), want.get(i), 1e-6);
  }
  ref::Tensor w = random_tensor(DType::kFloat32, {1, 3}, rng);
  ref::Tensor dots = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("bi,bi->b")}, {"tensors", std::vector<ref::Tensor>{x, w}}});
  ASSERT_EQ(dots.sizes(), (std::vector<int64_t>{2}));
  for (int64_t b = 0; b < 2; ++b) {
    double s = 0;
    for (int64_t i = 0; i < 3; ++i)
      s += x.get(b * 3 + i) * w.get(i);
    EXPECT_NEAR(dots.get(b), s, 1e-6);
  }
}

TEST(NnEinsum, EllipsisBroadcastsAndMoves) {
  std::mt19937 rng(21);
  // "...ij,...jk": [5, 2, 3] with [3, 2] -> [5, 2, 2].
  ref::Tensor a = random_tensor(DType::kFloat32, {5, 2, 3}, rng);
  ref::Tensor b = random_tensor(DType::kFloat32, {3, 2}, rng);
  ref::Tensor r = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("...ij,...jk")}, {"tensors", std::vector<ref::Tensor>{a, b}}});
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{5, 2, 2}));
  for (int64_t e = 0; e < 5; ++e) {
    ref::Tensor want = naive_mm(slice0(a, e), b, DType::kFloat32);
    for (int64_t i = 0; i < 4; ++i)
      EXPECT_NEAR(r.get(e * 4 + i), want.get(i), 1e-6);
  }
  // "i...j->j...i" moves dims around the ellipsis.
  ref::Tensor c = random_tensor(DType::kFloat32, {2, 3, 4, 5}, rng);
  ref::Tensor m = run_op_tensor("aten.einsum.default", {{"equation", std::string("i...j->j...i")},
                                                        {"tensors", std::vector<ref::Tensor>{c}}});
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{5, 3, 4, 2}));
  for (int64_t f = 0; f < c.numel(); ++f) {
    int64_t i = f / 60, k = (f / 20) % 3, l = (f / 5) % 4, j = f % 5;
    EXPECT_EQ(m.get(((j * 3 + k) * 4 + l) * 2 + i), c.get(f));
  }
  // An ellipsis missing from an explicit output is summed.
  ref::Tensor s = run_op_tensor("aten.einsum.default", {{"equation", std::string("...i->i")},
                                                        {"tensors", std::vector<ref::Tensor>{a}}});
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{3}));
  for (int64_t i = 0; i < 3; ++i) {
    double want = 0;
    for (int64_t e = 0; e < 10; ++e)
      want += a.get(e * 3 + i);
    EXPECT_NEAR(s.get(i), want, 1e-5);
  }
  // Ellipsis dims broadcast: [2, 3, 1] and [2, 4] over "i...,i...->...".
  ref::Tensor p = random_tensor(DType::kFloat32, {2, 3, 1}, rng);
  ref::Tensor q = random_tensor(DType::kFloat32, {2, 4}, rng);
  ref::Tensor bc = run_op_tensor(
      "aten.einsum.default",
      {{"equation", std::string("i...,i...->...")}, {"tensors", std::vector<ref::Tensor>{p, q}}});
  ASSERT_EQ(bc.sizes(), (std::vector<int64_t>{3, 4}));
  for (int64_t x = 0; x < 3; ++x) {
    for (int64_t y = 0; y < 4; ++y) {
      double want = p.get(x) * q.get(y) + p.get(3 + x) * q.get(4 + y);
      EXPECT_NEAR(bc.get(x * 4 + y), want, 1e-6);
    }
  }
}

TEST(NnEinsum, MalformedEquationsFailClearly) {
  std::mt19937 rng(22);
  ref::Tensor a = random_tensor(DType::kFloat32, {2, 3}, rng);
  ref::Tensor b = random_tensor(DType::kFloat32, {4, 2}, rng);
  auto call = [&](const std::string& eq, std::vector<ref::Tensor> ts) {
    return run_op("aten.einsum.default", {{"equation", eq}, {"tensors", ts}});
  };
  EXPECT_THROW(call("ij,jk->ik", {a, b}), Error);  // j: 3 vs 4
  EXPECT_THROW(call("ii->i", {a}), Error);         // diagonal of a non-square
  EXPECT_THROW(call("ij->i", {random_tensor(DType::kFloat32, {2, 3, 4}, rng)}), Error);
  EXPECT_THROW(call("ij,j", {a}), Error);
  EXPECT_THROW(call("i.j", {a}), Error);
  EXPECT_THROW(call("i1", {a}), Error);
  EXPECT_THROW(call("ij->ii", {a}), Error);
  EXPECT_THROW(call("ij->k", {a}), Error);
  EXPECT_THROW(call("ij,jk", {a, random_tensor(DType::kFloat64, {3, 2}, rng)}), Error);
  EXPECT_THROW(call("...ij,...j", {random_tensor(DType::kFloat32, {2, 3, 4}, rng),
                                   random_tensor(DType::kFloat32, {5, 4}, rng)}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
