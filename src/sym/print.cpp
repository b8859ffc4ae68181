// Printing: the short, sympy-like spelling (str) and C++ (to_cpp). Both share one printer that
// inserts parentheses by precedence; they differ in how floor division, modulo, Min/Max and
// logic are spelled.

#include <cctype>
#include <limits>

#include "sym/expr_node.h"

namespace kiln::sym {
namespace {

using detail::split_term;

enum class Mode { kShort, kCpp };

// Binding strength, loosest first. An operand is parenthesized when its own precedence is
// lower than what its position needs.
constexpr int kPrecCompare = 1;
constexpr int kPrecAdd = 3;
constexpr int kPrecMul = 4;
constexpr int kPrecUnary = 5;
constexpr int kPrecAtom = 7;

constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();

class Printer {
 public:
  explicit Printer(Mode mode) : mode_(mode) {}

  std::string print(const Expr& e) {
    out_.clear();
    emit(e, 0);
    return std::move(out_);
  }

 private:
  int precedence(const Expr& e) const {
    switch (e.op()) {
      case Op::kConst:
        return e.value() >= 0 || e.value() == kMinInt ? kPrecAtom : kPrecUnary;
      case Op::kAdd:
        return kPrecAdd;
      case Op::kMul:
        return kPrecMul;
      case Op::kFloorDiv:
      case Op::kMod:
        return mode_ == Mode::kCpp ? kPrecAtom : kPrecMul;
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
        return mode_ == Mode::kCpp ? kPrecAtom : kPrecCompare;  // C++ wraps them itself
      default:
        return kPrecAtom;
    }
  }

  // Prints e, parenthesized if it binds looser than `need`.
  void emit(const Expr& e, int need) {
    bool paren = precedence(e) < need;
    if (paren) out_ += '(';
    emit_bare(e);
    if (paren) out_ += ')';
  }

  void emit_const(int64_t v) {
    // -9223372036854775808 has no literal: its magnitude overflows before the minus applies.
    if (v == kMinInt) {
      out_ += mode_ == Mode::kCpp ? "(-9223372036854775807LL - 1)" : "(-9223372036854775807 - 1)";
    } else {
      out_ += std::to_string(v);
    }
  }

  // coef * factors as one term of a sum or a product by itself.
  void emit_term(int64_t coef, const std::vector<Expr>& factors) {
    if (factors.empty()) {
      emit_const(coef);
      return;
    }
    if (coef == 1 && factors.size() == 1) {
      emit(factors[0], kPrecAdd + 1);
      return;
    }
    if (coef == -1) {
      out_ += '-';
    } else if (coef != 1) {
      emit_const(coef);
      out_ += '*';
    }
    // Factors bind tighter than `*` so that "s0*(s1//2)" and "-(s0//2)" keep their meaning.
    for (size_t i = 0; i < factors.size(); ++i) {
      if (i > 0) out_ += '*';
      emit(factors[i], kPrecMul + 1);
    }
  }

  void emit_call(const char* name, const std::vector<Expr>& args) {
    out_ += name;
    out_ += '(';
    for (size_t i = 0; i < args.size(); ++i) {
      if (i > 0) out_ += ", ";
      emit(args[i], 0);
    }
    out_ += ')';
  }

  // std::min<int64_t>(a, std::min<int64_t>(b, c)): the two-argument form is constexpr and
  // needs no <initializer_list>.
  void emit_cpp_minmax(const char* fn, const std::vector<Expr>& args, size_t from) {
    if (from + 1 == args.size()) {
      emit(args[from], 0);
      return;
    }
    out_ += fn;
    out_ += '(';
    emit(args[from], 0);
    out_ += ", ";
    emit_cpp_minmax(fn, args, from + 1);
    out_ += ')';
  }

  void emit_infix(const Expr& e, const char* op) {
    if (mode_ == Mode::kCpp) out_ += '(';
    emit(e.args()[0], kPrecCompare + 1);
    out_ += op;
    emit(e.args()[1], kPrecCompare + 1);
    if (mode_ == Mode::kCpp) out_ += ')';
  }

  void emit_div(const Expr& e, const char* short_op, const char* cpp_fn) {
    if (mode_ == Mode::kCpp) {
      emit_call(cpp_fn, e.args());
      return;
    }
    // The dividend is parenthesized unless atomic, for readability: "(2*s0)//3".
    emit(e.args()[0], kPrecAtom);
    out_ += short_op;
    emit(e.args()[1], kPrecAtom);
  }

  void emit_logic(const Expr& e, const char* short_name, const char* cpp_op) {
    if (mode_ == Mode::kShort) {
      emit_call(short_name, e.args());
      return;
    }
    out_ += '(';
    for (size_t i = 0; i < e.args().size(); ++i) {
      if (i > 0) out_ += cpp_op;
      emit(e.args()[i], kPrecAtom);
    }
    out_ += ')';
  }

  void emit_bare(const Expr& e) {
    const auto& args = e.args();
    switch (e.op()) {
      case Op::kConst:
        emit_const(e.value());
        return;
      case Op::kSymbol:
        out_ += e.name();
        return;
      case Op::kAdd:
        for (size_t i = 0; i < args.size(); ++i) {
          detail::Term t = split_term(args[i]);
          if (i == 0) {
            emit_term(t.coef, t.factors);
          } else if (t.coef < 0 && t.coef != kMinInt) {
            out_ += " - ";
            emit_term(-t.coef, t.factors);
          } else {
            out_ += " + ";
            emit_term(t.coef, t.factors);
          }
        }
        return;
      case Op::kMul: {
        detail::Term t = split_term(e);
        emit_term(t.coef, t.factors);
        return;
      }
      case Op::kFloorDiv:
        emit_div(e, "//", "kiln_floordiv");
        return;
      case Op::kMod:
        emit_div(e, "%", "kiln_mod");
        return;
      case Op::kMin:
        if (mode_ == Mode::kShort) {
          emit_call("Min", args);
        } else {
          emit_cpp_minmax("kiln_min", args, 0);
        }
        return;
      case Op::kMax:
        if (mode_ == Mode::kShort) {
          emit_call("Max", args);
        } else {
          emit_cpp_minmax("kiln_max", args, 0);
        }
        return;
      case Op::kEq:
        emit_infix(e, " == ");
        return;
      case Op::kNe:
        emit_infix(e, " != ");
        return;
      case Op::kLt:
        emit_infix(e, " < ");
        return;
      case Op::kLe:
        emit_infix(e, " <= ");
        return;
      case Op::kAnd:
        emit_logic(e, "And", " && ");
        return;
      case Op::kOr:
        emit_logic(e, "Or", " || ");
        return;
      case Op::kNot:
        if (mode_ == Mode::kShort) {
          emit_call("Not", args);
        } else {
          out_ += "(!";
          emit(args[0], kPrecAtom);
          out_ += ')';
        }
        return;
    }
  }

  Mode mode_;
  std::string out_;
};

}  // namespace

std::string Expr::str() const {
  return Printer(Mode::kShort).print(*this);
}

std::string Expr::to_cpp() const {
  return Printer(Mode::kCpp).print(*this);
}

}  // namespace kiln::sym
