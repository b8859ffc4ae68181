// Evaluation, Python integer semantics, and the property that canonicalization never changes
// an expression's value.

#include <gtest/gtest.h>

#include <cmath>

#include "random_tree.h"
#include "sym_runtime.h"
#include "sym/expr.h"
#include "util/error.h"

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");

// Floor division the obvious way, on values small enough for double to be exact.
int64_t reference_floordiv(int64_t a, int64_t b) {
  return static_cast<int64_t>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
}

TEST(EvalTest, PythonFloorDivAndModTable) {
  // Spot values as Python prints them.
  struct Case {
    int64_t a, b, q, r;
  };
  for (const Case& c :
       {Case{7, 2, 3, 1}, Case{-7, 2, -4, 1}, Case{7, -2, -4, -1}, Case{-7, -2, 3, -1},
        Case{6, -3, -2, 0}, Case{-1, 5, -1, 4}, Case{0, -3, 0, 0}}) {
    EXPECT_EQ(floor_div(Expr(c.a), Expr(c.b)), Expr(c.q)) << c.a << " // " << c.b;
    EXPECT_EQ(mod(Expr(c.a), Expr(c.b)), Expr(c.r)) << c.a << " % " << c.b;
  }
  // Brute force: folding, eval and the C++ runtime helpers all agree with the definition.
  for (int64_t a = -30; a <= 30; ++a) {
    for (int64_t b = -9; b <= 9; ++b) {
      if (b == 0) continue;
      const int64_t q = reference_floordiv(a, b);
      const int64_t r = a - b * q;
      ASSERT_TRUE(r == 0 || (r < 0) == (b < 0));
      ASSERT_EQ(floor_div(Expr(a), Expr(b)).value(), q) << a << " // " << b;
      ASSERT_EQ(mod(Expr(a), Expr(b)).value(), r) << a << " % " << b;
      ASSERT_EQ(floor_div(s0, s1).eval({{"s0", a}, {"s1", b}}), q);
      ASSERT_EQ(mod(s0, s1).eval({{"s0", a}, {"s1", b}}), r);
      ASSERT_EQ(floor_div(s0, Expr(b)).eval({{"s0", a}}), q) << a << " // " << b;
      ASSERT_EQ(mod(s0, Expr(b)).eval({{"s0", a}}), r) << a << " % " << b;
      ASSERT_EQ(kiln_floordiv(a, b), q);
      ASSERT_EQ(kiln_mod(a, b), r);
      ASSERT_EQ(ceil_div(s0, Expr(b)).eval({{"s0", a}}),
                static_cast<int64_t>(std::ceil(static_cast<double>(a) / static_cast<double>(b))));
    }
  }
}

TEST(EvalTest, RuntimeHelpersAreConstexpr) {
  static_assert(kiln_floordiv(-7, 2) == -4);
  static_assert(kiln_floordiv(7, -2) == -4);
  static_assert(kiln_mod(-7, 2) == 1);
  static_assert(kiln_mod(7, -2) == -1);
  static_assert(kiln_mod(INT64_MIN, -1) == 0);
  static_assert(kiln_floordiv(INT64_MIN, 1) == INT64_MIN);
  static_assert(kiln_mod(INT64_MIN, 3) == 1);  // Python: -2**63 % 3 == 1
  SUCCEED();
}

TEST(EvalTest, Basics) {
  std::unordered_map<std::string, int64_t> b = {{"s0", 5}, {"s1", -3}};
  EXPECT_EQ((2 * s0 + 1).eval(b), 11);
  EXPECT_EQ((s0 * s1).eval(b), -15);
  EXPECT_EQ(floor_div(s0, 2).eval(b), 2);
  EXPECT_EQ(floor_div(s1, 2).eval(b), -2);
  EXPECT_EQ(mod(s1, 2).eval(b), 1);
  EXPECT_EQ(max(s0, s1).eval(b), 5);
  EXPECT_EQ(min(min(s0, s1), 0).eval(b), -3);
  EXPECT_EQ(eq(s0, 5).eval(b), 1);
  EXPECT_EQ(ne(s0, 5).eval(b), 0);
  EXPECT_EQ(lt(s1, s0).eval(b), 1);
  EXPECT_EQ(le(s0, s1).eval(b), 0);
  EXPECT_EQ(logical_and(lt(s1, s0), eq(s0, 5)).eval(b), 1);
  EXPECT_EQ(logical_or(lt(s0, s1), eq(s0, 4)).eval(b), 0);
  EXPECT_EQ(logical_not(logical_or(lt(s0, s1), eq(s0, 4))).eval(b), 1);
  EXPECT_EQ(Expr(42).eval({}), 42);
}

