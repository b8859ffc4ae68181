#pragma once

// Which buffers each step of a kernel-IR program reads and writes.

#include <vector>

#include "lower/kernel_ir.h"

namespace kiln::schedule {

struct BufferUses {
  std::vector<lower::BufferId> reads;   // sorted, unique
  std::vector<lower::BufferId> writes;  // sorted, unique
};
using StepUses = std::vector<BufferUses>;

BufferUses kernel_uses(const lower::Kernel& kernel);
StepUses step_uses(const lower::Program& program);

}  // namespace kiln::schedule
