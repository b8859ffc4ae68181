// Embedding, gather, index_select, advanced indexing and scatter against loops written here.
#include <gtest/gtest.h>

#include <functional>

#include "op_harness.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

// Row-major flat index of a multi-index.
int64_t flat(const std::vector<int64_t>& sizes, const std::vector<int64_t>& idx) {
  int64_t f = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    f = f * sizes[d] + idx[d];
  return f;
}

ref::Tensor random_indices(DType dt, std::vector<int64_t> sizes, int64_t bound, std::mt19937& rng) {
  return random_tensor(dt, std::move(sizes), rng, 0, static_cast<double>(bound));
}

void expect_error_mentions(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(NnIndex, EmbeddingLooksUpRows) {
  std::mt19937 rng(71);
  for (DType wt : {DType::kFloat32, DType::kBFloat16, DType::kInt64}) {
    for (DType it : {DType::kInt64, DType::kInt32}) {
      for (auto sizes : {std::vector<int64_t>{5}, {2, 3}, {}, {1, 1}}) {
        ref::Tensor w = random_tensor(wt, {7, 4}, rng, -9, 9);
        ref::Tensor idx = random_indices(it, sizes, 7, rng);
        ref::Tensor got =
            run_op_tensor("aten.embedding.default", {{"weight", w}, {"indices", idx}});
        std::vector<int64_t> want_sizes = sizes;
        want_sizes.push_back(4);
        ref::Tensor want(wt, want_sizes);
        for (int64_t i = 0; i < idx.numel(); ++i) {
          for (int64_t c = 0; c < 4; ++c)
            want.set(i * 4 + c, w.get(idx.get_int(i) * 4 + c));
        }
        EXPECT_TRUE(same_values(got, want)) << got.str();
      }
    }
  }
  ref::Tensor w = random_tensor(DType::kFloat32, {4, 3}, rng);
  expect_error_mentions(
      [&] {
        run_op("aten.embedding.default",
               {{"weight", w}, {"indices", make_tensor(DType::kInt64, {2}, {1, 4})}});
      },
      "index 4 is out of range for a table of 4 rows");
  expect_error_mentions(
      [&] {
        run_op("aten.embedding.default",
               {{"weight", w}, {"indices", make_tensor(DType::kInt64, {2}, {-1, 0})}});
      },
      "index -1");
  EXPECT_THROW(run_op("aten.embedding.default",
                      {{"weight", w}, {"indices", make_tensor(DType::kFloat32, {1}, {1})}}),
               Error);
  EXPECT_THROW(
      run_op("aten.embedding.default", {{"weight", random_tensor(DType::kFloat32, {4}, rng)},
                                        {"indices", make_tensor(DType::kInt64, {1}, {1})}}),
      Error);
}

TEST(NnIndex, GatherAlongEachDim) {
  std::mt19937 rng(72);
  std::vector<int64_t> ss = {3, 4, 5};
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBool}) {
    for (int64_t dim = -3; dim < 3; ++dim) {
      int64_t d = (dim + 3) % 3;
      std::vector<int64_t> is = {2, 3, 1};
      is[static_cast<size_t>(d)] = 6;  // longer than self along dim is allowed
      ref::Tensor self = random_tensor(dt, ss, rng, -9, 9);
      ref::Tensor index = random_indices(DType::kInt64, is, ss[static_cast<size_t>(d)], rng);
      ref::Tensor got =
          run_op_tensor("aten.gather.default", {{"self", self}, {"dim", dim}, {"index", index}});
      ref::Tensor want(dt, is);
      for (int64_t i = 0; i < index.numel(); ++i) {
        std::vector<int64_t> p = {i / (is[1] * is[2]), (i / is[2]) % is[1], i % is[2]};
        p[static_cast<size_t>(d)] = index.get_int(i);
        want.set(i, self.get(flat(ss, p)));
      }
      EXPECT_TRUE(same_values(got, want));
    }
  }
  // 0-d self with a 0-d or one-element index.
  ref::Tensor s0 = random_tensor(DType::kFloat32, {}, rng);
  ref::Tensor g0 = run_op_tensor(
      "aten.gather.default",
      {{"self", s0}, {"dim", int64_t{0}}, {"index", make_tensor(DType::kInt64, {1}, {0})}});
  EXPECT_EQ(g0.sizes(), (std::vector<int64_t>{1}));
  EXPECT_EQ(g0.get(0), s0.get(0));
  ref::Tensor self = random_tensor(DType::kFloat32, {3, 4}, rng);
  expect_error_mentions(
      [&] {
        run_op("aten.gather.default", {{"self", self},
                                       {"dim", int64_t{1}},
                                       {"index", make_tensor(DType::kInt64, {1, 2}, {0, 4})}});
      },
      "index 4 is out of bounds for dimension 1 with size 4");
  expect_error_mentions(
      [&] {
        run_op("aten.gather.default", {{"self", self},
                                       {"dim", int64_t{1}},
                                       {"index", make_tensor(DType::kInt64, {1, 1}, {-1})}});
      },
      "index -1 is out of bounds");
  EXPECT_THROW(
      run_op("aten.gather.default", {{"self", self},
                                     {"dim", int64_t{1}},
                                     {"index", make_tensor(DType::kInt64, {4, 1}, {0, 0, 0, 0})}}),
      Error);
  EXPECT_THROW(run_op("aten.gather.default", {{"self", self},
                                              {"dim", int64_t{1}},
                                              {"index", make_tensor(DType::kInt64, {2}, {0, 0})}}),
               Error);
  EXPECT_THROW(run_op("aten.gather.default", {{"self", self},
                                              {"dim", int64_t{2}},
                                              {"index", make_tensor(DType::kInt64, {1, 1}, {0})}}),
               Error);
}

