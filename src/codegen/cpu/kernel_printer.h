#pragma once

// The CPU kernel printer: kernel IR to readable C++ that GCC vectorizes, parallelized with
// OpenMP. Each kernel and each extern call becomes one function
//   static bool <name>(const kiln::rt::RunContext& ctx, void* const* buffers)
// where buffers[i] is the data pointer of program->buffers[i] (the wrapper fills the table).
// It returns false with ctx.error set when the kernel fails (an index out of range, an
// integer division by zero). The text needs kernel_prelude() earlier in its translation unit.

#include <string>
#include <vector>

#include "lower/kernel_ir.h"

namespace kiln::codegen::cpu {

struct PrintContext {
  const lower::Program* program = nullptr;
  std::vector<std::string> symbols;  // the order of RunContext::symbols
};

// The definition of `static bool <kernel.name>(ctx, buffers)`. Throws kiln::Error naming the
// kernel, loop and node for IR it cannot print (bad operands, unknown symbols, dtypes CPU
// kernels do not support).
std::string print_kernel(const lower::Kernel& kernel, const PrintContext& pc);

// The same signature for an extern call: builds a kiln::rt::ExternArgs (inputs and outputs from
// buffers[], ints from evaluating int_params over the symbols, floats) and returns
// kiln::rt::extern_<kind>(args).
std::string print_extern(const lower::ExternCall& call, const std::string& function_name,
                         const PrintContext& pc);

// The includes and helpers a translation unit of kernels starts with.
std::string kernel_prelude();

// Estimated work (scalar evaluations) below which a kernel runs on one thread.
inline constexpr int64_t kParallelWorkThreshold = 32768;

}  // namespace kiln::codegen::cpu
