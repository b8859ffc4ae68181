#include <gtest/gtest.h>

#include "op_harness.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

int64_t as_int(const ref::RValue& v) {
  return std::get<int64_t>(v);
}

TEST(SymbolicOps, SymSizeReadsEachDimIncludingNegative) {
  std::mt19937 rng(1);
  ref::Tensor x = random_tensor(ir::DType::kFloat32, {3, 1, 5}, rng);
  for (int64_t d = -3; d < 3; ++d) {
    auto out = run_op("aten.sym_size.int", {{"self", x}, {"dim", d}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(as_int(out[0]), x.sizes()[static_cast<size_t>((d + 3) % 3)]);
  }
  EXPECT_THROW(run_op("aten.sym_size.int", {{"self", x}, {"dim", int64_t{3}}}), Error);
}

TEST(SymbolicOps, SymNumelAndStride) {
  std::mt19937 rng(2);
  ref::Tensor x = random_tensor(ir::DType::kInt64, {4, 3, 2}, rng);
  EXPECT_EQ(as_int(run_op("aten.sym_numel.default", {{"self", x}})[0]), 24);
  EXPECT_EQ(as_int(run_op("aten.sym_stride.int", {{"self", x}, {"dim", int64_t{0}}})[0]), 6);
}

TEST(SymbolicOps, PythonArithmeticFollowsPythonRounding) {
  for (int64_t a : {-7, -1, 0, 5, 13}) {
    for (int64_t b : {-3, 2, 4}) {
      auto call = [&](const char* t) { return as_int(run_op(t, {{"a", a}, {"b", b}})[0]); };
      EXPECT_EQ(call("_operator.add"), a + b);
      EXPECT_EQ(call("_operator.sub"), a - b);
      EXPECT_EQ(call("_operator.mul"), a * b);
      int64_t q = a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
      EXPECT_EQ(call("_operator.floordiv"), q);
      EXPECT_EQ(call("_operator.mod"), a - q * b);
      EXPECT_EQ(std::get<bool>(run_op("_operator.lt", {{"a", a}, {"b", b}})[0]), a < b);
      EXPECT_EQ(std::get<bool>(run_op("_operator.ge", {{"a", a}, {"b", b}})[0]), a >= b);
      EXPECT_EQ(as_int(run_op("torch.sym_max", {{"a", a}, {"b", b}})[0]), std::max(a, b));
      EXPECT_EQ(as_int(run_op("torch.sym_min", {{"a", a}, {"b", b}})[0]), std::min(a, b));
      auto holds = [&](const char* t) {
        return std::get<bool>(run_op(t, {{"a", a}, {"b", b}})[0]);
      };
      EXPECT_EQ(holds("_operator.eq"), a == b);
      EXPECT_EQ(holds("_operator.ne"), a != b);
      EXPECT_EQ(holds("_operator.le"), a <= b);
      EXPECT_EQ(holds("_operator.gt"), a > b);
    }
  }
}

TEST(SymbolicOps, NegationAndNot) {
  for (int64_t a : {-4, 0, 9}) {
    EXPECT_EQ(as_int(run_op("_operator.neg", {{"a", a}})[0]), -a);
    EXPECT_EQ(std::get<bool>(run_op("torch.sym_not", {{"a", a}})[0]), a == 0);
  }
}

TEST(SymbolicOps, TableHasNoDuplicatesAndEveryEntryParses) {
  for (const auto& op : ops::all_ops()) {
    EXPECT_NO_THROW(op.parsed_schema()) << op.target;
    EXPECT_NE(op.shape, nullptr) << op.target;
    EXPECT_NE(op.reference, nullptr) << op.target;
    if (!op.functional.empty()) {
      EXPECT_NE(ops::find_op(op.functional), nullptr) << op.target << " -> " << op.functional;
    }
  }
}

}  // namespace
}  // namespace kiln::testing
