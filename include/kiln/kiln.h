#pragma once

// The C ABI of a model library that `kiln compile` writes. Every model .so exports these
// functions (the kiln runtime is linked into it statically); load it with dlopen and dlsym,
// or link it directly. Tensors cross the ABI as DLPack DLTensors.
//
// Threading: kiln_run may be called from any number of threads at once. A container owns N
// runners; a call takes a free runner and blocks while all are busy. The other functions may
// also be called from any thread; kiln_update_constants waits until no run is in flight.
//
// Errors: every function that can fail returns a KilnStatus; kiln_last_error() then gives a
// message for the calling thread that names the input, the dim, the value and what was allowed.

#include <stddef.h>
#include <stdint.h>

#include "kiln/dlpack.h"

#ifdef __cplusplus
extern "C" {
#endif

// Bumped on every incompatible change of this header.
#define KILN_ABI_VERSION 1

#if defined(__GNUC__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

typedef enum {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1,  // a null pointer, an index out of range, a bad option
  KILN_ERROR_BAD_INPUT = 2,         // an input tensor that does not fit the model (also a
                                    // caller-provided output or a new constant value)
  KILN_ERROR_LOAD = 3,              // weights missing or corrupt, unsupported CPU, ABI mismatch
  KILN_ERROR_RUNTIME = 4,           // a failure while running (out of memory, index out of range)
} KilnStatus;

typedef struct KilnContainer KilnContainer;

typedef struct {
  // Runners: how many runs may be in flight at once (>= 1).
  int32_t num_runners;
  // Intra-op threads shared by all runners; 0 means every core of the machine.
  int32_t num_threads;
  // "cpu" (the default when NULL).
  const char* device;
  // For a model compiled with external weights: the weights file; NULL means the file
  // written beside the library ("<library>.weights").
  const char* weights_path;
} KilnOptions;

// Options with their defaults: one runner, all cores, "cpu", weights beside the library.
KILN_API void kiln_options_init(KilnOptions* options);

// The ABI version this library was built with (KILN_ABI_VERSION of its kiln.h).
KILN_API uint32_t kiln_abi_version(void);

// Creates a container; `options` may be NULL for the defaults.
KILN_API KilnStatus kiln_container_create(KilnContainer** out, const KilnOptions* options);
// Deletes a container; NULL is accepted. No run may be in flight.
KILN_API KilnStatus kiln_container_delete(KilnContainer* container);

// Runs the model. `inputs` holds kiln_num_inputs() tensors, in order.
//
// Outputs, one of two ways:
// - `outputs` non-NULL: caller-provided tensors, kiln_num_outputs() of them, with the right
//   dtype, device and shape and a compact row-major layout; kiln writes into them.
// - `outputs` NULL: kiln allocates each output (64-byte aligned, compact) and stores a
//   DLManagedTensor in `managed_outputs[i]`; the caller releases each by calling its deleter.
//   A failed call leaves nothing to release (once the counts are right, it sets every
//   `managed_outputs[i]` to NULL).
// Passing both is an error.
// `stream` is reserved for GPU models and must be NULL for CPU models.
KILN_API KilnStatus kiln_run(KilnContainer* container, const DLTensor* const* inputs,
                             size_t num_inputs, DLTensor* const* outputs,
                             DLManagedTensor** managed_outputs, size_t num_outputs,
                             void* stream);

// Describes an input, an output or a constant. Pointers stay valid while the container lives.
typedef struct {
  const char* name;
  DLDataType dtype;
  int32_t ndim;
  // Per dim: its expression over the model's symbols as text ("s0", "2*s0", "224"), and its
  // smallest and largest legal size (dim_max[i] == -1: no upper bound).
  const char* const* dims;
  const int64_t* dim_min;
  const int64_t* dim_max;
} KilnTensorInfo;

KILN_API size_t kiln_num_inputs(const KilnContainer* container);
KILN_API size_t kiln_num_outputs(const KilnContainer* container);
KILN_API size_t kiln_num_constants(const KilnContainer* container);
KILN_API KilnStatus kiln_input_info(const KilnContainer* container, size_t index,
                                    KilnTensorInfo* info);
KILN_API KilnStatus kiln_output_info(const KilnContainer* container, size_t index,
                                     KilnTensorInfo* info);
// A constant's dims are always static (dim_min == dim_max).
KILN_API KilnStatus kiln_constant_info(const KilnContainer* container, size_t index,
                                       KilnTensorInfo* info);

// Output shapes for given input shapes, without running: `input_shapes[i]` holds input i's
// dims; `output_shapes[j]` receives output j's dims (kiln_output_info gives its rank).
KILN_API KilnStatus kiln_output_shapes(const KilnContainer* container,
                                       const int64_t* const* input_shapes, size_t num_inputs,
                                       int64_t* const* output_shapes, size_t num_outputs);

// Replaces constants (weights) by name without recompiling: each tensor must have the
// constant's dtype and shape and live on the CPU; its data is copied. Waits for in-flight runs.
// Either every constant is replaced or, on any error, none is.
KILN_API KilnStatus kiln_update_constants(KilnContainer* container, const char* const* names,
                                          const DLTensor* const* values, size_t count);

// The message of the calling thread's last failed call ("" when none).
KILN_API const char* kiln_last_error(void);

// Facts about the compiled model, one "key=value" line each: model (its name), kiln_version,
// abi_version, target_cpu, weights_checksum (16 hex digits), weights (embedded | external).
KILN_API const char* kiln_model_info(void);

#ifdef __cplusplus
}  // extern "C"
#endif
