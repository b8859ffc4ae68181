#pragma once

// Scalar helpers for generated CPU kernels: narrow float conversions and the PyTorch rules for
// integer wrap-around, division, rounding, NaN handling and casts. Everything is inline,
// branch-light and free of library calls where it can be, so loops that use it vectorize.
// Depends on the C++ standard library and sym_runtime.h only.

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "sym_runtime.h"  // kiln_floordiv / kiln_mod, which printed index expressions call

namespace kiln::kern {

// ---- f16 / bf16 <-> f32 --------------------------------------------------------------------
// The same bit manipulations as c10::Half and c10::BFloat16: round to nearest even, NaN kept.

inline float f16_to_f32(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal values: shift the exponent and mantissa in place and rescale by 2^-112.
  const uint32_t normalized =
      std::bit_cast<uint32_t>(std::bit_cast<float>((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f);
  // Subnormal values: build 0.5 + m * 2^-24 and subtract 0.5.
  const uint32_t denormalized =
      std::bit_cast<uint32_t>(std::bit_cast<float>((two_w >> 17) | (126u << 23)) - 0.5f);
  // Selects by mask rather than ?: so that loops over conversions vectorize.
  const uint32_t is_denormal = 0u - static_cast<uint32_t>(two_w < (1u << 27));
  return std::bit_cast<float>(sign | (denormalized & is_denormal) | (normalized & ~is_denormal));
}

inline uint16_t f32_to_f16(float f) {
  // Scaling up then down makes the FPU do the rounding at the f16 mantissa width.
  float base = (std::fabs(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t exp_bits = shl1_w & 0xFF000000u;
  const uint32_t bias = exp_bits < 0x71000000u ? 0x71000000u : exp_bits;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t nonsign = ((bits >> 13) & 0x00007C00u) + (bits & 0x00000FFFu);
  const uint32_t is_nan = 0u - static_cast<uint32_t>(shl1_w > 0xFF000000u);
  return static_cast<uint16_t>((sign >> 16) | (0x7E00u & is_nan) | (nonsign & ~is_nan));
}

inline float bf16_to_f32(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t rounding_bias = ((u >> 16) & 1u) + 0x7FFFu;
  return f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>((u + rounding_bias) >> 16);
}

// A float rounded to the precision of f16 / bf16 and held as float.
inline float round_f16(float f) {
  return f16_to_f32(f32_to_f16(f));
}
inline float round_bf16(float f) {
  return bf16_to_f32(f32_to_bf16(f));
}

// ---- classification ------------------------------------------------------------------------
// Templates so that integer and bool operands read naturally in generated code.

template <typename T>
constexpr bool isnan(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return x != x;
  } else {
    (void)x;
    return false;
  }
}

// One comparison each (no short-circuit branches), so that they vectorize.
template <typename T>
constexpr bool isinf(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fabs(x) == std::numeric_limits<T>::infinity();
  } else {
    (void)x;
    return false;
  }
}

template <typename T>
constexpr bool isfinite(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fabs(x) < std::numeric_limits<T>::infinity();
  } else {
    (void)x;
    return true;
  }
}

template <typename T>
constexpr bool signbit(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::signbit(x);
  } else if constexpr (std::is_signed_v<T>) {
    return x < 0;
  } else {
    (void)x;
    return false;
  }
}

// c ? a : b on the bits. GCC does not turn `?:` into a vector blend when an arm's arithmetic
// could raise a floating-point exception (it would run where the source did not), so loops
// using these helpers select this way.
inline float select(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}
inline double select(bool c, double a, double b) {
  const uint64_t m = 0u - static_cast<uint64_t>(c);
  return std::bit_cast<double>((std::bit_cast<uint64_t>(a) & m) |
                               (std::bit_cast<uint64_t>(b) & ~m));
}

// ---- casts ---------------------------------------------------------------------------------

// Floating to integer as PyTorch's CPU kernels do it on x86: truncation toward zero; NaN and
// values out of range give the "integer indefinite" of cvttss2si (the lowest int32 / int64),
// and the narrow types take the low bits of the int32 result.
// The conversion runs on an in-range value (out-of-range conversions are undefined in C++),
// and the result is chosen after it.
template <typename To, typename From>
inline To float_to_int(From x) {
  if constexpr (sizeof(To) == 8) {
    const bool ok = (x >= From(-9223372036854775808.0)) & (x < From(9223372036854775808.0));
    const auto v = static_cast<int64_t>(kern::select(ok, x, From(0)));
    return static_cast<To>(ok ? v : std::numeric_limits<int64_t>::min());
  } else {
    const bool ok = (x >= From(-2147483648.0)) & (x < From(2147483648.0));
    const auto v = static_cast<int32_t>(kern::select(ok, x, From(0)));
    return static_cast<To>(ok ? v : std::numeric_limits<int32_t>::min());
  }
}

// A value of one compute type as another, by PyTorch's rules: to bool is `!= 0` (NaN is true),
// floating to integer truncates (float_to_int), integers wrap, the rest is static_cast.
template <typename To, typename From>
inline To cast(From x) {
  if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return float_to_int<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// ---- integer arithmetic with wrap-around ---------------------------------------------------
// PyTorch's integers wrap on overflow; signed overflow is undefined in C++, so these compute in
// the unsigned type. Bool add/mul are or/and, as in PyTorch.

template <typename T>
constexpr T add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || b;
  } else if constexpr (std::is_floating_point_v<T>) {
    return a + b;
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  }
}

