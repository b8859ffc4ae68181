// The canonicalizing constructors. Every Expr is built here, so canonical form is an invariant:
//  - a sum is flat, its terms have distinct monomials, nonzero int64 coefficients, are ordered by
//    monomial (higher degree first), and its constant comes last;
//  - a product is flat, has no sum among its factors (products of sums are multiplied out), one
//    leading coefficient (omitted when 1) and factors sorted by the total order;
//  - a // k and a % k have k > 0, with every term of `a` that k divides pulled out and common
//    factors cancelled; Min/Max/And/Or are flat, folded, deduplicated and sorted;
//  - comparisons and logic fold whenever the answer does not depend on the symbols' values.

#include <algorithm>

#include "sym/checked.h"
#include "sym/expr_node.h"

namespace kiln::sym {
namespace detail {
namespace {

// Multiplying out a product of sums may create at most this many terms in one step. Beyond it
// (and when a coefficient overflows) construction fails: a partly multiplied-out product would
// not be canonical.
constexpr size_t kMaxExpandTerms = size_t{1} << 16;
// Non-constant powers are expanded into products, so the exponent is capped.
constexpr int64_t kMaxExponent = 256;

bool expr_less(const Expr& a, const Expr& b) {
  return compare(a, b) < 0;
}

// Orders the monomials of a sum: higher degree first, then the total order.
struct MonoLess {
  bool operator()(const std::vector<Expr>& a, const std::vector<Expr>& b) const {
    if (a.size() != b.size()) return a.size() > b.size();
    for (size_t i = 0; i < a.size(); ++i) {
      int c = compare(a[i], b[i]);
      if (c != 0) return c < 0;
    }
    return false;
  }
};

// coef * factors, with `factors` already sorted.
Expr make_term(int64_t coef, std::vector<Expr> factors) {
  if (coef == 0) return Expr(0);
  if (factors.empty()) return Expr(coef);
  if (coef == 1 && factors.size() == 1) return factors[0];
  if (coef != 1) factors.insert(factors.begin(), Expr(coef));
  return ExprBuilder::make_node(Op::kMul, std::move(factors));
}

std::vector<Expr> merge_factors(const std::vector<Expr>& a, const std::vector<Expr>& b) {
  std::vector<Expr> out;
  out.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), expr_less);
  return out;
}

std::vector<Expr> terms_of(const Expr& e) {
  return e.op() == Op::kAdd ? e.args() : std::vector<Expr>{e};
}

// e = rest + offset, where offset is the constant term of a sum.
std::pair<Expr, int64_t> split_offset(const Expr& e) {
  if (e.is_const()) return {Expr(0), e.value()};
  if (e.op() == Op::kAdd && e.args().back().is_const()) {
    std::vector<Expr> rest(e.args().begin(), e.args().end() - 1);
    Expr r = rest.size() == 1 ? rest[0] : ExprBuilder::make_node(Op::kAdd, std::move(rest));
    return {r, e.args().back().value()};
  }
  return {e, 0};
}

// a * s for a sum s, multiplied out and collected.
Expr multiply_out(const Expr& a, const Expr& s) {
  const std::vector<Expr> left = terms_of(a);
  if (left.size() > kMaxExpandTerms / s.args().size()) {
    throw error("multiplying out a product of sums with ", left.size(), " and ", s.args().size(),
                " terms gives more than ", kMaxExpandTerms, " terms");
  }
  std::vector<Expr> terms;
  terms.reserve(left.size() * s.args().size());
  for (const Expr& x : left) {
    Term p = split_term(x);
    for (const Expr& y : s.args()) {
      Term q = split_term(y);
      terms.push_back(make_term(checked_mul(p.coef, q.coef), merge_factors(p.factors, q.factors)));
    }
  }
  return make_add(std::move(terms));
}

// The parts of a dividend that a divisor coef * factors divides exactly, and the rest.
// `pulled` holds the quotients. With no symbolic factors, the constant term is split into a
// multiple of coef (pulled) and a remainder in [0, coef) (rest).
struct Division {
  std::vector<Expr> pulled;
  std::vector<Term> rest;
};

Division divide_terms(const Expr& a, const Term& divisor) {
  Division d;
  const int64_t k = divisor.coef;  // > 0
  for (const Expr& t : terms_of(a)) {
    Term s = split_term(t);
    if (s.factors.empty() && divisor.factors.empty()) {
      if (int64_t q = py_floordiv(s.coef, k)) d.pulled.push_back(Expr(q));
      if (int64_t r = py_mod(s.coef, k)) d.rest.push_back({r, {}});
    } else if (s.coef % k == 0 &&
               std::includes(s.factors.begin(), s.factors.end(), divisor.factors.begin(),
                             divisor.factors.end(), expr_less)) {
      std::vector<Expr> left;
      std::set_difference(s.factors.begin(), s.factors.end(), divisor.factors.begin(),
                          divisor.factors.end(), std::back_inserter(left), expr_less);
      d.pulled.push_back(make_term(s.coef / k, std::move(left)));
    } else {
      d.rest.push_back(std::move(s));
    }
  }
  return d;
}

// Cancels the common factor of the remaining terms and the divisor's coefficient; returns it.
int64_t cancel_gcd(std::vector<Term>& rest, Term& divisor) {
  uint64_t g = static_cast<uint64_t>(divisor.coef);
  for (const Term& t : rest)
    g = gcd_abs(static_cast<int64_t>(g), t.coef);
  if (g <= 1) return 1;
  const auto gi = static_cast<int64_t>(g);
  for (Term& t : rest)
    t.coef /= gi;
  divisor.coef /= gi;
  return gi;
}

Expr sum_of(std::vector<Term> terms) {
  std::vector<Expr> out;
  out.reserve(terms.size());
  for (Term& t : terms)
    out.push_back(make_term(t.coef, std::move(t.factors)));
  return make_add(std::move(out));
}

Expr make_minmax(Op op, std::vector<Expr> args) {
  const bool is_min = op == Op::kMin;
  std::vector<Expr> flat;
  for (const Expr& a : args) {
    if (a.op() == op) {
      flat.insert(flat.end(), a.args().begin(), a.args().end());
    } else {
      flat.push_back(a);
    }
  }
  if (flat.empty()) throw error(is_min ? "Min" : "Max", " needs at least one argument");
  std::optional<int64_t> constant;
  // Operands that differ by a constant: only the smallest (Min) or largest (Max) matters.
  std::vector<std::pair<Expr, int64_t>> groups;
  std::vector<Expr> originals;
  for (const Expr& e : flat) {
    if (e.is_const()) {
      int64_t v = e.value();
      constant = !constant ? v : (is_min ? std::min(*constant, v) : std::max(*constant, v));
      continue;
    }
    const auto split = split_offset(e);
    const Expr& rest = split.first;
    const int64_t offset = split.second;
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == rest; });
    if (it == groups.end()) {
      groups.emplace_back(rest, offset);
      originals.push_back(e);
    } else if (is_min ? offset < it->second : offset > it->second) {
      it->second = offset;
      originals[it - groups.begin()] = e;
    }
  }
  if (constant) originals.push_back(Expr(*constant));
  std::sort(originals.begin(), originals.end(), expr_less);
  if (originals.size() == 1) return originals[0];
  return ExprBuilder::make_node(op, std::move(originals));
}

