#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::sym {

// The operations a symbolic integer expression is built from. Comparisons and logic yield 0/1.
enum class Op : uint8_t {
  kConst,
  kSymbol,
  kAdd,       // n-ary
  kMul,       // n-ary
  kFloorDiv,  // Python //: rounds toward negative infinity
  kMod,       // Python %: result has the sign of the divisor
  kMin,       // n-ary
  kMax,       // n-ary
  kEq,
  kNe,
  kLt,
  kLe,
  kAnd,
  kOr,
  kNot,
};

struct ExprNode;

// An immutable symbolic integer expression over the export's symbols (s0, u3, ...). Every
// constructor returns the canonical form, so two expressions that simplify to the same form
// compare equal with ==. Copying is cheap (shared nodes).
class Expr {
 public:
  Expr();               // the constant 0
  Expr(int64_t value);  // NOLINT: implicit, so `2 * e + 1` reads naturally
  Expr(int value) : Expr(static_cast<int64_t>(value)) {}  // NOLINT
  static Expr symbol(std::string_view name);

  Op op() const;
  bool is_const() const { return op() == Op::kConst; }
  bool is_symbol() const { return op() == Op::kSymbol; }
  std::optional<int64_t> as_const() const;
  // Valid for kConst.
  int64_t value() const;
  // Valid for kSymbol.
  const std::string& name() const;
  // Operands in canonical order (empty for constants and symbols).
  const std::vector<Expr>& args() const;

  std::set<std::string> free_symbols() const;
  // Replaces symbols by expressions and re-canonicalizes.
  Expr substitute(const std::map<std::string, Expr>& replacements) const;
  // Throws kiln::Error naming the symbol if one is unbound, and on division by zero.
  int64_t eval(const std::unordered_map<std::string, int64_t>& bindings) const;

  // The short, sympy-like spelling, e.g. "2*s0 + 1", "(s1 + 1)//2 - 1". parse(str()) == *this.
  std::string str() const;
  // A C++ expression over int64_t variables named like the symbols; floor division and
  // modulo print as calls to kiln_floordiv / kiln_mod (Python semantics), min and max as
  // kiln_min / kiln_max (runtime/sym_runtime.h).
  std::string to_cpp() const;

  bool operator==(const Expr& other) const;
  bool operator!=(const Expr& other) const { return !(*this == other); }
  // A total order on canonical forms (used to sort operands).
  bool operator<(const Expr& other) const;
  size_t hash() const;

  const ExprNode* node() const { return node_.get(); }

 private:
  explicit Expr(std::shared_ptr<const ExprNode> node);
  std::shared_ptr<const ExprNode> node_;
  friend struct ExprBuilder;
};

// The operators return canonical forms. They throw kiln::Error when folding constants overflows
// int64 and when a divisor is the constant 0.
Expr operator+(const Expr& a, const Expr& b);
Expr operator-(const Expr& a, const Expr& b);
Expr operator-(const Expr& a);
Expr operator*(const Expr& a, const Expr& b);
Expr floor_div(const Expr& a, const Expr& b);
Expr mod(const Expr& a, const Expr& b);
Expr min(const Expr& a, const Expr& b);
Expr max(const Expr& a, const Expr& b);
Expr eq(const Expr& a, const Expr& b);
Expr ne(const Expr& a, const Expr& b);
Expr lt(const Expr& a, const Expr& b);
Expr le(const Expr& a, const Expr& b);
Expr logical_and(const Expr& a, const Expr& b);
Expr logical_or(const Expr& a, const Expr& b);
Expr logical_not(const Expr& a);
// ceil(a / b) for integers, built as -((-a) // b).
Expr ceil_div(const Expr& a, const Expr& b);
// base ** exponent for a non-negative exponent, expanded as a product.
Expr pow(const Expr& base, int64_t exponent);

// Parses either spelling the archive uses: sympy's srepr form
// ("Add(Mul(Integer(2), Symbol('s0', integer=True, positive=True)), Integer(1))") or the infix
// form ("2*s0 + 1", "((s0 + 1)//2)"). Throws kiln::Error naming the text and position.
Expr parse(std::string_view text);

// A closed integer interval; a missing bound is unbounded on that side.
struct Range {
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  bool contains(int64_t v) const { return (!min || v >= *min) && (!max || v <= *max); }
  std::string str() const;  // "[2, 1024]", "[2, inf]"
  bool operator==(const Range&) const = default;
};

using RangeMap = std::map<std::string, Range>;

// Sound interval bounds of an expression given the ranges of its symbols (symbols without a
// range are unbounded).
Range bounds(const Expr& e, const RangeMap& ranges);

}  // namespace kiln::sym

template <>
struct std::hash<kiln::sym::Expr> {
  size_t operator()(const kiln::sym::Expr& e) const { return e.hash(); }
};
