#include "util/float_formats.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace kiln::util {
namespace {

// An IEEE-style binary format: `mantissa` stored bits, `bias`, and whether the top exponent
// encodes inf/NaN (false for the e4m3fn family, which keeps it for finite values).
struct Format {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  bool has_inf;
  double max_finite;
  bool nan_on_overflow;
  bool negative_zero_is_nan;  // the fnuz formats: 0x80 is their only NaN
};

Format format_of(ir::DType dtype) {
  switch (dtype) {
    case ir::DType::kFloat16:
      return {5, 10, 15, true, 65504.0, false, false};
    case ir::DType::kBFloat16:
      return {8, 7, 127, true, 3.3895313892515355e38, false, false};
    case ir::DType::kFloat8E4M3FN:
      return {4, 3, 7, false, 448.0, true, false};
    case ir::DType::kFloat8E5M2:
      return {5, 2, 15, true, 57344.0, false, false};
    case ir::DType::kFloat8E4M3FNUZ:
      return {4, 3, 8, false, 240.0, true, true};
    case ir::DType::kFloat8E5M2FNUZ:
      return {5, 2, 16, false, 57344.0, true, true};
    default:
      return {11, 52, 1023, true, std::numeric_limits<double>::max(), false, false};
  }
}

double round_to(const Format& f, double v) {
  if (std::isnan(v) || std::isinf(v)) {
    if (std::isinf(v) && !f.has_inf) return std::numeric_limits<double>::quiet_NaN();
    return v;
  }
  if (v == 0) return v;
  double a = std::fabs(v);
  int exp = 0;
  std::frexp(a, &exp);  // a = m * 2^exp, m in [0.5, 1)
  int e = exp - 1;
  int min_exp = 1 - f.bias;
  if (e < min_exp) e = min_exp;  // subnormal: fixed quantum
  double quantum = std::ldexp(1.0, e - f.mantissa_bits);
  double r = std::nearbyint(a / quantum) * quantum;  // exact scaling; nearbyint rounds to even
  if (r > f.max_finite) {
    r = f.nan_on_overflow ? std::numeric_limits<double>::quiet_NaN()
                          : std::numeric_limits<double>::infinity();
  }
  return std::copysign(r, v);
}

double decode(const Format& f, uint32_t bits) {
  const uint32_t mantissa_mask = (1u << f.mantissa_bits) - 1;
  const uint32_t exponent_mask = (1u << f.exponent_bits) - 1;
  bool negative = (bits >> (f.exponent_bits + f.mantissa_bits)) & 1u;
  uint32_t exponent = (bits >> f.mantissa_bits) & exponent_mask;
  uint32_t mantissa = bits & mantissa_mask;
  if (f.negative_zero_is_nan && negative && exponent == 0 && mantissa == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double value;
  if (exponent == exponent_mask && f.has_inf) {
    value = mantissa ? std::numeric_limits<double>::quiet_NaN()
                     : std::numeric_limits<double>::infinity();
  } else if (exponent == exponent_mask && !f.negative_zero_is_nan && mantissa == mantissa_mask) {
    value = std::numeric_limits<double>::quiet_NaN();  // e4m3fn: S.1111.111
  } else if (exponent == 0) {
    value = std::ldexp(static_cast<double>(mantissa), 1 - f.bias - f.mantissa_bits);
  } else {
    value = std::ldexp(static_cast<double>(mantissa | (1u << f.mantissa_bits)),
                       static_cast<int>(exponent) - f.bias - f.mantissa_bits);
  }
  return negative ? -value : value;
}

uint32_t encode(const Format& f, double v) {
  const uint32_t sign_bit = 1u << (f.exponent_bits + f.mantissa_bits);
  const uint32_t exponent_max = (1u << f.exponent_bits) - 1;
  if (std::isnan(v)) {
    if (f.negative_zero_is_nan) return sign_bit;
    if (!f.has_inf) return (exponent_max << f.mantissa_bits) | ((1u << f.mantissa_bits) - 1);
    return (exponent_max << f.mantissa_bits) | (1u << (f.mantissa_bits - 1));
  }
  uint32_t sign = std::signbit(v) ? sign_bit : 0;
  double a = std::fabs(round_to(f, v));
  if (std::isinf(a)) return sign | (exponent_max << f.mantissa_bits);
  if (a == 0) return f.negative_zero_is_nan ? 0 : sign;
  int exp = 0;
  std::frexp(a, &exp);
  int e = exp - 1;
  int min_exp = 1 - f.bias;
  if (e < min_exp) {  // subnormal
    auto mantissa = static_cast<uint32_t>(std::ldexp(a, f.mantissa_bits - min_exp));
    return sign | mantissa;
  }
  auto scaled = static_cast<uint32_t>(std::ldexp(a, f.mantissa_bits - e));  // in [2^m, 2^(m+1))
  uint32_t mantissa = scaled & ((1u << f.mantissa_bits) - 1);
  auto exponent = static_cast<uint32_t>(e + f.bias);
  return sign | (exponent << f.mantissa_bits) | mantissa;
}

}  // namespace

double half_bits_to_double(uint16_t bits) {
  return decode(format_of(ir::DType::kFloat16), bits);
}

double bfloat16_bits_to_double(uint16_t bits) {
  return decode(format_of(ir::DType::kBFloat16), bits);
}

double float8_bits_to_double(ir::DType dtype, uint8_t bits) {
  return decode(format_of(dtype), bits);
}

double round_to_float_format(ir::DType dtype, double v) {
  if (dtype == ir::DType::kFloat64) return v;
  if (dtype == ir::DType::kFloat32) return static_cast<double>(static_cast<float>(v));
  return round_to(format_of(dtype), v);
}

uint16_t double_to_half_bits(double v) {
  return static_cast<uint16_t>(encode(format_of(ir::DType::kFloat16), v));
}

uint16_t double_to_bfloat16_bits(double v) {
  return static_cast<uint16_t>(encode(format_of(ir::DType::kBFloat16), v));
}

uint8_t double_to_float8_bits(ir::DType dtype, double v) {
  return static_cast<uint8_t>(encode(format_of(dtype), v));
}

}  // namespace kiln::util