Expr make_logic(Op op, std::vector<Expr> args) {
  const bool is_and = op == Op::kAnd;
  std::vector<Expr> flat;
  for (const Expr& a : args) {
    if (a.op() == op) {
      flat.insert(flat.end(), a.args().begin(), a.args().end());
    } else {
      flat.push_back(a);
    }
  }
  std::vector<Expr> kept;
  for (const Expr& e : flat) {
    if (e.is_const()) {
      // A false operand decides And, a true one decides Or; the others drop out.
      if ((e.value() != 0) != is_and) return Expr(is_and ? 0 : 1);
      continue;
    }
    kept.push_back(is_boolean(e) ? e : ne(e, 0));
  }
  std::sort(kept.begin(), kept.end(), expr_less);
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  if (kept.empty()) return Expr(is_and ? 1 : 0);
  if (kept.size() == 1) return kept[0];
  return ExprBuilder::make_node(op, std::move(kept));
}

// Orders the operands of a symmetric comparison: constants last, otherwise the total order.
std::pair<Expr, Expr> symmetric_order(const Expr& a, const Expr& b) {
  if (a.is_const() != b.is_const()) return a.is_const() ? std::pair{b, a} : std::pair{a, b};
  return compare(a, b) <= 0 ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

Term split_term(const Expr& e) {
  if (e.is_const()) return {e.value(), {}};
  if (e.op() == Op::kMul) {
    const auto& a = e.args();
    if (a[0].is_const()) return {a[0].value(), std::vector<Expr>(a.begin() + 1, a.end())};
    return {1, a};
  }
  return {1, {e}};
}

bool is_boolean(const Expr& e) {
  switch (e.op()) {
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kAnd:
    case Op::kOr:
    case Op::kNot:
      return true;
    case Op::kConst:
      return e.value() == 0 || e.value() == 1;
    default:
      return false;
  }
}

Expr make_add(std::vector<Expr> args) {
  std::map<std::vector<Expr>, int64_t, MonoLess> acc;
  int64_t constant = 0;
  auto absorb = [&](const Expr& e) {
    Term t = split_term(e);
    if (t.factors.empty()) {
      constant = checked_add(constant, t.coef);
      return;
    }
    auto [it, inserted] = acc.emplace(std::move(t.factors), t.coef);
    if (!inserted) it->second = checked_add(it->second, t.coef);
  };
  for (const Expr& a : args) {
    if (a.op() == Op::kAdd) {
      for (const Expr& t : a.args())
        absorb(t);
    } else {
      absorb(a);
    }
  }
  std::vector<Expr> terms;
  for (const auto& [factors, coef] : acc) {
    if (coef != 0) terms.push_back(make_term(coef, factors));
  }
  if (constant != 0) terms.push_back(Expr(constant));
  if (terms.empty()) return Expr(0);
  if (terms.size() == 1) return terms[0];
  return ExprBuilder::make_node(Op::kAdd, std::move(terms));
}

Expr make_mul(std::vector<Expr> args) {
  std::vector<Expr> flat;
  for (const Expr& a : args) {
    if (a.op() == Op::kMul) {
      flat.insert(flat.end(), a.args().begin(), a.args().end());
    } else {
      flat.push_back(a);
    }
  }
  // Zero wins before any coefficient product can overflow.
  for (const Expr& f : flat) {
    if (f.is_const() && f.value() == 0) return Expr(0);
  }
  int64_t coef = 1;
  std::vector<Expr> factors, sums;
  for (Expr& f : flat) {
    if (f.is_const()) {
      coef = checked_mul(coef, f.value());
    } else if (f.op() == Op::kAdd) {
      sums.push_back(std::move(f));
    } else {
      factors.push_back(std::move(f));
    }
  }
  std::sort(factors.begin(), factors.end(), expr_less);
  Expr result = make_term(coef, std::move(factors));
  // Sorted, so that which product fails (if one does) does not depend on operand order.
  std::sort(sums.begin(), sums.end(), expr_less);
  for (const Expr& s : sums)
    result = multiply_out(result, s);
  return result;
}

Expr make_min(std::vector<Expr> args) {
  return make_minmax(Op::kMin, std::move(args));
}
Expr make_max(std::vector<Expr> args) {
  return make_minmax(Op::kMax, std::move(args));
}
Expr make_and(std::vector<Expr> args) {
  return make_logic(Op::kAnd, std::move(args));
}
Expr make_or(std::vector<Expr> args) {
  return make_logic(Op::kOr, std::move(args));
}

Expr rebuild(Op op, std::vector<Expr> args) {
  switch (op) {
    case Op::kAdd:
      return make_add(std::move(args));
    case Op::kMul:
      return make_mul(std::move(args));
    case Op::kMin:
      return make_min(std::move(args));
    case Op::kMax:
      return make_max(std::move(args));
    case Op::kAnd:
      return make_and(std::move(args));
    case Op::kOr:
      return make_or(std::move(args));
    case Op::kFloorDiv:
      return floor_div(args.at(0), args.at(1));
    case Op::kMod:
      return mod(args.at(0), args.at(1));
    case Op::kEq:
      return eq(args.at(0), args.at(1));
    case Op::kNe:
      return ne(args.at(0), args.at(1));
    case Op::kLt:
      return lt(args.at(0), args.at(1));
    case Op::kLe:
      return le(args.at(0), args.at(1));
    case Op::kNot:
      return logical_not(args.at(0));
    case Op::kConst:
    case Op::kSymbol:
      break;
  }
  throw error("cannot rebuild symbolic op ", static_cast<int>(op));
}

}  // namespace detail

