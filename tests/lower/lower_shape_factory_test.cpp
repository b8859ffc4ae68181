// Lowering of factories, fills and copy against the reference interpreter. Factories whose
// arguments are all literals would be folded into constants by the backend passes, and the
// _like/new_/zeros/ones forms are rewritten to full by decomposition, so those run without the
// passes (and full/arange once more, large enough that folding leaves them in the graph).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lower/lower_harness.h"
#include "op_harness.h"

namespace kiln::testing {
namespace {

using ir::DType;
using Sizes = std::vector<int64_t>;
using Ints = std::vector<int64_t>;

LowerCheckOptions unfolded() {
  LowerCheckOptions o;
  o.run_backend_passes = false;
  return o;
}

const DType kDtypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                         DType::kInt32,   DType::kInt64,   DType::kUInt8,    DType::kBool};

TEST(LowerShapeFactory, FullAndItsForms) {
  for (DType dtype : kDtypes) {
    SCOPED_TRACE(std::string(ir::dtype_name(dtype)));
    for (const Sizes& s : {Sizes{2, 3}, Sizes{1}, Sizes{}, Sizes{4, 1, 2}}) {
      ref::Tensor x(dtype, s);
      for (const TestArg& v :
           {TestArg(2.75), TestArg(int64_t{-3}), TestArg(true), TestArg(int64_t{300})}) {
        check_lowered_op("aten.full.default", {{"size", s}, {"fill_value", v}, {"dtype", dtype}},
                         unfolded());
        check_lowered_op("aten.full_like.default", {{"self", x}, {"fill_value", v}}, unfolded());
        check_lowered_op("aten.new_full.default",
                         {{"self", x}, {"size", Ints{3, 2}}, {"fill_value", v}});
        check_lowered_op("aten.fill.Scalar", {{"self", x}, {"value", v}});
      }
      check_lowered_op("aten.zeros_like.default", {{"self", x}}, unfolded());
      check_lowered_op("aten.ones_like.default", {{"self", x}}, unfolded());
      check_lowered_op("aten.empty_like.default", {{"self", x}}, unfolded());
      check_lowered_op("aten.new_zeros.default", {{"self", x}, {"size", Ints{2, 2}}}, unfolded());
      check_lowered_op("aten.new_ones.default", {{"self", x}, {"size", Ints{5}}}, unfolded());
      check_lowered_op("aten.new_empty.default", {{"self", x}, {"size", Ints{1, 3}}}, unfolded());
      check_lowered_op("aten.zeros.default", {{"size", s}, {"dtype", dtype}}, unfolded());
      check_lowered_op("aten.ones.default", {{"size", s}, {"dtype", dtype}}, unfolded());
      check_lowered_op("aten.empty.memory_format", {{"size", s}, {"dtype", dtype}}, unfolded());
    }
    check_lowered_op("aten.scalar_tensor.default", {{"s", -1.5}, {"dtype", dtype}}, unfolded());
  }
  // The default dtype follows the fill value's kind.
  check_lowered_op("aten.full.default", {{"size", Ints{2}}, {"fill_value", int64_t{7}}},
                   unfolded());
  check_lowered_op("aten.full.default", {{"size", Ints{2}}, {"fill_value", false}}, unfolded());
  check_lowered_op("aten.scalar_tensor.default", {{"s", int64_t{4}}}, unfolded());
  // Large enough that constant folding keeps the node: lowered after the passes too.
  check_lowered_op("aten.full.default", {{"size", Ints{130, 200}}, {"fill_value", 0.5}});
}

TEST(LowerShapeFactory, ExtremeIntegerFillsAreExact) {
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t{1} << 60}) {
    check_lowered_op("aten.full.default",
                     {{"size", Ints{3}}, {"fill_value", v}, {"dtype", DType::kInt64}}, unfolded());
  }
  check_lowered_op("aten.full.default",
                   {{"size", Ints{3}}, {"fill_value", int64_t{300}}, {"dtype", DType::kInt8}},
                   unfolded());  // wraps to 44
}

TEST(LowerShapeFactory, FillTensorAndCopy) {
  std::mt19937 rng(401);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool}) {
    for (DType vtype : {DType::kFloat64, DType::kInt32, DType::kBool}) {
      ref::Tensor x = random_tensor(dtype, {2, 3}, rng, -5, 5);
      check_lowered_op("aten.fill.Tensor",
                       {{"self", x}, {"value", random_tensor(vtype, {}, rng, -5, 5)}});
      for (const Sizes& s : {Sizes{2, 3}, Sizes{3}, Sizes{1, 3}, Sizes{2, 1}, Sizes{}}) {
        check_lowered_op("aten.copy.default",
                         {{"self", x}, {"src", random_tensor(vtype, s, rng, -5, 5)}});
      }
    }
  }
}

TEST(LowerShapeFactory, Arange) {
  struct Case {
    std::vector<std::pair<std::string, TestArg>> bounds;
    const char* target;
  };
  const Case cases[] = {
      {{{"end", int64_t{7}}}, "aten.arange.default"},
      {{{"end", 5.5}}, "aten.arange.default"},
      {{{"start", int64_t{-3}}, {"end", int64_t{4}}}, "aten.arange.start"},
      {{{"start", int64_t{2}}, {"end", int64_t{-9}}, {"step", int64_t{-3}}},
       "aten.arange.start_step"},
      {{{"start", 0.1}, {"end", 2.0}, {"step", 0.3}}, "aten.arange.start_step"},
      {{{"start", 1.5}, {"end", -2.0}, {"step", -0.5}}, "aten.arange.start_step"},
      {{{"start", int64_t{1}}, {"end", 3.5}, {"step", int64_t{1}}}, "aten.arange.start_step"},
  };
  for (const Case& c : cases) {
    for (std::optional<DType> dtype :
         {std::optional<DType>(), std::optional(DType::kFloat32), std::optional(DType::kFloat16),
          std::optional(DType::kFloat64), std::optional(DType::kInt32)}) {
      TestArgs args(c.bounds.begin(), c.bounds.end());
      if (dtype) args.push_back({"dtype", *dtype});
      SCOPED_TRACE(std::string(c.target) + " " +
                   (dtype ? std::string(ir::dtype_name(*dtype)) : std::string("default")));
      check_lowered_op(c.target, args, unfolded());
    }
  }
  // Large enough to stay in the graph through constant folding.
  check_lowered_op("aten.arange.start_step",
                   {{"start", int64_t{5}}, {"end", int64_t{90005}}, {"step", int64_t{3}}});
  check_lowered_op("aten.arange.default", {{"end", 20000.0}, {"dtype", DType::kFloat32}});
}

}  // namespace
}  // namespace kiln::testing
