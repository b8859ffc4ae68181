#pragma once

// Memory planning: every temp buffer gets a slot of one arena per runner. Buffers whose
// lifetimes (first write to last read, over the steps in order) do not overlap share a slot.
// Sizes are symbolic, so the plan is a set of expressions the wrapper evaluates per run.

#include <vector>

#include "lower/kernel_ir.h"

namespace kiln::schedule {

struct ArenaSlot {
  sym::Expr bytes;   // the largest member, rounded up to 64 bytes
  sym::Expr offset;  // from the arena's start (64-byte aligned)
  std::vector<lower::BufferId> members;
};

struct MemoryPlan {
  std::vector<ArenaSlot> slots;
  sym::Expr total_bytes;  // the arena size
};

// Assigns Buffer::slot for every temp buffer of the program and returns the plan.
MemoryPlan plan_memory(lower::Program& program);

// Byte size of a buffer, rounded up to a multiple of 64.
sym::Expr aligned_bytes(const lower::Buffer& buffer);

}  // namespace kiln::schedule
