#pragma once

// Random expression trees for property tests. A Tree is built as written, with no
// simplification, and has its own plain evaluator with Python semantics, so it serves as the
// reference that canonical Exprs, parsing, printing and bounds are checked against.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "sym/expr.h"

namespace kiln::sym::testing {

enum class T {
  kConst,
  kSym,
  kAdd,
  kSub,
  kMul,
  kNeg,
  kFloorDiv,
  kMod,
  kMin,
  kMax,
  kCeilDiv,
  kPow,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kNot,
};

struct Tree {
  T op = T::kConst;
  int64_t value = 0;
  std::string name;
  std::vector<Tree> kids;
};

using Bindings = std::unordered_map<std::string, int64_t>;

class TreeGen {
 public:
  TreeGen(uint64_t seed, std::vector<std::string> symbols)
      : rng_(seed), symbols_(std::move(symbols)) {}

  bool with_logic = true;  // comparisons and And/Or/Not
  int64_t max_const = 6;

  Tree gen(int depth) {
    if (depth <= 0 || pick(4) == 0) return leaf();
    static constexpr T kArith[] = {T::kAdd, T::kSub, T::kMul, T::kNeg,     T::kFloorDiv,
                                   T::kMod, T::kMin, T::kMax, T::kCeilDiv, T::kPow};
    static constexpr T kLogic[] = {T::kEq, T::kNe,  T::kLt, T::kLe, T::kGt,
                                   T::kGe, T::kAnd, T::kOr, T::kNot};
    T op = with_logic && pick(5) == 0 ? kLogic[pick(std::size(kLogic))]
                                      : kArith[pick(std::size(kArith))];
    Tree t{op, 0, "", {}};
    if (op == T::kNeg || op == T::kNot) {
      t.kids.push_back(gen(depth - 1));
    } else if (op == T::kPow) {
      t.kids.push_back(gen(depth - 1));
      t.value = pick(4);  // the exponent
    } else if (op == T::kFloorDiv || op == T::kMod || op == T::kCeilDiv) {
      t.kids.push_back(gen(depth - 1));
      // Mostly constant divisors, as in real shapes, but symbolic ones too.
      t.kids.push_back(pick(3) == 0 ? gen(depth - 1) : divisor());
    } else {
      t.kids.push_back(gen(depth - 1));
      t.kids.push_back(gen(depth - 1));
    }
    return t;
  }

