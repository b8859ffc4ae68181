#include <gtest/gtest.h>

#include <limits>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "shape_test_util.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

using ir::DType;

const DType kDTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kFloat16};

// The positions Python's x[start:end:step] visits in a dim of `size`.
Idx python_slice(int64_t size, std::optional<int64_t> start, std::optional<int64_t> end,
                 int64_t step) {
  auto norm = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + size : *v;
    return std::min(std::max<int64_t>(x, 0), size);
  };
  Idx out;
  for (int64_t i = norm(start, 0); i < norm(end, size); i += step)
    out.push_back(i);
  return out;
}

// The elements of x at positions `pos` of dim `dim`.
ref::Tensor take(const ref::Tensor& x, size_t dim, const Idx& pos) {
  Idx sizes = x.sizes();
  sizes[dim] = static_cast<int64_t>(pos.size());
  return build(x.dtype(), sizes, [&](const Idx& o) {
    Idx i = o;
    i[dim] = pos[static_cast<size_t>(o[dim])];
    return at(x, i);
  });
}

TEST(ShapeSlice, SliceClampsNegativeAndPastTheEndBounds) {
  std::mt19937 rng(21);
  struct Case {
    int64_t dim;
    std::optional<int64_t> start, end;
    int64_t step;
  };
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const Case cases[] = {{0, {}, {}, 1},  {0, 1, 4, 1},   {0, -3, {}, 2}, {1, {}, -1, 1},
                        {-1, 2, 100, 1}, {0, -10, 2, 1}, {0, 3, 1, 1},   {0, 0, kMax, 3},
                        {1, -2, -1, 1},  {0, 5, {}, 1},  {1, 1, 3, 2}};
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {5, 4}, rng);
    for (const Case& c : cases) {
      TestArgs args = {{"self", x}, {"dim", c.dim}, {"step", c.step}};
      if (c.start) args.push_back({"start", *c.start});
      if (c.end) args.push_back({"end", *c.end});
      size_t dim = static_cast<size_t>((c.dim + 2) % 2);
      ref::Tensor want = take(x, dim, python_slice(x.sizes()[dim], c.start, c.end, c.step));
      EXPECT_TRUE(same_values(run_op_tensor("aten.slice.Tensor", args), want))
          << "dim " << c.dim << " step " << c.step;
    }
    EXPECT_THROW(run_op("aten.slice.Tensor", {{"self", x}, {"step", int64_t{0}}}), Error);
  }
  ref::Tensor s = random_tensor(DType::kFloat32, {}, rng);
  EXPECT_THROW(run_op("aten.slice.Tensor", {{"self", s}}), Error);
}

TEST(ShapeSlice, SelectAndNarrow) {
  std::mt19937 rng(22);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {3, 1, 4}, rng);
    for (int64_t index : {0, 2, -1, -3}) {
      ref::Tensor want = build(dtype, {1, 4}, [&](const Idx& o) {
        return at(x, {(index + 3) % 3, o[0], o[1]});
      });
      EXPECT_TRUE(same_values(
          run_op_tensor("aten.select.int", {{"self", x}, {"dim", int64_t{0}}, {"index", index}}),
          want));
    }
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.select.int",
                                  {{"self", x}, {"dim", int64_t{-1}}, {"index", int64_t{-2}}}),
                    build(dtype, {3, 1}, [&](const Idx& o) {
                      return at(x, {o[0], o[1], 2});
                    })));
    EXPECT_THROW(
        run_op("aten.select.int", {{"self", x}, {"dim", int64_t{0}}, {"index", int64_t{3}}}),
        Error);
    EXPECT_THROW(
        run_op("aten.select.int", {{"self", x}, {"dim", int64_t{0}}, {"index", int64_t{-4}}}),
        Error);
    EXPECT_TRUE(same_values(
        run_op_tensor(
            "aten.narrow.default",
            {{"self", x}, {"dim", int64_t{2}}, {"start", int64_t{1}}, {"length", int64_t{2}}}),
        take(x, 2, {1, 2})));
    EXPECT_TRUE(same_values(
        run_op_tensor(
            "aten.narrow.default",
            {{"self", x}, {"dim", int64_t{0}}, {"start", int64_t{-2}}, {"length", int64_t{2}}}),
        take(x, 0, {1, 2})));
    EXPECT_THROW(
        run_op("aten.narrow.default",
               {{"self", x}, {"dim", int64_t{2}}, {"start", int64_t{3}}, {"length", int64_t{2}}}),
        Error);
  }
}

std::vector<ref::Tensor> tensors(const std::vector<ref::RValue>& values) {
  std::vector<ref::Tensor> out;
  for (const auto& v : values)
    out.push_back(as_tensor(v));
  return out;
}

