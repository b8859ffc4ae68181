// Every committed fixture loads, and what kiln reads matches what make_fixtures.py recorded from
// torch: signature, shapes and symbols, ranges, each weight's checksum, and the op histogram.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "fixture_models.h"
#include "frontend/load.h"
#include "frontend/weights.h"
#include "ops/op_table.h"
#include "sym/expr.h"

namespace kiln::testing {
namespace {

using nlohmann::json;

class FixtureManifest : public ::testing::TestWithParam<FixtureModel> {};

std::string text_or_empty(const json& j) { return j.is_null() ? "" : j.get<std::string>(); }

void expect_shape(const json& want, const std::vector<sym::Expr>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t d = 0; d < got.size(); ++d) {
    EXPECT_EQ(sym::parse(want[d].get<std::string>()), got[d])
        << what << " dim " << d << ": manifest " << want[d] << ", kiln " << got[d].str();
  }
}

TEST_P(FixtureManifest, MatchesWhatTorchRecorded) {
  const FixtureModel& fx = GetParam();
  const json& m = fx.manifest();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  const ir::ExportedProgram& p = loaded.program;
  const ir::Graph& g = p.graph;
  EXPECT_EQ(p.torch_version, m["torch_version"].get<std::string>());

  // Signature.
  const json& in_specs = m["input_specs"];
  ASSERT_EQ(in_specs.size(), p.signature.inputs.size());
  for (size_t i = 0; i < in_specs.size(); ++i) {
    const ir::InputSpec& spec = p.signature.inputs[i];
    EXPECT_EQ(std::string(ir::input_kind_name(spec.kind)), in_specs[i]["kind"].get<std::string>())
        << "input " << i;
    EXPECT_EQ(g.values[g.inputs[i]].name, in_specs[i]["name"].get<std::string>());
    EXPECT_EQ(spec.target, text_or_empty(in_specs[i]["target"])) << "input " << i;
    if (spec.kind == ir::InputKind::kBuffer) {
      EXPECT_EQ(spec.persistent, in_specs[i]["persistent"].get<bool>()) << spec.target;
    }
  }
  const json& out_specs = m["output_specs"];
  ASSERT_EQ(out_specs.size(), p.signature.outputs.size());
  for (size_t i = 0; i < out_specs.size(); ++i) {
    const ir::OutputSpec& spec = p.signature.outputs[i];
    EXPECT_EQ(std::string(ir::output_kind_name(spec.kind)),
              out_specs[i]["kind"].get<std::string>())
        << "output " << i;
    auto ids = ir::argument_values(spec.arg);
    ASSERT_EQ(ids.size(), 1u) << "output " << i;
    EXPECT_EQ(g.values[ids[0]].name, out_specs[i]["name"].get<std::string>());
    EXPECT_EQ(spec.target, text_or_empty(out_specs[i]["target"])) << "output " << i;
  }

  // User inputs and outputs: dtypes, symbolic shapes, SymInt expressions.
  std::vector<const ir::Value*> user_inputs, user_outputs;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput) {
      user_inputs.push_back(&g.values[g.inputs[i]]);
    }
  }
  for (const auto& spec : p.signature.outputs) {
    if (spec.kind == ir::OutputKind::kUserOutput) {
      user_outputs.push_back(&g.values[ir::argument_values(spec.arg).at(0)]);
    }
  }
  auto check_values = [&](const json& want, const std::vector<const ir::Value*>& got,
                          const char* what) {
    ASSERT_EQ(want.size(), got.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
      const ir::Value& v = *got[i];
      std::string label = std::string(what) + " " + v.name;
      EXPECT_EQ(v.name, want[i]["name"].get<std::string>());
      if (want[i]["kind"] == "tensor") {
        ASSERT_EQ(v.kind, ir::ValueKind::kTensor) << label;
        EXPECT_EQ(std::string(ir::dtype_name(v.type.dtype)), want[i]["dtype"].get<std::string>())
            << label;
        expect_shape(want[i]["shape"], v.type.sizes, label);
      } else if (want[i]["kind"] == "sym_int") {
        ASSERT_EQ(v.kind, ir::ValueKind::kSymInt) << label;
        ASSERT_TRUE(v.sym.has_value()) << label;
        EXPECT_EQ(*v.sym, sym::parse(want[i]["expr"].get<std::string>())) << label;
      }
    }
  };
  check_values(m["user_inputs"], user_inputs, "input");
  check_values(m["user_outputs"], user_outputs, "output");

  // Ranges: [min, max or null].
  ASSERT_EQ(m["range_constraints"].size(), p.ranges.size());
  for (const auto& [name, range] : m["range_constraints"].items()) {
    auto it = p.ranges.find(name);
    ASSERT_NE(it, p.ranges.end()) << name;
    EXPECT_EQ(it->second.min, range[0].get<int64_t>()) << name;
    if (range[1].is_null()) {
      EXPECT_FALSE(it->second.max.has_value()) << name;
    } else {
      EXPECT_EQ(it->second.max, range[1].get<int64_t>()) << name;
    }
  }

  // Every stored tensor: dtype, shape, FNV-1a of its contiguous bytes, and its sum.
  for (const auto& [fqn, w] : m["weights"].items()) {
    const frontend::WeightTensor* t = loaded.archive->find_tensor(loaded.model_name, fqn);
    ASSERT_NE(t, nullptr) << fqn;
    EXPECT_EQ(std::string(ir::dtype_name(t->dtype)), w["dtype"].get<std::string>()) << fqn;
    EXPECT_EQ(t->sizes, w["shape"].get<std::vector<int64_t>>()) << fqn;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, frontend::weight_fnv1a64(*t));
    EXPECT_EQ(std::string(hex), w["fnv1a64"].get<std::string>()) << fqn;
    double want_sum = w["sum"].get<double>();
    EXPECT_NEAR(frontend::weight_sum(*t), want_sum, 1e-9 * (1 + std::fabs(want_sum))) << fqn;
  }

  // The op histogram, less getitem (the archive folds it into multi-output nodes).
  std::map<std::string, int> want_ops;
  for (const auto& [target, count] : m["ops"].items()) {
    if (target != "_operator.getitem") want_ops[target] = count.get<int>();
  }
  EXPECT_EQ(ops::op_histogram(g), want_ops);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureManifest, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
