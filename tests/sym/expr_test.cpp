// Canonical forms: expressions that are equal by the rules of integer arithmetic compare equal.

#include "sym/expr.h"

#include <gtest/gtest.h>

#include <limits>
#include <unordered_set>

#include "random_tree.h"
#include "util/error.h"

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");
const Expr s2 = Expr::symbol("s2");

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(ExprTest, ConstantsAndSymbols) {
  EXPECT_EQ(Expr(), Expr(0));
  EXPECT_TRUE(Expr(7).is_const());
  EXPECT_EQ(Expr(7).value(), 7);
  EXPECT_EQ(Expr(7).as_const(), 7);
  EXPECT_EQ(s0.as_const(), std::nullopt);
  EXPECT_TRUE(s0.is_symbol());
  EXPECT_EQ(s0.name(), "s0");
  EXPECT_EQ(s0.op(), Op::kSymbol);
  EXPECT_TRUE(s0.args().empty());
  EXPECT_EQ(Expr(kMin).value(), kMin);
  EXPECT_THROW(s0.value(), Error);
  EXPECT_THROW(Expr(3).name(), Error);
}

TEST(ExprTest, InvalidSymbolNames) {
  for (const char* bad : {"", "1s", "s 0", "s-0", "true", "oo", "nan"}) {
    EXPECT_THROW(Expr::symbol(bad), Error) << bad;
  }
  EXPECT_NO_THROW(Expr::symbol("_tmp1"));
  EXPECT_NO_THROW(Expr::symbol("u12"));
}

TEST(ExprTest, AddIsCommutativeAndCollectsLikeTerms) {
  EXPECT_EQ(s0 + s1, s1 + s0);
  EXPECT_EQ((s0 + s1) + s2, s0 + (s1 + s2));
  EXPECT_EQ(s0 + s0, 2 * s0);
  EXPECT_EQ(2 * s0 + 3 * s0, 5 * s0);
  EXPECT_EQ(s0 - s0, Expr(0));
  EXPECT_EQ(s0 + 0, s0);
  EXPECT_EQ(s0 + 1 + 2, s0 + 3);
  EXPECT_EQ((s0 + 1) - (s0 + 1), Expr(0));
  EXPECT_EQ(2 * s0 + s1 - 2 * s0, s1);
  EXPECT_EQ((s0 + s1).op(), Op::kAdd);
  EXPECT_EQ((s0 + s1).args().size(), 2u);
}

TEST(ExprTest, MulFoldsConstantsAndDistributes) {
  EXPECT_EQ(s0 * s1, s1 * s0);
  EXPECT_EQ(s0 * 0, Expr(0));
  EXPECT_EQ(s0 * 1, s0);
  EXPECT_EQ(2 * (3 * s0), 6 * s0);
  EXPECT_EQ((s0 * s1) * s2, s0 * (s1 * s2));
  EXPECT_EQ(2 * (s0 + 1), 2 * s0 + 2);
  EXPECT_EQ((s0 + 1) * (s1 + 1), s0 * s1 + s0 + s1 + 1);
  EXPECT_EQ((s0 + 1) * (s0 - 1), s0 * s0 - 1);
  EXPECT_EQ(-(-s0), s0);
  EXPECT_EQ(Expr(6) * Expr(7), Expr(42));
  EXPECT_EQ(pow(s0, 2), s0 * s0);
  EXPECT_EQ(pow(s0 + 1, 2), s0 * s0 + 2 * s0 + 1);
  EXPECT_EQ(pow(s0, 0), Expr(1));
  EXPECT_EQ(pow(Expr(2), 10), Expr(1024));
  EXPECT_THROW(pow(s0, -1), Error);
  EXPECT_THROW(pow(s0, 100000), Error);
}

