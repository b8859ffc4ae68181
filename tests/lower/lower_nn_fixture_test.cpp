// Whole fixture models heavy in nn ops (convolutions, pooling, GEMMs, resampling) through the
// backend passes, lowering and the kernel-IR evaluator, against PyTorch's stored outputs at
// every stored input shape: fp32 within 1e-5 relative, fp16/bf16 within 1e-2, others exactly.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fixture_models.h"
#include "frontend/load.h"
#include "lower/lower_harness.h"
#include "op_harness.h"
#include "passes/stored_tensors.h"
#include "ref/npy_io.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// The fixtures whose graphs lean on the nn lowerings: convolutions, pooling and resampling,
// GEMMs (linear, attention), cumsum and scatter.
bool is_nn_fixture(const FixtureModel& m) {
  static const std::set<std::string> names = {
      "op_conv",  "op_pool",      "op_indexing", "op_attention", "mlp",
      "resnet18", "mobilenet_v2", "unet_block",  "vit",          "efficientnet_b0",
      "gpt2",     "llama",        "bert"};
  return names.count(m.manifest().value("model", "")) != 0;
}

std::vector<FixtureModel> nn_fixtures() {
  std::vector<FixtureModel> out;
  for (const FixtureModel& m : fixture_models()) {
    if (is_nn_fixture(m)) out.push_back(m);
  }
  return out;
}

double tolerance(const std::string& dtype) {
  if (dtype == "f32" || dtype == "f64") return 1e-5;
  if (dtype == "f16" || dtype == "bf16") return 1e-2;
  return 0;
}

class LowerNnFixture : public ::testing::TestWithParam<FixtureModel> {};

TEST_P(LowerNnFixture, MatchesTorchOutputs) {
  const FixtureModel& fx = GetParam();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  passes::attach_stored_tensors(loaded);
  const ir::ExportedProgram& p = loaded.program;
  std::vector<const ir::Value*> inputs;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput) {
      inputs.push_back(&p.graph.values[p.graph.inputs[i]]);
    }
  }
  const auto& cases = fx.manifest()["cases"];
  ASSERT_GE(cases.size(), 1u);
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    const auto& in = cases[c]["inputs"];
    ASSERT_EQ(in.size(), inputs.size());
    std::vector<ref::Tensor> args;
    for (size_t i = 0; i < in.size(); ++i) {
      auto file = (fx.dir / in[i]["file"].get<std::string>()).string();
      ref::RValue v = ref::value_from_npy(util::read_npy(file), *inputs[i], file);
      ASSERT_TRUE(std::holds_alternative<ref::Tensor>(v)) << "input " << i << " is not a tensor";
      args.push_back(std::get<ref::Tensor>(v));
    }
    std::vector<ref::Tensor> got;
    try {
      got = evaluate_lowered(loaded, args);
    } catch (const Error& e) {
      FAIL() << fx.id << ": " << e.what();
    }
    const auto& out = cases[c]["outputs"];
    ASSERT_EQ(got.size(), out.size());
    for (size_t o = 0; o < out.size(); ++o) {
      SCOPED_TRACE("output " + std::to_string(o));
      std::string dtype = out[o]["dtype"].get<std::string>();
      ref::Tensor want =
          ref::tensor_from_npy(util::read_npy(fx.dir / out[o]["file"].get<std::string>()));
      ref::Tensor have = ref::tensor_from_npy(ref::npy_from_value(got[o], o));
      ASSERT_EQ(have.sizes(), want.sizes());
      double tol = tolerance(dtype);
      if (tol == 0) {
        EXPECT_TRUE(same_values(have, want)) << "exact " << dtype << " output differs";
      } else {
        EXPECT_LE(relative_error(have, want), tol) << dtype;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LowerNnFixture, ::testing::ValuesIn(nn_fixtures()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