template <typename T>
constexpr T sub(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a - b;
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  }
}

template <typename T>
constexpr T mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a && b;
  } else if constexpr (std::is_floating_point_v<T>) {
    return a * b;
  } else {
    using U = std::make_unsigned_t<T>;
    // uint16_t * uint16_t promotes to int and may overflow it; unsigned int does not.
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(static_cast<U>(static_cast<W>(a) * static_cast<W>(b)));
  }
}

template <typename T>
constexpr T neg(T a) {
  if constexpr (std::is_floating_point_v<T>) {
    return -a;
  } else {
    return kern::sub(T(0), a);
  }
}

template <typename T>
constexpr T abs(T a) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fabs(a);
  } else if constexpr (std::is_signed_v<T>) {
    return a < 0 ? kern::neg(a) : a;
  } else {
    return a;
  }
}

// ---- division ------------------------------------------------------------------------------
// Integer division by zero fails the kernel before these run (see the printer); they return 0
// for it so that nothing traps. MIN / -1 wraps, as in PyTorch.

template <typename T>
constexpr T div_trunc(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a / b;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return kern::neg(a);
    }
    return static_cast<T>(a / b);
  }
}

// Python's //. Floats follow c10's div_floor_floating: floor((a - fmod(a, b)) / b), exact for
// quotients that are not integers in floating point.
template <typename T>
constexpr T floordiv(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == 0) return a / b;
    const T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0)) div -= T(1);
    if (div == 0) return std::copysign(T(0), a / b);
    T q = std::floor(div);
    if (div - q > T(0.5)) q += T(1);
    return q;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return kern::neg(a);
      const T q = static_cast<T>(a / b);
      return (a % b != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
    } else {
      return static_cast<T>(a / b);
    }
  }
}

// Python's %: the result has the sign of the divisor.
template <typename T>
constexpr T mod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T m = std::fmod(a, b);
    if (m != 0 && (b < 0) != (m < 0)) m += b;
    return m;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
      const T r = static_cast<T>(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
    } else {
      return static_cast<T>(a % b);
    }
  }
}

// C's fmod: the result has the sign of the dividend.
template <typename T>
constexpr T fmod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
    }
    return static_cast<T>(a % b);
  }
}

// ---- powers, shifts ------------------------------------------------------------------------

// c10's powi for integers: negative exponents give 0 except for the bases 1 and -1.
template <typename T>
constexpr T pow(T base, T exp) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::pow(base, exp);
  } else {
    if constexpr (std::is_signed_v<T>) {
      if (exp < 0) {
        if (base == 1) return 1;
        if (base == -1) return (exp % 2 != 0) ? T(-1) : T(1);
        return 0;
      }
    }
    T result = 1;
    while (exp != 0) {
      if ((exp & 1) != 0) result = kern::mul(result, base);
      exp = static_cast<T>(exp / 2);
      base = kern::mul(base, base);
    }
    return result;
  }
}

// PyTorch's shifts: a shift by a negative amount or by the bit width or more gives 0 (left)
// or the sign fill (right).
template <typename T>
constexpr T shl(T a, T b) {
  constexpr int64_t bits = sizeof(T) * 8;
  const auto sb = static_cast<std::make_signed_t<T>>(b);
  if (sb < 0 || static_cast<int64_t>(b) >= bits) return 0;
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) << b));
}

