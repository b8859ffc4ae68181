#include <gtest/gtest.h>

#include "op_harness.h"
#include "shape_test_util.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

const DType kDTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kBFloat16};

TEST(ShapeConcat, CatAlongEachDimWithSizeOneParts) {
  std::mt19937 rng(31);
  for (DType dtype : kDTypes) {
    ref::Tensor a = random_tensor(dtype, {2, 3}, rng);
    ref::Tensor b = random_tensor(dtype, {1, 3}, rng);
    ref::Tensor c = random_tensor(dtype, {4, 3}, rng);
    ref::Tensor want0 = build(dtype, {7, 3}, [&](const Idx& o) {
      if (o[0] < 2) return at(a, o);
      if (o[0] < 3) return at(b, {0, o[1]});
      return at(c, {o[0] - 3, o[1]});
    });
    for (const char* op : {"aten.cat.default", "aten.concat.default"}) {
      EXPECT_TRUE(
          same_values(run_op_tensor(op, {{"tensors", std::vector<ref::Tensor>{a, b, c}}}), want0));
    }
    ref::Tensor d = random_tensor(dtype, {2, 1}, rng);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.cat.default",
                      {{"tensors", std::vector<ref::Tensor>{d, a}}, {"dim", int64_t{-1}}}),
        build(dtype, {2, 4}, [&](const Idx& o) {
          return o[1] == 0 ? at(d, {o[0], 0}) : at(a, {o[0], o[1] - 1});
        })));
    EXPECT_THROW(run_op("aten.cat.default", {{"tensors", std::vector<ref::Tensor>{a, d}}}), Error);
    EXPECT_THROW(run_op("aten.cat.default",
                        {{"tensors", std::vector<ref::Tensor>{a, random_tensor(dtype, {3}, rng)}}}),
                 Error);
  }
}

TEST(ShapeConcat, CatPromotesAndSkipsLegacyEmptyTensors) {
  std::mt19937 rng(32);
  ref::Tensor i = random_tensor(DType::kInt64, {2, 2}, rng, -9, 9);
  ref::Tensor f = random_tensor(DType::kFloat16, {1, 2}, rng);
  ref::Tensor empty(DType::kFloat64, {0});
  ref::Tensor got =
      run_op_tensor("aten.cat.default", {{"tensors", std::vector<ref::Tensor>{i, empty, f}}});
  // int64 with float16 gives float16; the skipped float64 tensor still takes part: float64.
  EXPECT_TRUE(same_values(got, build(DType::kFloat64, {3, 2}, [&](const Idx& o) {
                            return o[0] < 2 ? at(i, o) : at(f, {0, o[1]});
                          })));
  ref::Tensor b = random_tensor(DType::kBool, {1, 2}, rng);
  EXPECT_EQ(
      run_op_tensor("aten.cat.default", {{"tensors", std::vector<ref::Tensor>{b, i}}}).dtype(),
      DType::kInt64);
  EXPECT_EQ(run_op_tensor("aten.cat.default", {{"tensors", std::vector<ref::Tensor>{empty}}}).str(),
            "f64[0]");
  EXPECT_THROW(run_op("aten.cat.default", {{"tensors", std::vector<ref::Tensor>{}}}), Error);
  EXPECT_THROW(
      run_op("aten.cat.default",
             {{"tensors", std::vector<ref::Tensor>{make_tensor(DType::kFloat32, {}, {1})}}}),
      Error);
}

TEST(ShapeConcat, StackInsertsANewDim) {
  std::mt19937 rng(33);
  for (DType dtype : kDTypes) {
    ref::Tensor a = random_tensor(dtype, {2, 3}, rng);
    ref::Tensor b = random_tensor(dtype, {2, 3}, rng);
    for (int64_t dim : {0, 1, 2, -1}) {
      int64_t d = (dim + 3) % 3;
      Idx sizes = {2, 3};
      sizes.insert(sizes.begin() + d, 2);
      ref::Tensor want = build(dtype, sizes, [&](const Idx& o) {
        Idx i = o;
        int64_t which = o[static_cast<size_t>(d)];
        i.erase(i.begin() + d);
        return at(which == 0 ? a : b, i);
      });
      EXPECT_TRUE(
          same_values(run_op_tensor("aten.stack.default",
                                    {{"tensors", std::vector<ref::Tensor>{a, b}}, {"dim", dim}}),
                      want));
    }
    EXPECT_THROW(
        run_op("aten.stack.default",
               {{"tensors", std::vector<ref::Tensor>{a, random_tensor(dtype, {3, 2}, rng)}}}),
        Error);
  }
  ref::Tensor s = random_tensor(DType::kInt64, {}, rng);
  ref::Tensor f = random_tensor(DType::kFloat32, {}, rng);
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.stack.default", {{"tensors", std::vector<ref::Tensor>{s, f}}}),
      make_tensor(DType::kFloat32, {2}, {s.get(0), f.get(0)})));
}