// Pieces of dim `dim` with the given lengths, cut out independently.
void expect_pieces(const std::vector<ref::Tensor>& got, const ref::Tensor& x, size_t dim,
                   const Idx& lengths) {
  ASSERT_EQ(got.size(), lengths.size());
  int64_t start = 0;
  for (size_t k = 0; k < lengths.size(); ++k) {
    Idx pos;
    for (int64_t i = 0; i < lengths[k]; ++i)
      pos.push_back(start + i);
    EXPECT_TRUE(same_values(got[k], take(x, dim, pos))) << "piece " << k;
    start += lengths[k];
  }
}

// The number of outputs of unbind/split/chunk depends on the split dim, so with every dim > 1
// made symbolic the shape rule rightly refuses; these run with known dims.
constexpr RunOptions kKnownDims{.symbolic_shapes = false};

TEST(ShapeSlice, UnbindSplitChunk) {
  std::mt19937 rng(23);
  for (DType dtype : kDTypes) {
    ref::Tensor x = random_tensor(dtype, {7, 2}, rng);
    auto unbound = tensors(run_op("aten.unbind.int", {{"self", x}}, kKnownDims));
    ASSERT_EQ(unbound.size(), 7u);
    for (int64_t i = 0; i < 7; ++i) {
      EXPECT_TRUE(same_values(unbound[static_cast<size_t>(i)], build(dtype, {2}, [&](const Idx& o) {
                                return at(x, {i, o[0]});
                              })));
    }
    expect_pieces(
        tensors(run_op("aten.split.Tensor", {{"self", x}, {"split_size", int64_t{3}}}, kKnownDims)),
        x, 0, {3, 3, 1});
    expect_pieces(tensors(run_op("aten.split.Tensor", {{"self", x}, {"split_size", int64_t{10}}},
                                 kKnownDims)),
                  x, 0, {7});
    expect_pieces(tensors(run_op("aten.split.Tensor",
                                 {{"self", x}, {"split_size", int64_t{1}}, {"dim", int64_t{-1}}},
                                 kKnownDims)),
                  x, 1, {1, 1});
    expect_pieces(
        tensors(run_op("aten.chunk.default", {{"self", x}, {"chunks", int64_t{4}}}, kKnownDims)), x,
        0, {2, 2, 2, 1});
    ref::Tensor six = random_tensor(dtype, {6}, rng);
    // ceil(6 / 4) = 2 per chunk: only 3 chunks.
    expect_pieces(
        tensors(run_op("aten.chunk.default", {{"self", six}, {"chunks", int64_t{4}}}, kKnownDims)),
        six, 0, {2, 2, 2});
    expect_pieces(tensors(run_op("aten.chunk.default", {{"self", x}, {"chunks", int64_t{1}}})), x,
                  0, {7});
    ref::Tensor empty(dtype, {0, 3});
    expect_pieces(tensors(run_op("aten.chunk.default", {{"self", empty}, {"chunks", int64_t{3}}})),
                  empty, 0, {0, 0, 0});
    // split_with_sizes has a known count even over symbolic dims.
    ref::Tensor y = random_tensor(dtype, {3, 4}, rng);
    expect_pieces(
        tensors(run_op("aten.split_with_sizes.default",
                       {{"self", y}, {"split_sizes", Idx{1, 0, 3}}, {"dim", int64_t{1}}})),
        y, 1, {1, 0, 3});
    EXPECT_THROW(run_op("aten.split_with_sizes.default", {{"self", y}, {"split_sizes", Idx{1, 1}}}),
                 Error);
    EXPECT_THROW(run_op("aten.chunk.default", {{"self", x}, {"chunks", int64_t{0}}}, kKnownDims),
                 Error);
    EXPECT_THROW(run_op("aten.split.Tensor", {{"self", x}, {"split_size", int64_t{0}}}, kKnownDims),
                 Error);
  }
  ref::Tensor column = random_tensor(DType::kFloat32, {3, 1}, rng);
  auto cols = tensors(run_op("aten.unbind.int", {{"self", column}, {"dim", int64_t{1}}}));
  ASSERT_EQ(cols.size(), 1u);
  EXPECT_TRUE(same_values(cols[0], build(DType::kFloat32, {3}, [&](const Idx& o) {
                            return at(column, {o[0], 0});
                          })));
}