TEST(NnIndex, IndexSelect) {
  std::mt19937 rng(73);
  std::vector<int64_t> ss = {3, 1, 4};
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat16}) {
    for (int64_t dim : std::vector<int64_t>{0, 1, 2, -1}) {
      int64_t d = (dim + 3) % 3;
      for (auto is : {std::vector<int64_t>{5}, {}, {1}}) {
        ref::Tensor self = random_tensor(dt, ss, rng, -9, 9);
        ref::Tensor index = random_indices(DType::kInt32, is, ss[static_cast<size_t>(d)], rng);
        ref::Tensor got = run_op_tensor("aten.index_select.default",
                                        {{"self", self}, {"dim", dim}, {"index", index}});
        std::vector<int64_t> os = ss;
        os[static_cast<size_t>(d)] = index.numel();
        ref::Tensor want(dt, os);
        for (int64_t i = 0; i < want.numel(); ++i) {
          std::vector<int64_t> p = {i / (os[1] * os[2]), (i / os[2]) % os[1], i % os[2]};
          p[static_cast<size_t>(d)] = index.get_int(p[static_cast<size_t>(d)]);
          want.set(i, self.get(flat(ss, p)));
        }
        EXPECT_TRUE(same_values(got, want));
      }
    }
  }
  ref::Tensor s0 = random_tensor(DType::kFloat32, {}, rng);
  ref::Tensor g0 = run_op_tensor(
      "aten.index_select.default",
      {{"self", s0}, {"dim", int64_t{0}}, {"index", make_tensor(DType::kInt64, {}, {0})}});
  EXPECT_EQ(g0.dim(), 0);
  EXPECT_EQ(g0.get(0), s0.get(0));
  ref::Tensor self = random_tensor(DType::kFloat32, {3, 4}, rng);
  expect_error_mentions(
      [&] {
        run_op("aten.index_select.default", {{"self", self},
                                             {"dim", int64_t{0}},
                                             {"index", make_tensor(DType::kInt64, {2}, {1, -1})}});
      },
      "index -1 is out of bounds for dimension 0 with size 3");
  EXPECT_THROW(
      run_op("aten.index_select.default", {{"self", self},
                                           {"dim", int64_t{0}},
                                           {"index", make_tensor(DType::kInt64, {1, 1}, {0})}}),
      Error);
  EXPECT_THROW(
      run_op(
          "aten.index_select.default",
          {{"self", s0}, {"dim", int64_t{0}}, {"index", make_tensor(DType::kInt64, {2}, {0, 0})}}),
      Error);
}