template <typename T>
constexpr T shr(T a, T b) {
  constexpr int64_t max_shift = sizeof(T) * 8 - (std::is_signed_v<T> ? 1 : 0);
  const auto sb = static_cast<std::make_signed_t<T>>(b);
  if (sb < 0 || static_cast<int64_t>(b) >= max_shift) return static_cast<T>(a >> max_shift);
  return static_cast<T>(a >> b);
}

// ---- comparisons and rounding --------------------------------------------------------------

// torch.maximum / torch.minimum: NaN in either operand gives NaN. Two plain selects, so a loop
// of them vectorizes (a short-circuit || keeps it scalar).
template <typename T>
constexpr T maximum(T a, T b) {
  const T m = a > b ? a : b;  // b when b is NaN
  return kern::isnan(a) ? a : m;
}
template <typename T>
constexpr T minimum(T a, T b) {
  const T m = a < b ? a : b;
  return kern::isnan(a) ? a : m;
}

// torch.sign: -1, 0 or 1 in the operand's type; sign(NaN) is 0.
template <typename T>
constexpr T sign(T x) {
  if constexpr (std::is_same_v<T, bool>) {
    return x;
  } else if constexpr (std::is_unsigned_v<T>) {
    return static_cast<T>(x > 0);
  } else {
    return static_cast<T>(static_cast<int>(T(0) < x) - static_cast<int>(x < T(0)));
  }
}

// Round half to even (the default rounding mode), as torch.round.
template <typename T>
inline T round_half_even(T x) {
  return std::nearbyint(x);
}

// floor, ceil and trunc through nearbyint, which vectorizes without -fno-trapping-math (the
// <cmath> ones do not). Exact, signed zeros and infinities included.
template <typename T>
inline T floor(T x) {
  const T r = std::nearbyint(x);
  return kern::select(r > x, r - T(1), r);
}
template <typename T>
inline T ceil(T x) {
  return -kern::floor(-x);
}
template <typename T>
inline T trunc(T x) {
  return kern::select(x < T(0), kern::ceil(x), kern::floor(x));
}

// ---- vectorizable float math --------------------------------------------------------------

// <cmath>'s expf/tanhf are library calls that keep a loop scalar. These are branch-free
// (selects only), within 1 ulp (exp) and 2 ulp (tanh) of the exact result, like the SIMD math
// PyTorch's CPU kernels use. Doubles use <cmath>.

inline float exp(float x) {
  // x = q*ln2 + s with |s| <= ln2/2 (ln2 split in two so q*ln2_hi is exact), then
  // exp(x) = 2^q * (1 + s + s^2 * p(s)).
  float xc = kern::select(x < 100.0f, x, 100.0f);  // NaN -> 100
  xc = kern::select(xc > -104.0f, xc, -104.0f);
  const float qf = std::nearbyint(xc * 1.44269504088896341f);
  const auto q = static_cast<int32_t>(qf);
  float s = std::fma(qf, -0.693145751953125f, xc);
  s = std::fma(qf, -1.428606765330187045e-06f, s);
  float p = 0.000198527617612853646278381f;
  p = std::fma(p, s, 0.00139304355252534151077271f);
  p = std::fma(p, s, 0.00833336077630519866943359f);
  p = std::fma(p, s, 0.0416664853692054748535156f);
  p = std::fma(p, s, 0.166666671633720397949219f);
  p = std::fma(p, s, 0.5f);
  const float u = 1.0f + std::fma(s * s, p, s);
  // 2^q in two factors: each stays a normal float for q in [-150, 145]; the product overflows
  // to inf or rounds to a subnormal or zero in one rounding.
  const int32_t q1 = q >> 1;
  const float r =
      u * std::bit_cast<float>((q1 + 127) << 23) * std::bit_cast<float>((q - q1 + 127) << 23);
  return kern::select(x != x, x, r);
}

inline double exp(double x) {
  return std::exp(x);
}

inline float tanh(float x) {
  const float a = std::fabs(x);
  // Large |x|: 1 - 2 / (e^2|x| + 1); small |x|: an odd polynomial (no cancellation near 0).
  const float big = 1.0f - 2.0f / (kern::exp(2.0f * a) + 1.0f);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = std::fma(p, z, 2.06390887954e-2f);
  p = std::fma(p, z, -5.37397155531e-2f);
  p = std::fma(p, z, 1.33314422036e-1f);
  p = std::fma(p, z, -3.33332819422e-1f);
  const float small = std::fma(p * z, a, a);
  return std::copysign(kern::select(a < 0.625f, small, big), x);
}

