#pragma once

// The lowering tables of each op family, joined by all_lowerings() (lowering_table.cpp).

#include <vector>

#include "lower/lowering.h"

namespace kiln::lower {

std::vector<LowerEntry> pointwise_lowerings();  // lower_pointwise*.cpp
std::vector<LowerEntry> reduction_lowerings();  // lower_reduction*.cpp
std::vector<LowerEntry> shape_lowerings();      // lower_shape*.cpp: views, cat, pad, factories
std::vector<LowerEntry> index_lowerings();      // lower_index*.cpp: gather, index, embedding
std::vector<LowerEntry> nn_lowerings();         // lower_nn*.cpp: GEMM, conv, pooling, resample

}  // namespace kiln::lower
