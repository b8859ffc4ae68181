#pragma once

#include <cstdint>

#include "ir/dtype.h"

namespace kiln::util {

// Exact decoding of the narrow floating formats.
double half_bits_to_double(uint16_t bits);
double bfloat16_bits_to_double(uint16_t bits);
double float8_bits_to_double(ir::DType dtype, uint8_t bits);

// v rounded to the nearest value of a floating dtype, half to even, with IEEE overflow and
// subnormals (float8 e4m3fn/fnuz, which have no infinity, overflow to NaN).
double round_to_float_format(ir::DType dtype, double v);

// Encoding of a value already representable in the format (round first).
uint16_t double_to_half_bits(double v);
uint16_t double_to_bfloat16_bits(double v);
uint8_t double_to_float8_bits(ir::DType dtype, double v);

}  // namespace kiln::util
