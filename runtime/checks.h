#pragma once

// Input checks. The generated bind_inputs calls check_tensor, bind_symbol and check_dim for
// every input; the runtime uses the same helpers (with another subject) for caller-provided
// outputs and replaced constants, so every message has one shape:
//   input 'x' (#0): dim 0 is 0, outside the range [1, 64] of s0

#include <cstddef>
#include <cstdint>

#include "kiln/dlpack.h"
#include "model_interface.h"

namespace kiln::rt {

// Checks one input tensor: not null, on the CPU, the dtype and rank of `info`, a shape
// pointer, no negative dim, compact row-major strides (or none), and data that is not null
// (unless the tensor is empty) and aligned to its element. Dims are checked by the two below.
bool check_tensor(const DLTensor* t, int32_t index, const TensorInfo& info, ErrorSink* err);

// Binds symbol `symbol` to input `index`'s dim `dim`, of size `actual`. `*slot == INT64_MIN`
// means unbound: `actual` must lie in the symbol's range. Otherwise it must equal `*slot`.
bool bind_symbol(const TensorInfo& info, int32_t index, int32_t dim, int64_t actual,
                 const SymbolInfo& symbol, int64_t* slot, ErrorSink* err);

// A static dim, or one derived from bound symbols: `actual` must equal `expected`.
bool check_dim(const TensorInfo& info, int32_t index, int32_t dim, int64_t actual, int64_t expected,
               ErrorSink* err);

// What a message is about: "input 'x' (#0)", "output 'y' (#1)", "constant 'w'" (index < 0).
struct Subject {
  const char* kind;
  const char* name;
  int32_t index;
};

// check_tensor for any subject. `status` is the status a failure sets.
bool check_tensor_as(const DLTensor* t, const Subject& subject, DLDataType dtype, int32_t ndim,
                     int status, ErrorSink* err);

// check_dim for any subject; `text` (may be null) is the dim's expression.
bool check_dim_as(const Subject& subject, int32_t dim, int64_t actual, int64_t expected,
                  const char* text, int status, ErrorSink* err);

// Writes "float32", "bfloat16", "int64", "bool", "float32x4" into buf.
void format_dtype(DLDataType dtype, char* buf, size_t size);

inline bool same_dtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

// Bytes per element, rounded up to whole bytes.
inline uint64_t element_bytes(DLDataType dtype) {
  return (static_cast<uint64_t>(dtype.bits) * dtype.lanes + 7) / 8;
}

// The element count of `shape`; false when it overflows int64.
bool checked_numel(const int64_t* shape, int32_t ndim, int64_t* numel);

}  // namespace kiln::rt