TEST(ExprTest, ProductsOfSumsAreMultipliedOutOrRejected) {
  // (s0 + ... + s9)^5 has 2002 terms once collected.
  Expr sum = 0;
  for (int i = 0; i < 10; ++i)
    sum = sum + Expr::symbol("s" + std::to_string(i));
  Expr p = pow(sum, 5);
  EXPECT_EQ(p.op(), Op::kAdd);
  EXPECT_EQ(p.args().size(), 2002u);
  EXPECT_EQ(p, sum * sum * pow(sum, 3));
  std::unordered_map<std::string, int64_t> b;
  for (int i = 0; i < 10; ++i)
    b["s" + std::to_string(i)] = 1;
  EXPECT_EQ(p.eval(b), 100000);
  // A term explosion or an overflowing coefficient is an error, not a half-expanded product.
  Expr big = 0;
  for (int i = 0; i < 40; ++i)
    big = big + Expr::symbol("s" + std::to_string(i));
  EXPECT_THROW(pow(big, 4), Error);
  EXPECT_THROW(pow(s0 + 1, 70), Error);
  EXPECT_THROW((s0 + 1) * (Expr(int64_t{1} << 62) * s1 + 3) * 4, Error);
}

TEST(ExprTest, OverflowIsDetected) {
  EXPECT_THROW(Expr(kMax) + Expr(1), Error);
  EXPECT_THROW(Expr(kMin) - Expr(1), Error);
  EXPECT_THROW(Expr(kMax) * Expr(2), Error);
  EXPECT_THROW(-Expr(kMin), Error);
  EXPECT_THROW(floor_div(Expr(kMin), Expr(-1)), Error);
  EXPECT_EQ(mod(Expr(kMin), Expr(-1)), Expr(0));
  EXPECT_THROW(pow(Expr(2), 63), Error);
  EXPECT_EQ(pow(Expr(-2), 63), Expr(kMin));
  EXPECT_THROW(kMax * s0 + kMax * s0, Error);
  EXPECT_EQ(Expr(kMax) * 0 * Expr(kMax), Expr(0));
}

TEST(ExprTest, FloorDivSimplifies) {
  EXPECT_EQ(floor_div(Expr(7), Expr(2)), Expr(3));
  EXPECT_EQ(floor_div(Expr(-7), Expr(2)), Expr(-4));
  EXPECT_EQ(floor_div(Expr(7), Expr(-2)), Expr(-4));
  EXPECT_EQ(floor_div(s0, 1), s0);
  EXPECT_EQ(floor_div(s0, -1), -s0);
  EXPECT_EQ(floor_div(2 * s0, 2), s0);
  EXPECT_EQ(floor_div(6 * s0, 3), 2 * s0);
  EXPECT_EQ(floor_div(2 * s0 + 1, 2), s0);
  EXPECT_EQ(floor_div(4 * s0 + 2 * s1, 2), 2 * s0 + s1);
  EXPECT_EQ(floor_div(4 * s0 + s1, 2), 2 * s0 + floor_div(s1, 2));
  EXPECT_EQ(floor_div(2 * s0, 4), floor_div(s0, 2));
  EXPECT_EQ(floor_div(floor_div(s0, 2), 3), floor_div(s0, 6));
  EXPECT_EQ(floor_div(s0 - 1, 2) + 1, floor_div(s0 + 1, 2));
  EXPECT_EQ(floor_div(s0 + 5, 2), floor_div(s0 + 1, 2) + 2);
  EXPECT_EQ(floor_div(mod(s0, 3), 4), Expr(0));
  EXPECT_EQ(floor_div(s0 * s1, s1), s0);
  EXPECT_EQ(floor_div(s0 * s1 + s2, s1), s0 + floor_div(s2, s1));
  EXPECT_EQ(floor_div(s0, s0), Expr(1));
  EXPECT_EQ(floor_div(Expr(0), s0), Expr(0));
  EXPECT_EQ(floor_div(s0, -s1), floor_div(-s0, s1));
  EXPECT_EQ(floor_div(s0, 2).op(), Op::kFloorDiv);
  EXPECT_THROW(floor_div(s0, 0), Error);
  EXPECT_THROW(floor_div(s0, s1 - s1), Error);
}

