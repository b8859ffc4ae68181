#pragma once

// oneDNN primitives behind extern_gemm and extern_conv, and the epilogue section they share
// (externs.h). Creating a primitive costs far more than running a small one, so each is made
// once per call shape and thread count and kept in an ExternState: one per container, created
// and destroyed with it, or a process-wide one for calls made outside a container. Constant
// weights are reordered once into the layout the primitive prefers and kept beside it until
// the container's constants change.

#include <cstdint>

#include "externs.h"

namespace kiln::rt {

// Null when out of memory.
ExternState* extern_state_create();
void extern_state_destroy(ExternState* state);
// Forgets every pre-packed weight: the next call packs the constants anew. The caller makes
// sure no run is in flight (kiln_update_constants holds every runner).
void extern_state_constants_changed(ExternState* state);
// For tests: the primitives cached and the weights packed so far (packs counts every pack).
struct ExternStateStats {
  int64_t primitives = 0;
  int64_t packs = 0;
};
ExternStateStats extern_state_stats(const ExternState* state);

namespace ext {

constexpr int32_t kMaxPostOps = 8;

struct PostOp {
  int64_t kind = 0;
  int64_t operand = -1;  // index into ExternArgs::inputs, or -1
  float alpha = 0, beta = 0;
};

// The epilogue section of a gemm or conv call.
struct Epilogue {
  bool weight_constant = false;
  int32_t count = 0;
  PostOp ops[kMaxPostOps];
  // Whether any post-op reads an operand.
  bool has_operands() const;
};

// Reads the section at ints[int_at] / floats[float_at] (absent when num_ints == int_at) and
// checks kinds and operand indices against `first_operand` (the routine's own inputs come
// before it). Returns false with args.error set when malformed.
bool parse_epilogue(const ExternArgs& args, const char* kind, int32_t int_at, int32_t float_at,
                    int32_t first_operand, Epilogue* out);

// Applies the post-ops in a plain loop to y viewed as [outer, channels, inner] (dense f32).
void apply_post_ops(const ExternArgs& args, const Epilogue& ep, float* y, int64_t outer,
                    int64_t channels, int64_t inner);

// The f32 GEMM of extern_gemm as a matmul primitive: C [batch, M, N] from strided A, B and bias
// (element (b, i, j) at offset + b * sb + i * si + j * sj). Returns 1 on success, 0 when the
// primitive cannot take this call (the caller falls back), -1 on failure with args.error set.
struct GemmShape {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t a[4] = {}, b[4] = {}, bias[4] = {};  // offset, stride batch, stride row, stride col
  bool has_bias = false;
};
int dnnl_gemm(const ExternArgs& args, const GemmShape& g, const Epilogue& ep);

// The f32 convolution of extern_conv as a (de)convolution primitive; sizes as in externs.h,
// spatial dims 1 to 3. Returns as dnnl_gemm.
struct ConvShape {
  int64_t spatial = 0, batch = 0, cin = 0, cout = 0, groups = 1;
  bool transposed = false, has_bias = false;
  int64_t in[3] = {}, out[3] = {}, k[3] = {}, stride[3] = {}, pad[3] = {}, dil[3] = {};
};
int dnnl_conv(const ExternArgs& args, const ConvShape& c, const Epilogue& ep);

}  // namespace ext

}  // namespace kiln::rt