// Independent padding index maps for one dim: the source position of output position o.
int64_t reflect(int64_t o, int64_t l, int64_t n) {
  int64_t i = o - l;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}
int64_t replicate(int64_t o, int64_t l, int64_t n) {
  return std::min(std::max<int64_t>(o - l, 0), n - 1);
}

TEST(ShapeConcat, ConstantPaddingPadsAndCrops) {
  std::mt19937 rng(34);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 4}, rng);
    // Last dim: 1 left, 2 right; middle dim: crop 1 at the top.
    Idx pad = {1, 2, -1, 0};
    auto want = [&](double value) {
      return build(dtype, {2, 2, 7}, [&](const Idx& o) {
        int64_t w = o[2] - 1, h = o[1] + 1;
        return w >= 0 && w < 4 ? at(x, {o[0], h, w}) : value;
      });
    };
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.constant_pad_nd.default", {{"self", x}, {"pad", pad}, {"value", 1.0}}),
        want(1.0)));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.constant_pad_nd.default", {{"self", x}, {"pad", pad}}), want(0.0)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.pad.default", {{"self", x}, {"pad", pad}, {"value", -1.5}}),
                    want(-1.5)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.pad.default",
                                  {{"self", x}, {"pad", pad}, {"mode", std::string("constant")}}),
                    want(0.0)));
    EXPECT_THROW(run_op("aten.constant_pad_nd.default", {{"self", x}, {"pad", Idx{1}}}), Error);
    EXPECT_THROW(run_op("aten.constant_pad_nd.default", {{"self", x}, {"pad", Idx{-3, -2}}}),
                 Error);
    EXPECT_THROW(run_op("aten.constant_pad_nd.default", {{"self", x}, {"pad", Idx(8, 1)}}), Error);
  }
  // An int tensor truncates a float pad value.
  ref::Tensor i = random_tensor(DType::kInt64, {1, 2}, rng, -5, 5);
  EXPECT_TRUE(same_values(run_op_tensor("aten.constant_pad_nd.default",
                                        {{"self", i}, {"pad", Idx{0, 1}}, {"value", 2.7}}),
                          make_tensor(DType::kInt64, {1, 3}, {i.get(0), i.get(1), 2})));
}