TEST(ExprTest, ModSimplifies) {
  EXPECT_EQ(mod(Expr(7), Expr(3)), Expr(1));
  EXPECT_EQ(mod(Expr(-7), Expr(3)), Expr(2));
  EXPECT_EQ(mod(Expr(7), Expr(-3)), Expr(-2));
  EXPECT_EQ(mod(s0, 1), Expr(0));
  EXPECT_EQ(mod(s0, -1), Expr(0));
  EXPECT_EQ(mod(4 * s0, 2), Expr(0));
  EXPECT_EQ(mod(4 * s0 + 3, 2), Expr(1));
  EXPECT_EQ(mod(s0 + 5, 3), mod(s0 + 2, 3));
  EXPECT_EQ(mod(2 * s0, 4), 2 * mod(s0, 2));
  EXPECT_EQ(mod(mod(s0, 3), 5), mod(s0, 3));
  EXPECT_EQ(mod(mod(s0, 6), 3), mod(s0, 3));
  EXPECT_EQ(mod(s0 * s1, s1), Expr(0));
  EXPECT_EQ(mod(s0, s0), Expr(0));
  EXPECT_EQ(mod(s0, 3).op(), Op::kMod);
  EXPECT_THROW(mod(s0, 0), Error);
}

TEST(ExprTest, MinMaxFlattenFoldAndDedupe) {
  EXPECT_EQ(max(s0, s1), max(s1, s0));
  EXPECT_EQ(max(s0, max(s1, s2)), max(max(s0, s1), s2));
  EXPECT_EQ(max(s0, max(s1, s2)).args().size(), 3u);
  EXPECT_EQ(max(s0, s0), s0);
  EXPECT_EQ(max(Expr(3), Expr(5)), Expr(5));
  EXPECT_EQ(min(Expr(3), Expr(5)), Expr(3));
  EXPECT_EQ(max(max(s0, 3), 5), max(s0, 5));
  EXPECT_EQ(max(s0 + 1, s0), s0 + 1);
  EXPECT_EQ(min(s0 + 1, s0 - 2), s0 - 2);
  EXPECT_EQ(min(s0, max(s0, s1)).op(), Op::kMin);
}

TEST(ExprTest, ComparisonsFold) {
  EXPECT_EQ(eq(Expr(2), Expr(2)), Expr(1));
  EXPECT_EQ(eq(Expr(2), Expr(3)), Expr(0));
  EXPECT_EQ(eq(s0, s0), Expr(1));
  EXPECT_EQ(eq(s0 + 1, s0), Expr(0));
  EXPECT_EQ(ne(s0 + 1, s0), Expr(1));
  EXPECT_EQ(lt(s0, s0 + 1), Expr(1));
  EXPECT_EQ(lt(s0, s0), Expr(0));
  EXPECT_EQ(le(s0, s0), Expr(1));
  EXPECT_EQ(le(s0 + 2, s0 + 1), Expr(0));
  EXPECT_EQ(lt(Expr(1), Expr(2)), Expr(1));
  EXPECT_EQ(eq(s0, s1), eq(s1, s0));
  EXPECT_EQ(ne(s0, 3), ne(Expr(3), s0));
  EXPECT_EQ(eq(s0, s1).op(), Op::kEq);
  EXPECT_EQ(lt(s0, s1).op(), Op::kLt);
  // A comparison is 0 or 1, so comparing it with a constant folds.
  EXPECT_EQ(eq(lt(s0, s1), 1), lt(s0, s1));
  EXPECT_EQ(eq(lt(s0, s1), 0), le(s1, s0));
  EXPECT_EQ(eq(lt(s0, s1), 2), Expr(0));
}

TEST(ExprTest, LogicFolds) {
  Expr p = lt(s0, s1);
  Expr q = eq(s2, 4);
  EXPECT_EQ(logical_and(p, q), logical_and(q, p));
  EXPECT_EQ(logical_and(p, 1), p);
  EXPECT_EQ(logical_and(p, 0), Expr(0));
  EXPECT_EQ(logical_or(p, 1), Expr(1));
  EXPECT_EQ(logical_or(p, 0), p);
  EXPECT_EQ(logical_and(p, p), p);
  EXPECT_EQ(logical_and(logical_and(p, q), p).args().size(), 2u);
  EXPECT_EQ(logical_not(logical_not(p)), p);
  EXPECT_EQ(logical_not(p), le(s1, s0));
  EXPECT_EQ(logical_not(q), ne(s2, 4));
  EXPECT_EQ(logical_not(s0), eq(s0, 0));
  EXPECT_EQ(logical_not(Expr(5)), Expr(0));
  EXPECT_EQ(logical_not(logical_and(p, q)).op(), Op::kNot);
  EXPECT_EQ(logical_not(logical_not(logical_and(p, q))), logical_and(p, q));
  // A non-boolean operand of And means "is nonzero".
  EXPECT_EQ(logical_and(s0, p), logical_and(ne(s0, 0), p));
}