using namespace detail;

Expr operator+(const Expr& a, const Expr& b) {
  return make_add({a, b});
}
Expr operator-(const Expr& a, const Expr& b) {
  return make_add({a, make_mul({Expr(-1), b})});
}
Expr operator-(const Expr& a) {
  return make_mul({Expr(-1), a});
}
Expr operator*(const Expr& a, const Expr& b) {
  return make_mul({a, b});
}
Expr min(const Expr& a, const Expr& b) {
  return make_min({a, b});
}
Expr max(const Expr& a, const Expr& b) {
  return make_max({a, b});
}
Expr logical_and(const Expr& a, const Expr& b) {
  return make_and({a, b});
}
Expr logical_or(const Expr& a, const Expr& b) {
  return make_or({a, b});
}

Expr floor_div(const Expr& a, const Expr& b) {
  if (b.is_const() && b.value() == 0) throw error("division by zero: ", a.str(), "//0");
  if (a.is_const() && b.is_const()) return Expr(py_floordiv(a.value(), b.value()));
  if (a.is_const() && a.value() == 0) return Expr(0);
  Term divisor = split_term(b);
  // a // b == (-a) // (-b), so the divisor's coefficient can be made positive.
  if (divisor.coef < 0) return floor_div(-a, -b);
  if (b.is_const()) {
    const int64_t k = divisor.coef;
    if (k == 1) return a;
    const auto& inner = a.args();
    if (a.op() == Op::kFloorDiv && inner[1].is_const()) {
      int64_t kk;  // (x // k1) // k2 == x // (k1 * k2) for positive k1, k2
      if (!__builtin_mul_overflow(inner[1].value(), k, &kk)) return floor_div(inner[0], Expr(kk));
    }
    // x % m lies in [0, m), so it floor-divides to 0 by any k >= m.
    if (a.op() == Op::kMod && inner[1].is_const() && inner[1].value() <= k) return Expr(0);
  }
  Division d = divide_terms(a, divisor);
  if (d.rest.empty()) return make_add(std::move(d.pulled));
  cancel_gcd(d.rest, divisor);
  Expr num = sum_of(std::move(d.rest));
  Expr den = make_term(divisor.coef, std::move(divisor.factors));
  // Once nothing more divides, this is the canonical node; otherwise the rules may apply anew.
  Expr q = num == a && den == b ? ExprBuilder::make_node(Op::kFloorDiv, {num, den})
                                : floor_div(num, den);
  if (d.pulled.empty()) return q;
  d.pulled.push_back(q);
  return make_add(std::move(d.pulled));
}

