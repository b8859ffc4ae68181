// Parsing both spellings of SymExpr strings, and rejecting what is not an integer expression.

#include <gtest/gtest.h>

#include <random>

#include "random_tree.h"
#include "sym/expr.h"
#include "util/error.h"

namespace kiln::sym {
namespace {

const Expr s0 = Expr::symbol("s0");
const Expr s1 = Expr::symbol("s1");
const Expr s17 = Expr::symbol("s17");
const Expr s77 = Expr::symbol("s77");

// Expects parse(text) to throw a kiln::Error whose message contains every fragment.
void expect_parse_error(const std::string& text, std::initializer_list<const char*> fragments) {
  try {
    Expr e = parse(text);
    ADD_FAILURE() << "parsed \"" << text << "\" as " << e.str();
  } catch (const Error& err) {
    const std::string msg = err.what();
    for (const char* f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nmissing: " << f;
    }
  }
}

TEST(ParseTest, SreprFromRealArchives) {
  EXPECT_EQ(parse("Symbol('s77', positive=True, integer=True)"), s77);
  EXPECT_EQ(parse("Symbol('s77', integer=True, positive=True)"), s77);
  EXPECT_EQ(parse("Symbol(\"s77\")"), s77);
  EXPECT_EQ(parse("Add(Mul(Integer(2), Symbol('s17', positive=True, integer=True)), Integer(1))"),
            2 * s17 + 1);
  EXPECT_EQ(parse("Add(Symbol('s17', positive=True, integer=True), "
                  "Symbol('s77', positive=True, integer=True))"),
            s17 + s77);
  EXPECT_EQ(parse("Add(Mul(Integer(2), Symbol('s17', positive=True, integer=True)), "
                  "Mul(Integer(2), Symbol('s77', positive=True, integer=True)))"),
            2 * s17 + 2 * s77);
  EXPECT_EQ(parse("FloorDiv(Add(Symbol('s0', integer=True, positive=True), Integer(-1)), "
                  "Integer(2))"),
            floor_div(s0 - 1, 2));
  EXPECT_EQ(parse("Mul(Integer(-1), Symbol('u0', integer=True))"), -Expr::symbol("u0"));
}

TEST(ParseTest, SreprHeads) {
  const std::string S0 = "Symbol('s0', integer=True, positive=True)";
  const std::string S1 = "Symbol('s1', integer=True, positive=True)";
  auto p = [](const std::string& s) { return parse(s); };
  EXPECT_EQ(p("Pow(" + S0 + ", Integer(3))"), s0 * s0 * s0);
  EXPECT_EQ(p("PowByNatural(" + S0 + ", Integer(2))"), s0 * s0);
  EXPECT_EQ(p("Max(" + S0 + ", " + S1 + ", Integer(4))"), max(max(s0, s1), 4));
  EXPECT_EQ(p("Min(" + S0 + ", Integer(4))"), min(s0, 4));
  EXPECT_EQ(p("Mod(" + S0 + ", Integer(4))"), mod(s0, 4));
  EXPECT_EQ(p("PythonMod(" + S0 + ", Integer(4))"), mod(s0, 4));
  EXPECT_EQ(p("CleanDiv(" + S0 + ", Integer(4))"), floor_div(s0, 4));
  EXPECT_EQ(p("CeilDiv(" + S0 + ", Integer(4))"), ceil_div(s0, 4));
  EXPECT_EQ(p("CeilToInt(IntTrueDiv(" + S0 + ", Integer(4)))"), ceil_div(s0, 4));
  EXPECT_EQ(p("FloorToInt(IntTrueDiv(" + S0 + ", Integer(4)))"), floor_div(s0, 4));
  EXPECT_EQ(p("ModularIndexing(" + S0 + ", Integer(2), Integer(8))"), mod(floor_div(s0, 2), 8));
  EXPECT_EQ(p("Identity(" + S0 + ")"), s0);
  EXPECT_EQ(p("LShift(" + S0 + ", Integer(3))"), 8 * s0);
  EXPECT_EQ(p("RShift(" + S0 + ", Integer(1))"), floor_div(s0, 2));
  EXPECT_EQ(p("Eq(" + S0 + ", " + S1 + ")"), eq(s0, s1));
  EXPECT_EQ(p("Ne(" + S0 + ", Integer(1))"), ne(s0, 1));
  EXPECT_EQ(p("Lt(" + S0 + ", " + S1 + ")"), lt(s0, s1));
  EXPECT_EQ(p("Le(" + S0 + ", " + S1 + ")"), le(s0, s1));
  EXPECT_EQ(p("Gt(" + S0 + ", " + S1 + ")"), lt(s1, s0));
  EXPECT_EQ(p("Ge(" + S0 + ", " + S1 + ")"), le(s1, s0));
  EXPECT_EQ(p("StrictLessThan(" + S0 + ", " + S1 + ")"), lt(s0, s1));
  EXPECT_EQ(p("GreaterThan(" + S0 + ", " + S1 + ")"), le(s1, s0));
  EXPECT_EQ(p("Equality(" + S0 + ", Integer(3))"), eq(s0, 3));
  EXPECT_EQ(p("Unequality(" + S0 + ", Integer(3))"), ne(s0, 3));
  EXPECT_EQ(p("And(Lt(" + S0 + ", " + S1 + "), Eq(" + S0 + ", Integer(3)))"),
            logical_and(lt(s0, s1), eq(s0, 3)));
  EXPECT_EQ(p("Or(Lt(" + S0 + ", " + S1 + "), Eq(" + S0 + ", Integer(3)))"),
            logical_or(lt(s0, s1), eq(s0, 3)));
  EXPECT_EQ(p("Not(Lt(" + S0 + ", " + S1 + "))"), le(s1, s0));
  EXPECT_EQ(p("true"), Expr(1));
  EXPECT_EQ(p("false"), Expr(0));
  EXPECT_EQ(p("BooleanTrue()"), Expr(1));
  EXPECT_EQ(p("BooleanFalse()"), Expr(0));
  EXPECT_EQ(p("Integer(-9223372036854775808)"), Expr(INT64_MIN));
  EXPECT_EQ(p("Add()"), Expr(0));
  EXPECT_EQ(p("Mul()"), Expr(1));
}

TEST(ParseTest, InfixForm) {
  EXPECT_EQ(parse("s0"), s0);
  EXPECT_EQ(parse("42"), Expr(42));
  EXPECT_EQ(parse("-42"), Expr(-42));
  EXPECT_EQ(parse("((s0 + 1)//2)"), floor_div(s0 + 1, 2));
  EXPECT_EQ(parse("2*s0 + 2*s1"), 2 * s0 + 2 * s1);
  EXPECT_EQ(parse("2*s0 + 1"), 2 * s0 + 1);
  EXPECT_EQ(parse("(s1 - 1)//2 + 1"), floor_div(s1 - 1, 2) + 1);
  EXPECT_EQ(parse("s0 - s1 - 1"), s0 - s1 - 1);
  EXPECT_EQ(parse("s0*s1//2"), floor_div(s0 * s1, 2));
  EXPECT_EQ(parse("s0 % 3"), mod(s0, 3));
  EXPECT_EQ(parse("-s0 + 3"), 3 - s0);
  EXPECT_EQ(parse("--s0"), s0);
  EXPECT_EQ(parse("+s0"), s0);
  EXPECT_EQ(parse("s0**2"), s0 * s0);
  EXPECT_EQ(parse("-2**2"), Expr(-4));  // ** binds tighter than unary minus, as in Python
  EXPECT_EQ(parse("2**3**2"), Expr(512));
  EXPECT_EQ(parse("-3//2"), Expr(-2));
  EXPECT_EQ(parse("Max(s0, 2*s1)"), max(s0, 2 * s1));
  EXPECT_EQ(parse("FloorDiv(s0, 2)"), floor_div(s0, 2));
  EXPECT_EQ(parse("s0 == s1"), eq(s0, s1));
  EXPECT_EQ(parse("s0 != 1"), ne(s0, 1));
  EXPECT_EQ(parse("s0 < s1"), lt(s0, s1));
  EXPECT_EQ(parse("s0 <= s1"), le(s0, s1));
  EXPECT_EQ(parse("s0 > s1"), lt(s1, s0));
  EXPECT_EQ(parse("s0 >= s1"), le(s1, s0));
  EXPECT_EQ(parse("s0 + 1 < 2*s1"), lt(s0 + 1, 2 * s1));
  EXPECT_EQ(parse("(s0 < 2) & (s1 > 3)"), logical_and(lt(s0, 2), lt(Expr(3), s1)));
  EXPECT_EQ(parse("(s0 < 2) | (s1 > 3)"), logical_or(lt(s0, 2), lt(Expr(3), s1)));
  EXPECT_EQ(parse("~(s0 < 2)"), le(Expr(2), s0));
  EXPECT_EQ(parse("Eq(s0, 2)"), eq(s0, 2));
  EXPECT_EQ(parse("True"), Expr(1));
  EXPECT_EQ(parse("  s0\t+\n1  "), s0 + 1);
  EXPECT_EQ(parse("-9223372036854775808"), Expr(INT64_MIN));
  EXPECT_EQ(parse("9223372036854775807"), Expr(INT64_MAX));
  EXPECT_EQ(parse("Max(s0, 1,)"), max(s0, 1));  // Python allows a trailing comma
}

TEST(ParseTest, MixedSpellingsAgree) {
  EXPECT_EQ(parse("Add(s0, Integer(1))"), parse("s0 + 1"));
  EXPECT_EQ(parse("FloorDiv(Symbol('s0'), 2) + 1"), floor_div(s0, 2) + 1);
}

TEST(ParseTest, NonIntegerValuesAreRejected) {
  expect_parse_error("Rational(1, 2)", {"Rational", "not supported"});
  expect_parse_error("Mul(Rational(1, 2), Symbol('s0'))", {"Rational"});
  expect_parse_error("Float('1.5', precision=53)", {"Float"});
  expect_parse_error("1.5", {"only integers"});
  expect_parse_error("s0/2", {"true division", "not an integer"});
  expect_parse_error("IntTrueDiv(Symbol('s0'), Integer(2))", {"true division"});
  expect_parse_error("TruncToInt(IntTrueDiv(s0, 2))", {"TruncToInt"});
  expect_parse_error("Pow(Symbol('s0'), Integer(-1))", {"exponent"});
  expect_parse_error("Pow(s0, s1)", {"exponent"});
  expect_parse_error("oo", {"oo", "infinities"});
  expect_parse_error("Max(s0, int_oo)", {"int_oo"});
  expect_parse_error("Where(s0 < 2, s0, s1)", {"unsupported function Where"});
  expect_parse_error("ToFloat(s0)", {"ToFloat"});
  expect_parse_error("Symbol(s0)", {"Symbol() needs the name"});
  expect_parse_error("Symbol('s0', 'x')", {"one positional"});
  expect_parse_error("Symbol('1bad')", {"invalid symbol name"});
  expect_parse_error("Integer(s0)", {"Integer()"});
  expect_parse_error("FloorDiv(s0)", {"FloorDiv() takes 2 arguments, got 1"});
  expect_parse_error("Max()", {"Max() takes 1 or more"});
  expect_parse_error("Add(s0, x=1)", {"keyword"});
  expect_parse_error("FloorDiv(s0, 0)", {"division by zero"});
  expect_parse_error("s0 % 0", {"modulo by zero"});
  expect_parse_error("Add(Integer(9223372036854775807), Integer(1))", {"overflow"});
  expect_parse_error("99999999999999999999", {"does not fit"});
}

TEST(ParseTest, MalformedTextNamesTextAndPosition) {
  expect_parse_error("", {"empty expression"});
  expect_parse_error("   ", {"empty expression"});
  expect_parse_error("s0 +", {"\"s0 +\"", "position 4", "text ended"});
  expect_parse_error("s0 + * 2", {"position 5"});
  expect_parse_error("(s0 + 1", {"expected ')'"});
  expect_parse_error("s0 + 1)", {"unexpected ')'", "position 6"});
  expect_parse_error("Add(s0, 1", {"expected ')'"});
  expect_parse_error("Add(s0 1)", {"expected ')'"});
  expect_parse_error("s0 $ 1", {"unexpected character '$'", "position 3"});
  expect_parse_error("Symbol('s0", {"unterminated string"});
  expect_parse_error("'s0'", {"string"});
  expect_parse_error("s0 < s1 < 2", {"chained comparisons"});
  expect_parse_error("s0 = 1", {"unexpected '='"});
  expect_parse_error("2s0", {"malformed number"});
  expect_parse_error("s0 s1", {"unexpected 's1'"});
  expect_parse_error(std::string("s0 \x01"), {"\\x01"});
  // Long text is shown as a window around the failure.
  std::string long_text = "s0";
  for (int i = 0; i < 200; ++i)
    long_text += " + s0";
  long_text += " +";
  expect_parse_error(long_text, {"...", "text ended"});
}

TEST(ParseTest, DeepNestingIsCappedNotCrashing) {
  auto nested = [](int depth, const std::string& open, const std::string& close) {
    std::string s;
    for (int i = 0; i < depth; ++i)
      s += open;
    s += "s0";
    for (int i = 0; i < depth; ++i)
      s += close;
    return s;
  };
  EXPECT_EQ(parse(nested(900, "(", ")")), s0);
  EXPECT_EQ(parse(nested(900, "Identity(", ")")), s0);
  EXPECT_EQ(parse(nested(900, "Max(1, ", ")")), max(s0, 1));
  expect_parse_error(nested(1001, "(", ")"), {"nested more than 1000"});
  expect_parse_error(nested(5000, "Add(1, ", ")"), {"nested more than 1000"});
  expect_parse_error(nested(100000, "(", ")"), {"nested more than 1000"});
  expect_parse_error(std::string(100000, '-') + "s0", {"nested more than 1000"});
  std::string powers = "2";
  for (int i = 0; i < 5000; ++i)
    powers += "**1";
  expect_parse_error(powers, {"nested more than 1000"});
  // Long flat input is fine.
  std::string flat = "s0";
  for (int i = 0; i < 20000; ++i)
    flat += " + 1";
  EXPECT_EQ(parse(flat), s0 + 20000);
}

TEST(ParseTest, RandomTreesParseInBothSpellings) {
  testing::TreeGen g(99, {"s0", "s1", "u2"});
  int parsed = 0;
  for (int i = 0; i < 2000; ++i) {
    testing::Tree t = g.gen(4);
    Expr want;
    try {
      want = testing::to_expr(t);
    } catch (const Error&) {
      EXPECT_THROW(parse(testing::infix(t)), Error);
      EXPECT_THROW(parse(testing::srepr(t)), Error);
      continue;
    }
    ASSERT_EQ(parse(testing::infix(t)), want) << testing::infix(t);
    ASSERT_EQ(parse(testing::srepr(t)), want) << testing::srepr(t);
    ++parsed;
  }
  EXPECT_GT(parsed, 1500);
}

// Runs of "+", "-" and "*" are built by one n-ary constructor; the result must be what pairwise,
// left-associative construction with Python's precedence gives.
TEST(ParseTest, LongRunsMatchPairwiseConstruction) {
  std::mt19937_64 rng(2024);
  const Expr syms[] = {s0, s1, s17, s77};
  auto operand = [&](std::string& text) -> Expr {
    if (rng() % 3 == 0) {
      const Expr& s = syms[rng() % std::size(syms)];
      text += s.name();
      return s;
    }
    const int64_t v = static_cast<int64_t>(rng() % 19) - 9;
    text += v < 0 ? "(" + std::to_string(v) + ")" : std::to_string(v);
    return v;
  };
  int compared = 0;
  for (int run = 0; run < 300; ++run) {
    std::string text;
    Expr total = 0, term = operand(text);
    bool negative = false;  // the sign in front of `term`
    const int length = 1 + static_cast<int>(rng() % 40);
    bool overflow = false;  // long constant products leave int64; the parser must refuse too
    for (int i = 0; i < length; ++i) {
      const char* ops[] = {" + ", " - ", "*", "//", " % "};
      const std::string op = ops[rng() % std::size(ops)];
      text += op;
      if (op == "*") {
        const Expr factor = operand(text);
        try {
          term = term * factor;
        } catch (const Error&) {
          overflow = true;
        }
      } else if (op == "//" || op == " % ") {
        const int64_t d = 2 + static_cast<int64_t>(rng() % 4);
        text += std::to_string(d);
        term = op == "//" ? floor_div(term, d) : mod(term, d);
      } else {
        total = negative ? total - term : total + term;
        negative = op == " - ";
        term = operand(text);
      }
    }
    if (overflow) {
      EXPECT_THROW(parse(text), Error) << text;
      continue;
    }
    total = negative ? total - term : total + term;
    ASSERT_EQ(parse(text), total) << text;
    ++compared;
  }
  EXPECT_GT(compared, 200);
}

// Pairwise folding re-canonicalized the growing sum or product at every operand, quadratic in
// the run (a 4096-symbol sum took most of a minute); one n-ary constructor is near linear.
TEST(ParseTest, LongRunsOfDistinctSymbols) {
  std::string infix, srepr = "Add(";
  for (int i = 0; i < 20000; ++i) {
    const std::string s = "s" + std::to_string(i);
    infix += (i ? (i % 3 ? " + " : " - ") : "") + s;
    srepr += (i ? (i % 3 ? ", " : ", -") : "") + s;
  }
  EXPECT_EQ(parse(infix), parse(srepr + ")"));
  std::string product = "u0", factors = "Mul(u0";
  for (int i = 1; i < 3000; ++i) {
    product += "*u" + std::to_string(i % 50);
    factors += ", u" + std::to_string(i % 50);
  }
  EXPECT_EQ(parse(product), parse(factors + ")"));
}

// Products of sums are multiplied out and powers expanded, so a short text could ask for
// millions of terms or factors (found by fuzzing); past 4096 the parser refuses by name.
TEST(ParseTest, ExponentialExpansionsAreRefused) {
  auto binomials = [](int n, const char* sep) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      s += (i ? sep : "") + std::string("(s") + std::to_string(2 * i) + " + s" +
           std::to_string(2 * i + 1) + ")";
    }
    return s;
  };
  // 2^12 terms is the limit, and is built as pairwise products build it.
  Expr want = 1;
  for (int i = 0; i < 12; ++i)
    want = want * (Expr::symbol("s" + std::to_string(2 * i)) +
                   Expr::symbol("s" + std::to_string(2 * i + 1)));
  EXPECT_EQ(parse(binomials(12, "*")), want);
  EXPECT_EQ(want.args().size(), 4096u);
  expect_parse_error(binomials(13, "*"), {"more than 4096 terms"});
  expect_parse_error(binomials(30, "*"), {"more than 4096 terms"});
  expect_parse_error("Mul(" + binomials(13, ", ") + ")", {"more than 4096 terms"});
  expect_parse_error("(s0 + s1 + s2)**90", {"more than 4096 terms"});
  expect_parse_error("((s0**256)**16)**16", {"more than 4096 factors"});
  expect_parse_error("Pow(s0*s1, 3000)", {"more than 4096 factors"});
  EXPECT_EQ(parse("(s0**256)**16").args().size(), 4096u);
  EXPECT_EQ(parse("(s0 + s1)**20"), pow(s0 + s1, 20));
  EXPECT_EQ(parse("(s0 + 1)*(s1 - 2)*3*s17").args().size(), 4u);
}

// Subtrees are shared, so Abs(x) = Max(x, -x) or a FloorDiv multiplied by a sum stays small in
// memory, but printing and evaluating walk the tree: 40 nested Abs() would print 2^40 nodes
// (found by fuzzing). The tree an expression stands for is capped at 65536 nodes.
TEST(ParseTest, ExponentialTreesAreRefused) {
  auto nest = [](int depth, const std::string& open, const std::string& close) {
    std::string s = "s0";
    for (int i = 0; i < depth; ++i)
      s = open + s + close;
    return s;
  };
  Expr want = s0;
  for (int i = 0; i < 10; ++i)
    want = max(want, -want);
  EXPECT_EQ(parse(nest(10, "Abs(", ")")), want);
  EXPECT_EQ(parse(nest(10, "Abs(", ")")).eval({{"s0", -37}}), 37);
  expect_parse_error(nest(40, "Abs(", ")"), {"more than 65536 nodes"});
  std::string fd = "s0";
  for (int i = 1; i <= 30; ++i)
    fd = "((" + fd + ")//3)*(s" + std::to_string(i) + " + 1)";
  expect_parse_error(fd, {"more than 65536 nodes"});
}

}  // namespace
}  // namespace kiln::sym
