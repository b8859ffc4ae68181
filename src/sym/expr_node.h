#pragma once

// Internal: the node behind an Expr and the canonicalizing constructors the public operators,
// the parser and substitute() share. Not part of the public API.

#include <string>
#include <vector>

#include "sym/expr.h"
#include "util/error.h"

namespace kiln::sym {

struct ExprNode {
  Op op = Op::kConst;
  int64_t value = 0;       // kConst
  std::string name;        // kSymbol
  std::vector<Expr> args;  // everything else, in canonical order
  size_t hash = 0;
};

// Makes nodes as given, without canonicalizing; only the builders below call it.
struct ExprBuilder {
  static Expr make_const(int64_t value);
  static Expr make_symbol(std::string name);
  static Expr make_node(Op op, std::vector<Expr> args);
};

namespace detail {

// Three-way total order on canonical forms: negative, zero or positive.
int compare(const Expr& a, const Expr& b);

// A term of a sum split as coefficient * monomial; the monomial's factors are sorted and
// empty for a constant term.
struct Term {
  int64_t coef = 0;
  std::vector<Expr> factors;
};
Term split_term(const Expr& e);

// Canonicalizing n-ary constructors.
Expr make_add(std::vector<Expr> args);
Expr make_mul(std::vector<Expr> args);
Expr make_min(std::vector<Expr> args);
Expr make_max(std::vector<Expr> args);
Expr make_and(std::vector<Expr> args);
Expr make_or(std::vector<Expr> args);
// Rebuilds `op` over new operands (canonicalizing), for substitute().
Expr rebuild(Op op, std::vector<Expr> args);

// True for expressions whose value is always 0 or 1.
bool is_boolean(const Expr& e);

}  // namespace detail
}  // namespace kiln::sym
