// Interval bounds. Every rule is sound: the true value of the expression, for any symbol values
// inside their ranges, lies inside the computed interval. Arithmetic runs on 128-bit integers
// with explicit infinities, and a bound that leaves int64 becomes unbounded on that side, so no
// step can overflow.

#include <algorithm>
#include <limits>

#include "sym/expr_node.h"

namespace kiln::sym {
namespace {

__extension__ typedef __int128 Wide;

constexpr Wide kInf = Wide(1) << 100;
constexpr Wide kMin64 = std::numeric_limits<int64_t>::min();
constexpr Wide kMax64 = std::numeric_limits<int64_t>::max();

bool finite(Wide v) {
  return v > -kInf && v < kInf;
}

// Saturates to the infinities outside int64, keeping the sign.
Wide saturate(Wide v) {
  return v < kMin64 ? -kInf : (v > kMax64 ? kInf : v);
}

// lo is -kInf or an int64; hi is an int64 or kInf.
struct Iv {
  Wide lo = -kInf;
  Wide hi = kInf;
};

// Widening a bound to infinity is always sound, so out-of-range bounds are dropped.
Iv make(Wide lo, Wide hi) {
  return {(lo < kMin64 || lo > kMax64) ? -kInf : lo, (hi < kMin64 || hi > kMax64) ? kInf : hi};
}

Iv point(int64_t v) {
  return {v, v};
}

Iv bool_iv(bool can_be_false, bool can_be_true) {
  return {can_be_false ? 0 : 1, can_be_true ? 1 : 0};
}

bool surely_zero(const Iv& v) {
  return v.lo == 0 && v.hi == 0;
}
bool surely_nonzero(const Iv& v) {
  return v.lo > 0 || v.hi < 0;
}

Wide mul_wide(Wide a, Wide b) {
  if (a == 0 || b == 0) return 0;  // a bound at infinity stands for finite values
  if (!finite(a) || !finite(b)) return (a < 0) != (b < 0) ? -kInf : kInf;
  return saturate(a * b);  // both within int64, so the product fits
}

Iv add(const Iv& a, const Iv& b) {
  return make(a.lo + b.lo, a.hi + b.hi);
}

Iv neg(const Iv& a) {
  return make(-a.hi, -a.lo);
}

Iv mul(const Iv& a, const Iv& b) {
  const Wide c[] = {mul_wide(a.lo, b.lo), mul_wide(a.lo, b.hi), mul_wide(a.hi, b.lo),
                    mul_wide(a.hi, b.hi)};
  return make(*std::min_element(std::begin(c), std::end(c)),
              *std::max_element(std::begin(c), std::end(c)));
}

Wide pow_wide(Wide v, size_t n) {
  Wide r = 1;
  for (size_t i = 0; i < n; ++i)
    r = mul_wide(r, v);
  return r;
}

// x**n for the same x, tighter than multiplying x's interval n times: even powers are >= 0.
Iv power(const Iv& a, size_t n) {
  const Wide lo = pow_wide(a.lo, n), hi = pow_wide(a.hi, n);
  if (n % 2 == 1) return make(lo, hi);
  if (a.lo >= 0) return make(lo, hi);
  if (a.hi <= 0) return make(hi, lo);
  return make(0, std::max(lo, hi));
}

Wide floordiv_wide(Wide a, Wide b) {
  Wide q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// a // b at one corner of the box, for b >= 1 (possibly +inf).
Wide floordiv_corner(Wide a, Wide b) {
  if (!finite(a)) return a;
  if (!finite(b)) return a >= 0 ? 0 : -1;
  return floordiv_wide(a, b);
}

Iv floordiv(const Iv& a, const Iv& b) {
  if (a.lo > a.hi || b.lo > b.hi) return {};
  if (b.lo >= 1) {
    // For b > 0, a // b grows with a, and moves toward 0 or -1 as b grows: the extremes are at
    // the corners.
    const Wide c[] = {floordiv_corner(a.lo, b.lo), floordiv_corner(a.lo, b.hi),
                      floordiv_corner(a.hi, b.lo), floordiv_corner(a.hi, b.hi)};
    return make(*std::min_element(std::begin(c), std::end(c)),
                *std::max_element(std::begin(c), std::end(c)));
  }
  if (b.hi <= -1) return floordiv(neg(a), neg(b));  // a // b == (-a) // (-b)
  // Any nonzero divisor has |b| >= 1, so |a // b| <= |a|.
  const Wide m = std::max(a.lo < 0 ? -a.lo : a.lo, a.hi < 0 ? -a.hi : a.hi);
  return make(-m, m);
}

Iv mod(const Iv& a, const Iv& b) {
  if (a.lo > a.hi || b.lo > b.hi) return {};
  if (b.lo >= 1) {
    Wide hi = finite(b.hi) ? b.hi - 1 : kInf;
    if (a.lo >= 0) {
      if (a.hi < b.lo) return a;  // a % b == a when 0 <= a < b
      hi = std::min(hi, a.hi);
    }
    return make(0, hi);
  }
  if (b.hi <= -1) {
    Wide lo = finite(b.lo) ? b.lo + 1 : -kInf;
    if (a.hi <= 0) {
      if (a.lo > b.hi) return a;  // a % b == a when b < a <= 0
      lo = std::max(lo, a.lo);
    }
    return make(lo, 0);
  }
  // The result has the divisor's sign and a smaller magnitude.
  const Wide m = std::max(b.lo < 0 ? -b.lo : b.lo, b.hi < 0 ? -b.hi : b.hi);
  if (!finite(m)) return {};
  return make(-(m - 1), m - 1);
}

class Bounder {
 public:
  explicit Bounder(const RangeMap& ranges) : ranges_(ranges) {}

  Iv of(const Expr& e) {
    const auto& args = e.args();
    switch (e.op()) {
      case Op::kConst:
        return point(e.value());
      case Op::kSymbol: {
        auto it = ranges_.find(e.name());
        if (it == ranges_.end()) return {};
        const Range& r = it->second;
        if (r.min && r.max && *r.min > *r.max) return {};  // empty: any answer is sound
        return {r.min ? Wide(*r.min) : -kInf, r.max ? Wide(*r.max) : kInf};
      }
      case Op::kAdd: {
        Iv r = point(0);
        for (const Expr& a : args)
          r = add(r, of(a));
        return r;
      }
      case Op::kMul: {
        // Factors are sorted, so repeated factors are adjacent.
        Iv r = point(1);
        for (size_t i = 0; i < args.size();) {
          size_t j = i + 1;
          while (j < args.size() && args[j] == args[i])
            ++j;
          r = mul(r, power(of(args[i]), j - i));
          i = j;
        }
        return r;
      }
      case Op::kFloorDiv:
        return floordiv(of(args[0]), of(args[1]));
      case Op::kMod:
        return mod(of(args[0]), of(args[1]));
      case Op::kMin:
      case Op::kMax: {
        Iv r = of(args[0]);
        for (size_t i = 1; i < args.size(); ++i) {
          Iv x = of(args[i]);
          if (e.op() == Op::kMin) {
            r = {std::min(r.lo, x.lo), std::min(r.hi, x.hi)};
          } else {
            r = {std::max(r.lo, x.lo), std::max(r.hi, x.hi)};
          }
        }
        return r;
      }
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
        return compare(e.op(), args[0], args[1]);
      case Op::kAnd:
      case Op::kOr: {
        const bool is_and = e.op() == Op::kAnd;
        bool all_decided = true;  // every operand surely true (And) / surely false (Or)
        for (const Expr& a : args) {
          Iv x = of(a);
          if (is_and ? surely_zero(x) : surely_nonzero(x)) return point(is_and ? 0 : 1);
          all_decided = all_decided && (is_and ? surely_nonzero(x) : surely_zero(x));
        }
        return all_decided ? point(is_and ? 1 : 0) : bool_iv(true, true);
      }
      case Op::kNot: {
        Iv x = of(args[0]);
        return bool_iv(!surely_zero(x), !surely_nonzero(x));
      }
    }
    return {};
  }

 private:
  Iv compare(Op op, const Expr& x, const Expr& y) {
    // Bounding y - x as one expression lets common terms cancel.
    Iv d;
    try {
      d = of(y - x);
    } catch (const Error&) {
      d = add(of(y), neg(of(x)));  // the difference's coefficients overflow
    }
    switch (op) {
      case Op::kLt:
        return bool_iv(d.lo < 1, d.hi >= 1);
      case Op::kLe:
        return bool_iv(d.lo < 0, d.hi >= 0);
      case Op::kEq:
        return bool_iv(!surely_zero(d), d.lo <= 0 && d.hi >= 0);
      default:  // kNe
        return bool_iv(d.lo <= 0 && d.hi >= 0, !surely_zero(d));
    }
  }

  const RangeMap& ranges_;
};

std::string bound_str(const std::optional<int64_t>& v, const char* inf) {
  return v ? std::to_string(*v) : inf;
}

}  // namespace

Range bounds(const Expr& e, const RangeMap& ranges) {
  Iv iv = Bounder(ranges).of(e);
  Range r;
  if (iv.lo > -kInf) r.min = static_cast<int64_t>(iv.lo);
  if (iv.hi < kInf) r.max = static_cast<int64_t>(iv.hi);
  return r;
}

std::string Range::str() const {
  return "[" + bound_str(min, "-inf") + ", " + bound_str(max, "inf") + "]";
}

}  // namespace kiln::sym
