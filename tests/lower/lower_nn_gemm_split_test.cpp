// Attention's bmm operands read in place: q, k and v are [B, H, S, D] views permuted out of one
// [B, S, 3*H*D] projection, reshaped to [B*H, S, D]; no single batch stride steps through B*H,
// so the gemm call takes a two-level batch (runtime/externs.h) instead of a copy kernel. The
// fixture models with attention are lowered, their calls inspected, and the kernel-IR evaluator
// checked against the reference interpreter on fresh random inputs.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "externs.h"
#include "fixture_models.h"
#include "frontend/load.h"
#include "lower/evaluate.h"
#include "lower/lowering.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"

namespace kiln::testing {
namespace {

std::vector<FixtureModel> fixtures_named(const std::string& name) {
  std::vector<FixtureModel> out;
  for (const FixtureModel& m : fixture_models()) {
    if (m.manifest().value("model", "") == name) out.push_back(m);
  }
  return out;
}

struct Lowered {
  frontend::LoadedProgram loaded;
  ir::ExportedProgram prepared;
  lower::Program program;
};

Lowered lower_fixture(const FixtureModel& fx) {
  Lowered l{frontend::load_program(fx.dir / "model.pt2"), {}, {}};
  passes::attach_stored_tensors(l.loaded);
  l.prepared = l.loaded.program;
  passes::prepare_for_backend(l.prepared);
  l.program = lower::lower_program(l.prepared);
  return l;
}

// The lowered program's constants (Program::constants order) from the signature's stored ones.
std::vector<ref::Tensor> program_constants(const lower::Program& lp,
                                           const std::vector<std::optional<ref::Tensor>>& stored) {
  std::vector<ref::Tensor> out;
  for (int32_t input : lp.constant_inputs) {
    EXPECT_TRUE(input >= 0 && static_cast<size_t>(input) < stored.size() && stored[input]);
    out.push_back(*stored.at(static_cast<size_t>(input)));
  }
  return out;
}

bool has_split(const lower::ExternCall& c) {
  return c.kind == "gemm" && c.int_params.size() == 20 + rt::kGemmSplitInts;
}

// gpt2 (tiny: 2 layers, 2 heads) computes q k^T and p v per layer with q, k and v views of the
// c_attn projection: every such operand is that gemm's output itself, never a copy.
TEST(LowerNnGemmSplit, Gpt2AttentionReadsTheProjectionInPlace) {
  const auto fixtures = fixtures_named("gpt2");
  ASSERT_FALSE(fixtures.empty());
  for (const FixtureModel& fx : fixtures) {
    SCOPED_TRACE(fx.id);
    Lowered l = lower_fixture(fx);
    std::map<lower::BufferId, std::string> writer;  // buffer -> "gemm" or "kernel"
    int split_calls = 0, in_place_operands = 0;
    for (const lower::Step& s : l.program.steps) {
      if (s.kernel) {
        for (const lower::Loop& loop : s.kernel->loops)
          for (const lower::Store& st : loop.stores)
            writer[st.buffer] = "kernel";
      }
      if (!s.call) continue;
      const lower::ExternCall& c = *s.call;
      if (has_split(c)) {
        ++split_calls;
        // Two heads: the inner batch level is the head.
        EXPECT_EQ(c.int_params[20], sym::Expr(2)) << c.comment;
        for (size_t i = 0; i < 2; ++i) {
          if (writer[c.inputs[i]] == "gemm") ++in_place_operands;
        }
        // B (k^T or v) always comes straight from the projection.
        EXPECT_EQ(writer[c.inputs[1]], "gemm") << c.comment;
      }
      for (lower::BufferId b : c.outputs)
        writer[b] = "gemm";
    }
    // Per layer: q k^T reads q and k in place, p v reads v.
    EXPECT_EQ(split_calls, 4);
    EXPECT_EQ(in_place_operands, 6);
  }
}

// The lowered program on the kernel-IR evaluator against the reference interpreter, on random
// token ids at several legal shapes (batch and sequence are dynamic).
TEST(LowerNnGemmSplit, Gpt2MatchesTheInterpreter) {
  const auto fixtures = fixtures_named("gpt2");
  ASSERT_FALSE(fixtures.empty());
  std::mt19937 rng(611);
  for (const FixtureModel& fx : fixtures) {
    SCOPED_TRACE(fx.id);
    Lowered l = lower_fixture(fx);
    ref::Interpreter interp(l.prepared, passes::stored_tensors(l.loaded, l.prepared));
    const auto constants = passes::stored_tensors(l.loaded, l.prepared);
    for (auto [batch, seq] : {std::pair<int64_t, int64_t>{1, 2}, {2, 7}, {3, 16}}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + " seq " + std::to_string(seq));
      ref::Tensor ids = random_tensor(ir::DType::kInt64, {batch, seq}, rng, 0, 256);
      const auto want = interp.run_user_outputs({ids});
      const auto got = lower::evaluate(l.program, {ids}, program_constants(l.program, constants));
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < got.size(); ++o)
        EXPECT_TENSOR_NEAR(got[o], as_tensor(want[o]), 1e-5);
    }
  }
}

}  // namespace
}  // namespace kiln::testing