TEST(EvalTest, UnboundSymbolIsNamed) {
  try {
    (s0 + Expr::symbol("u7")).eval({{"s0", 1}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("u7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unbound"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s0.eval({}), Error);
}

TEST(EvalTest, DivisionByZeroAndOverflowThrow) {
  EXPECT_THROW(floor_div(s0, s1).eval({{"s0", 1}, {"s1", 0}}), Error);
  EXPECT_THROW(mod(s0, s1).eval({{"s0", 1}, {"s1", 0}}), Error);
  try {
    floor_div(s0 + 1, s1).eval({{"s0", 1}, {"s1", 0}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("division by zero"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(s0 + 1)//s1"), std::string::npos) << e.what();
  }
  const int64_t big = int64_t{1} << 62;
  EXPECT_THROW((s0 * s1).eval({{"s0", big}, {"s1", 4}}), Error);
  EXPECT_THROW((s0 + s1).eval({{"s0", big}, {"s1", big}}), Error);
  EXPECT_THROW(floor_div(s0, s1).eval({{"s0", INT64_MIN}, {"s1", -1}}), Error);
  EXPECT_EQ(mod(s0, s1).eval({{"s0", INT64_MIN}, {"s1", -1}}), 0);
}

// The central property: a canonical form evaluates exactly like the tree it came from.
TEST(EvalTest, RandomCanonicalFormsPreserveValues) {
  testing::TreeGen g(42, {"s0", "s1", "u0"});
  int compared = 0;
  for (int i = 0; i < 4000; ++i) {
    testing::Tree t = g.gen(4);
    Expr e;
    bool built = true;
    try {
      e = testing::to_expr(t);
    } catch (const Error&) {
      built = false;  // a divisor is identically zero
    }
    for (int j = 0; j < 12; ++j) {
      testing::Bindings b = {
          {"s0", g.value_in(-7, 7)}, {"s1", g.value_in(-7, 7)}, {"u0", g.value_in(-7, 7)}};
      std::optional<int64_t> want = testing::eval_tree(t, b);
      if (!built) {
        ASSERT_FALSE(want.has_value()) << testing::infix(t);
        continue;
      }
      if (!want) continue;  // the tree divides by zero here; simplification may remove that
      int64_t got = 0;
      ASSERT_NO_THROW(got = e.eval(b)) << testing::infix(t) << "  =>  " << e.str();
      ASSERT_EQ(got, *want) << testing::infix(t) << "  =>  " << e.str() << "  at s0=" << b["s0"]
                            << " s1=" << b["s1"] << " u0=" << b["u0"];
      ++compared;
    }
  }
  EXPECT_GT(compared, 20000);
}

// Division-heavy trees with constant divisors, as in conv and pooling shapes.
TEST(EvalTest, RandomAffineDivisionsPreserveValues) {
  testing::TreeGen g(7, {"s0", "s1"});
  g.with_logic = false;
  g.max_const = 12;
  for (int i = 0; i < 3000; ++i) {
    // ((a*s0 + b*s1 + c) // k) % m, then a second division, with random signs.
    const int64_t a = g.value_in(-6, 6), b = g.value_in(-6, 6), c = g.value_in(-20, 20);
    int64_t k = g.value_in(-7, 7), m = g.value_in(1, 9), k2 = g.value_in(1, 5);
    if (k == 0) k = 5;
    Expr num = a * s0 + b * s1 + c;
    Expr e = floor_div(floor_div(num, k), k2) + mod(num, m) * 3 - mod(floor_div(num, k2), m);
    for (int j = 0; j < 10; ++j) {
      const int64_t x = g.value_in(-25, 25), y = g.value_in(-25, 25);
      const int64_t n = a * x + b * y + c;
      const int64_t want = testing::detail::floordiv(*testing::detail::floordiv(n, k), k2).value() +
                           *testing::detail::mod(n, m) * 3 -
                           *testing::detail::mod(*testing::detail::floordiv(n, k2), m);
      ASSERT_EQ(e.eval({{"s0", x}, {"s1", y}}), want) << e.str() << " at " << x << ", " << y;
    }
  }
}

}  // namespace
}  // namespace kiln::sym
