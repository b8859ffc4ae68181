#pragma once

// Routines that generated code calls for work a library or a hand-written routine does better
// than a generated loop nest (GEMM, convolution, scans, scatters). Each kind named in a
// lower::ExternCall ("gemm") is the function extern_<kind> here; the printers emit
//   kiln::rt::extern_<kind>(args)
// with the call's buffers and parameters, in the order its lowering documents below.

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
};

// Each extern kind, with the meaning of its inputs, outputs, ints and floats, is declared
// below as `bool extern_<kind>(const ExternArgs& args);`.

}  // namespace kiln::rt