  int64_t value_in(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::mt19937_64& rng() { return rng_; }
  const std::vector<std::string>& symbols() const { return symbols_; }

 private:
  Tree leaf() {
    if (pick(2) == 0) return Tree{T::kSym, 0, symbols_[pick(symbols_.size())], {}};
    return Tree{T::kConst, value_in(-max_const, max_const), "", {}};
  }
  Tree divisor() {
    int64_t k = value_in(-4, 6);
    return Tree{T::kConst, k == 0 ? 3 : k, "", {}};
  }

  std::mt19937_64 rng_;
  std::vector<std::string> symbols_;
};

namespace detail {

inline std::optional<int64_t> floordiv(int64_t a, int64_t b) {
  if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

inline std::optional<int64_t> mod(int64_t a, int64_t b) {
  auto q = floordiv(a, b);
  if (!q) return std::nullopt;
  return a - *q * b;
}

}  // namespace detail

// Evaluates like Python would; nullopt on division by zero or overflow.
inline std::optional<int64_t> eval_tree(const Tree& t, const Bindings& b) {
  std::vector<int64_t> v;
  for (const Tree& k : t.kids) {
    auto x = eval_tree(k, b);
    if (!x) return std::nullopt;
    v.push_back(*x);
  }
  int64_t r = 0;
  switch (t.op) {
    case T::kConst:
      return t.value;
    case T::kSym:
      return b.at(t.name);
    case T::kAdd:
      if (__builtin_add_overflow(v[0], v[1], &r)) return std::nullopt;
      return r;
    case T::kSub:
      if (__builtin_sub_overflow(v[0], v[1], &r)) return std::nullopt;
      return r;
    case T::kMul:
      if (__builtin_mul_overflow(v[0], v[1], &r)) return std::nullopt;
      return r;
    case T::kNeg:
      if (__builtin_sub_overflow(int64_t{0}, v[0], &r)) return std::nullopt;
      return r;
    case T::kFloorDiv:
      return detail::floordiv(v[0], v[1]);
    case T::kMod:
      return detail::mod(v[0], v[1]);
    case T::kCeilDiv: {
      if (v[0] == INT64_MIN) return std::nullopt;
      auto q = detail::floordiv(-v[0], v[1]);
      if (!q || *q == INT64_MIN) return std::nullopt;
      return -*q;
    }
    case T::kMin:
      return std::min(v[0], v[1]);
    case T::kMax:
      return std::max(v[0], v[1]);
    case T::kPow:
      r = 1;
      for (int64_t i = 0; i < t.value; ++i) {
        if (__builtin_mul_overflow(r, v[0], &r)) return std::nullopt;
      }
      return r;
    case T::kEq:
      return v[0] == v[1];
    case T::kNe:
      return v[0] != v[1];
    case T::kLt:
      return v[0] < v[1];
    case T::kLe:
      return v[0] <= v[1];
    case T::kGt:
      return v[0] > v[1];
    case T::kGe:
      return v[0] >= v[1];
    case T::kAnd:
      return v[0] != 0 && v[1] != 0;
    case T::kOr:
      return v[0] != 0 || v[1] != 0;
    case T::kNot:
      return v[0] == 0;
  }
  return std::nullopt;
}

// Builds the Expr through the public constructors (which may throw on a zero divisor).
inline Expr to_expr(const Tree& t) {
  std::vector<Expr> k;
  for (const Tree& c : t.kids)
    k.push_back(to_expr(c));
  switch (t.op) {
    case T::kConst:
      return Expr(t.value);
    case T::kSym:
      return Expr::symbol(t.name);
    case T::kAdd:
      return k[0] + k[1];
    case T::kSub:
      return k[0] - k[1];
    case T::kMul:
      return k[0] * k[1];
    case T::kNeg:
      return -k[0];
    case T::kFloorDiv:
      return floor_div(k[0], k[1]);
    case T::kMod:
      return mod(k[0], k[1]);
    case T::kCeilDiv:
      return ceil_div(k[0], k[1]);
    case T::kMin:
      return min(k[0], k[1]);
    case T::kMax:
      return max(k[0], k[1]);
    case T::kPow:
      return pow(k[0], t.value);
    case T::kEq:
      return eq(k[0], k[1]);
    case T::kNe:
      return ne(k[0], k[1]);
    case T::kLt:
      return lt(k[0], k[1]);
    case T::kLe:
      return le(k[0], k[1]);
    case T::kGt:
      return lt(k[1], k[0]);
    case T::kGe:
      return le(k[1], k[0]);
    case T::kAnd:
      return logical_and(k[0], k[1]);
    case T::kOr:
      return logical_or(k[0], k[1]);
    case T::kNot:
      return logical_not(k[0]);
  }
  return Expr();
}

// Fully parenthesized infix text, as the old str() spelling would write it.
inline std::string infix(const Tree& t) {
  auto k = [&](size_t i) { return infix(t.kids[i]); };
  auto bin = [&](const char* op) { return "(" + k(0) + " " + op + " " + k(1) + ")"; };
  switch (t.op) {
    case T::kConst:
      return t.value < 0 ? "(" + std::to_string(t.value) + ")" : std::to_string(t.value);
    case T::kSym:
      return t.name;
    case T::kAdd:
      return bin("+");
    case T::kSub:
      return bin("-");
    case T::kMul:
      return bin("*");
    case T::kNeg:
      return "(-" + k(0) + ")";
    case T::kFloorDiv:
      return bin("//");
    case T::kMod:
      return bin("%");
    case T::kCeilDiv:
      return "CeilDiv(" + k(0) + ", " + k(1) + ")";
    case T::kMin:
      return "Min(" + k(0) + ", " + k(1) + ")";
    case T::kMax:
      return "Max(" + k(0) + ", " + k(1) + ")";
    case T::kPow:
      return "(" + k(0) + "**" + std::to_string(t.value) + ")";
    case T::kEq:
      return bin("==");
    case T::kNe:
      return bin("!=");
    case T::kLt:
      return bin("<");
    case T::kLe:
      return bin("<=");
    case T::kGt:
      return bin(">");
    case T::kGe:
      return bin(">=");
    case T::kAnd:
      return bin("&");
    case T::kOr:
      return bin("|");
    case T::kNot:
      return "(~" + k(0) + ")";
  }
  return "";
}

// sympy's srepr spelling.
inline std::string srepr(const Tree& t) {
  auto k = [&](size_t i) { return srepr(t.kids[i]); };
  auto call = [&](const char* head) {
    std::string s = std::string(head) + "(";
    for (size_t i = 0; i < t.kids.size(); ++i)
      s += (i ? ", " : "") + k(i);
    return s + ")";
  };
  switch (t.op) {
    case T::kConst:
      return "Integer(" + std::to_string(t.value) + ")";
    case T::kSym:
      return "Symbol('" + t.name + "', integer=True, positive=True)";
    case T::kAdd:
      return call("Add");
    case T::kSub:
      return "Add(" + k(0) + ", Mul(Integer(-1), " + k(1) + "))";
    case T::kMul:
      return call("Mul");
    case T::kNeg:
      return "Mul(Integer(-1), " + k(0) + ")";
    case T::kFloorDiv:
      return call("FloorDiv");
    case T::kMod:
      return call("PythonMod");
    case T::kCeilDiv:
      return call("CeilDiv");
    case T::kMin:
      return call("Min");
    case T::kMax:
      return call("Max");
    case T::kPow:
      return "Pow(" + k(0) + ", Integer(" + std::to_string(t.value) + "))";
    case T::kEq:
      return call("Eq");
    case T::kNe:
      return call("Ne");
    case T::kLt:
      return call("StrictLessThan");
    case T::kLe:
      return call("LessThan");
    case T::kGt:
      return call("StrictGreaterThan");
    case T::kGe:
      return call("GreaterThan");
    case T::kAnd:
      return call("And");
    case T::kOr:
      return call("Or");
    case T::kNot:
      return call("Not");
  }
  return "";
}

}  // namespace kiln::sym::testing
