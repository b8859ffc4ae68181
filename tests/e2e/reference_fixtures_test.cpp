// The reference interpreter reproduces PyTorch eager's stored outputs for every fixture model
// at every stored input shape: fp32 within 1e-5 relative, fp16/bf16 within 1e-2, integers,
// bools and SymInts exactly.
#include <gtest/gtest.h>

#include "fixture_models.h"
#include "frontend/load.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"
#include "ref/npy_io.h"

namespace kiln::testing {
namespace {

class ReferenceFixture : public ::testing::TestWithParam<FixtureModel> {};

double tolerance(const std::string& dtype) {
  if (dtype == "f32" || dtype == "f64") return 1e-5;
  if (dtype == "f16" || dtype == "bf16") return 1e-2;
  return 0;
}

TEST_P(ReferenceFixture, ReproducesTorchOutputs) {
  const FixtureModel& fx = GetParam();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram p = loaded.program;
  passes::inline_higher_order(p);
  passes::functionalize(p);
  ref::Interpreter interpreter(p, passes::stored_tensors(loaded, p));
  std::vector<const ir::Value*> inputs;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput) {
      inputs.push_back(&p.graph.values[p.graph.inputs[i]]);
    }
  }
  const auto& cases = fx.manifest()["cases"];
  ASSERT_GE(cases.size(), 2u) << "each fixture stores two or more input shapes";
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    const auto& in = cases[c]["inputs"];
    ASSERT_EQ(in.size(), inputs.size());
    std::vector<ref::RValue> args;
    for (size_t i = 0; i < in.size(); ++i) {
      auto file = (fx.dir / in[i]["file"].get<std::string>()).string();
      args.push_back(ref::value_from_npy(util::read_npy(file), *inputs[i], file));
    }
    std::vector<ref::RValue> got = interpreter.run_user_outputs(args);
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
        // bf16 outputs are stored widened to f32; compare as stored.
        EXPECT_LE(relative_error(have, want), tol) << dtype;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceFixture, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
