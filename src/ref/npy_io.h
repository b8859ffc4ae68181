#pragma once

#include <string>

#include "ir/graph.h"
#include "ref/tensor.h"
#include "util/npy.h"

namespace kiln::ref {

// The value a .npy array gives for program input `v`: a tensor (bf16 inputs come as float32,
// which .npy can hold, and are rounded), or an int for a SymInt input (a 0-d integer array).
// `file` names the source in errors.
RValue value_from_npy(const util::NpyArray& a, const ir::Value& v, const std::string& file);
// A tensor of the array's own dtype.
Tensor tensor_from_npy(const util::NpyArray& a);

// An output value as .npy: bf16 widens to float32 (exactly); scalars become 0-d arrays.
// `index` names the output in errors (None cannot be written).
util::NpyArray npy_from_value(const RValue& value, size_t index);

}  // namespace kiln::ref
