// Helpers the extern routines share: element access by runtime dtype, the 16-bit float
// formats, error reporting and thread control.
#include <omp.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "externs.h"
#include "kiln/kiln.h"

namespace kiln::rt::ext {
namespace {

// v rounded to a binary format with `mant` explicit mantissa bits, exponent bias `bias` and
// maximum exponent `emax`, as bits (round half to even; overflow to infinity).
uint16_t round_to_bits(double v, int mant, int bias, int emax) {
  const int exp_bits = 15 - mant;
  const uint16_t sign = std::signbit(v) ? static_cast<uint16_t>(1u << 15) : 0;
  const uint16_t inf = static_cast<uint16_t>(((1u << exp_bits) - 1) << mant);
  if (std::isnan(v)) return static_cast<uint16_t>(sign | inf | (1u << (mant - 1)));
  double a = std::fabs(v);
  if (std::isinf(a)) return sign | inf;
  const int emin = 1 - bias;
  if (a < std::ldexp(1.0, emin)) {
    // Subnormal: a multiple of 2^(emin - mant); rounding up to the smallest normal gives the
    // right bits by carrying into the exponent field.
    double q = std::nearbyint(std::ldexp(a, mant - emin));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(q));
  }
  int e = 0;
  double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;
  double q = std::nearbyint(std::ldexp(m, mant + 1));  // in [2^mant, 2^(mant+1)]
  if (q == std::ldexp(1.0, mant + 1)) {
    q = std::ldexp(1.0, mant);
    ++exponent;
  }
  if (exponent > emax) return sign | inf;
  auto field = static_cast<uint16_t>(exponent + bias);
  auto frac = static_cast<uint16_t>(static_cast<uint32_t>(q) - (1u << mant));
  return static_cast<uint16_t>(sign | (field << mant) | frac);
}

double bits_to_double(uint16_t bits, int mant, int bias) {
  const int exp_bits = 15 - mant;
  const uint32_t field = (bits >> mant) & ((1u << exp_bits) - 1);
  const uint32_t frac = bits & ((1u << mant) - 1);
  double sign = (bits >> 15) != 0 ? -1.0 : 1.0;
  if (field == (1u << exp_bits) - 1) {
    return frac != 0 ? std::nan("") : sign * INFINITY;
  }
  if (field == 0) return sign * std::ldexp(static_cast<double>(frac), 1 - bias - mant);
  return sign * std::ldexp(static_cast<double>(frac + (1u << mant)),
                           static_cast<int>(field) - bias - mant);
}

uint16_t double_to_half(double v) {
  return round_to_bits(v, 10, 15, 15);
}
uint16_t double_to_bfloat16(double v) {
  return round_to_bits(v, 7, 127, 127);
}

template <typename T>
T read(const void* data, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(data) + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

template <typename T>
void write(void* data, int64_t i, T v) {
  std::memcpy(static_cast<char*>(data) + i * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}

}  // namespace

size_t dtype_size(int64_t dtype) {
  switch (dtype) {
    case kExtBool:
    case kExtUInt8:
    case kExtInt8:
      return 1;
    case kExtInt16:
    case kExtUInt16:
    case kExtFloat16:
    case kExtBFloat16:
      return 2;
    case kExtInt32:
    case kExtFloat32:
      return 4;
    case kExtInt64:
    case kExtFloat64:
      return 8;
    default:
      return 0;
  }
}

bool is_floating(int64_t dtype) {
  return dtype == kExtFloat16 || dtype == kExtBFloat16 || dtype == kExtFloat32 ||
         dtype == kExtFloat64;
}

const char* dtype_name(int64_t dtype) {
  switch (dtype) {
    case kExtBool:
      return "bool";
    case kExtUInt8:
      return "uint8";
    case kExtInt8:
      return "int8";
    case kExtInt16:
      return "int16";
    case kExtUInt16:
      return "uint16";
    case kExtInt32:
      return "int32";
    case kExtInt64:
      return "int64";
    case kExtFloat16:
      return "float16";
    case kExtBFloat16:
      return "bfloat16";
    case kExtFloat32:
      return "float32";
    case kExtFloat64:
      return "float64";
    default:
      return "an unknown dtype";
  }
}

double load_float(const void* data, int64_t dtype, int64_t i) {
  switch (dtype) {
    case kExtFloat16:
      return bits_to_double(read<uint16_t>(data, i), 10, 15);
    case kExtBFloat16:
      return bits_to_double(read<uint16_t>(data, i), 7, 127);
    case kExtFloat32:
      return read<float>(data, i);
    case kExtFloat64:
      return read<double>(data, i);
    default:
      return static_cast<double>(load_int(data, dtype, i));
  }
}

int64_t load_int(const void* data, int64_t dtype, int64_t i) {
  switch (dtype) {
    case kExtBool:
      return read<uint8_t>(data, i) != 0;
    case kExtUInt8:
      return read<uint8_t>(data, i);
    case kExtInt8:
      return read<int8_t>(data, i);
    case kExtInt16:
      return read<int16_t>(data, i);
    case kExtUInt16:
      return read<uint16_t>(data, i);
    case kExtInt32:
      return read<int32_t>(data, i);
    case kExtInt64:
      return read<int64_t>(data, i);
    default:
      return static_cast<int64_t>(load_float(data, dtype, i));
  }
}

void store_float(void* data, int64_t dtype, int64_t i, double v) {
  switch (dtype) {
    case kExtFloat16:
      write<uint16_t>(data, i, double_to_half(v));
      return;
    case kExtBFloat16:
      write<uint16_t>(data, i, double_to_bfloat16(v));
      return;
    case kExtFloat32:
      write<float>(data, i, static_cast<float>(v));
      return;
    case kExtFloat64:
      write<double>(data, i, v);
      return;
    case kExtBool:
      write<uint8_t>(data, i, v != 0 ? 1 : 0);
      return;
    default:
      // Truncation toward zero, as PyTorch converts floats to integers.
      store_int(data, dtype, i, std::isfinite(v) ? static_cast<int64_t>(std::trunc(v)) : 0);
  }
}

void store_int(void* data, int64_t dtype, int64_t i, int64_t v) {
  switch (dtype) {
    case kExtBool:
      write<uint8_t>(data, i, v != 0 ? 1 : 0);
      return;
    case kExtUInt8:
      write<uint8_t>(data, i, static_cast<uint8_t>(v));
      return;
    case kExtInt8:
      write<int8_t>(data, i, static_cast<int8_t>(v));
      return;
    case kExtInt16:
      write<int16_t>(data, i, static_cast<int16_t>(v));
      return;
    case kExtUInt16:
      write<uint16_t>(data, i, static_cast<uint16_t>(v));
      return;
    case kExtInt32:
      write<int32_t>(data, i, static_cast<int32_t>(v));
      return;
    case kExtInt64:
      write<int64_t>(data, i, v);
      return;
    default:
      store_float(data, dtype, i, static_cast<double>(v));
  }
}

float half_to_float(uint16_t bits) {
  return static_cast<float>(bits_to_double(bits, 10, 15));
}
uint16_t float_to_half(float v) {
  return double_to_half(v);
}
float bfloat16_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
uint16_t float_to_bfloat16(float v) {
  return double_to_bfloat16(v);
}

bool error(const ExternArgs& args, const char* kind, const char* format, ...) {
  if (args.error == nullptr) return false;
  ErrorSink& sink = *args.error;
  sink.status = KILN_ERROR_RUNTIME;
  int n = std::snprintf(sink.message, sizeof(sink.message), "%s: ", kind);
  if (n < 0) n = 0;
  auto used = static_cast<size_t>(n) < sizeof(sink.message) ? static_cast<size_t>(n) : 0;
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(sink.message + used, sizeof(sink.message) - used, format, ap);
  va_end(ap);
  return false;
}

bool check_counts(const ExternArgs& args, const char* kind, int32_t min_inputs, int32_t max_inputs,
                  int32_t num_outputs, int32_t min_ints, int32_t num_floats) {
  if (args.num_inputs < min_inputs || args.num_inputs > max_inputs) {
    return error(args, kind, "expected %d to %d inputs, got %d", min_inputs, max_inputs,
                 args.num_inputs);
  }
  if (args.num_outputs != num_outputs) {
    return error(args, kind, "expected %d outputs, got %d", num_outputs, args.num_outputs);
  }
  if (args.num_ints < min_ints) {
    return error(args, kind, "expected at least %d int parameters, got %d", min_ints,
                 args.num_ints);
  }
  if (args.num_floats < num_floats) {
    return error(args, kind, "expected %d float parameters, got %d", num_floats, args.num_floats);
  }
  if (dtype_size(args.ints[0]) == 0) {
    return error(args, kind, "unsupported dtype code %lld", static_cast<long long>(args.ints[0]));
  }
  return true;
}

void set_threads(int32_t threads) {
  if (threads < 1) threads = 1;
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

}  // namespace kiln::rt::ext
