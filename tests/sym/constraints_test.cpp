// Constraints: solving equalities for representatives, narrowing ranges, and the checks the
// runtime input validation is built on.

#include "sym/constraints.h"

#include <gtest/gtest.h>

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");
const Expr s2 = Expr::symbol("s2");
const Expr s3 = Expr::symbol("s3");

TEST(ConstraintsTest, IntersectRanges) {
  EXPECT_EQ(intersect(Range{2, 10}, Range{5, std::nullopt}), (Range{5, 10}));
  EXPECT_EQ(intersect(Range{}, Range{std::nullopt, 3}), (Range{std::nullopt, 3}));
  EXPECT_EQ(intersect(Range{}, Range{}), Range{});
  Constraints c;
  c.add_range("s0", {2, 100});
  c.add_range("s0", {4, std::nullopt});
  EXPECT_EQ(c.ranges.at("s0"), (Range{4, 100}));
}

TEST(ConstraintsTest, SymbolEqualitiesPickTheEarliestName) {
  Constraints c;
  c.add_equality(s1, s0);
  c.add_equality(s2, 2 * s0);
  auto subst = c.substitutions();
  ASSERT_EQ(subst.size(), 2u);
  EXPECT_EQ(subst.at("s1"), s0);
  EXPECT_EQ(subst.at("s2"), 2 * s0);
  EXPECT_EQ(c.normalize(s1 * s2 + s0), 2 * s0 * s0 + s0);
  EXPECT_EQ(c.normalize(s1 - s0), Expr(0));
  EXPECT_EQ(c.normalize(floor_div(s2, 2)), s0);
  EXPECT_EQ(c.normalize(s3), s3);
  // The same holds whichever way the equality is written.
  Constraints d;
  d.add_equality(s0, s1);
  EXPECT_EQ(d.substitutions().at("s1"), s0);
}

TEST(ConstraintsTest, ChainsResolveToRepresentatives) {
  Constraints c;
  c.add_equality(s3, s2 + 1);
  c.add_equality(s2, s1);
  c.add_equality(s1, s0);
  auto subst = c.substitutions();
  EXPECT_EQ(subst.at("s3"), s0 + 1);
  EXPECT_EQ(subst.at("s2"), s0);
  EXPECT_EQ(subst.at("s1"), s0);
  EXPECT_EQ(c.normalize(s3 - s1), Expr(1));
  // Redundant and non-linear equalities are kept for check() but not solved.
  c.add_equality(s3, s0 + 1);
  c.add_equality(s0 * s0, Expr::symbol("u0") * 4);
  EXPECT_EQ(c.substitutions().size(), 3u);
}

TEST(ConstraintsTest, NormalizedRangesNarrowRepresentatives) {
  Constraints c;
  c.add_range("s0", {2, 1024});
  c.add_range("s1", {8, 64});
  c.add_range("s2", {2, 101});
  c.add_range("s3", {std::nullopt, 0});
  c.add_equality(s1, s0);
  c.add_equality(s2, 2 * s0 + 1);  // s0 in [1, 50]
  c.add_equality(s3, 5 - s0);      // s0 >= 5
  RangeMap m = c.normalized_ranges();
  EXPECT_EQ(m.at("s0"), (Range{8, 50}));
  EXPECT_EQ(c.bounds(s1 + s2), (Range{8 + 17, 50 + 101}));
  EXPECT_EQ(c.bounds(s1 - s0), (Range{0, 0}));
}

TEST(ConstraintsTest, CheckReportsRangeViolations) {
  Constraints c;
  c.add_range("s0", {2, 1024});
  c.add_range("s1", {2, std::nullopt});
  EXPECT_EQ(c.check({{"s0", 2}, {"s1", 100000}}), std::nullopt);
  auto msg = c.check({{"s0", 1}, {"s1", 5}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "s0 = 1 is outside its allowed range [2, 1024]");
  msg = c.check({{"s0", 4}, {"s1", 1}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "s1 = 1 is outside its allowed range [2, inf]");
  // Symbols not bound yet (unbacked ones) are skipped.
  EXPECT_EQ(c.check({{"s0", 4}}), std::nullopt);
}

TEST(ConstraintsTest, CheckReportsEqualityViolations) {
  Constraints c;
  c.add_range("s0", {1, 100});
  c.add_equality(s1, s0);
  c.add_equality(s2, 2 * s0);
  EXPECT_EQ(c.check({{"s0", 3}, {"s1", 3}, {"s2", 6}}), std::nullopt);
  auto msg = c.check({{"s0", 3}, {"s1", 4}, {"s2", 6}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "s1 == s0 does not hold: s1 = 4 but s0 = 3");
  msg = c.check({{"s0", 3}, {"s1", 3}, {"s2", 5}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "s2 == 2*s0 does not hold: s2 = 5 but 2*s0 = 6 (s0 = 3)");
  // Ranges are reported before equalities.
  msg = c.check({{"s0", 0}, {"s1", 4}, {"s2", 6}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->rfind("s0 = 0 is outside", 0), 0u) << *msg;
  // An equality with an unbound symbol is skipped.
  EXPECT_EQ(c.check({{"s0", 3}, {"s1", 3}}), std::nullopt);
}

TEST(ConstraintsTest, CheckReportsEvaluationFailures) {
  Constraints c;
  c.add_equality(floor_div(s0, s1), Expr(2));
  auto msg = c.check({{"s0", 4}, {"s1", 0}});
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("cannot check s0//s1 == 2"), std::string::npos) << *msg;
  EXPECT_NE(msg->find("division by zero"), std::string::npos) << *msg;
  EXPECT_EQ(c.check({{"s0", 4}, {"s1", 2}}), std::nullopt);
  msg = c.check({{"s0", 4}, {"s1", 1}});
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "s0//s1 == 2 does not hold: s0//s1 = 4 (s0 = 4, s1 = 1)");
}

}  // namespace
}  // namespace kiln::sym
