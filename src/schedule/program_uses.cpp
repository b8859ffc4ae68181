#include "schedule/program_uses.h"

#include <algorithm>

namespace kiln::schedule {

namespace {

void sort_unique(std::vector<lower::BufferId>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

BufferUses kernel_uses(const lower::Kernel& kernel) {
  BufferUses u;
  for (const lower::Loop& loop : kernel.loops) {
    for (const lower::ScalarNode& n : loop.body.nodes) {
      if (n.op == lower::ScalarOp::kLoad) u.reads.push_back(n.buffer);
    }
    for (const lower::Store& st : loop.stores) u.writes.push_back(st.buffer);
  }
  sort_unique(u.reads);
  sort_unique(u.writes);
  return u;
}

StepUses step_uses(const lower::Program& program) {
  StepUses all;
  for (const lower::Step& step : program.steps) {
    if (step.kernel) {
      all.push_back(kernel_uses(*step.kernel));
    } else {
      BufferUses u{step.call->inputs, step.call->outputs};
      sort_unique(u.reads);
      sort_unique(u.writes);
      all.push_back(std::move(u));
    }
  }
  return all;
}

}  // namespace kiln::schedule
