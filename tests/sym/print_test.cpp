// str() and to_cpp(): exact text for common shapes, parse(str()) round trips, and the meaning
// of to_cpp() checked by a small evaluator for the C++ subset it prints.

#include <gtest/gtest.h>

#include <cctype>

#include "random_tree.h"
#include "sym_runtime.h"
#include "sym/expr.h"
#include "util/error.h"

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");
const Expr s2 = Expr::symbol("s2");
const Expr s10 = Expr::symbol("s10");

TEST(PrintTest, ShortForm) {
  EXPECT_EQ(Expr(0).str(), "0");
  EXPECT_EQ(Expr(-5).str(), "-5");
  EXPECT_EQ(s0.str(), "s0");
  EXPECT_EQ((2 * s0 + 1).str(), "2*s0 + 1");
  EXPECT_EQ((1 + 2 * s0).str(), "2*s0 + 1");
  EXPECT_EQ((s1 + s0).str(), "s0 + s1");
  EXPECT_EQ((s10 + s2).str(), "s2 + s10");
  EXPECT_EQ((s0 - s1).str(), "s0 - s1");
  EXPECT_EQ((s0 - 1).str(), "s0 - 1");
  EXPECT_EQ((-s0).str(), "-s0");
  EXPECT_EQ((1 - s0).str(), "-s0 + 1");
  EXPECT_EQ((-2 * s0 - 3 * s1).str(), "-2*s0 - 3*s1");
  EXPECT_EQ((s0 * s1).str(), "s0*s1");
  EXPECT_EQ((s0 * s1 + s0 + 1).str(), "s0*s1 + s0 + 1");
  EXPECT_EQ(floor_div(s0, 2).str(), "s0//2");
  EXPECT_EQ(floor_div(s1 - 1, 2).str(), "(s1 + 1)//2 - 1");
  EXPECT_EQ(floor_div(s0 + 1, 2).str(), "(s0 + 1)//2");
  EXPECT_EQ(floor_div(2 * s0 + 1, 3).str(), "(2*s0 + 1)//3");
  EXPECT_EQ(floor_div(s0 * s1, 3).str(), "(s0*s1)//3");
  EXPECT_EQ(floor_div(s0, s1 + 1).str(), "s0//(s1 + 1)");
  EXPECT_EQ(floor_div(s0, 2 * s1).str(), "s0//(2*s1)");
  EXPECT_EQ((s1 * floor_div(s0, 2)).str(), "s1*(s0//2)");
  EXPECT_EQ((3 * floor_div(s0, 2)).str(), "3*(s0//2)");
  EXPECT_EQ((-floor_div(s0, 2)).str(), "-(s0//2)");
  EXPECT_EQ((s1 - floor_div(s0, 2)).str(), "s1 - s0//2");
  EXPECT_EQ(mod(s0, 3).str(), "s0%3");
  EXPECT_EQ(mod(s0 + 1, 3).str(), "(s0 + 1)%3");
  EXPECT_EQ(max(s0, s1).str(), "Max(s0, s1)");
  EXPECT_EQ(min(s1, min(s0, 4)).str(), "Min(4, s0, s1)");
  EXPECT_EQ(eq(s0, s1).str(), "s0 == s1");
  EXPECT_EQ(eq(Expr(3), s0).str(), "s0 == 3");
  EXPECT_EQ(ne(s0, 3).str(), "s0 != 3");
  EXPECT_EQ(lt(s0 + 1, s1).str(), "s0 + 1 < s1");
  EXPECT_EQ(le(s0, s1).str(), "s0 <= s1");
  EXPECT_EQ((lt(s0, s1) + 1).str(), "(s0 < s1) + 1");
  EXPECT_EQ((2 * lt(s0, s1)).str(), "2*(s0 < s1)");
  EXPECT_EQ(logical_and(lt(s0, s1), eq(s0, 2)).str(), "And(s0 == 2, s0 < s1)");
  EXPECT_EQ(logical_or(lt(s0, s1), eq(s0, 2)).str(), "Or(s0 == 2, s0 < s1)");
  EXPECT_EQ(logical_not(logical_or(lt(s0, s1), eq(s0, 2))).str(), "Not(Or(s0 == 2, s0 < s1))");
  EXPECT_EQ(Expr(INT64_MIN).str(), "(-9223372036854775807 - 1)");
  EXPECT_EQ((s0 + Expr(INT64_MIN)).str(), "s0 + (-9223372036854775807 - 1)");
  EXPECT_EQ((s0 * Expr(INT64_MIN)).str(), "(-9223372036854775807 - 1)*s0");
}

TEST(PrintTest, Cpp) {
  EXPECT_EQ((2 * s0 + 1).to_cpp(), "2*s0 + 1");
  EXPECT_EQ(floor_div(s0 + 1, 2).to_cpp(), "kiln_floordiv(s0 + 1, 2)");
  EXPECT_EQ((3 * floor_div(s0, 2)).to_cpp(), "3*kiln_floordiv(s0, 2)");
  EXPECT_EQ((-floor_div(s0, 2)).to_cpp(), "-kiln_floordiv(s0, 2)");
  EXPECT_EQ(mod(s0, 3).to_cpp(), "kiln_mod(s0, 3)");
  EXPECT_EQ(max(s0, s1).to_cpp(), "kiln_max(s0, s1)");
  EXPECT_EQ(min(min(s0, s1), s2).to_cpp(), "kiln_min(s0, kiln_min(s1, s2))");
  EXPECT_EQ(eq(s0, s1).to_cpp(), "(s0 == s1)");
  EXPECT_EQ((lt(s0, s1) + 1).to_cpp(), "(s0 < s1) + 1");
  EXPECT_EQ(logical_and(lt(s0, s1), eq(s0, 2)).to_cpp(), "((s0 == 2) && (s0 < s1))");
  EXPECT_EQ(logical_not(logical_or(lt(s0, s1), eq(s0, 2))).to_cpp(), "(!((s0 == 2) || (s0 < s1)))");
  EXPECT_EQ(Expr(INT64_MIN).to_cpp(), "(-9223372036854775807LL - 1)");
}

