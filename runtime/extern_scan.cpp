// extern_cumsum / extern_cumprod: inclusive scans along the middle dim of [outer, length, inner]
// (see externs.h). Floats accumulate in double and round each output once, as the reference
// does; integers wrap in 64 bits.
#include <omp.h>

#include "externs.h"

namespace kiln::rt {
namespace {

template <bool kProduct>
bool scan(const ExternArgs& args, const char* kind) {
  if (!ext::check_counts(args, kind, 1, 1, 1, 4, 0)) return false;
  const int64_t dtype = args.ints[0], outer = args.ints[1], length = args.ints[2],
                inner = args.ints[3];
  if (outer < 0 || length < 0 || inner < 0) return ext::error(args, kind, "negative size");
  const void* x = args.inputs[0];
  void* y = args.outputs[0];
  const bool floating = ext::is_floating(dtype);
#pragma omp parallel for collapse(2) num_threads(args.num_threads) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t base = o * length * inner + j;
      if (floating) {
        double acc = kProduct ? 1.0 : 0.0;
        for (int64_t i = 0; i < length; ++i) {
          double v = ext::load_float(x, dtype, base + i * inner);
          acc = kProduct ? acc * v : acc + v;
          ext::store_float(y, dtype, base + i * inner, acc);
        }
      } else {
        uint64_t acc = kProduct ? 1 : 0;
        for (int64_t i = 0; i < length; ++i) {
          auto v = static_cast<uint64_t>(ext::load_int(x, dtype, base + i * inner));
          acc = kProduct ? acc * v : acc + v;
          ext::store_int(y, dtype, base + i * inner, static_cast<int64_t>(acc));
        }
      }
    }
  }
  return true;
}

}  // namespace

bool extern_cumsum(const ExternArgs& args) {
  return scan<false>(args, "cumsum");
}

bool extern_cumprod(const ExternArgs& args) {
  return scan<true>(args, "cumprod");
}

}  // namespace kiln::rt