// x [3, 4, 5, 6] indexed by lists mixing None and index tensors.
TEST(NnIndex, AdvancedIndexPlacesTheBroadcastBlock) {
  std::mt19937 rng(74);
  std::vector<int64_t> xs = {3, 4, 5, 6};
  for (DType dt : {DType::kFloat32, DType::kInt64}) {
    ref::Tensor x = random_tensor(dt, xs, rng, -9, 9);
    ref::Tensor i = make_tensor(DType::kInt64, {2}, {0, -1});  // -1 wraps to 3
    ref::Tensor j = make_tensor(DType::kInt32, {2, 1}, {4, 2});
    using Opt = std::vector<std::optional<ref::Tensor>>;
    // Adjacent [None, i, j]: the [2, 2] block stays at dim 1.
    ref::Tensor a =
        run_op_tensor("aten.index.Tensor", {{"self", x}, {"indices", Opt{std::nullopt, i, j}}});
    ASSERT_EQ(a.sizes(), (std::vector<int64_t>{3, 2, 2, 6}));
    for (int64_t p = 0; p < 3; ++p) {
      for (int64_t b0 = 0; b0 < 2; ++b0) {
        for (int64_t b1 = 0; b1 < 2; ++b1) {
          for (int64_t q = 0; q < 6; ++q) {
            int64_t ii = b1 == 0 ? 0 : 3, jj = j.get_int(b0);
            EXPECT_EQ(a.get(flat({3, 2, 2, 6}, {p, b0, b1, q})), x.get(flat(xs, {p, ii, jj, q})));
          }
        }
      }
    }
    // Separated [i, None, j]: the block goes first.
    ref::Tensor s =
        run_op_tensor("aten.index.Tensor", {{"self", x}, {"indices", Opt{i, std::nullopt, j}}});
    ASSERT_EQ(s.sizes(), (std::vector<int64_t>{2, 2, 4, 6}));
    for (int64_t b0 = 0; b0 < 2; ++b0) {
      for (int64_t b1 = 0; b1 < 2; ++b1) {
        for (int64_t c = 0; c < 4; ++c) {
          for (int64_t q = 0; q < 6; ++q) {
            int64_t ii = b1 == 0 ? 0 : 2, jj = j.get_int(b0);
            EXPECT_EQ(s.get(flat({2, 2, 4, 6}, {b0, b1, c, q})), x.get(flat(xs, {ii, c, jj, q})));
          }
        }
      }
    }
    // One 2-D index in the middle with trailing dims left alone.
    ref::Tensor k = random_indices(DType::kInt64, {2, 3}, 4, rng);
    ref::Tensor m = run_op_tensor("aten.index.Tensor",
                                  {{"self", x}, {"indices", Opt{std::nullopt, k, std::nullopt}}});
    ASSERT_EQ(m.sizes(), (std::vector<int64_t>{3, 2, 3, 5, 6}));
    for (int64_t f = 0; f < m.numel(); ++f) {
      int64_t q = f % 6, c = (f / 6) % 5, kk = (f / 30) % 6, p = f / 180;
      EXPECT_EQ(m.get(f), x.get(flat(xs, {p, k.get_int(kk), c, q})));
    }
    // A 0-d index drops its dim.
    ref::Tensor z = run_op_tensor(
        "aten.index.Tensor", {{"self", x}, {"indices", Opt{make_tensor(DType::kInt64, {}, {2})}}});
    ASSERT_EQ(z.sizes(), (std::vector<int64_t>{4, 5, 6}));
    for (int64_t f = 0; f < z.numel(); ++f)
      EXPECT_EQ(z.get(f), x.get(2 * 120 + f));
  }
}