TEST(ShapeConcat, ReflectReplicateCircularPadding) {
  std::mt19937 rng(35);
  for (DType dtype : {DType::kFloat32, DType::kInt64, DType::kBFloat16}) {
    ref::Tensor x = random_tensor(dtype, {2, 3, 5}, rng);
    struct Case {
      Idx pad;
      Idx out;
    };
    for (const Case& c : {Case{{2, 3}, {2, 3, 10}}, Case{{-1, 2}, {2, 3, 6}},
                          Case{{1, 1, 2, 0}, {2, 5, 7}}, Case{{0, -2, 1, 1}, {2, 5, 3}}}) {
      Idx pad = c.pad;
      auto src = [&](int64_t (*f)(int64_t, int64_t, int64_t)) {
        return build(dtype, c.out, [&](const Idx& o) {
          Idx i = o;
          i[2] = f(o[2], pad[0], 5);
          if (pad.size() == 4) i[1] = f(o[1], pad[2], 3);
          return at(x, i);
        });
      };
      if (pad[0] < 5 && pad[1] < 5 && (pad.size() == 2 || (pad[2] < 3 && pad[3] < 3))) {
        EXPECT_TRUE(same_values(
            run_op_tensor("aten.pad.default",
                          {{"self", x}, {"pad", pad}, {"mode", std::string("reflect")}}),
            src(reflect)));
      }
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.pad.default",
                        {{"self", x}, {"pad", pad}, {"mode", std::string("replicate")}}),
          src(replicate)));
    }
    // Circular: x[..., (o - l) mod n]; the rows wrap too.
    ref::Tensor got =
        run_op_tensor("aten.pad.default",
                      {{"self", x}, {"pad", Idx{2, 1, 1, 2}}, {"mode", std::string("circular")}});
    EXPECT_TRUE(same_values(got, build(dtype, {2, 6, 8}, [&](const Idx& o) {
                              return at(x, {o[0], (o[1] - 1 + 3) % 3, (o[2] - 2 + 5) % 5});
                            })));
    // Negative circular padding crops first, then wraps what is left: columns 1..4 ->
    // [1,2,3,4,1,2].
    got = run_op_tensor("aten.pad.default",
                        {{"self", x}, {"pad", Idx{-1, 2}}, {"mode", std::string("circular")}});
    EXPECT_TRUE(same_values(got, build(dtype, {2, 3, 6}, [&](const Idx& o) {
                              return at(x, {o[0], o[1], 1 + o[2] % 4});
                            })));
    EXPECT_THROW(run_op("aten.pad.default",
                        {{"self", x}, {"pad", Idx{5, 0}}, {"mode", std::string("reflect")}}),
                 Error);
    EXPECT_THROW(run_op("aten.pad.default",
                        {{"self", x}, {"pad", Idx{6, 0}}, {"mode", std::string("circular")}}),
                 Error);
    EXPECT_THROW(
        run_op("aten.pad.default",
               {{"self", x}, {"pad", Idx{1, 1}}, {"mode", std::string("reflect")}, {"value", 1.0}}),
        Error);
    EXPECT_THROW(run_op("aten.pad.default",
                        {{"self", x}, {"pad", Idx{1, 1}}, {"mode", std::string("wrap")}}),
                 Error);
    EXPECT_THROW(
        run_op("aten.pad.default",
               {{"self", x}, {"pad", Idx{1, 1, 1, 1, 1, 1}}, {"mode", std::string("replicate")}}),
        Error);
  }
}

TEST(ShapeConcat, RepeatAndTile) {
  std::mt19937 rng(36);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.repeat.default", {{"self", x}, {"repeats", Idx{2, 1, 2}}}),
                    build(dtype, {2, 2, 6}, [&](const Idx& o) {
                      return at(x, {o[1], o[2] % 3});
                    })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.repeat.default", {{"self", x}, {"repeats", Idx{1, 1}}}), x));
    EXPECT_EQ(run_op_tensor("aten.repeat.default", {{"self", x}, {"repeats", Idx{0, 2}}}).str(),
              ref::Tensor(dtype, {0, 6}).str());
    EXPECT_THROW(run_op("aten.repeat.default", {{"self", x}, {"repeats", Idx{2}}}), Error);
    // tile pads the repeats with leading ones.
    EXPECT_TRUE(same_values(run_op_tensor("aten.tile.default", {{"self", x}, {"dims", Idx{3}}}),
                            build(dtype, {2, 9}, [&](const Idx& o) {
                              return at(x, {o[0], o[1] % 3});
                            })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.tile.default", {{"self", x}, {"dims", Idx{2, 1, 1}}}),
                    build(dtype, {2, 2, 3}, [&](const Idx& o) {
                      return at(x, {o[1], o[2]});
                    })));
  }
}

