#pragma once

// Kernel IR: what lowering produces from the ATen graph and what the scheduler and the code
// printers consume. A program is a list of buffers and a list of steps in execution order.
// A step is a kernel (loops whose bodies are small scalar expression DAGs that read buffers at
// symbolic index expressions) or an extern call (a GEMM, a convolution, a runtime routine).
//
// Index expressions are sym::Expr over: the program's shape symbols (s0, ...), the kernel's
// loop variables (x0, x1, ... for its outer loops; r<L>_<d> for inner loop d of loop L), and
// indirect variables t<N> (the int64 value of body node N, see ScalarOp::kIndirect).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/dtype.h"
#include "sym/expr.h"

namespace kiln::lower {

using BufferId = int32_t;

enum class BufferKind : uint8_t {
  kInput,     // a user input of the model (input_index)
  kConstant,  // a weight or constant (constant_index into Program::constants)
  kOutput,    // a user output of the model (output_index)
  kTemp,      // scratch, placed in the arena by the memory plan
};

// A dense row-major array. Views never make buffers: they are index expressions.
struct Buffer {
  std::string name;  // a C identifier, unique in the program ("buf3", "arg0_1", "p_fc_weight")
  BufferKind kind = BufferKind::kTemp;
  ir::DType dtype = ir::DType::kFloat32;
  std::vector<sym::Expr> sizes;
  int32_t input_index = -1;     // kInput
  int32_t output_index = -1;    // kOutput
  int32_t constant_index = -1;  // kConstant
  // kTemp: set by the memory plan: the arena slot it lives in.
  int32_t slot = -1;

  sym::Expr numel() const;
};

// Scalar operations of kernel bodies. Each node has the dtype it computes in: bool, an integer
// type, f32 or f64 (f16/bf16 loads widen to f32 and stores round back).
enum class ScalarOp : uint8_t {
  kLoad,        // buffer[index]
  kConst,       // a literal (fvalue for floats, ivalue for ints and bools)
  kIndex,       // the integer value of the index expression `index`
  kCast,        // a -> dtype (PyTorch's conversion rules: float->int truncates)
  kIndirect,    // a as an index into a dim of size `index` (negatives wrap); out of range fails
  kLoopResult,  // the result of an earlier reduction loop of the same kernel (loop = ivalue)
  kLoopIndex,   // the index result of an earlier arg-reduction loop (loop = ivalue)
  // unary (a)
  kNeg,
  kAbs,
  kNot,
  kBitNot,
  kSign,
  kExp,
  kExp2,
  kExpm1,
  kLog,
  kLog2,
  kLog10,
  kLog1p,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kTanh,
  kAsinh,
  kAcosh,
  kAtanh,
  kErf,
  kErfc,
  kErfinv,
  kSigmoid,
  kFloor,
  kCeil,
  kRound,
  kTrunc,
  kFrac,
  kIsNan,
  kIsInf,
  kIsFinite,
  kSignbit,
  // binary (a, b)
  kAdd,
  kSub,
  kMul,
  kDiv,       // true division for floats; C++ truncation for ints (used after explicit floor)
  kFloorDiv,  // Python // for ints and floats
  kMod,       // Python % (sign of the divisor), ints and floats
  kFmod,      // C fmod (sign of the dividend)
  kPow,
  kAtan2,
  kHypot,
  kCopysign,
  kNextafter,
  kMax,
  kMin,  // propagate NaN as PyTorch's maximum/minimum
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kXor,  // logical, on bools
  kBitAnd,
  kBitOr,
  kBitXor,
  kShl,
  kShr,  // integers and bools
  // ternary
  kWhere,  // a ? b : c
};

struct ScalarNode {
  ScalarOp op = ScalarOp::kConst;
  ir::DType dtype = ir::DType::kFloat32;
  int32_t a = -1, b = -1, c = -1;  // operands: indices of earlier nodes of the same body
  double fvalue = 0;               // kConst (floats)
  int64_t ivalue = 0;              // kConst (ints, bools), kLoopResult/kLoopIndex (loop)
  BufferId buffer = -1;            // kLoad
  sym::Expr index;                 // kLoad: flat element offset; kIndex: value; kIndirect: size
};

// A body: nodes in topological order (operands before users). Structurally equal nodes are
// shared (BodyBuilder hashes them), so a body is a DAG.
struct Body {
  std::vector<ScalarNode> nodes;
};

enum class ReduceOp : uint8_t {
  kSum,
  kProd,
  kMax,     // NaN propagates
  kMin,     // NaN propagates
  kArgMax,  // first index of the max; NaN counts as the max
  kArgMin,
  kAny,
  kAll,
};

// The op's name in messages and dumps: "sum", "argmax", ...
inline std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kProd:
      return "prod";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kArgMax:
      return "argmax";
    case ReduceOp::kArgMin:
      return "argmin";
    case ReduceOp::kAny:
      return "any";
    case ReduceOp::kAll:
      return "all";
  }
  return "?";
}

// A write of body node `value` to buffer[index] (cast to the buffer's dtype).
struct Store {
  BufferId buffer = -1;
  sym::Expr index;
  int32_t value = -1;
};

// One loop nest inside a kernel's outer loops. A reduction loop combines `value` over its
// ranges in `accumulate` dtype (f32 for f16/bf16/f32 sums, f64 for f64) and makes the result
// available to later loops (kLoopResult); a pointwise loop runs its stores at every point.
struct Loop {
  std::vector<sym::Expr> ranges;  // its own variables r<L>_0, r<L>_1, ...
  std::optional<ReduceOp> reduce;
  ir::DType accumulate = ir::DType::kFloat32;
  Body body;
  int32_t value = -1;         // reduction loops: the node combined
  std::vector<Store> stores;  // pointwise loops
};

// A generated kernel: outer loops x0.. over `ranges` (parallelized), and inside them loops
// that run in order.
struct Kernel {
  std::string name;     // "kernel3"
  std::string comment;  // the source ops, e.g. "aten.softmax.int (softmax_1)"
  std::vector<sym::Expr> ranges;
  std::vector<Loop> loops;
};

// A call of a library or runtime routine (GEMM, convolution, ...). `kind` names it; its
// operands and parameters are listed so that the printers need no op-specific knowledge
// beyond the routine's signature.
struct ExternCall {
  std::string kind;     // "gemm", "conv", "cumsum", "scatter", ...
  std::string comment;  // the source op
  std::vector<BufferId> inputs;
  std::vector<BufferId> outputs;
  // Integer parameters as expressions over the shape symbols (sizes, strides, flags), and
  // float parameters (alpha, beta, ...), in the order the routine's signature gives them.
  std::vector<sym::Expr> int_params;
  std::vector<double> float_params;
};

struct Step {
  std::optional<Kernel> kernel;
  std::optional<ExternCall> call;
};

// An output of the model: the buffer it reads (an input, constant or output buffer).
struct OutputRef {
  std::string name;
  BufferId buffer = -1;
};

struct Program {
  std::vector<Buffer> buffers;
  std::vector<Step> steps;
  std::vector<BufferId> inputs;    // per user input of the signature
  std::vector<OutputRef> outputs;  // per user output of the signature
  // Per constant: its name (the signature's FQN) and the signature input whose stored tensor
  // (passes::stored_tensors) holds its data.
  std::vector<std::string> constants;
  std::vector<int32_t> constant_inputs;
};

}  // namespace kiln::lower
