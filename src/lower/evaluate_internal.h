#pragma once

// Internal to the kernel-IR evaluator (evaluate*.cpp): scalars and buffers as it holds them,
// compiled index expressions and body nodes, and the kernel runner.

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lower/evaluate.h"
#include "lower/kernel_ir.h"
#include "ref/tensor.h"
#include "sym/expr.h"

// The helpers below run once per element and node; tests build without optimization, where
// only always_inline removes the call overhead that would otherwise dominate a run.
#define KILN_EVAL_INLINE [[gnu::always_inline]] inline

namespace kiln::lower::eval {

// One scalar: `f` for floating dtypes, `i` for integers and bools (0/1).
union Val {
  double f;
  int64_t i;
};

// How a floating result is rounded to its dtype.
enum class Round : uint8_t { kNone, kFloat, kFormat };

// A dtype with what its values need after each operation.
struct Kind {
  ir::DType dtype = ir::DType::kFloat32;
  bool floating = true;
  Round round = Round::kFloat;
};

// Throws naming `what` for dtypes kernel IR does not compute in (complex).
Kind kind_of(ir::DType t, const std::string& what);
double round_slow(ir::DType t, double v);  // f16, bf16, f8

KILN_EVAL_INLINE double round_as(const Kind& k, double v) {
  if (k.round == Round::kNone) return v;
  if (k.round == Round::kFloat) return static_cast<double>(static_cast<float>(v));
  return round_slow(k.dtype, v);
}

KILN_EVAL_INLINE int64_t wrap_as(const Kind& k, int64_t v) {
  return k.dtype == ir::DType::kInt64 ? v : ref::wrap_to_dtype(k.dtype, v);
}

// float -> int as ref::Tensor::set converts (truncation; non-finite and huge values give 0).
KILN_EVAL_INLINE int64_t to_int(double v) {
  return (!std::isfinite(v) || std::fabs(v) >= 9.2e18) ? 0 : static_cast<int64_t>(v);
}

// v (floating when `from_floating`) converted to `to` by PyTorch's rules.
KILN_EVAL_INLINE Val convert(Val v, bool from_floating, const Kind& to) {
  Val r;
  if (to.floating) {
    r.f = round_as(to, from_floating ? v.f : static_cast<double>(v.i));
  } else if (to.dtype == ir::DType::kBool) {
    r.i = from_floating ? v.f != 0 : v.i != 0;
  } else {
    r.i = wrap_as(to, from_floating ? to_int(v.f) : v.i);
  }
  return r;
}

// A buffer's elements during a run: doubles (floating dtypes, rounded to the dtype) or int64s.
struct Storage {
  const Buffer* buffer = nullptr;
  Kind kind;
  std::vector<int64_t> sizes;
  int64_t numel = 0;
  std::vector<double> f;
  std::vector<int64_t> i;
  double* fdata = nullptr;  // f.data() or i.data() while allocated
  int64_t* idata = nullptr;
  bool allocated = false;

  void allocate_poisoned();  // NaN, or a poison pattern for integers
  void release();
  void fill_from(const ref::Tensor& t);
  ref::Tensor to_tensor() const;
  std::string str() const;  // "buf3 (f32[2, 3])"

  KILN_EVAL_INLINE Val load(int64_t k) const {
    Val v;
    if (kind.floating) {
      v.f = fdata[k];
    } else {
      v.i = idata[k];
    }
    return v;
  }
  KILN_EVAL_INLINE void store(int64_t k, Val v, bool from_floating) {
    Val c = convert(v, from_floating, kind);
    if (kind.floating) {
      fdata[k] = c.f;
    } else {
      idata[k] = c.i;
    }
  }
};

// ---- Index expressions ---------------------------------------------------------------------

struct Instr {
  sym::Op op;
  int32_t count;  // operands of an n-ary op
  int64_t value;  // kConst: the value; kSymbol: the variable's slot
};

// An index expression compiled over a kernel's variable slots with the shape symbols folded in:
// `constant + sum(coef * vars[slot])` when affine in at most kMaxTerms variables, else a postfix
// program. Plain arrays, so evaluation makes no calls in unoptimized builds.
struct IndexCode {
  static constexpr int kMaxTerms = 8;
  std::string text;
  bool affine = true;
  int64_t constant = 0;
  int32_t num_terms = 0;
  int32_t slots[kMaxTerms] = {};
  int64_t coefs[kMaxTerms] = {};
  std::vector<Instr> code;
  size_t depth = 0;  // stack slots the postfix program needs

  KILN_EVAL_INLINE int64_t eval(const int64_t* vars, int64_t* stack) const {
    if (!affine) return eval_code(vars, stack);
    int64_t r = constant;
    for (int32_t k = 0; k < num_terms; ++k) {
      int64_t term;
      if (__builtin_mul_overflow(coefs[k], vars[slots[k]], &term) ||
          __builtin_add_overflow(r, term, &r)) {
        overflow();
      }
    }
    return r;
  }
  int64_t eval_code(const int64_t* vars, int64_t* stack) const;
  [[noreturn]] void overflow() const;
};

// Resolves a symbol to a variable slot, or -1 for a shape symbol.
using SlotOf = std::function<int32_t(const std::string& name)>;

class IndexCompiler {
 public:
  IndexCompiler(const SymbolValues& symbols, SlotOf slot_of)
      : symbols_(symbols), slot_of_(std::move(slot_of)) {}
  // Throws naming an unbound shape symbol.
  IndexCode compile(const sym::Expr& e);

 private:
  struct Affine {
    int64_t constant = 0;
    std::map<int32_t, int64_t> terms;
  };
  std::optional<Affine> affine(const sym::Expr& e);
  void emit(const sym::Expr& e, std::vector<Instr>& code, size_t& depth, size_t& max_depth);

  const SymbolValues& symbols_;
  SlotOf slot_of_;
};

// ---- Body nodes ----------------------------------------------------------------------------

struct CNode {
  ScalarOp op = ScalarOp::kConst;
  Kind kind;
  int32_t a = -1, b = -1, c = -1;
  bool fa = false, fb = false, fc = false;  // operand a/b/c is floating
  Val constant{};                           // kConst
  int32_t buffer = -1;                      // kLoad
  IndexCode index;                          // kLoad, kIndex, kIndirect (the dim's size)
  int32_t slot = -1;                        // kIndirect: the slot of its t<N> variable
  int32_t loop = -1;                        // kLoopResult, kLoopIndex
};

// Operand structure of the ops, for checking bodies.
bool is_unary(ScalarOp op);
bool is_binary(ScalarOp op);
bool floating_only(ScalarOp op);
bool integer_only(ScalarOp op);
bool bool_result(ScalarOp op);

// The value of an arithmetic, logic, cast or where node from its operands' values (not loads,
// indices or loop results), rounded or wrapped to the node's dtype. Throws on integer division
// by zero.
Val apply_scalar(const CNode& n, const Val* vals);

// Compiles the kernel for this run's symbols and runs it over `storage` (indexed by BufferId;
// the buffers it touches are allocated).
void run_kernel(const Kernel& kernel, const Program& program, const SymbolValues& symbols,
                std::vector<Storage>& storage);

}  // namespace kiln::lower::eval
