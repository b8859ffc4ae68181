// The epilogue section of gemm and conv calls (externs.h): parsing, and the plain loop that
// applies post-ops where no primitive fused them.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "extern_dnnl.h"

namespace kiln::rt::ext {
namespace {

bool known_kind(int64_t k) {
  return (k >= kPostRelu && k <= kPostLinear) || (k >= kPostAdd && k <= kPostSubChannel);
}

bool reads_operand(int64_t k) {
  return k >= kPostAdd;
}

// Post-op `op` over n values of y: the operand at flat index base + i (full operands), at
// channel c (c_step 0: one channel for the whole run) or at channel i (c_step 1).
void apply_run(const PostOp& op, float* y, int64_t n, const float* operand, int64_t base, int64_t c,
               int c_step) {
  const float a = op.alpha, b = op.beta;
  auto each = [&](auto f) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(y[i], i);
  };
  auto channel = [&](int64_t i) { return operand[c_step != 0 ? i : c]; };
  switch (op.kind) {
    case kPostRelu:
      return each([](float v, int64_t) { return std::max(v, 0.0f); });
    case kPostLeakyRelu:
      return each([a](float v, int64_t) { return v > 0 ? v : v * a; });
    case kPostElu:
      return each([a](float v, int64_t) { return v > 0 ? v : a * std::expm1(v); });
    case kPostGeluErf:
      return each([](float v, int64_t) {
        return 0.5f * v * (1.0f + std::erf(v * static_cast<float>(M_SQRT1_2)));
      });
    case kPostGeluTanh:
      return each([](float v, int64_t) {
        const float k = static_cast<float>(M_2_SQRTPI * M_SQRT1_2);
        return 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
      });
    case kPostSigmoid:
      return each([](float v, int64_t) { return 1.0f / (1.0f + std::exp(-v)); });
    case kPostTanh:
      return each([](float v, int64_t) { return std::tanh(v); });
    case kPostSilu:
      return each([](float v, int64_t) { return v / (1.0f + std::exp(-v)); });
    case kPostHardswish:
      return each(
          [](float v, int64_t) { return v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f; });
    case kPostClamp:
      return each([a, b](float v, int64_t) { return std::min(std::max(v, a), b); });
    case kPostLinear:
      return each([a, b](float v, int64_t) { return a * v + b; });
    case kPostAdd:
      return each([&](float v, int64_t i) { return v + operand[base + i]; });
    case kPostMul:
      return each([&](float v, int64_t i) { return v * operand[base + i]; });
    case kPostSub:
      return each([&](float v, int64_t i) { return v - operand[base + i]; });
    case kPostAddChannel:
      return each([&](float v, int64_t i) { return v + channel(i); });
    case kPostMulChannel:
      return each([&](float v, int64_t i) { return v * channel(i); });
    case kPostSubChannel:
      return each([&](float v, int64_t i) { return v - channel(i); });
    default:
      return;
  }
}

}  // namespace

bool Epilogue::has_operands() const {
  for (int32_t i = 0; i < count; ++i) {
    if (reads_operand(ops[i].kind)) return true;
  }
  return false;
}

bool parse_epilogue(const ExternArgs& args, const char* kind, int32_t int_at, int32_t float_at,
                    int32_t first_operand, Epilogue* out) {
  *out = Epilogue{};
  if (args.num_ints == int_at) return true;
  if (args.num_ints < int_at + 2) {
    return error(args, kind, "epilogue section cut short: %d ints, expected at least %d",
                 args.num_ints, int_at + 2);
  }
  const int64_t flags = args.ints[int_at];
  if ((flags & ~(kEpilogueWeightConstant | kEpilogueChannelsLast)) != 0) {
    return error(args, kind, "unknown epilogue flags %lld", static_cast<long long>(flags));
  }
  out->weight_constant = (flags & kEpilogueWeightConstant) != 0;
  out->channels_last = (flags & kEpilogueChannelsLast) != 0;
  if (out->channels_last && (std::strcmp(kind, "conv") != 0 || args.ints[0] != kExtFloat32)) {
    return error(args, kind, "channels-last activations need an f32 conv");
  }
  const int64_t count = args.ints[int_at + 1];
  if (count < 0 || count > kMaxPostOps) {
    return error(args, kind, "%lld post-ops (at most %d)", static_cast<long long>(count),
                 kMaxPostOps);
  }
  if (args.num_ints != int_at + 2 + 2 * count || args.num_floats < float_at + 2 * count) {
    return error(args, kind, "%lld post-ops need %lld ints and %lld floats, got %d and %d",
                 static_cast<long long>(count), static_cast<long long>(int_at + 2 + 2 * count),
                 static_cast<long long>(float_at + 2 * count), args.num_ints, args.num_floats);
  }
  if (count > 0 && args.ints[0] != kExtFloat32) {
    return error(args, kind, "post-ops need f32, got %s", dtype_name(args.ints[0]));
  }
  for (int32_t i = 0; i < count; ++i) {
    PostOp& op = out->ops[i];
    op.kind = args.ints[int_at + 2 + 2 * i];
    op.operand = args.ints[int_at + 3 + 2 * i];
    op.alpha = static_cast<float>(args.floats[float_at + 2 * i]);
    op.beta = static_cast<float>(args.floats[float_at + 2 * i + 1]);
    if (!known_kind(op.kind)) {
      return error(args, kind, "post-op %d has unknown kind %lld", i,
                   static_cast<long long>(op.kind));
    }
    if (reads_operand(op.kind) && (op.operand < first_operand || op.operand >= args.num_inputs)) {
      return error(args, kind, "post-op %d reads input %lld; the call has %d inputs", i,
                   static_cast<long long>(op.operand), args.num_inputs);
    }
  }
  out->count = static_cast<int32_t>(count);
  return true;
}

void apply_post_ops(const ExternArgs& args, const Epilogue& ep, float* y, int64_t outer,
                    int64_t channels, int64_t inner) {
  if (ep.count == 0) return;
  const float* operands[kMaxPostOps] = {};
  for (int32_t i = 0; i < ep.count; ++i) {
    if (reads_operand(ep.ops[i].kind)) {
      operands[i] = static_cast<const float*>(args.inputs[ep.ops[i].operand]);
    }
  }
  const int threads = std::max(args.num_threads, 1);
  // One post-op at a time over a contiguous run, so each loop is simple enough to vectorize.
  if (inner == 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      for (int32_t p = 0; p < ep.count; ++p)
        apply_run(ep.ops[p], y + o * channels, channels, operands[p], o * channels, 0, 1);
    }
    return;
  }
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      for (int32_t p = 0; p < ep.count; ++p)
        apply_run(ep.ops[p], y + base, inner, operands[p], base, c, 0);
    }
  }
}

}  // namespace kiln::rt::ext