// The result size of a mask is its nonzero count, known only from the data: these checks use
// concrete shapes only (the symbolic shape rule takes the size from the graph's recorded
// output, which a one-op test does not have).
TEST(NnIndex, BoolMasksSelectTheirNonzeros) {
  std::mt19937 rng(75);
  const RunOptions concrete{.symbolic_shapes = false};
  using Opt = std::vector<std::optional<ref::Tensor>>;
  std::vector<int64_t> xs = {3, 4, 5, 6};
  ref::Tensor x = random_tensor(DType::kFloat32, xs, rng);
  ref::Tensor mask = random_tensor(DType::kBool, {3, 4}, rng);
  std::vector<std::pair<int64_t, int64_t>> hits;
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t c = 0; c < 4; ++c) {
      if (mask.get_int(r * 4 + c) != 0) hits.emplace_back(r, c);
    }
  }
  ref::Tensor a =
      run_op_tensor("aten.index.Tensor", {{"self", x}, {"indices", Opt{mask}}}, concrete);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{static_cast<int64_t>(hits.size()), 5, 6}));
  for (size_t n = 0; n < hits.size(); ++n) {
    for (int64_t f = 0; f < 30; ++f)
      EXPECT_EQ(a.get(static_cast<int64_t>(n) * 30 + f),
                x.get((hits[n].first * 4 + hits[n].second) * 30 + f));
  }
  // A mask over dims 1-2, behind a None; a uint8 mask acts as a bool one.
  ref::Tensor m2 = random_tensor(DType::kUInt8, {4, 5}, rng, 0, 2);
  ref::Tensor b = run_op_tensor("aten.index.Tensor",
                                {{"self", x}, {"indices", Opt{std::nullopt, m2}}}, concrete);
  std::vector<int64_t> on;
  for (int64_t f = 0; f < 20; ++f) {
    if (m2.get_int(f) != 0) on.push_back(f);
  }
  int64_t nnz = static_cast<int64_t>(on.size());
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{3, nnz, 6}));
  for (int64_t p = 0; p < 3; ++p) {
    for (int64_t n = 0; n < nnz; ++n) {
      for (int64_t q = 0; q < 6; ++q)
        EXPECT_EQ(b.get((p * nnz + n) * 6 + q),
                  x.get((p * 20 + on[static_cast<size_t>(n)]) * 6 + q));
    }
  }
  // A mask and an int index, not adjacent: block first, broadcast together.
  ref::Tensor m3 = make_tensor(DType::kBool, {3}, {1, 0, 1});
  ref::Tensor i = make_tensor(DType::kInt64, {2}, {4, 1});
  ref::Tensor c = run_op_tensor("aten.index.Tensor",
                                {{"self", x}, {"indices", Opt{m3, std::nullopt, i}}}, concrete);
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{2, 4, 6}));
  int64_t rows[] = {0, 2};
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t r = 0; r < 4; ++r) {
      for (int64_t q = 0; q < 6; ++q)
        EXPECT_EQ(c.get((n * 4 + r) * 6 + q), x.get(flat(xs, {rows[n], r, i.get_int(n), q})));
    }
  }
  // Without the data, the shape rule cannot size the result and says so.
  expect_error_mentions(
      [&] {
        run_op("aten.index.Tensor", {{"self", x}, {"indices", Opt{mask}}});
      },
      "data-dependent");
}

