#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sym/expr.h"

namespace kiln::sym {

// The values in both ranges; empty (min > max) when they don't overlap.
Range intersect(const Range& a, const Range& b);

// lhs == rhs, e.g. s1 == s0 or s2 == 2*s0.
struct Equality {
  Expr lhs;
  Expr rhs;
  std::string str() const { return lhs.str() + " == " + rhs.str(); }
  bool operator==(const Equality& other) const { return lhs == other.lhs && rhs == other.rhs; }
};

// What a program assumes about its symbols: a range per symbol and equalities between
// expressions over them. The runtime input checks are built on check().
struct Constraints {
  RangeMap ranges;
  std::vector<Equality> equalities;

  // Narrows `symbol`'s range to its intersection with `range`.
  void add_range(const std::string& symbol, const Range& range);
  void add_equality(const Expr& lhs, const Expr& rhs);

  // Solves the equalities for symbols, in order: each equality that has a symbol standing
  // alone with coefficient +-1 eliminates that symbol (the one latest in name order, so that
  // s1 == s0 maps s1 to s0). Values are expressions over the remaining symbols only.
  // Equalities with no such symbol are not used (check() still tests them).
  std::map<std::string, Expr> substitutions() const;
  // `e` with every eliminated symbol replaced, so equal expressions print the same.
  Expr normalize(const Expr& e) const;
  // `ranges`, with each remaining symbol narrowed by the ranges of symbols eliminated in its
  // favour (s1 -> s0 narrows s0 by s1's range; s2 -> 2*s0 + 1 by (s2's range - 1) / 2).
  RangeMap normalized_ranges() const;
  // Interval bounds of `e` under all constraints.
  Range bounds(const Expr& e) const;

  // Describes the first violated range or equality, naming the symbols, their values and the
  // allowed range; nullopt when all hold. Ranges and equalities that mention a symbol absent
  // from `bindings` are skipped: unbacked symbols get their values later in a run.
  std::optional<std::string> check(const std::unordered_map<std::string, int64_t>& bindings) const;
};

}  // namespace kiln::sym
