// Parses SymExpr strings. sympy's srepr form ("Add(Integer(1), Symbol('s0', integer=True))")
// and the infix str() form ("((s0 + 1)//2)") are one grammar here: a call is a head followed by
// "(", in either form, and infix operators follow Python's precedence. Each head maps to the
// canonical constructors, so the result is canonical whichever spelling it came from.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sym/expr_node.h"

namespace kiln::sym {
namespace {

// Nesting deeper than this is rejected rather than risking the stack.
constexpr int kMaxDepth = 1000;

enum class Tok { kEnd, kInt, kName, kString, kPunct };

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;
  std::string_view text;  // the token as written (for kString, without quotes or escapes)
};

// A parsed operand. Besides integer expressions, arguments can be strings (Symbol names) and
// true divisions, which are only meaningful inside FloorToInt/CeilToInt.
struct Value {
  enum class Kind { kInt, kTrueDiv, kString } kind = Kind::kInt;
  Expr expr;  // kInt; the numerator for kTrueDiv
  Expr den;   // kTrueDiv
  std::string text;
  size_t pos = 0;
};

struct Arg {
  std::string keyword;  // empty for positional arguments
  Value value;
};

// Operators between operands, by Python precedence (higher binds tighter).
struct BinaryOp {
  std::string_view text;
  int prec;
};
constexpr BinaryOp kBinaryOps[] = {
    {"==", 1}, {"!=", 1}, {"<", 1}, {"<=", 1}, {">", 1}, {">=", 1}, {"|", 2},
    {"&", 3},  {"+", 4},  {"-", 4}, {"*", 5},  {"/", 5}, {"//", 5}, {"%", 5},
};
constexpr int kPrecCompare = 1;

// Products of sums are multiplied out (the canonical form is a sum of monomials) and powers
// are expanded into products, so a short text can ask for exponentially many terms,
// "(s0 + s1)*(s2 + s3)*...", or for huge monomials, "((s0**256)**16)**16". Past these sizes,
// far beyond what exports hold, such expansions are refused.
constexpr uint64_t kMaxExpandedTerms = 4096;
constexpr uint64_t kMaxFactors = 4096;
constexpr uint64_t kMaxExpandedSize = uint64_t{1} << 16;  // terms * (factors + 1)
// Subtrees are shared, but printing, evaluating and bounding walk the tree, so a subtree used
// twice per level (nested Abs(), a FloorDiv multiplied by sums level after level) would be
// written out exponentially long. The tree an expression stands for is capped too.
constexpr uint64_t kMaxTreeSize = uint64_t{1} << 16;

constexpr std::string_view kPrefix = "cannot parse symbolic expression";

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { advance(); }

  Expr parse_all() {
    if (tok_.kind == Tok::kEnd) fail(0, "empty expression");
    try {
      Value v = parse_expr(0);
      if (tok_.kind != Tok::kEnd) failf(tok_.pos, "unexpected '", tok_.text, "'");
      return as_int(v, "the expression");
    } catch (const Error& e) {
      // Errors from the constructors (overflow, division by zero) get the text and position.
      if (std::string_view(e.what()).starts_with(kPrefix)) throw;
      fail(tok_.pos, e.what());
    }
  }

 private:
  // The failure paths are out of line so that the recursive parsing functions keep small
  // frames (deep nesting must not exhaust the stack, even under sanitizers).
  template <typename... Parts>
  [[noreturn, gnu::noinline, gnu::cold]] void failf(size_t pos, const Parts&... parts) const {
    std::ostringstream what;
    (what << ... << parts);
    fail(pos, what.str());
  }

  [[noreturn, gnu::noinline, gnu::cold]] void fail(size_t pos, const std::string& what) const {
    // Long inputs are shown as a window around the failure.
    constexpr size_t kShow = 160;
    std::string shown;
    if (text_.size() <= kShow) {
      shown = std::string(text_);
    } else {
      size_t from = pos > kShow / 2 ? pos - kShow / 2 : 0;
      from = std::min(from, text_.size() - kShow);
      shown = (from > 0 ? "..." : "") + std::string(text_.substr(from, kShow)) +
              (from + kShow < text_.size() ? "..." : "");
    }
    throw error(kPrefix, " \"", shown, "\" at position ", pos, ": ", what);
  }

  // --- lexer -------------------------------------------------------------------------------