TEST(NnIndex, AdvancedIndexErrors) {
  std::mt19937 rng(76);
  using Opt = std::vector<std::optional<ref::Tensor>>;
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng);
  auto call = [&](Opt idx) { return run_op("aten.index.Tensor", {{"self", x}, {"indices", idx}}); };
  expect_error_mentions([&] { call({make_tensor(DType::kInt64, {1}, {3})}); },
                        "index 3 is out of bounds for dimension 0 with size 3");
  expect_error_mentions(
      [&] {
        call({std::nullopt, make_tensor(DType::kInt64, {1}, {-5})});
      },
      "index -5 is out of bounds for dimension 1 with size 4");
  EXPECT_THROW(call({make_tensor(DType::kFloat32, {1}, {1})}), Error);
  EXPECT_THROW(call({make_tensor(DType::kInt64, {1}, {0}), make_tensor(DType::kInt64, {1}, {0}),
                     make_tensor(DType::kInt64, {1}, {0})}),
               Error);
  EXPECT_THROW(call({std::nullopt}), Error);
  EXPECT_THROW(call({}), Error);
  EXPECT_THROW(call({make_tensor(DType::kBool, {2, 4}, {1, 0, 1, 0, 1, 0, 1, 0})}), Error);
  EXPECT_THROW(
      call({make_tensor(DType::kInt64, {2}, {0, 1}), make_tensor(DType::kInt64, {3}, {0, 1, 2})}),
      Error);
}

// Scatter by hand: out = self, then each index position p writes src[p] (or value) at p with
// dim replaced by index[p].
ref::Tensor naive_scatter(const ref::Tensor& self, int64_t dim, const ref::Tensor& index,
                          const ref::Tensor* src, double value, bool add) {
  ref::Tensor out = self;
  std::vector<double> acc(static_cast<size_t>(self.numel()));
  for (int64_t i = 0; i < self.numel(); ++i)
    acc[static_cast<size_t>(i)] = self.get(i);
  const auto& is = index.sizes();
  for (int64_t i = 0; i < index.numel(); ++i) {
    std::vector<int64_t> p(is.size());
    int64_t rem = i;
    for (size_t d = is.size(); d-- > 0;) {
      p[d] = rem % is[d];
      rem /= is[d];
    }
    double v = src ? src->get(flat(src->sizes(), p)) : value;
    p[static_cast<size_t>(dim)] = index.get_int(i);
    int64_t t = flat(self.sizes(), p);
    acc[static_cast<size_t>(t)] = add ? acc[static_cast<size_t>(t)] + v : v;
  }
  for (int64_t i = 0; i < out.numel(); ++i)
    out.set(i, acc[static_cast<size_t>(i)]);
  return out;
}