// Evaluates the C++ that to_cpp() prints: integers, variables, + - * unary - and !,
// comparisons, && ||, parentheses, and calls to kiln_floordiv, kiln_mod, std::min/max<int64_t>.
class CppEval {
 public:
  CppEval(std::string text, const testing::Bindings& vars) : s_(std::move(text)), vars_(vars) {}

  int64_t run() {
    int64_t v = logic_or();
    skip();
    if (i_ != s_.size()) throw std::runtime_error("trailing text at " + std::to_string(i_));
    return v;
  }

 private:
  void skip() {
    while (i_ < s_.size() && s_[i_] == ' ')
      ++i_;
  }
  bool eat(const std::string& t) {
    skip();
    if (s_.compare(i_, t.size(), t) != 0) return false;
    i_ += t.size();
    return true;
  }
  void need(const std::string& t) {
    if (!eat(t)) throw std::runtime_error("expected " + t + " at " + std::to_string(i_));
  }
  int64_t logic_or() {
    int64_t v = logic_and();
    while (eat("||"))
      v = (logic_and() != 0) || v != 0;
    return v;
  }
  int64_t logic_and() {
    int64_t v = equality();
    while (eat("&&"))
      v = (equality() != 0) && v != 0;
    return v;
  }
  int64_t equality() {
    int64_t v = relational();
    for (;;) {
      if (eat("==")) {
        v = v == relational();
      } else if (eat("!=")) {
        v = v != relational();
      } else {
        return v;
      }
    }
  }
  int64_t relational() {
    int64_t v = additive();
    for (;;) {
      if (eat("<=")) {
        v = v <= additive();
      } else if (eat("<")) {
        v = v < additive();
      } else {
        return v;
      }
    }
  }
  int64_t additive() {
    int64_t v = multiplicative();
    for (;;) {
      if (eat("+")) {
        v += multiplicative();
      } else if (eat("-")) {
        v -= multiplicative();
      } else {
        return v;
      }
    }
  }
  int64_t multiplicative() {
    int64_t v = unary();
    while (eat("*"))
      v *= unary();
    return v;
  }
  int64_t unary() {
    if (eat("-")) return -unary();
    if (eat("!")) return unary() == 0;
    return primary();
  }
  std::pair<int64_t, int64_t> two_args() {
    need("(");
    int64_t a = logic_or();
    need(",");
    int64_t b = logic_or();
    need(")");
    return {a, b};
  }
  int64_t primary() {
    skip();
    if (eat("(")) {
      int64_t v = logic_or();
      need(")");
      return v;
    }
    if (eat("kiln_floordiv")) {
      auto [a, b] = two_args();
      return kiln_floordiv(a, b);
    }
    if (eat("kiln_mod")) {
      auto [a, b] = two_args();
      return kiln_mod(a, b);
    }
    if (eat("kiln_min")) {
      auto [a, b] = two_args();
      return kiln_min(a, b);
    }
    if (eat("kiln_max")) {
      auto [a, b] = two_args();
      return kiln_max(a, b);
    }
    size_t start = i_;
    if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
        ++i_;
      int64_t v = std::stoll(s_.substr(start, i_ - start));
      eat("LL");
      return v;
    }
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
      ++i_;
    }
    if (start == i_) throw std::runtime_error("bad primary at " + std::to_string(i_));
    return vars_.at(s_.substr(start, i_ - start));
  }

  std::string s_;
  const testing::Bindings& vars_;
  size_t i_ = 0;
};

TEST(PrintTest, RandomRoundTripsAndCppMeaning) {
  testing::TreeGen g(2024, {"s0", "s1", "s2"});
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    Expr e;
    try {
      e = testing::to_expr(g.gen(5));
    } catch (const Error&) {
      continue;
    }
    const std::string text = e.str();
    Expr back;
    ASSERT_NO_THROW(back = parse(text)) << text;
    ASSERT_EQ(back, e) << text << "  reparsed as  " << back.str();
    ASSERT_EQ(back.str(), text);
    const std::string cpp = e.to_cpp();
    for (int j = 0; j < 5; ++j) {
      testing::Bindings b = {
          {"s0", g.value_in(-9, 9)}, {"s1", g.value_in(-9, 9)}, {"s2", g.value_in(-9, 9)}};
      int64_t want = 0;
      try {
        want = e.eval(b);
      } catch (const Error&) {
        continue;  // division by zero at this point
      }
      ASSERT_EQ(CppEval(cpp, b).run(), want) << cpp << "\n  from " << text;
      ++checked;
    }
  }
  EXPECT_GT(checked, 8000);
}

TEST(PrintTest, RoundTripsOfCommonShapes) {
  for (const Expr& e : {Expr(0), Expr(-1), Expr(INT64_MIN), Expr(INT64_MAX), s0 * s1 * s2,
                        floor_div(s0 - 3, 2) + 1, floor_div(floor_div(s0, 2) + s1, 3),
                        mod(floor_div(s0, 4), 8), max(1, s0 - 2), min(s0, s1) * 4,
                        s0 * (s1 + Expr(INT64_MAX)), logical_not(logical_and(lt(s0, 2), ne(s1, 0))),
                        -s0 * s1, Expr(INT64_MIN) * s0 + Expr(INT64_MIN), eq(lt(s0, s1), s2)}) {
    EXPECT_EQ(parse(e.str()), e) << e.str();
  }
}

}  // namespace
}  // namespace kiln::sym
