// The channels-last plan of lowering, after epilogue fusion: f32 convolutions and what is
// computed from their outputs keep activations as [N, spatial..., C], so a network of
// convolutions runs without copies between them. Checked on the structure of scheduled CNN
// fixtures (their values are checked against PyTorch by lower_nn_fixture_test and the
// compiled-fixture tests).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "externs.h"
#include "fixture_models.h"
#include "frontend/load.h"
#include "lower/lowering.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "schedule/fuse_epilogues.h"

namespace kiln::testing {
namespace {

lower::Program scheduled_fixture(const std::string& id) {
  for (const FixtureModel& m : fixture_models()) {
    if (m.id != id) continue;
    frontend::LoadedProgram loaded = frontend::load_program(m.dir / "model.pt2");
    passes::attach_stored_tensors(loaded);
    ir::ExportedProgram prepared = loaded.program;
    passes::prepare_for_backend(prepared);
    lower::Program lowered = lower::lower_program(prepared);
    schedule::fuse_epilogues(lowered);
    return lowered;
  }
  ADD_FAILURE() << "no fixture " << id;
  return {};
}

struct ConvSteps {
  std::vector<size_t> convs;  // step positions
  size_t kernels_between = 0;  // kernels after the first conv and before the last
};

// Every conv call of `p` must be channels-last, writing an [N, spatial..., C_out] buffer.
ConvSteps check_convs(const lower::Program& p) {
  ConvSteps s;
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const auto& call = p.steps[i].call;
    if (!call || call->kind != "conv") continue;
    s.convs.push_back(i);
    const auto spatial = call->int_params.at(1).as_const();
    EXPECT_TRUE(spatial.has_value()) << call->comment;
    if (!spatial) continue;
    const size_t flags_at = 8 + 6 * static_cast<size_t>(*spatial);
    const auto flags = call->int_params.at(flags_at).as_const();
    EXPECT_TRUE(flags && (*flags & rt::kEpilogueChannelsLast) != 0) << call->comment;
    const auto& out = p.buffers.at(static_cast<size_t>(call->outputs.at(0)));
    EXPECT_EQ(out.sizes.back(), call->int_params.at(4)) << call->comment << ": " << out.name;
  }
  for (size_t i = s.convs.empty() ? 0 : s.convs.front(); !s.convs.empty() && i < s.convs.back();
       ++i) {
    s.kernels_between += p.steps[i].kernel.has_value() ? 1 : 0;
  }
  return s;
}

// resnet18: between its first and last convolution the only kernel is the max pool, which
// reads and writes channels-last; batch norms, ReLUs and residual adds are in the calls.
TEST(ChannelsLastPlan, Resnet18HasOneKernelBetweenItsConvolutions) {
  for (const char* id : {"torch2_11_resnet18", "torch2_15_resnet18"}) {
    SCOPED_TRACE(id);
    const lower::Program p = scheduled_fixture(id);
    const ConvSteps s = check_convs(p);
    EXPECT_EQ(s.convs.size(), 20u);
    EXPECT_EQ(s.kernels_between, 1u);
  }
}

// mobilenet_v2: clamps and residual adds are all in the calls; no kernel between convolutions.
TEST(ChannelsLastPlan, MobilenetV2HasNoKernelBetweenItsConvolutions) {
  const lower::Program p = scheduled_fixture("torch2_15_mobilenet_v2");
  const ConvSteps s = check_convs(p);
  EXPECT_EQ(s.convs.size(), 52u);
  EXPECT_EQ(s.kernels_between, 0u);
}

}  // namespace
}  // namespace kiln::testing
