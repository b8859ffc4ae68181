#pragma once

// Fusion of reductions with their consumers: a kernel that reduces over some outer space and
// stores one value per point is merged into the kernel that reads those values over the same
// outer space (as its own outer loops, or a prefix of them). Softmax, layer norm and RMS norm
// each become one kernel: their statistics never go to memory.

#include "lower/kernel_ir.h"

namespace kiln::schedule {

// Drops outer loops of size 1 (their variable becomes 0); fusion matches outer spaces after.
void drop_unit_ranges(lower::Kernel& kernel);

// Merges producer kernels into consumers as described above, until none is left to merge.
// Returns the number of merges.
int fuse_reductions(lower::Program& program);

}  // namespace kiln::schedule