TEST(ExprTest, FreeSymbolsAndSubstitute) {
  Expr e = floor_div(s0 + 2 * s1, 3) + max(s2, 1);
  EXPECT_EQ(e.free_symbols(), (std::set<std::string>{"s0", "s1", "s2"}));
  EXPECT_TRUE(Expr(3).free_symbols().empty());
  EXPECT_EQ(e.substitute({{"s0", s1}}), floor_div(3 * s1, 3) + max(s2, 1));
  EXPECT_EQ(e.substitute({{"s0", s1}}), s1 + max(s2, 1));
  EXPECT_EQ(e.substitute({{"s0", Expr(1)}, {"s1", Expr(1)}, {"s2", Expr(0)}}), Expr(2));
  EXPECT_EQ((s0 - s1).substitute({{"s1", s0}}), Expr(0));
  EXPECT_EQ(e.substitute({}), e);
  EXPECT_EQ(e.substitute({{"other", Expr(1)}}).node(), e.node());
}

TEST(ExprTest, OrderAndHashAreConsistent) {
  std::vector<Expr> es = {
      Expr(0),          Expr(-3),   s0,          s1,         s0 + 1,     2 * s0,   s0 * s1,
      floor_div(s0, 2), mod(s0, 3), max(s0, s1), min(s0, 2), eq(s0, s1), lt(s0, 1)};
  for (const Expr& a : es) {
    EXPECT_FALSE(a < a);
    for (const Expr& b : es) {
      if (a == b) {
        EXPECT_EQ(a.hash(), b.hash());
      } else {
        EXPECT_NE(a < b, b < a) << a.str() << " vs " << b.str();
      }
    }
  }
  // Names order by their numbers: s2 before s10.
  EXPECT_TRUE(Expr::symbol("s2") < Expr::symbol("s10"));
  std::unordered_set<Expr> set = {s0 + s1, s1 + s0, s0};
  EXPECT_EQ(set.size(), 2u);
}

// Rearranging commutative operands of a random tree never changes its canonical form.
testing::Tree shuffle(const testing::Tree& t, testing::TreeGen& g) {
  using testing::T;
  testing::Tree out = t;
  for (auto& k : out.kids)
    k = shuffle(k, g);
  const bool commutative = t.op == T::kAdd || t.op == T::kMul || t.op == T::kMin ||
                           t.op == T::kMax || t.op == T::kEq || t.op == T::kNe || t.op == T::kAnd ||
                           t.op == T::kOr;
  if (commutative && g.pick(2) == 0) std::swap(out.kids[0], out.kids[1]);
  if (t.op == T::kLt && g.pick(2) == 0) {
    out.op = T::kGt;
    std::swap(out.kids[0], out.kids[1]);
  }
  return out;
}

TEST(ExprTest, RandomCommutedTreesHaveEqualCanonicalForms) {
  testing::TreeGen g(1234, {"s0", "s1", "s2"});
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    testing::Tree t = g.gen(4);
    testing::Tree u = shuffle(t, g);
    Expr a, b;
    try {
      a = testing::to_expr(t);
    } catch (const Error&) {
      continue;  // constant zero divisor
    }
    ASSERT_NO_THROW(b = testing::to_expr(u));
    ASSERT_EQ(a, b) << a.str() << "  vs  " << b.str();
    ASSERT_EQ(a.hash(), b.hash());
    ++checked;
  }
  EXPECT_GT(checked, 2500);
}

}  // namespace
}  // namespace kiln::sym
