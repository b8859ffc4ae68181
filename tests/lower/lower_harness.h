#pragma once

// The lowering test harness: runs one op (or a whole fixture program) through the backend
// passes, lowering and the kernel-IR evaluator, and compares with the reference interpreter.

#include <string_view>
#include <vector>

#include "frontend/load.h"
#include "op_harness.h"
#include "ref/tensor.h"

namespace kiln::testing {

struct LowerCheckOptions {
  bool symbolic = true;  // also with every dim > 1 made symbolic
  double tol = -1;       // default: 1e-5 f32/f64, 1e-2 f16/bf16, exact ints/bools
  bool run_backend_passes = true;
  // Also feed every input of rank >= 2 through a transpose view, so the op reads
  // non-contiguous memory.
  bool non_contiguous = true;
};

// Builds the one-node program of run_op (tensor args become user inputs), runs
// passes::prepare_for_backend, lower::lower_program, lower::evaluate on the same tensors, and
// expects each output to match the reference interpreter's (gtest EXPECTs, with messages naming
// target, output index, shapes and error). With static shapes it runs again with every input of
// rank >= 2 read through a transpose view (non-contiguous).
void check_lowered_op(std::string_view target, const TestArgs& args,
                      LowerCheckOptions options = {});

// The same for a whole loaded .pt2 program (fixture): runs the pipeline and lowering, evaluates
// with the given inputs (the tensor user inputs in signature order, as Program::inputs lists
// them) and returns the outputs.
std::vector<ref::Tensor> evaluate_lowered(const frontend::LoadedProgram& loaded,
                                          const std::vector<ref::Tensor>& user_inputs);

}  // namespace kiln::testing