inline double tanh(double x) {
  return std::tanh(x);
}

// erf, fitted for float: below |x| = 0.9 x * P(x^2); above, 1 - exp(Q(|x|)) with Q fitted to
// log(erfc) on [0.9, 4] (beyond 4, erf rounds to 1). About 2 ulp at most.
inline float erf(float x) {
  const float z = x * x;
  float p = 8.552893268642947e-05f;
  p = std::fma(p, z, -8.185898186638951e-04f);
  p = std::fma(p, z, 5.204868037253618e-03f);
  p = std::fma(p, z, -2.686097845435143e-02f);
  p = std::fma(p, z, 1.128372550010681e-01f);
  p = std::fma(p, z, -3.761263489723206e-01f);
  p = std::fma(p, z, 1.128379225730896f);
  const float small = x * p;
  const float t = kern::select(std::fabs(x) < 4.0f, std::fabs(x), 4.0f);
  float q = 1.610222966519359e-06f;
  q = std::fma(q, t, -4.551243910100311e-05f);
  q = std::fma(q, t, 5.920900148339570e-04f);
  q = std::fma(q, t, -4.736938048154116e-03f);
  q = std::fma(q, t, 2.635508589446545e-02f);
  q = std::fma(q, t, -1.099607422947884e-01f);
  q = std::fma(q, t, -6.319562792778015e-01f);
  q = std::fma(q, t, -1.130155086517334f);
  q = std::fma(q, t, 3.002603480126709e-04f);
  const float big = std::copysign(1.0f - kern::exp(q), x);
  return kern::select((std::fabs(x) < 0.9f) | (x != x), small, big);  // NaN stays NaN via small
}

inline double erf(double x) {
  return std::erf(x);
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + kern::exp(-x));
}

// ATen's calc_erfinv: a rational first guess refined by two Newton steps.
template <typename T>
inline T erfinv(T y) {
  constexpr T a[4] = {T(0.886226899), T(-1.645349621), T(0.914624893), T(-0.140543331)};
  constexpr T b[4] = {T(-2.118377725), T(1.442710462), T(-0.329097515), T(0.012229801)};
  constexpr T c[4] = {T(-1.970840454), T(-1.624906493), T(3.429567803), T(1.641345311)};
  constexpr T d[2] = {T(3.543889200), T(1.637067800)};
  const T y_abs = std::fabs(y);
  if (y_abs > T(1)) return std::numeric_limits<T>::quiet_NaN();
  if (y_abs == T(1)) return std::copysign(std::numeric_limits<T>::infinity(), y);
  T x;
  if (y_abs <= T(0.7)) {
    const T z = y * y;
    const T num = ((a[3] * z + a[2]) * z + a[1]) * z + a[0];
    const T dem = (((b[3] * z + b[2]) * z + b[1]) * z + b[0]) * z + T(1);
    x = y * num / dem;
  } else {
    const T z = std::sqrt(-std::log((T(1) - y_abs) / T(2)));
    const T num = ((c[3] * z + c[2]) * z + c[1]) * z + c[0];
    const T dem = (d[1] * z + d[0]) * z + T(1);
    x = std::copysign(num, y) / dem;
  }
  const T two_over_sqrt_pi = static_cast<T>(1.1283791670955126);  // 2 / sqrt(pi)
  x = x - (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  x = x - (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  return x;
}

// ---- indirect indexing ---------------------------------------------------------------------

// A gathered index: negatives count from the end.
constexpr int64_t wrap_index(int64_t v, int64_t size) {
  return v < 0 ? v + size : v;
}
constexpr bool in_range(int64_t v, int64_t size) {
  return v >= 0 && v < size;
}

// ---- failures inside parallel loops --------------------------------------------------------

enum FailureKind : int {
  kNoFailure = 0,
  kIndexOutOfRange = 1,  // value: the index as given, size: the dim's size
  kZeroDivision = 2,     // integer division or remainder by zero
};

// The first failure of a kernel's parallel loop. Threads record into one shared instance; the
// first one to record wins, and the kernel reports it after the loop.
struct Failure {
  int kind = kNoFailure;
  int64_t value = 0;
  int64_t size = 0;

  void record(int k, int64_t v, int64_t s) {
    int expected = kNoFailure;
    if (std::atomic_ref<int>(kind).compare_exchange_strong(expected, k)) {
      value = v;
      size = s;
    }
  }
};

}  // namespace kiln::kern
