#pragma once

// Fusion of pointwise work into library epilogues: a kernel that only applies activations, a
// scale or shift, or a residual / per-channel add or multiply to the output of an f32 gemm or
// conv extern call becomes that call's post-op list (runtime/externs.h), and the kernel goes
// away, so the library writes the final values once.

#include "lower/kernel_ir.h"

namespace kiln::schedule {

// Folds every such kernel into its call. A kernel qualifies when it is the only reader of the
// call's output, reads it at the position it stores to (same flat index, same element count),
// and its stored value is a chain of supported ops starting at that load, each taking the
// previous value and constants or a load of another f32 buffer (same index, or the channel's).
// Returns the number of kernels folded.
int fuse_epilogues(lower::Program& program);

}  // namespace kiln::schedule