TEST(ShapeConcat, RepeatInterleave) {
  std::mt19937 rng(37);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {2, 3}, rng);
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.repeat_interleave.self_int",
                                  {{"self", x}, {"repeats", int64_t{2}}, {"dim", int64_t{1}}}),
                    build(dtype, {2, 6}, [&](const Idx& o) {
                      return at(x, {o[0], o[1] / 2});
                    })));
    // No dim: over the flattened input.
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.repeat_interleave.self_int", {{"self", x}, {"repeats", int64_t{3}}}),
        build(dtype, {18}, [&](const Idx& o) { return x.get(o[0] / 3); })));
    ref::Tensor reps = make_tensor(DType::kInt64, {3}, {2, 0, 1});
    ref::Tensor want = build(dtype, {2, 3}, [&](const Idx& o) {
      const int64_t col[] = {0, 0, 2};
      return at(x, {o[0], col[o[1]]});
    });
    // The output size depends on the repeats' values: known in the reference, not from the
    // symbolic types alone.
    EXPECT_TRUE(same_values(run_op_tensor("aten.repeat_interleave.self_Tensor",
                                          {{"self", x}, {"repeats", reps}, {"dim", int64_t{-1}}},
                                          RunOptions{.symbolic_shapes = false}),
                            want));
    // With output_size given the shape rule needs no values.
    EXPECT_TRUE(same_values(
        run_op_tensor(
            "aten.repeat_interleave.self_Tensor",
            {{"self", x}, {"repeats", reps}, {"dim", int64_t{1}}, {"output_size", int64_t{3}}}),
        want));
    ref::Tensor one = make_tensor(DType::kInt32, {1}, {2});
    EXPECT_TRUE(same_values(run_op_tensor("aten.repeat_interleave.self_Tensor",
                                          {{"self", x}, {"repeats", one}, {"dim", int64_t{0}}},
                                          RunOptions{.symbolic_shapes = false}),
                            build(dtype, {4, 3}, [&](const Idx& o) {
                              return at(x, {o[0] / 2, o[1]});
                            })));
    EXPECT_THROW(run_op("aten.repeat_interleave.self_Tensor",
                        {{"self", x},
                         {"repeats", make_tensor(DType::kInt64, {2}, {1, 1})},
                         {"dim", int64_t{1}}},
                        RunOptions{.symbolic_shapes = false}),
                 Error);
    EXPECT_THROW(run_op("aten.repeat_interleave.self_Tensor",
                        {{"self", x},
                         {"repeats", make_tensor(DType::kInt64, {3}, {1, -1, 1})},
                         {"dim", int64_t{1}}},
                        RunOptions{.symbolic_shapes = false}),
                 Error);
    EXPECT_THROW(run_op("aten.repeat_interleave.self_Tensor",
                        {{"self", x},
                         {"repeats", make_tensor(DType::kFloat32, {3}, {1, 1, 1})},
                         {"dim", int64_t{1}}},
                        RunOptions{.symbolic_shapes = false}),
                 Error);
    EXPECT_THROW(run_op("aten.repeat_interleave.self_int", {{"self", x}, {"repeats", int64_t{-1}}}),
                 Error);
  }
}

TEST(ShapeConcat, RepeatInterleaveOfCountsOnly) {
  std::mt19937 rng(38);
  for (DType dtype : {DType::kInt64, DType::kInt32}) {
    ref::Tensor reps = random_tensor(dtype, {5}, rng, 0, 4);
    std::vector<double> want;
    for (int64_t k = 0; k < 5; ++k) {
      for (int64_t c = 0; c < reps.get_int(k); ++c)
        want.push_back(static_cast<double>(k));
    }
    ref::Tensor expected = make_tensor(dtype, {static_cast<int64_t>(want.size())}, want);
    // Data-dependent size: known from the values only.
    EXPECT_TRUE(same_values(run_op_tensor("aten.repeat_interleave.Tensor", {{"repeats", reps}},
                                          RunOptions{.symbolic_shapes = false}),
                            expected));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.repeat_interleave.Tensor",
                      {{"repeats", reps}, {"output_size", static_cast<int64_t>(want.size())}}),
        expected));
    EXPECT_THROW(
        run_op("aten.repeat_interleave.Tensor",
               {{"repeats", reps}, {"output_size", static_cast<int64_t>(want.size()) + 1}}),
        Error);
  }
  EXPECT_THROW(
      run_op("aten.repeat_interleave.Tensor", {{"repeats", make_tensor(DType::kInt64, {}, {3})}},
             RunOptions{.symbolic_shapes = false}),
      Error);
  EXPECT_THROW(run_op("aten.repeat_interleave.Tensor",
                      {{"repeats", make_tensor(DType::kInt64, {2}, {1, -1})}},
                      RunOptions{.symbolic_shapes = false}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
