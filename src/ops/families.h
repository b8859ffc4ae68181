#pragma once

#include <span>

#include "ops/op_table.h"

// Each op family's table, defined in src/ops/<family>.cpp. op_table.cpp joins them.
namespace kiln::ops {

std::span<const OpDef> symbolic_ops();  // symbolic.cpp
std::span<const OpDef>
pointwise_ops();  // pointwise*.cpp: elementwise math, comparisons, activations
std::span<const OpDef> reduction_ops();  // reduction*.cpp: reductions, scans, softmax, norms
std::span<const OpDef> shape_ops();      // shape*.cpp: views, shape ops, factories, copies, casts
std::span<const OpDef>
nn_ops();  // nn*.cpp: GEMMs, convolutions, pooling, resampling, attention, indexing

}  // namespace kiln::ops