TEST(ShapeSlice, SymbolicSplitDimIsRefusedOtherDimsStaySymbolic) {
  const sym::Expr s0 = sym::Expr::symbol("s0");
  {
    ManualCall call("aten.split.Tensor");
    call.tensor("self", {s0, 4});
    call.arg("split_size", int64_t{2});
    try {
      call.shape();
      ADD_FAILURE() << "split along a symbolic dim was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("symbolic size s0"), std::string::npos) << e.what();
    }
  }
  {
    ManualCall call("aten.split.Tensor");
    call.tensor("self", {s0, 4});
    call.arg("split_size", int64_t{3});
    call.arg("dim", int64_t{1});
    auto out = call.shape();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].tensor.str(), "f32[s0, 3]");
    EXPECT_EQ(out[1].tensor.str(), "f32[s0, 1]");
    EXPECT_EQ(out[1].tensor.storage_offset, sym::Expr(3));
  }
  {
    ManualCall call("aten.chunk.default");
    call.tensor("self", {s0});
    call.arg("chunks", int64_t{2});
    EXPECT_THROW(call.shape(), Error);
  }
}

TEST(ShapeSlice, SymbolicSliceBounds) {
  const sym::Expr s0 = sym::Expr::symbol("s0");
  const sym::Expr u0 = sym::Expr::symbol("u0");
  ManualCall call("aten.slice.Tensor");
  call.tensor("self", {s0, 8});
  call.arg("dim", int64_t{0});
  call.sym_arg("end", u0);
  auto out = call.shape();
  std::unordered_map<std::string, int64_t> env = {{"s0", 5}, {"u0", 3}};
  EXPECT_EQ(out[0].tensor.sizes[0].eval(env), 3);
  env["u0"] = 9;
  EXPECT_EQ(out[0].tensor.sizes[0].eval(env), 5);
  ManualCall tail("aten.slice.Tensor");
  tail.tensor("self", {s0, 8});
  tail.arg("start", int64_t{-2});
  tail.arg("step", int64_t{1});
  auto t = tail.shape();
  EXPECT_EQ(t[0].tensor.sizes[0].eval({{"s0", 5}}), 2);
  EXPECT_EQ(t[0].tensor.sizes[0].eval({{"s0", 1}}), 1);
  EXPECT_EQ(t[0].tensor.storage_offset.eval({{"s0", 5}}), 24);
}

TEST(ShapeSlice, SliceAndSelectScatter) {
  std::mt19937 rng(24);
  for (DType dtype : kDTypes) {
    ref::Tensor self = random_tensor(dtype, {5, 3}, rng);
    // Rows 1 and 3 (start 1, end -1, step 2) replaced.
    ref::Tensor src = random_tensor(dtype, {2, 3}, rng);
    ref::Tensor want = build(dtype, {5, 3}, [&](const Idx& o) {
      return o[0] == 1 || o[0] == 3 ? at(src, {(o[0] - 1) / 2, o[1]}) : at(self, o);
    });
    EXPECT_TRUE(same_values(run_op_tensor("aten.slice_scatter.default", {{"self", self},
                                                                         {"src", src},
                                                                         {"start", int64_t{1}},
                                                                         {"end", int64_t{-1}},
                                                                         {"step", int64_t{2}}}),
                            want));
    ref::Tensor col = random_tensor(dtype, {5, 1}, rng);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.slice_scatter.default",
                      {{"self", self}, {"src", col}, {"dim", int64_t{1}}, {"start", int64_t{-1}}}),
        build(dtype, {5, 3}, [&](const Idx& o) {
          return o[1] == 2 ? at(col, {o[0], 0}) : at(self, o);
        })));
    ref::Tensor row = random_tensor(dtype, {3}, rng);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.select_scatter.default",
                      {{"self", self}, {"src", row}, {"dim", int64_t{0}}, {"index", int64_t{-2}}}),
        build(dtype, {5, 3},
              [&](const Idx& o) { return o[0] == 3 ? at(row, {o[1]}) : at(self, o); })));
    EXPECT_THROW(run_op("aten.slice_scatter.default", {{"self", self}, {"src", row}}), Error);
    EXPECT_THROW(run_op("aten.select_scatter.default",
                        {{"self", self}, {"src", src}, {"dim", int64_t{0}}, {"index", int64_t{0}}}),
                 Error);
  }
  // src is converted to self's dtype.
  ref::Tensor self = random_tensor(DType::kFloat32, {2, 2}, rng);
  ref::Tensor src = random_tensor(DType::kInt64, {2, 1}, rng, -5, 5);
  ref::Tensor got =
      run_op_tensor("aten.slice_scatter.default",
                    {{"self", self}, {"src", src}, {"dim", int64_t{1}}, {"end", int64_t{1}}});
  EXPECT_TRUE(same_values(got, build(DType::kFloat32, {2, 2}, [&](const Idx& o) {
                            return o[1] == 0 ? static_cast<double>(src.get_int(o[0])) : at(self, o);
                          })));
}

}  // namespace
}  // namespace kiln::testing