TEST(NnIndex, ScatterSrcValueAndAdd) {
  std::mt19937 rng(77);
  std::vector<int64_t> ss = {4, 5, 3};
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    for (int64_t dim : std::vector<int64_t>{0, 1, -1}) {
      int64_t d = (dim + 3) % 3;
      ref::Tensor self = random_tensor(dt, ss, rng, -9, 9);
      std::vector<int64_t> is = {2, 3, 1};
      is[static_cast<size_t>(d)] = 4;
      ref::Tensor index = random_indices(DType::kInt64, is, ss[static_cast<size_t>(d)], rng);
      ref::Tensor src = random_tensor(dt, {4, 5, 4}, rng, -9, 9);  // larger than index
      TestArgs base = {{"self", self}, {"dim", dim}, {"index", index}};
      TestArgs with_src = base;
      with_src.emplace_back("src", src);
      // scatter_add sums duplicates; scatter's duplicate writes are unordered in PyTorch, so
      // it is checked on an index that is a permutation along dim.
      ref::Tensor add = run_op_tensor("aten.scatter_add.default", with_src);
      EXPECT_TENSOR_NEAR(add, naive_scatter(self, d, index, &src, 0, true),
                         dt == DType::kBFloat16 ? 1e-2 : 1e-9);
      EXPECT_TRUE(same_values(run_op_tensor("aten.scatter_add_.default", with_src), add));
      std::vector<int64_t> ps = is;
      ps[static_cast<size_t>(d)] = ss[static_cast<size_t>(d)];
      ref::Tensor perm(DType::kInt64, ps);
      for (int64_t i = 0; i < perm.numel(); ++i) {
        int64_t inner = d == 0 ? ps[1] * ps[2] : d == 1 ? ps[2] : 1;
        perm.set_int(i,
                     ((i / inner) % ps[static_cast<size_t>(d)] + 1) % ps[static_cast<size_t>(d)]);
      }
      TestArgs perm_src = {{"self", self}, {"dim", dim}, {"index", perm}, {"src", src}};
      ref::Tensor sc = run_op_tensor("aten.scatter.src", perm_src);
      EXPECT_TRUE(same_values(sc, naive_scatter(self, d, perm, &src, 0, false)));
      EXPECT_TRUE(same_values(run_op_tensor("aten.scatter_.src", perm_src), sc));
      TestArgs with_value = base;
      with_value.emplace_back("value", -2.75);
      ref::Tensor sv = run_op_tensor("aten.scatter.value", with_value);
      // A float value into an integral tensor truncates (PyTorch: -2.75 -> -2).
      EXPECT_TRUE(same_values(
          sv, naive_scatter(self, d, index, nullptr, dt == DType::kInt64 ? -2 : -2.75, false)));
      EXPECT_TRUE(same_values(run_op_tensor("aten.scatter_.value", with_value), sv));
    }
  }
  // bool scatter_add is a logical or.
  ref::Tensor bself = make_tensor(DType::kBool, {2, 2}, {0, 0, 1, 0});
  ref::Tensor bsrc = make_tensor(DType::kBool, {2, 2}, {1, 1, 0, 0});
  ref::Tensor bidx = make_tensor(DType::kInt64, {2, 2}, {0, 0, 1, 1});
  ref::Tensor bout =
      run_op_tensor("aten.scatter_add.default",
                    {{"self", bself}, {"dim", int64_t{1}}, {"index", bidx}, {"src", bsrc}});
  EXPECT_TRUE(same_values(bout, make_tensor(DType::kBool, {2, 2}, {1, 0, 1, 0})));
  ref::Tensor self = random_tensor(DType::kFloat32, {3, 4}, rng);
  ref::Tensor s = random_tensor(DType::kFloat32, {3, 4}, rng);
  expect_error_mentions(
      [&] {
        run_op("aten.scatter.src", {{"self", self},
                                    {"dim", int64_t{1}},
                                    {"index", make_tensor(DType::kInt64, {1, 1}, {4})},
                                    {"src", s}});
      },
      "index 4 is out of bounds for dimension 1 with size 4");
  EXPECT_THROW(run_op("aten.scatter.src", {{"self", self},
                                           {"dim", int64_t{1}},
                                           {"index", make_tensor(DType::kInt64, {1, 1}, {0})},
                                           {"src", random_tensor(DType::kFloat64, {3, 4}, rng)}}),
               Error);
  EXPECT_THROW(
      run_op("aten.scatter.src", {{"self", self},
                                  {"dim", int64_t{1}},
                                  {"index", make_tensor(DType::kInt64, {3, 2}, {0, 0, 0, 0, 0, 0})},
                                  {"src", random_tensor(DType::kFloat32, {3, 1}, rng)}}),
      Error);
  EXPECT_THROW(
      run_op("aten.scatter.value", {{"self", self},
                                    {"dim", int64_t{1}},
                                    {"index", make_tensor(DType::kInt64, {4, 1}, {0, 0, 0, 0})},
                                    {"value", 1.0}}),
      Error);
  EXPECT_THROW(
      run_op("aten.scatter_add.default", {{"self", self},
                                          {"dim", int64_t{1}},
                                          {"index", make_tensor(DType::kInt64, {3}, {0, 0, 0})},
                                          {"src", s}}),
      Error);
}

}  // namespace
}  // namespace kiln::testing
