// Every in-place op computes what its functional op computes, stored in self's dtype: checked
// generically over the table on random data, for each dtype the functional op accepts.
#include <gtest/gtest.h>

#include <set>

#include "op_harness.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// Arguments for one call, from the schema: self of `dtype`, masks as bool, other tensors as f32
// of self's shape, numbers as small non-trivial values. Ops whose arguments need valid indices
// return nullopt (they have their own tests).
std::optional<TestArgs> make_args(const ops::OpSchema& schema, ir::DType dtype, std::mt19937& rng) {
  TestArgs args;
  for (size_t i = 0; i < schema.args.size(); ++i) {
    const ops::ArgSchema& a = schema.args[i];
    if (a.name == "index" || a.name == "indices" || a.name == "src") return std::nullopt;
    if (i == 0) {
      args.emplace_back(a.name, random_tensor(dtype, {3, 4}, rng, -3, 3));
    } else if (a.type == ops::ArgType::kTensor && !a.is_list) {
      if (a.name == "mask") {
        args.emplace_back(a.name, random_tensor(ir::DType::kBool, {3, 4}, rng));
      } else if (a.name == "value") {
        args.emplace_back(a.name, random_tensor(ir::DType::kFloat32, {}, rng));
      } else if (a.optional && a.name != "min") {
        continue;  // None
      } else {
        args.emplace_back(a.name, random_tensor(dtype, {3, 4}, rng, 0.5, 3));
      }
    } else if ((a.default_value || a.optional) && a.name != "min") {
      continue;  // clamp needs one bound; every other optional stays at its default
    } else if (a.type == ops::ArgType::kScalar) {
      args.emplace_back(a.name, dtype == ir::DType::kFloat32 ? TestArg(0.75) : TestArg(int64_t{2}));
    } else if (a.type == ops::ArgType::kFloat) {
      args.emplace_back(a.name, 0.75);
    } else if (a.type == ops::ArgType::kInt) {
      args.emplace_back(a.name, int64_t{1});
    } else if (a.type == ops::ArgType::kBool) {
      args.emplace_back(a.name, false);
    } else {
      return std::nullopt;
    }
  }
  return args;
}

TEST(InplaceOps, MatchTheirFunctionalOps) {
  std::mt19937 rng(21);
  std::set<std::string> untested;
  int checked = 0;
  for (const ops::OpDef& op : ops::all_ops()) {
    if (op.functional.empty()) continue;
    const ops::OpDef* functional = ops::find_op(op.functional);
    ASSERT_NE(functional, nullptr) << op.target;
    bool tested = false;
    bool skipped = false;
    for (ir::DType dtype : {ir::DType::kFloat32, ir::DType::kInt64, ir::DType::kBool}) {
      auto args = make_args(op.parsed_schema(), dtype, rng);
      if (!args) {
        skipped = true;
        break;
      }
      // dropout_ names its tensor self, dropout input: the functional call binds by position.
      TestArgs functional_args = *args;
      const auto& fschema = functional->parsed_schema();
      for (size_t i = 0; i < functional_args.size() && i < fschema.args.size(); ++i) {
        int in_schema = op.parsed_schema().index_of(functional_args[i].first);
        if (in_schema >= 0 && fschema.index_of(functional_args[i].first) < 0) {
          functional_args[i].first = fschema.args[static_cast<size_t>(in_schema)].name;
        }
      }
      ref::Tensor want;
      try {
        want = run_op_tensor(op.functional, functional_args);
      } catch (const Error&) {
        continue;  // the functional op does not take this dtype
      }
      const ref::Tensor& self = std::get<ref::Tensor>(args->front().second);
      ref::Tensor stored(self.dtype(), want.sizes());
      for (int64_t i = 0; i < want.numel(); ++i) {
        if (want.is_floating() && !stored.is_floating()) {
          stored.set(i, want.get(i));
        } else if (want.is_floating()) {
          stored.set(i, want.get(i));
        } else {
          stored.set_int(i, want.get_int(i));
        }
      }
      ref::Tensor got;
      try {
        got = run_op_tensor(op.target, *args);
      } catch (const Error&) {
        // PyTorch refuses an in-place op whose result type self cannot hold.
        EXPECT_NE(want.dtype(), self.dtype()) << op.target << " on " << ir::dtype_name(dtype);
        tested = true;
        continue;
      }
      EXPECT_TRUE(same_values(got, stored)) << op.target << " on " << ir::dtype_name(dtype);
      tested = true;
      ++checked;
    }
    if (!tested && !skipped) untested.insert(std::string(op.target));
  }
  EXPECT_TRUE(untested.empty()) << "in-place ops no dtype could test: " << [&] {
    std::string s;
    for (const auto& t : untested)
      s += t + " ";
    return s;
  }();
  EXPECT_GT(checked, 50);
}

}  // namespace
}  // namespace kiln::testing
