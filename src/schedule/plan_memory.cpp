#include "schedule/plan_memory.h"

#include <set>

#include "schedule/program_uses.h"

namespace kiln::schedule {

sym::Expr aligned_bytes(const lower::Buffer& buffer) {
  const sym::Expr bytes = buffer.numel() * static_cast<int64_t>(ir::dtype_size(buffer.dtype));
  return sym::floor_div(bytes + 63, 64) * 64;
}

MemoryPlan plan_memory(lower::Program& program) {
  const size_t n = program.buffers.size();
  const StepUses uses = step_uses(program);
  // First and last step touching each buffer.
  std::vector<int> first(n, -1), last(n, -1);
  for (size_t s = 0; s < uses.size(); ++s) {
    for (const auto* list : {&uses[s].reads, &uses[s].writes}) {
      for (lower::BufferId b : *list) {
        if (first[b] < 0) first[b] = static_cast<int>(s);
        last[b] = static_cast<int>(s);
      }
    }
  }

  MemoryPlan plan;
  std::vector<bool> slot_free;
  std::vector<std::vector<lower::BufferId>> dying(uses.size());
  for (size_t b = 0; b < n; ++b) {
    if (program.buffers[b].kind == lower::BufferKind::kTemp && last[b] >= 0) dying[last[b]].push_back(static_cast<lower::BufferId>(b));
  }
  for (size_t s = 0; s < uses.size(); ++s) {
    // Buffers first written here get a slot before this step's dying buffers are freed, so a
    // step never writes over what it reads.
    for (lower::BufferId b : uses[s].writes) {
      lower::Buffer& buf = program.buffers[b];
      if (buf.kind != lower::BufferKind::kTemp || first[b] != static_cast<int>(s)) continue;
      const sym::Expr bytes = aligned_bytes(buf);
      int chosen = -1;
      // Prefer a free slot of exactly this size, then any free slot (which grows to the max).
      for (size_t k = 0; k < plan.slots.size() && chosen < 0; ++k) {
        if (slot_free[k] && plan.slots[k].bytes == bytes) chosen = static_cast<int>(k);
      }
      for (size_t k = 0; k < plan.slots.size() && chosen < 0; ++k) {
        if (slot_free[k]) chosen = static_cast<int>(k);
      }
      if (chosen < 0) {
        plan.slots.push_back({bytes, 0, {}});
        slot_free.push_back(false);
        chosen = static_cast<int>(plan.slots.size() - 1);
      } else {
        plan.slots[chosen].bytes = sym::max(plan.slots[chosen].bytes, bytes);
        slot_free[chosen] = false;
      }
      plan.slots[chosen].members.push_back(b);
      buf.slot = chosen;
    }
    for (lower::BufferId b : dying[s]) {
      if (program.buffers[b].slot >= 0) slot_free[program.buffers[b].slot] = true;
    }
  }
  sym::Expr offset = 0;
  for (ArenaSlot& slot : plan.slots) {
    slot.offset = offset;
    offset = offset + slot.bytes;
  }
  plan.total_bytes = offset;
  return plan;
}

}  // namespace kiln::schedule
