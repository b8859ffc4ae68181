// Interval bounds: exact answers for common shapes, and soundness checked by sampling.

#include <gtest/gtest.h>

#include "random_tree.h"
#include "sym/expr.h"
#include "util/error.h"

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");

Range r(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  return Range{lo, hi};
}
constexpr std::nullopt_t inf = std::nullopt;

TEST(RangeTest, StrAndContains) {
  EXPECT_EQ(r(2, 1024).str(), "[2, 1024]");
  EXPECT_EQ(r(2, inf).str(), "[2, inf]");
  EXPECT_EQ(r(inf, -3).str(), "[-inf, -3]");
  EXPECT_EQ(Range{}.str(), "[-inf, inf]");
  EXPECT_TRUE(r(2, inf).contains(INT64_MAX));
  EXPECT_FALSE(r(2, inf).contains(1));
  EXPECT_TRUE(Range{}.contains(INT64_MIN));
  EXPECT_FALSE(r(0, 5).contains(6));
}

TEST(BoundsTest, CommonShapes) {
  RangeMap m = {{"s0", r(2, 1024)}, {"s1", r(2, inf)}};
  EXPECT_EQ(bounds(Expr(7), m), r(7, 7));
  EXPECT_EQ(bounds(s0, m), r(2, 1024));
  EXPECT_EQ(bounds(Expr::symbol("u0"), m), Range{});
  EXPECT_EQ(bounds(2 * s0 + 1, m), r(5, 2049));
  EXPECT_EQ(bounds(s0 + s1, m), r(4, inf));
  EXPECT_EQ(bounds(s0 - s1, m), r(inf, 1022));
  EXPECT_EQ(bounds(-s0, m), r(-1024, -2));
  EXPECT_EQ(bounds(s0 * s1, m), r(4, inf));
  EXPECT_EQ(bounds(s0 * s0, m), r(4, 1024 * 1024));
  EXPECT_EQ(bounds(floor_div(s0 - 1, 2) + 1, m), r(1, 512));
  EXPECT_EQ(bounds(floor_div(s0, s1), m), r(0, 512));
  EXPECT_EQ(bounds(mod(s0, 8), m), r(0, 7));
  EXPECT_EQ(bounds(mod(s0, s1), m), r(0, 1024));
  EXPECT_EQ(bounds(mod(s1, s0), m), r(0, 1023));
  EXPECT_EQ(bounds(mod(s0, 2048), m), r(2, 1024));
  EXPECT_EQ(bounds(max(s0, 100), m), r(100, 1024));
  EXPECT_EQ(bounds(min(s0, s1), m), r(2, 1024));
  EXPECT_EQ(bounds(max(s0, s1), m), r(2, inf));
  EXPECT_EQ(bounds(lt(Expr(1), s0), m), r(1, 1));
  EXPECT_EQ(bounds(lt(s0, 100), m), r(0, 1));
  EXPECT_EQ(bounds(eq(s0, 0), m), r(0, 0));
  EXPECT_EQ(bounds(ne(s0, 0), m), r(1, 1));
  EXPECT_EQ(bounds(le(s0, s0 + s1), m), r(1, 1));  // decided on the difference, s1
  EXPECT_EQ(bounds(logical_and(lt(Expr(1), s0), lt(Expr(1), s1)), m), r(1, 1));
  EXPECT_EQ(bounds(logical_or(eq(s0, 0), lt(s0, 10)), m), r(0, 1));
  EXPECT_EQ(bounds(logical_not(logical_and(eq(s0, 0), lt(s0, s1))), m), r(1, 1));
}

TEST(BoundsTest, NegativeAndMixedSigns) {
  RangeMap m = {{"s0", r(-5, 3)}, {"s1", r(-4, -2)}, {"u0", r(inf, 0)}};
  const Expr u0 = Expr::symbol("u0");
  EXPECT_EQ(bounds(s0 * s1, m), r(-12, 20));
  EXPECT_EQ(bounds(s0 * s0, m), r(0, 25));
  EXPECT_EQ(bounds(floor_div(s0, 2), m), r(-3, 1));
  EXPECT_EQ(bounds(floor_div(s0, s1), m), r(-2, 2));
  EXPECT_EQ(bounds(mod(s0, 4), m), r(0, 3));
  EXPECT_EQ(bounds(mod(s0, s1), m), r(-3, 0));
  EXPECT_EQ(bounds(mod(s1, -7), m), r(-4, -2));
  EXPECT_EQ(bounds(floor_div(s1, -2), m), r(1, 2));
  EXPECT_EQ(bounds(u0 * u0, m), r(0, inf));
  EXPECT_EQ(bounds(u0 * s1, m), r(0, inf));
  EXPECT_EQ(bounds(floor_div(u0, s1), m), r(0, inf));
  EXPECT_EQ(bounds(mod(u0, 5), m), r(0, 4));
  EXPECT_EQ(bounds(floor_div(s0, u0), m), r(-5, 5));  // the divisor might be any nonzero value
}

