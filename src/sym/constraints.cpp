#include "sym/constraints.h"

#include "sym/checked.h"
#include "sym/expr_node.h"

namespace kiln::sym {
namespace {

using namespace detail;

// Narrows the range of t from a*t + b in [r.min, r.max], or returns nullopt on overflow.
std::optional<Range> solve_affine(int64_t a, int64_t b, const Range& r) {
  try {
    Range out;
    auto lo_of = [&](int64_t bound) { return -py_floordiv(checked_neg(checked_sub(bound, b)), a); };
    auto hi_of = [&](int64_t bound) { return py_floordiv(checked_sub(bound, b), a); };
    // a*t in [min - b, max - b]; dividing by a < 0 swaps the ends.
    const std::optional<int64_t>& low_end = a > 0 ? r.min : r.max;
    const std::optional<int64_t>& high_end = a > 0 ? r.max : r.min;
    if (low_end) out.min = lo_of(*low_end);    // ceil((bound - b) / a)
    if (high_end) out.max = hi_of(*high_end);  // floor((bound - b) / a)
    return out;
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool all_bound(const Expr& e, const std::unordered_map<std::string, int64_t>& bindings) {
  for (const std::string& s : e.free_symbols()) {
    if (!bindings.count(s)) return false;
  }
  return true;
}

}  // namespace

Range intersect(const Range& a, const Range& b) {
  Range r = a;
  if (b.min && (!r.min || *b.min > *r.min)) r.min = b.min;
  if (b.max && (!r.max || *b.max < *r.max)) r.max = b.max;
  return r;
}

void Constraints::add_range(const std::string& symbol, const Range& range) {
  auto [it, inserted] = ranges.emplace(symbol, range);
  if (!inserted) it->second = intersect(it->second, range);
}

void Constraints::add_equality(const Expr& lhs, const Expr& rhs) {
  equalities.push_back({lhs, rhs});
}

std::map<std::string, Expr> Constraints::substitutions() const {
  std::map<std::string, Expr> subst;
  for (const Equality& eq : equalities) {
    Expr d;
    try {
      d = (eq.lhs - eq.rhs).substitute(subst);
    } catch (const Error&) {
      continue;  // overflow while combining: leave it to check()
    }
    if (d.is_const()) continue;  // redundant, or contradictory (check() reports it)
    std::optional<Expr> pivot;
    int64_t pivot_coef = 0;
    for (const Expr& t : d.op() == Op::kAdd ? d.args() : std::vector<Expr>{d}) {
      Term term = split_term(t);
      if (term.factors.size() != 1 || !term.factors[0].is_symbol()) continue;
      if (term.coef != 1 && term.coef != -1) continue;
      const Expr& s = term.factors[0];
      if (pivot && s < *pivot) continue;
      if ((d - term.coef * s).free_symbols().count(s.name())) continue;  // also inside a term
      pivot = s;
      pivot_coef = term.coef;
    }
    if (!pivot) continue;
    // d == c*s + rest == 0 with c = +-1, so s == -c*rest.
    Expr value = Expr(-pivot_coef) * (d - pivot_coef * *pivot);
    const std::map<std::string, Expr> one = {{pivot->name(), value}};
    for (auto& [name, v] : subst)
      v = v.substitute(one);
    subst.emplace(pivot->name(), value);
  }
  return subst;
}

Expr Constraints::normalize(const Expr& e) const {
  return e.substitute(substitutions());
}

RangeMap Constraints::normalized_ranges() const {
  RangeMap out = ranges;
  for (const auto& [name, value] : substitutions()) {
    auto it = ranges.find(name);
    if (it == ranges.end()) continue;
    // value == a*t + b for a single symbol t?
    int64_t b = 0;
    Expr linear = value;
    if (value.op() == Op::kAdd && value.args().size() == 2 && value.args()[1].is_const()) {
      b = value.args()[1].value();
      linear = value.args()[0];
    }
    Term term = split_term(linear);
    if (term.factors.size() != 1 || !term.factors[0].is_symbol()) continue;
    std::optional<Range> narrowed = solve_affine(term.coef, b, it->second);
    if (!narrowed) continue;
    const std::string& t = term.factors[0].name();
    auto [slot, inserted] = out.emplace(t, *narrowed);
    if (!inserted) slot->second = intersect(slot->second, *narrowed);
  }
  return out;
}

Range Constraints::bounds(const Expr& e) const {
  return sym::bounds(normalize(e), normalized_ranges());
}

std::optional<std::string> Constraints::check(
    const std::unordered_map<std::string, int64_t>& bindings) const {
  for (const auto& [name, range] : ranges) {
    auto it = bindings.find(name);
    if (it == bindings.end() || range.contains(it->second)) continue;
    return name + " = " + std::to_string(it->second) + " is outside its allowed range " +
           range.str();
  }
  for (const Equality& eq : equalities) {
    if (!all_bound(eq.lhs, bindings) || !all_bound(eq.rhs, bindings)) continue;
    int64_t l = 0, r = 0;
    try {
      l = eq.lhs.eval(bindings);
      r = eq.rhs.eval(bindings);
    } catch (const Error& e) {
      return "cannot check " + eq.str() + ": " + e.what();
    }
    if (l == r) continue;
    std::string msg = eq.str() + " does not hold";
    std::string sep = ": ";
    for (const auto& [side, v] : {std::pair{&eq.lhs, l}, std::pair{&eq.rhs, r}}) {
      if (side->is_const()) continue;
      msg += sep + side->str() + " = " + std::to_string(v);
      sep = " but ";
    }
    // Name the values of symbols inside compound sides.
    std::set<std::string> inner;
    for (const Expr* side : {&eq.lhs, &eq.rhs}) {
      if (side->is_symbol() || side->is_const()) continue;
      for (const std::string& s : side->free_symbols())
        inner.insert(s);
    }
    for (const Expr* side : {&eq.lhs, &eq.rhs}) {
      if (side->is_symbol()) inner.erase(side->name());
    }
    sep = " (";
    for (const std::string& s : inner) {
      msg += sep + s + " = " + std::to_string(bindings.at(s));
      sep = ", ";
    }
    if (!inner.empty()) msg += ")";
    return msg;
  }
  return std::nullopt;
}

}  // namespace kiln::sym