Expr mod(const Expr& a, const Expr& b) {
  if (b.is_const() && b.value() == 0) throw error("modulo by zero: ", a.str(), "%0");
  if (a.is_const() && b.is_const()) return Expr(py_mod(a.value(), b.value()));
  if (a.is_const() && a.value() == 0) return Expr(0);
  Term divisor = split_term(b);
  // Python's a % b == -((-a) % (-b)): make the divisor's coefficient positive.
  if (divisor.coef < 0) return -mod(-a, -b);
  if (b.is_const()) {
    const int64_t k = divisor.coef;
    if (k == 1) return Expr(0);
    const auto& inner = a.args();
    if (a.op() == Op::kMod && inner[1].is_const()) {
      const int64_t m = inner[1].value();  // > 0 in canonical form
      if (m <= k) return a;                // x % m already lies in [0, k)
      if (m % k == 0) return mod(inner[0], b);
    }
  }
  Division d = divide_terms(a, divisor);
  if (divisor.factors.empty()) {
    // (c*x) % k == ((c - j*k)*x) % k: coefficients shrink to the smallest magnitude (-s0 stays
    // -s0 rather than becoming 6*s0 for k = 7), constants to [0, k).
    const int64_t k = divisor.coef;
    std::vector<Term> reduced;
    for (Term& t : d.rest) {
      int64_t c = py_mod(t.coef, k);
      if (!t.factors.empty() && c > k / 2) c -= k;
      if (c != 0) reduced.push_back({c, std::move(t.factors)});
    }
    d.rest = std::move(reduced);
  }
  if (d.rest.empty()) return Expr(0);
  // (g*m) % (g*n) == g * (m % n)
  const int64_t g = cancel_gcd(d.rest, divisor);
  Expr num = sum_of(std::move(d.rest));
  Expr den = make_term(divisor.coef, std::move(divisor.factors));
  if (g != 1) return make_mul({Expr(g), mod(num, den)});  // the rules may apply anew
  if (num == a && den == b) return ExprBuilder::make_node(Op::kMod, {num, den});
  return mod(num, den);
}