TEST(BoundsTest, ExtremesBecomeUnbounded) {
  RangeMap m = {{"s0", r(2, INT64_MAX)}, {"s1", r(INT64_MIN, 0)}};
  EXPECT_EQ(bounds(s0 + 1, m), r(3, inf));
  EXPECT_EQ(bounds(s0 * s0, m), r(4, inf));
  EXPECT_EQ(bounds(s1 - 1, m), r(inf, -1));
  EXPECT_EQ(bounds(-s1, m), r(0, inf));
  EXPECT_EQ(bounds(s0 * s1, m), r(inf, 0));
  // An empty range (min > max) gives an unbounded answer instead of dividing by zero.
  EXPECT_EQ(bounds(floor_div(s0, Expr::symbol("e")), {{"e", r(5, 1)}}), Range{});
}

// For random expressions and ranges, every sampled value lies inside the computed bounds.
TEST(BoundsTest, RandomSamplingIsInsideBounds) {
  testing::TreeGen g(77, {"s0", "s1", "u0"});
  int samples = 0;
  for (int i = 0; i < 3000; ++i) {
    Expr e;
    try {
      e = testing::to_expr(g.gen(4));
    } catch (const Error&) {
      continue;
    }
    RangeMap m;
    std::unordered_map<std::string, std::pair<int64_t, int64_t>> sample_window;
    for (const std::string& s : g.symbols()) {
      // Mix of positive, negative, straddling and half-unbounded ranges.
      int64_t lo = g.value_in(-8, 8), hi = lo + g.value_in(0, 10);
      Range rg{lo, hi};
      int64_t wlo = lo, whi = hi;
      if (g.pick(4) == 0) {
        rg.max = std::nullopt;
        whi = lo + 40;
      } else if (g.pick(4) == 0) {
        rg.min = std::nullopt;
        wlo = hi - 40;
      }
      m[s] = rg;
      sample_window[s] = {wlo, whi};
    }
    const Range b = bounds(e, m);
    for (int j = 0; j < 30; ++j) {
      testing::Bindings vals;
      for (const auto& [s, w] : sample_window)
        vals[s] = g.value_in(w.first, w.second);
      int64_t v = 0;
      try {
        v = e.eval(vals);
      } catch (const Error&) {
        continue;
      }
      ASSERT_TRUE(b.contains(v)) << e.str() << " = " << v << " outside " << b.str()
                                 << " at s0=" << vals["s0"] << " s1=" << vals["s1"]
                                 << " u0=" << vals["u0"];
      ++samples;
    }
  }
  EXPECT_GT(samples, 50000);
}

// Exhaustive check of the division rules over small boxes of every sign combination.
TEST(BoundsTest, DivisionRulesExhaustive) {
  const Expr a = Expr::symbol("a"), b = Expr::symbol("b");
  const Expr exprs[] = {floor_div(a, b), mod(a, b),        a * b,      floor_div(a, 3),
                        mod(a, 3),       floor_div(a, -3), mod(a, -3), ceil_div(a, b)};
  for (int64_t alo = -6; alo <= 6; alo += 3) {
    for (int64_t ahi = alo; ahi <= alo + 7; ahi += 2) {
      for (int64_t blo = -5; blo <= 5; blo += 2) {
        for (int64_t bhi = blo; bhi <= blo + 4; bhi += 2) {
          RangeMap m = {{"a", r(alo, ahi)}, {"b", r(blo, bhi)}};
          for (const Expr& e : exprs) {
            const Range rg = bounds(e, m);
            for (int64_t x = alo; x <= ahi; ++x) {
              for (int64_t y = blo; y <= bhi; ++y) {
                if (y == 0) continue;
                const int64_t v = e.eval({{"a", x}, {"b", y}});
                ASSERT_TRUE(rg.contains(v)) << e.str() << " = " << v << " outside " << rg.str()
                                            << " at a=" << x << " b=" << y;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::sym
