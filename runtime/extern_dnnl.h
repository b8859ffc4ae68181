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
  int64_t workspaces = 0;  // made so far: at most the number of calls ever in flight at once
};
ExternStateStats extern_state_stats(const ExternState* state);

namespace ext {

constexpr int32_t kMaxPostOps = 8;

struct Workspace;

// The scratch memory and oneDNN stream of one extern call, leased from the call's ExternState
// (the process-wide one outside a container) and given back when the lease ends: concurrent
// calls never share one, and later calls reuse it, so steady-state runs allocate nothing.
// Nothing here is thread_local: a thread_local with a destructor keeps the model library
// mapped after its last dlclose, until every thread that ran it has exited.
class ScratchLease {
 public:
  explicit ScratchLease(const ExternArgs& args);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;

  // Makes slots 0 .. count-1 usable. Call it before a parallel region whose threads each take
  // the slot of their thread number; get() itself never resizes the slot list.
  bool reserve(int32_t count);
  // At least `bytes` of 64-byte aligned memory in `slot`, kept across calls; null when out of
  // memory or the slot was not reserved. One thread per slot at a time.
  void* get(int32_t slot, size_t bytes);
  // The lease's oneDNN stream (dnnl_stream_t), made on first use; null when oneDNN has none.
  void* stream();

 private:
  ExternState* state_;
  Workspace* ws_;
};

struct PostOp {
  int64_t kind = 0;
  int64_t operand = -1;  // index into ExternArgs::inputs, or -1
  float alpha = 0, beta = 0;
};

// The epilogue section of a gemm or conv call.
struct Epilogue {
  bool weight_constant = false;
  bool channels_last = false;  // conv activations stored [N, spatial..., C]
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

// The f32 GEMM of extern_gemm as a matmul primitive: C [batch, batch2, M, N] (dense) from
// strided A, B and bias (element (b1, b2, i, j) at offset + b1 * sb + b2 * sb2 + i * si +
// j * sj). Returns 1 on success, 0 when the primitive cannot take this call (the caller falls
// back), -1 on failure with args.error set.
struct GemmShape {
  int64_t batch = 1, batch2 = 1, m = 0, n = 0, k = 0;
  // offset, stride batch, stride row, stride col, stride batch2
  int64_t a[5] = {}, b[5] = {}, bias[5] = {};
  bool has_bias = false;
};
int dnnl_gemm(const ExternArgs& args, const GemmShape& g, const Epilogue& ep);
// The same product when A has one or two contiguous rows and no batch, and B has contiguous
// rows or columns (extern_gemm_few_rows.cpp); returns as dnnl_gemm.
int few_rows_gemm(const ExternArgs& args, const GemmShape& g, const Epilogue& ep);

// The f32 convolution of extern_conv as a (de)convolution primitive; sizes as in externs.h,
// spatial dims 1 to 3. Returns as dnnl_gemm.
struct ConvShape {
  int64_t spatial = 0, batch = 0, cin = 0, cout = 0, groups = 1;
  bool transposed = false, has_bias = false;
  int64_t in[3] = {}, out[3] = {}, k[3] = {}, stride[3] = {}, pad[3] = {}, dil[3] = {};
};
int dnnl_conv(const ExternArgs& args, const ConvShape& c, const Epilogue& ep);

// Whether dnnl_gemm and dnnl_conv may use oneDNN (default true). Tests turn it off to run the
// routines' own loops on calls oneDNN would take.
void set_dnnl_enabled(bool enabled);

}  // namespace ext

}  // namespace kiln::rt
