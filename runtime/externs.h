#pragma once

// Routines that generated code calls for work a library or a hand-written routine does better
// than a generated loop nest (GEMM, convolution, scans, scatters). Each kind named in a
// lower::ExternCall ("gemm") is the function extern_<kind> here; the printers emit
//   kiln::rt::extern_<kind>(args)
// with the call's buffers and parameters, in the order its lowering documents below.

#include <cstddef>
#include <cstdint>

#include "model_interface.h"

namespace kiln::rt {

struct ExternArgs {
  const void* const* inputs;
  int32_t num_inputs;
  void* const* outputs;
  int32_t num_outputs;
  const int64_t* ints;  // ExternCall::int_params, evaluated
  int32_t num_ints;
  const double* floats;  // ExternCall::float_params
  int32_t num_floats;
  int32_t num_threads;
  ErrorSink* error;
  // The container's cache of library primitives and pre-packed weights (RunContext's
  // extern_state); null outside a container: primitives are then cached process-wide and no
  // weight is pre-packed.
  ExternState* state = nullptr;
};

// Element types of extern operands, numbered as kiln::ir::DType (the compiler passes
// static_cast<int64_t>(dtype)). f16/bf16 are stored as their 16-bit patterns.
enum ExternDType : int64_t {
  kExtBool = 1,
  kExtUInt8 = 2,
  kExtInt8 = 3,
  kExtInt16 = 4,
  kExtUInt16 = 5,
  kExtInt32 = 6,
  kExtInt64 = 7,
  kExtFloat16 = 8,
  kExtBFloat16 = 9,
  kExtFloat32 = 10,
  kExtFloat64 = 11,
};

// Each extern kind, with the meaning of its inputs, outputs, ints and floats, is declared
// below as `bool extern_<kind>(const ExternArgs& args);`. Every routine returns false with
// args.error set (KILN_ERROR_RUNTIME) on failure: a malformed call (wrong operand or parameter
// counts, an unsupported dtype) or bad data (an index out of range). Unless stated otherwise,
// every operand is a dense row-major array of the call's dtype, and outputs never alias inputs.

// ---- epilogues of gemm and conv --------------------------------------------------------------
// gemm and conv may end with an epilogue section after their own ints and floats:
//   ints:    flags: bit 0 (kEpilogueWeightConstant): B of gemm / the weight of conv is a model
//            constant, which the routine may keep pre-packed in the container's state, keyed by
//            its address, until extern_state_constants_changed; so its data must not change at
//            that address before. Bit 1 (kEpilogueChannelsLast, f32 conv only): the input, the
//            output and every full-tensor post-op operand of the [N, C, spatial...] tensors are
//            stored channels-last, as [N, spatial..., C].
//            Then num_post_ops (at most 8), then per post-op: kind, operand (an index into inputs
//            after the routine's own, or -1)
//   floats:  per post-op: alpha, beta
// Post-ops apply in order to every output value v (after bias, alpha and beta), computed in f32
// and only for f32 calls. Kinds (ExternPostOp below), with PyTorch's numerics:
//   relu max(v, 0); leaky_relu v >= 0 ? v : alpha * v; elu v > 0 ? v : alpha * (exp(v) - 1);
//   gelu_erf, gelu_tanh (approximate='tanh'); sigmoid; tanh; silu v * sigmoid(v);
//   hardswish v * relu6(v + 3) / 6; clamp min(max(v, alpha), beta); linear alpha * v + beta;
//   add / mul / sub: v (+, * or -) operand[e], where operand is dense with the output's shape and e
//   is the output's flat index; add_channel / mul_channel / sub_channel: v (+, * or -) operand[c],
//   where c is the output's channel: n of gemm's [batch, M, N], the C_out index of conv.
enum ExternEpilogueFlag : int64_t {
  kEpilogueWeightConstant = 1,
  kEpilogueChannelsLast = 2,
};

enum ExternPostOp : int64_t {
  kPostRelu = 1,
  kPostLeakyRelu = 2,
  kPostElu = 3,
  kPostGeluErf = 4,
  kPostGeluTanh = 5,
  kPostSigmoid = 6,
  kPostTanh = 7,
  kPostSilu = 8,
  kPostHardswish = 9,
  kPostClamp = 10,
  kPostLinear = 11,
  kPostAdd = 20,
  kPostAddChannel = 21,
  kPostMul = 22,
  kPostMulChannel = 23,
  kPostSub = 24,
  kPostSubChannel = 25,
};

// ---- gemm -----------------------------------------------------------------------------------
// C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n] + beta * bias[b, m, n]
// A, B and bias are strided views of their buffers (element offsets and strides, any of them 0
// for broadcast dims), so transposed, sliced and broadcast operands need no copy. The bias term
// is left out when has_bias is 0 or beta is 0 (bias is then not read, so its NaNs do not show).
// Products accumulate in f32 for f32/f16/bf16 (no TF32 or bf16 down-conversion), f64 for f64
// and in wrapping 64-bit integers for integer dtypes (alpha and beta are then integral).
//   inputs:  A, B[, bias]        outputs: C, dense [batch, M, N]
//   ints:    0 dtype, 1 batch, 2 M, 3 N, 4 K,
//            5 a_offset, 6 a_stride_batch, 7 a_stride_m, 8 a_stride_k,
//            9 b_offset, 10 b_stride_batch, 11 b_stride_k, 12 b_stride_n,
//            13 has_bias, 14 bias_offset, 15 bias_stride_batch, 16 bias_stride_m,
//            17 bias_stride_n
//   floats:  0 alpha, 1 beta
//   then, optionally, the epilogue section at ints 18 and floats 2 (B is the weight)
//   then, optionally (only after an epilogue section, which may hold no post-ops), the batch
//   split section of kGemmSplitInts ints: batch2, a_stride_batch2, b_stride_batch2,
//   bias_stride_batch2. The batch is then two-level, b = b1 * batch2 + b2 (batch2 divides
//   batch), and an operand's batch offset is b1 * stride_batch + b2 * stride_batch2: a
//   [B, H, S, D] view permuted from [B, S, H, D] memory, reshaped to [B*H, S, D], is read in
//   place. C stays dense [batch, M, N].
// f32 calls run as a cached oneDNN matmul primitive (B pre-packed when constant) where the
// strides allow, with the post-ops fused.
constexpr int32_t kGemmSplitInts = 4;
bool extern_gemm(const ExternArgs& args);

// ---- conv -----------------------------------------------------------------------------------
// PyTorch's convolution over a batched NC<spatial> input with 1 to 3 spatial dims, plain
// row-major layouts unless the epilogue's channels-last flag is set: x [N, C_in, in...], weight [C_out, C_in/groups, k...] (transposed:
// [C_in, C_out/groups, k...]), bias [C_out], y [N, C_out, out...]. Forward: y[o] sums
// x[o * stride - pad + k * dilation]; transposed: x[i] adds to y[i * stride - pad + k * dilation].
// Only the leading padding enters the index math: trailing padding and output_padding are
// implied by the output sizes. Accumulation as for gemm.
//   inputs:  x, weight[, bias]   outputs: y
//   ints:    0 dtype, 1 spatial (1..3), 2 N, 3 C_in, 4 C_out, 5 groups, 6 transposed (0/1),
//            7 has_bias, then for each spatial dim d: 8 + 6d in_size, 9 + 6d out_size,
//            10 + 6d kernel, 11 + 6d stride, 12 + 6d pad, 13 + 6d dilation,
//            then, optionally, the epilogue section at ints 8 + 6 * spatial and floats 0
// f32 calls run as a cached oneDNN (de)convolution primitive (weight pre-packed when constant),
// with the post-ops fused.
bool extern_conv(const ExternArgs& args);

// ---- cumsum, cumprod ------------------------------------------------------------------------
// y[o, i, j] = x[o, 0, j] (+ or *) ... x[o, i, j] over a [outer, length, inner] view. x has the
// output's dtype already (the compiler casts it first). Floats accumulate in f64 and each output
// is rounded once; integers accumulate in wrapping int64; a bool output holds acc != 0.
//   inputs:  x                   outputs: y
//   ints:    0 dtype, 1 outer, 2 length, 3 inner
bool extern_cumsum(const ExternArgs& args);
bool extern_cumprod(const ExternArgs& args);

// ---- scatter --------------------------------------------------------------------------------
// out = self, then for every element e of index (row-major): out[e with e[dim] replaced by
// index[e]] = value (mode 0) / src[e] (mode 1) / += src[e] (mode 2). Duplicate targets: the last
// write wins (modes 0 and 1); mode 2 sums in f64 (floats) or wrapping int64, rounding once.
// An index outside [0, self_size[dim]) fails with
// "index 7 is out of bounds for dimension 0 with size 5". Zero-dim tensors count as [1].
//   inputs:  self, index[, src]  outputs: out (self's sizes)
//   ints:    0 dtype, 1 index_dtype (int32/int64), 2 mode, 3 rank, 4 dim, 5 value_int (mode 0,
//            integral and bool dtypes), then self sizes [rank], index sizes [rank], and
//            (modes 1, 2) src sizes [rank]
//   floats:  0 value (mode 0, floating dtypes)
bool extern_scatter(const ExternArgs& args);

// ---- index_put ------------------------------------------------------------------------------
// out = self; out[indices] = values (or += with accumulate), as Tensor.index_put_: `indices`
// lists one entry per leading dim of self, None for a full dim, an int32/int64 tensor (negative
// indices wrap), or a bool/uint8 mask covering as many dims as it has (its true positions, in
// row-major order). The index tensors broadcast together; their shape replaces the indexed dims
// in the indexing result when those are adjacent and leads it otherwise; values broadcast to
// that result (checked here, since masks make it data-dependent). Duplicate targets: the last
// write wins, or the sum (f64 for floats, wrapping int64 otherwise, rounded once).
//   inputs:  self, values, then each non-None index tensor in order   outputs: out
//   ints:    0 dtype, 1 accumulate, 2 rank, then self sizes [rank], values_rank, values sizes,
//            num_entries, then per entry: kind (0 None, 1 int64, 2 int32, 3 bool, 4 uint8),
//            entry_rank, entry sizes [entry_rank]
bool extern_index_put(const ExternArgs& args);

// Helpers the routines share (extern_common.cpp); not called by generated code.
namespace ext {

size_t dtype_size(int64_t dtype);
bool is_floating(int64_t dtype);
const char* dtype_name(int64_t dtype);
// Element i of a buffer of `dtype`: as double (floats), as int64 (integers, bools).
double load_float(const void* data, int64_t dtype, int64_t i);
int64_t load_int(const void* data, int64_t dtype, int64_t i);
// Stores v rounded to `dtype` (floats; round half to even) or wrapped (integers; bool: v != 0).
void store_float(void* data, int64_t dtype, int64_t i, double v);
void store_int(void* data, int64_t dtype, int64_t i, int64_t v);
float half_to_float(uint16_t bits);
uint16_t float_to_half(float v);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float v);
// Sets the sink (KILN_ERROR_RUNTIME) with "<kind>: <message>" and returns false.
bool error(const ExternArgs& args, const char* kind, const char* format, ...)
    __attribute__((format(printf, 3, 4)));
// Checks operand and parameter counts; the message names the kind.
bool check_counts(const ExternArgs& args, const char* kind, int32_t min_inputs, int32_t max_inputs,
                  int32_t num_outputs, int32_t min_ints, int32_t num_floats);
// Makes OpenMP parallel regions of this thread use `threads` threads (>= 1).
void set_threads(int32_t threads);

}  // namespace ext

}  // namespace kiln::rt
