#pragma once

// The contract between a generated model and the kiln runtime linked into the same .so. The
// generated code defines kiln_rt_model() returning a ModelDesc; the runtime implements the C
// ABI of include/kiln/kiln.h on top of it (containers, runners, arenas, weights, outputs).

#include <cstddef>
#include <cstdint>

#include "kiln/dlpack.h"

namespace kiln::rt {

// The extern routines' per-container state (runtime/extern_dnnl.h).
struct ExternState;

// Bumped whenever this struct layout or its meaning changes; the runtime refuses a model
// built against another version.
constexpr uint32_t kModelInterfaceVersion = 2;

// A symbol of the program (s0, s1, ...) and its legal range; max == -1: no upper bound.
struct SymbolInfo {
  const char* name;
  int64_t min;
  int64_t max;
};

// An input or output: its dims as text and their ranges (see KilnTensorInfo in kiln.h).
struct TensorInfo {
  const char* name;
  DLDataType dtype;
  int32_t ndim;
  const char* const* dims;
  const int64_t* dim_min;
  const int64_t* dim_max;
};

// A constant (parameter, buffer, lifted tensor, folded constant): dense row-major bytes at
// `offset` in the weights blob, aligned to 64 bytes.
struct ConstantInfo {
  const char* name;
  DLDataType dtype;
  int32_t ndim;
  const int64_t* shape;
  uint64_t nbytes;
  uint64_t offset;
};

// Where a failure is described. Generated code and runtime helpers fill it; the runtime turns
// it into the thread's last error. `message` is NUL-terminated.
struct ErrorSink {
  int status = 0;  // a KilnStatus; 0 = no error
  char message[1024] = {};
};

// Formats into sink (printf-style), sets its status and returns false, so checks read
// `if (bad) return fail(err, KILN_ERROR_BAD_INPUT, "...", ...);`.
bool fail(ErrorSink* sink, int status, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Everything one run needs. Input and output pointers are the data of compact row-major
// tensors (byte_offset applied); the runtime has checked them with ModelDesc::bind_inputs.
struct RunContext {
  void* const* inputs;                  // ModelDesc::num_inputs data pointers
  void* const* outputs;                 // ModelDesc::num_outputs data pointers
  void* const* constants;               // ModelDesc::num_constants data pointers (64-byte aligned)
  uint8_t* arena;                       // at least arena_bytes(symbols) bytes, 64-byte aligned
  const int64_t* symbols;               // ModelDesc::num_symbols values, bound by bind_inputs
  int num_threads;                      // intra-op threads this run may use (>= 1)
  ErrorSink* error;                     // set by a kernel that fails (e.g. an index out of range)
  ExternState* extern_state = nullptr;  // the container's; passed to every extern call
};

struct ModelDesc {
  uint32_t interface_version;  // kModelInterfaceVersion of the generating kiln
  const char* model_name;
  const char* kiln_version;
  const char* target_cpu;  // "x86-64-v3"; checked against the CPU at load
  int32_t num_symbols;
  const SymbolInfo* symbols;
  int32_t num_inputs;
  const TensorInfo* inputs;
  int32_t num_outputs;
  const TensorInfo* outputs;
  int32_t num_constants;
  const ConstantInfo* constants;
  // The weights: embedded in the .so (non-null), or external (null: the runtime maps the
  // file and checks its size and checksum).
  const uint8_t* embedded_weights;
  uint64_t weights_size;
  uint64_t weights_checksum;  // kiln::rt::weights_checksum of the blob

  // Checks every input (null pointers, device, dtype, rank, strides, every static dim, each
  // dynamic dim against its range, equal shared dims, derived dims) and binds the symbols.
  // Returns false with the sink set (KILN_ERROR_BAD_INPUT) on the first failure.
  bool (*bind_inputs)(const DLTensor* const* inputs, int64_t* symbols, ErrorSink* error);
  // The same from bare shapes (for kiln_output_shapes): input_shapes[i] has inputs[i].ndim dims.
  bool (*bind_shapes)(const int64_t* const* input_shapes, int64_t* symbols, ErrorSink* error);
  // Output j's dims under bound symbols, written to shapes[j].
  void (*output_shapes)(const int64_t* symbols, int64_t* const* shapes);
  // Scratch bytes a run needs under bound symbols.
  uint64_t (*arena_bytes)(const int64_t* symbols);
  // Runs every kernel in order. Returns false with ctx.error set on failure.
  bool (*run)(const RunContext& ctx);
};

}  // namespace kiln::rt

// Defined by the generated code of each model.
extern "C" const kiln::rt::ModelDesc* kiln_rt_model();