  void advance() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_])))
      ++at_;
    tok_ = Token{Tok::kEnd, at_, {}};
    if (at_ >= text_.size()) return;
    const size_t start = at_;
    const char c = text_[at_];
    auto is_ident = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
    };
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])))
        ++at_;
      if (at_ < text_.size() && (text_[at_] == '.' || is_ident(text_[at_]))) {
        fail(at_, "malformed number (only integers are supported)");
      }
      tok_ = Token{Tok::kInt, start, text_.substr(start, at_ - start)};
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (at_ < text_.size() && is_ident(text_[at_]))
        ++at_;
      tok_ = Token{Tok::kName, start, text_.substr(start, at_ - start)};
    } else if (c == '\'' || c == '"') {
      ++at_;
      while (at_ < text_.size() && text_[at_] != c) {
        if (text_[at_] == '\\') fail(at_, "escapes in strings are not supported");
        ++at_;
      }
      if (at_ >= text_.size()) fail(start, "unterminated string");
      ++at_;
      tok_ = Token{Tok::kString, start, text_.substr(start + 1, at_ - start - 2)};
    } else {
      static constexpr std::string_view kPuncts[] = {"**", "//", "==", "!=", "<=", ">=", "(",
                                                     ")",  ",",  "=",  "<",  ">",  "+",  "-",
                                                     "*",  "/",  "%",  "&",  "|",  "~"};
      for (std::string_view p : kPuncts) {
        if (text_.substr(at_, p.size()) == p) {
          at_ += p.size();
          tok_ = Token{Tok::kPunct, start, p};
          return;
        }
      }
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      std::string shown =
          std::isprint(u) ? std::string(1, c) : std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
      fail(start, "unexpected character '" + shown + "'");
    }
  }

  bool is_punct(std::string_view p) const { return tok_.kind == Tok::kPunct && tok_.text == p; }

  void expect(std::string_view p) {
    if (!is_punct(p)) fail_expected(p);
    advance();
  }

  [[noreturn, gnu::noinline, gnu::cold]] void fail_expected(std::string_view p) const {
    if (tok_.kind == Tok::kEnd) failf(tok_.pos, "expected '", p, "' but the text ended");
    failf(tok_.pos, "expected '", p, "' but found '", tok_.text, "'");
  }

  // --- grammar -----------------------------------------------------------------------------

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, size_t pos) : p(parser) {
      if (++p.depth_ > kMaxDepth) {
        p.failf(pos, "nested more than ", kMaxDepth, " levels deep");
      }
    }
    ~DepthGuard() { --p.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
  };

  const BinaryOp* peek_binary() const {
    if (tok_.kind != Tok::kPunct) return nullptr;
    for (const BinaryOp& op : kBinaryOps) {
      if (op.text == tok_.text) return &op;
    }
    return nullptr;
  }

  // Precedence climbing over the binary operators.
  Value parse_expr(int min_prec) {
    Value lhs = parse_unary();
    while (const BinaryOp* op = peek_binary()) {
      if (op->prec < min_prec) break;
      if (op->text == "+" || op->text == "-" || op->text == "*") {
        lhs = parse_chain(lhs);
        continue;
      }
      const size_t pos = tok_.pos;
      const std::string_view text = op->text;
      advance();
      Value rhs = parse_expr(op->prec + 1);
      lhs = binary(text, lhs, rhs, pos);
      if (op->prec == kPrecCompare && peek_binary() && peek_binary()->prec == kPrecCompare) {
        failf(tok_.pos, "chained comparisons are not supported; use parentheses");
      }
    }
    return lhs;
  }

  // A run of "+" and "-" (or of "*") operands, built by one n-ary constructor: folding them
  // pairwise re-canonicalizes the growing sum at every step, quadratic in the run's length.
  // "/", "//" and "%" end a run of products, so left associativity is kept.
  [[gnu::noinline]] Value parse_chain(const Value& first) {
    const size_t pos = tok_.pos;
    const bool additive = tok_.text != "*";
    const std::string_view what = "an operand of a binary operator";
    std::vector<Expr> operands{as_int(first, what)};
    while (const BinaryOp* op = peek_binary()) {
      if (additive ? op->text != "+" && op->text != "-" : op->text != "*") break;
      const size_t at = tok_.pos;
      const bool negate = op->text == "-";
      advance();
      const Expr rhs = as_int(parse_expr(op->prec + 1), what);
      try {
        operands.push_back(negate ? -rhs : rhs);
      } catch (const Error& e) {
        fail(at, e.what());
      }
    }
    if (!additive) check_product(operands, pos);
    Expr result;
    try {
      result =
          additive ? detail::make_add(std::move(operands)) : detail::make_mul(std::move(operands));
    } catch (const Error& e) {
      fail(pos, e.what());
    }
    return int_value(std::move(result), pos);
  }

  // Bounds of a canonical form's size: the terms of a sum, the factors of its largest monomial
  // (a power is that many factors), and terms * (factors + 1) as a measure of the whole.
  struct ExprSize {
    uint64_t terms = 1;
    uint64_t factors = 0;
    uint64_t total() const { return terms * (factors + 1); }
  };

  static ExprSize size_of(const Expr& e) {
    auto factors = [](const Expr& t) -> uint64_t {
      return t.op() == Op::kMul ? t.args().size() : t.is_const() ? 0 : 1;
    };
    if (e.op() != Op::kAdd) return {1, factors(e)};
    ExprSize size{e.args().size(), 0};
    for (const Expr& t : e.args())
      size.factors = std::max(size.factors, factors(t));
    return size;
  }

  // Refuses a product or power whose multiplied-out form would pass the limits. Only growth
  // counts: multiplying one long sum by a constant costs what the text already holds.
  void check_expansion(const ExprSize& result, uint64_t operands_total, bool several_sums,
                       std::string_view what, size_t pos) const {
    if (several_sums && result.terms > kMaxExpandedTerms) {
      failf(pos, "multiplying out this ", what, " gives more than ", kMaxExpandedTerms, " terms");
    }
    if (result.factors > kMaxFactors) {
      failf(pos, "this ", what, " has more than ", kMaxFactors, " factors");
    }
    if (result.total() > kMaxExpandedSize && result.total() > operands_total) {
      failf(pos, "multiplying out this ", what, " gives more than ", kMaxExpandedSize,
            " factors in all");
    }
  }

  void check_product(const std::vector<Expr>& operands, size_t pos) const {
    ExprSize result;
    uint64_t operands_total = 0;
    int sums = 0;
    for (const Expr& e : operands) {
      const ExprSize size = size_of(e);
      sums += size.terms > 1;
      result.terms *= size.terms;
      result.factors += size.factors;
      operands_total += size.total();
      check_expansion(result, operands_total, sums > 1, "product", pos);
    }
  }

  // (a sum of t terms)**k has at most C(k + t - 1, t - 1) terms, each of k times the factors.
  void check_power(const Expr& base, int64_t exponent, size_t pos) const {
    if (exponent < 2) return;
    const ExprSize size = size_of(base);
    const auto k = static_cast<uint64_t>(exponent);
    if (size.factors > 0 && k > kMaxFactors / size.factors) {
      failf(pos, "this power has more than ", kMaxFactors, " factors");
    }
    ExprSize result{1, k * size.factors};
    for (uint64_t i = 1; i < size.terms; ++i) {
      result.terms = result.terms * (k + i) / i;  // C(k + i, i), exact; k <= kMaxFactors here
      check_expansion(result, size.total(), true, "power", pos);
    }
    check_expansion(result, size.total(), true, "power", pos);
  }

  Value parse_unary() {
    if (is_punct("-") || is_punct("+") || is_punct("~")) return parse_unary_op();
    const size_t pos = tok_.pos;
    Value base = parse_primary();
    if (is_punct("**")) return int_value(power(base), pos);
    return base;
  }

  [[gnu::noinline]] Value parse_unary_op() {
    const size_t pos = tok_.pos;
    DepthGuard guard(*this, pos);
    const std::string_view op = tok_.text;
    advance();
    // "-9223372036854775808" is a literal: its magnitude alone does not fit in int64.
    if (op == "-" && tok_.kind == Tok::kInt) {
      Token lit = tok_;
      advance();
      if (!is_punct("**")) return int_value(parse_int(lit, true), pos);
      Value base = int_value(parse_int(lit, false), lit.pos);
      return int_value(-power(base), pos);
    }
    Expr x = as_int(parse_unary(), "the operand of a unary operator");
    if (op == "-") return int_value(-x, pos);
    if (op == "~") return int_value(logical_not(x), pos);
    return int_value(x, pos);
  }

  // base ** exponent, with the "**" as the current token. The exponent may carry a sign.
  [[gnu::noinline]] Expr power(const Value& base) {
    const size_t pos = tok_.pos;
    DepthGuard guard(*this, pos);
    advance();
    Value exp = parse_unary();
    return make_pow(as_int(base, "the base of **"), as_int(exp, "the exponent of **"), pos);
  }

  Expr make_pow(const Expr& base, const Expr& exp, size_t pos) {
    if (!exp.is_const() || exp.value() < 0) {
      failf(pos, "only constant non-negative integer exponents are supported, got ", exp.str());
    }
    check_power(base, exp.value(), pos);
    return pow(base, exp.value());
  }

  [[gnu::noinline]] Value parse_primary() {
    if (is_punct("(")) {
      DepthGuard guard(*this, tok_.pos);
      advance();
      Value v = parse_expr(0);
      expect(")");
      return v;
    }
    return parse_leaf();
  }

  // Everything but a parenthesized expression; kept out of parse_primary's frame.
  [[gnu::noinline]] Value parse_leaf() {
    const Token t = tok_;
    switch (t.kind) {
      case Tok::kInt:
        advance();
        return int_value(parse_int(t, false), t.pos);
      case Tok::kString: {
        advance();
        Value v;
        v.kind = Value::Kind::kString;
        v.text = std::string(t.text);
        v.pos = t.pos;
        return v;
      }
      case Tok::kName:
        advance();
        if (is_punct("(")) return call(t);
        return int_value(name_value(t), t.pos);
      case Tok::kPunct:
        failf(t.pos, "expected an operand but found '", t.text, "'");
      case Tok::kEnd:
        break;
    }
    failf(t.pos, "expected an operand but the text ended");
  }

  [[gnu::noinline]] int64_t parse_int(const Token& t, bool negative) const {
    // Parse with the sign attached so that INT64_MIN is representable.
    std::string digits = (negative ? "-" : "") + std::string(t.text);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      fail(t.pos, "integer " + digits + " does not fit in 64 bits");
    }
    return v;
  }

  [[gnu::noinline]] Expr name_value(const Token& t) const {
    const std::string_view n = t.text;
    if (n == "true" || n == "True") return Expr(1);
    if (n == "false" || n == "False") return Expr(0);
    if (n == "oo" || n == "zoo" || n == "nan" || n == "int_oo" || n == "Infinity" ||
        n == "NegativeInfinity" || n == "ComplexInfinity" || n == "NaN") {
      fail(t.pos, "'" + std::string(n) + "' is not an integer; infinities are not supported");
    }
    try {
      return Expr::symbol(n);
    } catch (const Error& e) {
      fail(t.pos, e.what());
    }
  }

  [[gnu::noinline]] Value binary(std::string_view op, const Value& lhs, const Value& rhs,
                                 size_t pos) {
    const std::string_view what = "an operand of a binary operator";
    if (op == "/") {
      Value v;
      v.kind = Value::Kind::kTrueDiv;
      v.expr = as_int(lhs, what);
      v.den = as_int(rhs, what);
      v.pos = pos;
      return v;
    }
    const Expr a = as_int(lhs, what);
    const Expr b = as_int(rhs, what);
    try {
      if (op == "//") return int_value(floor_div(a, b), pos);
      if (op == "%") return int_value(mod(a, b), pos);
      if (op == "==") return int_value(eq(a, b), pos);
      if (op == "!=") return int_value(ne(a, b), pos);
      if (op == "<") return int_value(lt(a, b), pos);
      if (op == "<=") return int_value(le(a, b), pos);
      if (op == ">") return int_value(lt(b, a), pos);
      if (op == ">=") return int_value(le(b, a), pos);
      if (op == "&") return int_value(logical_and(a, b), pos);
      if (op == "|") return int_value(logical_or(a, b), pos);
    } catch (const Error& e) {
      if (std::string_view(e.what()).starts_with(kPrefix)) throw;
      fail(pos, e.what());
    }
    fail(pos, "unsupported operator '" + std::string(op) + "'");
  }

  // --- calls -------------------------------------------------------------------------------

  [[gnu::noinline]] Value call(const Token& head) {
    DepthGuard guard(*this, head.pos);
    expect("(");
    std::vector<Arg> args;
    while (!is_punct(")")) {
      args.emplace_back();
      args.back().keyword = keyword();
      args.back().value = parse_expr(0);
      if (!is_punct(",")) break;
      advance();
    }
    expect(")");
    return apply_at(head, args);
  }

  // Consumes "NAME =" (but not "NAME ==") and returns NAME; otherwise returns "".
  [[gnu::noinline]] std::string keyword() {
    if (tok_.kind != Tok::kName) return {};
    const size_t save_at = at_;
    const Token save = tok_;
    advance();
    if (is_punct("=")) {
      advance();
      return std::string(save.text);
    }
    at_ = save_at;
    tok_ = save;
    return {};
  }

  [[gnu::noinline]] Value apply_at(const Token& head, const std::vector<Arg>& args) {
    try {
      return apply(head, args);
    } catch (const Error& e) {
      // Errors from the constructors (overflow, division by zero) get the position too.
      if (std::string_view(e.what()).starts_with(kPrefix)) throw;
      fail(head.pos, e.what());
    }
  }

  [[gnu::noinline]] Value apply(const Token& t, const std::vector<Arg>& args) {
    const std::string head(t.text);
    const size_t pos = t.pos;
    if (head == "Symbol") return int_value(symbol_call(t, args), pos);
    for (const Arg& a : args) {
      if (!a.keyword.empty()) fail(pos, head + "() takes no keyword argument '" + a.keyword + "'");
    }
    auto count = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) {
        std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + " or more";
        fail(pos, head + "() takes " + want + " argument" + (lo == 1 && hi == 1 ? "" : "s") +
                      ", got " + std::to_string(args.size()));
      }
    };
    constexpr size_t kMany = std::numeric_limits<size_t>::max();
    auto arg = [&](size_t i) {
      const Value& v = args[i].value;
      if (v.kind == Value::Kind::kInt) return v.expr;
      return as_int(v, "argument " + std::to_string(i + 1) + " of " + head + "()");
    };
    auto all = [&] {
      std::vector<Expr> out;
      for (size_t i = 0; i < args.size(); ++i)
        out.push_back(arg(i));
      return out;
    };
    auto binary_head = [&](std::string_view name) { return head == name && (count(2, 2), true); };

    if (head == "Integer") {
      count(1, 1);
      Expr v = arg(0);
      if (!v.is_const()) fail(pos, "Integer() needs an integer literal, got " + v.str());
      return int_value(v, pos);
    }
    if (head == "Add") return int_value(detail::make_add(all()), pos);
    if (head == "Mul") {
      std::vector<Expr> factors = all();
      check_product(factors, pos);
      return int_value(detail::make_mul(std::move(factors)), pos);
    }
    if (head == "Pow" || head == "PowByNatural") {
      count(2, 2);
      return int_value(make_pow(arg(0), arg(1), pos), pos);
    }
    if (head == "Max" || head == "Min") {
      count(1, kMany);
      return int_value(head == "Max" ? detail::make_max(all()) : detail::make_min(all()), pos);
    }
    if (binary_head("FloorDiv") || binary_head("CleanDiv")) {
      return int_value(floor_div(arg(0), arg(1)), pos);
    }
    if (binary_head("Mod") || binary_head("PythonMod")) return int_value(mod(arg(0), arg(1)), pos);
    if (binary_head("CeilDiv")) return int_value(ceil_div(arg(0), arg(1)), pos);
    if (binary_head("IntTrueDiv") || binary_head("FloatTrueDiv")) {
      Value v;
      v.kind = Value::Kind::kTrueDiv;
      v.expr = arg(0);
      v.den = arg(1);
      v.pos = pos;
      return v;
    }
    if (head == "FloorToInt" || head == "CeilToInt" || head == "TruncToInt" ||
        head == "RoundToInt" || head == "Identity") {
      count(1, 1);
      const Value& v = args[0].value;
      if (v.kind != Value::Kind::kTrueDiv) return int_value(arg(0), pos);
      if (head == "FloorToInt") return int_value(floor_div(v.expr, v.den), pos);
      if (head == "CeilToInt") return int_value(ceil_div(v.expr, v.den), pos);
      fail(pos, head + "() of a true division is not supported");
    }
    if (head == "ModularIndexing") {
      count(3, 3);
      return int_value(mod(floor_div(arg(0), arg(1)), arg(2)), pos);
    }
    if (binary_head("LShift") || binary_head("RShift")) {
      Expr k = arg(1);
      if (!k.is_const() || k.value() < 0 || k.value() > 62) {
        fail(pos, head + "() needs a constant shift in [0, 62], got " + k.str());
      }
      Expr scale(int64_t{1} << k.value());
      return int_value(head == "LShift" ? arg(0) * scale : floor_div(arg(0), scale), pos);
    }
    if (binary_head("Eq") || binary_head("Equality")) return int_value(eq(arg(0), arg(1)), pos);
    if (binary_head("Ne") || binary_head("Unequality")) return int_value(ne(arg(0), arg(1)), pos);
    if (binary_head("Lt") || binary_head("StrictLessThan"))
      return int_value(lt(arg(0), arg(1)), pos);
    if (binary_head("Le") || binary_head("LessThan")) return int_value(le(arg(0), arg(1)), pos);
    if (binary_head("Gt") || binary_head("StrictGreaterThan")) {
      return int_value(lt(arg(1), arg(0)), pos);
    }
    if (binary_head("Ge") || binary_head("GreaterThan")) return int_value(le(arg(1), arg(0)), pos);
    if (head == "And") return int_value(detail::make_and(all()), pos);
    if (head == "Or") return int_value(detail::make_or(all()), pos);
    if (head == "Not") {
      count(1, 1);
      return int_value(logical_not(arg(0)), pos);
    }
    if (head == "BooleanTrue" || head == "BooleanFalse") {
      count(0, 0);
      return int_value(Expr(head == "BooleanTrue" ? 1 : 0), pos);
    }
    if (head == "Abs") {
      count(1, 1);
      return int_value(max(arg(0), -arg(0)), pos);
    }
    if (head == "Rational" || head == "Float" || head == "Half" || head == "ToFloat" ||
        head == "TruncToFloat" || head == "FloatPow" || head == "RoundDecimal" ||
        head.starts_with("OpaqueUnaryFn")) {
      fail(pos, "non-integer value " + head + "(...) is not supported");
    }
    fail(pos, "unsupported function " + head + "(...)");
  }

  [[gnu::noinline]] Expr symbol_call(const Token& t, const std::vector<Arg>& args) {
    if (args.empty() || !args[0].keyword.empty() || args[0].value.kind != Value::Kind::kString) {
      fail(t.pos, "Symbol() needs the name as its first argument, a quoted string");
    }
    // The assumptions (positive=True, integer=True, ...) come in any order and are ignored:
    // every symbol is an integer here.
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i].keyword.empty())
        fail(args[i].value.pos, "Symbol() takes one positional argument");
    }
    try {
      return Expr::symbol(args[0].value.text);
    } catch (const Error& e) {
      fail(args[0].value.pos, e.what());
    }
  }

  // --- values ------------------------------------------------------------------------------

  Value int_value(Expr e, size_t pos) {
    if (tree_size(e) > kMaxTreeSize) {
      failf(pos, "the expression grows to more than ", kMaxTreeSize, " nodes when written out");
    }
    Value v;
    v.expr = std::move(e);
    v.pos = pos;
    return v;
  }

  // Nodes of `e` as a tree, saturating past the limit. Each node is counted once: the map
  // keeps the nodes it names alive, so their addresses stay unique while parsing.
  uint64_t tree_size(const Expr& e) {
    auto it = tree_sizes_.find(e.node());
    if (it != tree_sizes_.end()) return it->second.second;
    uint64_t n = 1;
    for (const Expr& a : e.args())
      n = std::min(n + tree_size(a), kMaxTreeSize + 1);
    tree_sizes_.emplace(e.node(), std::pair{e, n});
    return n;
  }

  Expr as_int(const Value& v, std::string_view where) const {
    if (v.kind == Value::Kind::kInt) return v.expr;
    fail_not_int(v, where);
  }

  [[noreturn, gnu::noinline, gnu::cold]] void fail_not_int(const Value& v,
                                                           std::string_view where) const {
    if (v.kind == Value::Kind::kString) failf(v.pos, "a string cannot be ", where);
    failf(v.pos, "true division ", v.expr.str(), " / ", v.den.str(), " is not an integer (as ",
          where, ")");
  }

  std::string_view text_;
  size_t at_ = 0;  // lexer position after tok_
  Token tok_;
  int depth_ = 0;
  std::unordered_map<const ExprNode*, std::pair<Expr, uint64_t>> tree_sizes_;
};

}  // namespace

Expr parse(std::string_view text) {
  return Parser(text).parse_all();
}

}  // namespace kiln::sym