Expr ceil_div(const Expr& a, const Expr& b) {
  return -floor_div(-a, b);
}

Expr pow(const Expr& base, int64_t exponent) {
  if (exponent < 0) throw error("negative exponent ", exponent, " in power of ", base.str());
  if (base.is_const()) {
    int64_t result = 1, b = base.value();
    for (int64_t e = exponent; e > 0; e >>= 1) {
      if (e & 1) result = checked_mul(result, b);
      if (e > 1) b = checked_mul(b, b);  // needed for a higher bit, so overflow is real
    }
    return Expr(result);
  }
  if (exponent > kMaxExponent) {
    throw error("exponent ", exponent, " of ", base.str(), " is too large (at most ", kMaxExponent,
                ")");
  }
  Expr result = 1;
  for (int64_t i = 0; i < exponent; ++i)
    result = make_mul({result, base});
  return result;
}

Expr eq(const Expr& a, const Expr& b) {
  if (a == b) return Expr(1);
  if (a.is_const() && b.is_const()) return Expr(0);
  auto [ra, ca] = split_offset(a);
  auto [rb, cb] = split_offset(b);
  if (ra == rb) return Expr(ca == cb ? 1 : 0);
  // A boolean equals 1 exactly when it holds, 0 when it doesn't, and never anything else.
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    if (is_boolean(x) && y.is_const()) {
      return y.value() == 1 ? x : (y.value() == 0 ? logical_not(x) : Expr(0));
    }
  }
  auto [x, y] = symmetric_order(a, b);
  return ExprBuilder::make_node(Op::kEq, {x, y});
}

Expr ne(const Expr& a, const Expr& b) {
  if (a == b) return Expr(0);
  if (a.is_const() && b.is_const()) return Expr(1);
  auto [ra, ca] = split_offset(a);
  auto [rb, cb] = split_offset(b);
  if (ra == rb) return Expr(ca != cb ? 1 : 0);
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    if (is_boolean(x) && y.is_const()) {
      return y.value() == 0 ? x : (y.value() == 1 ? logical_not(x) : Expr(1));
    }
  }
  auto [x, y] = symmetric_order(a, b);
  return ExprBuilder::make_node(Op::kNe, {x, y});
}

Expr lt(const Expr& a, const Expr& b) {
  if (a == b) return Expr(0);
  auto [ra, ca] = split_offset(a);
  auto [rb, cb] = split_offset(b);
  if (ra == rb) return Expr(ca < cb ? 1 : 0);
  return ExprBuilder::make_node(Op::kLt, {a, b});
}

Expr le(const Expr& a, const Expr& b) {
  if (a == b) return Expr(1);
  auto [ra, ca] = split_offset(a);
  auto [rb, cb] = split_offset(b);
  if (ra == rb) return Expr(ca <= cb ? 1 : 0);
  return ExprBuilder::make_node(Op::kLe, {a, b});
}

Expr logical_not(const Expr& a) {
  const auto& x = a.args();
  switch (a.op()) {
    case Op::kConst:
      return Expr(a.value() == 0 ? 1 : 0);
    case Op::kNot:
      return x[0];  // always And/Or, so already boolean
    case Op::kEq:
      return ne(x[0], x[1]);
    case Op::kNe:
      return eq(x[0], x[1]);
    case Op::kLt:
      return le(x[1], x[0]);
    case Op::kLe:
      return lt(x[1], x[0]);
    case Op::kAnd:
    case Op::kOr:
      return ExprBuilder::make_node(Op::kNot, {a});
    default:
      return eq(a, 0);
  }
}

}  // namespace kiln::sym
