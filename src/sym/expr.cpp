// Expr's node storage, identity (order, hash, equality) and the tree walks that don't
// canonicalize: free_symbols, substitute, eval. The canonicalizing builders live in
// canonical.cpp.

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

#include "sym/checked.h"
#include "sym/expr_node.h"

namespace kiln::sym {

namespace {

size_t mix(size_t seed, size_t v) {
  return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

size_t hash_node(const ExprNode& n) {
  size_t h = mix(0, static_cast<size_t>(n.op));
  switch (n.op) {
    case Op::kConst:
      return mix(h, std::hash<int64_t>{}(n.value));
    case Op::kSymbol:
      return mix(h, std::hash<std::string>{}(n.name));
    default:
      for (const Expr& a : n.args)
        h = mix(h, a.hash());
      return h;
  }
}

// Small constants are shared so that Expr() and the 0/1 results of folding don't allocate.
constexpr int64_t kCacheMin = -8;
constexpr int64_t kCacheMax = 64;

std::shared_ptr<const ExprNode> new_const_node(int64_t value) {
  auto n = std::make_shared<ExprNode>();
  n->op = Op::kConst;
  n->value = value;
  n->hash = hash_node(*n);
  return n;
}

const std::shared_ptr<const ExprNode>& cached_const(int64_t value) {
  static const auto cache = [] {
    std::array<std::shared_ptr<const ExprNode>, kCacheMax - kCacheMin + 1> c;
    for (int64_t v = kCacheMin; v <= kCacheMax; ++v)
      c[v - kCacheMin] = new_const_node(v);
    return c;
  }();
  return cache[value - kCacheMin];
}

// Names compare with digit runs as numbers, so s2 sorts before s10.
int compare_names(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0')
        ++i0;
      while (j0 < b.size() && b[j0] == '0')
        ++j0;
      size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && std::isdigit(static_cast<unsigned char>(a[i1])))
        ++i1;
      while (j1 < b.size() && std::isdigit(static_cast<unsigned char>(b[j1])))
        ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0 ? -1 : 1;
      int c = a.compare(i0, i1 - i0, b, j0, j1 - j0);
      if (c != 0) return c < 0 ? -1 : 1;
      i = i1;
      j = j1;
      continue;
    }
    if (a[i] != b[j])
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]) ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size() || j < b.size()) return i < a.size() ? 1 : -1;
  // Equal as numbers ("s01" vs "s1"): fall back to plain order so the order stays total.
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool is_reserved_name(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kReserved = {"true",
                                                                 "false",
                                                                 "True",
                                                                 "False",
                                                                 "oo",
                                                                 "zoo",
                                                                 "nan",
                                                                 "int_oo",
                                                                 "Infinity",
                                                                 "NegativeInfinity",
                                                                 "ComplexInfinity",
                                                                 "NaN"};
  return std::find(kReserved.begin(), kReserved.end(), name) != kReserved.end();
}

bool is_identifier(std::string_view name) {
  if (name.empty()) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

Expr ExprBuilder::make_const(int64_t value) {
  if (value >= kCacheMin && value <= kCacheMax) return Expr(cached_const(value));
  return Expr(new_const_node(value));
}

Expr ExprBuilder::make_symbol(std::string name) {
  auto n = std::make_shared<ExprNode>();
  n->op = Op::kSymbol;
  n->name = std::move(name);
  n->hash = hash_node(*n);
  return Expr(std::move(n));
}

Expr ExprBuilder::make_node(Op op, std::vector<Expr> args) {
  auto n = std::make_shared<ExprNode>();
  n->op = op;
  n->args = std::move(args);
  n->hash = hash_node(*n);
  return Expr(std::move(n));
}

Expr::Expr() : node_(cached_const(0)) {}
Expr::Expr(int64_t value) : Expr(ExprBuilder::make_const(value)) {}
Expr::Expr(std::shared_ptr<const ExprNode> node) : node_(std::move(node)) {}

Expr Expr::symbol(std::string_view name) {
  if (!is_identifier(name) || is_reserved_name(name)) {
    throw error("invalid symbol name '", name, "': expected an identifier such as s0");
  }
  return ExprBuilder::make_symbol(std::string(name));
}

Op Expr::op() const {
  return node_->op;
}

std::optional<int64_t> Expr::as_const() const {
  if (!is_const()) return std::nullopt;
  return node_->value;
}

int64_t Expr::value() const {
  if (!is_const()) throw error("Expr::value() called on non-constant ", str());
  return node_->value;
}

const std::string& Expr::name() const {
  if (!is_symbol()) throw error("Expr::name() called on non-symbol ", str());
  return node_->name;
}

const std::vector<Expr>& Expr::args() const {
  return node_->args;
}

size_t Expr::hash() const {
  return node_->hash;
}

bool Expr::operator==(const Expr& other) const {
  if (node_ == other.node_) return true;
  if (node_->hash != other.node_->hash) return false;
  return detail::compare(*this, other) == 0;
}

bool Expr::operator<(const Expr& other) const {
  return detail::compare(*this, other) < 0;
}

int detail::compare(const Expr& a, const Expr& b) {
  if (a.node() == b.node()) return 0;
  if (a.op() != b.op()) return a.op() < b.op() ? -1 : 1;
  switch (a.op()) {
    case Op::kConst:
      return a.value() < b.value() ? -1 : (a.value() > b.value() ? 1 : 0);
    case Op::kSymbol:
      return compare_names(a.name(), b.name());
    default: {
      const auto& x = a.args();
      const auto& y = b.args();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        int c = compare(x[i], y[i]);
        if (c != 0) return c;
      }
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      return 0;
    }
  }
}

std::set<std::string> Expr::free_symbols() const {
  std::set<std::string> out;
  std::function<void(const Expr&)> walk = [&](const Expr& e) {
    if (e.is_symbol()) out.insert(e.name());
    for (const Expr& a : e.args())
      walk(a);
  };
  walk(*this);
  return out;
}

Expr Expr::substitute(const std::map<std::string, Expr>& replacements) const {
  switch (op()) {
    case Op::kConst:
      return *this;
    case Op::kSymbol: {
      auto it = replacements.find(name());
      return it == replacements.end() ? *this : it->second;
    }
    default: {
      std::vector<Expr> args;
      args.reserve(this->args().size());
      bool changed = false;
      for (const Expr& a : this->args()) {
        args.push_back(a.substitute(replacements));
        changed = changed || args.back().node() != a.node();
      }
      return changed ? detail::rebuild(op(), std::move(args)) : *this;
    }
  }
}

namespace {

int64_t eval_node(const Expr& e, const std::unordered_map<std::string, int64_t>& bindings) {
  using namespace detail;
  const auto& a = e.args();
  auto arg = [&](size_t i) { return eval_node(a[i], bindings); };
  switch (e.op()) {
    case Op::kConst:
      return e.value();
    case Op::kSymbol: {
      auto it = bindings.find(e.name());
      if (it == bindings.end()) throw error("symbol ", e.name(), " is unbound");
      return it->second;
    }
    case Op::kAdd: {
      int64_t r = 0;
      for (size_t i = 0; i < a.size(); ++i)
        r = checked_add(r, arg(i));
      return r;
    }
    case Op::kMul: {
      int64_t r = 1;
      for (size_t i = 0; i < a.size(); ++i)
        r = checked_mul(r, arg(i));
      return r;
    }
    case Op::kFloorDiv:
      return py_floordiv(arg(0), arg(1));
    case Op::kMod:
      return py_mod(arg(0), arg(1));
    case Op::kMin:
    case Op::kMax: {
      int64_t r = arg(0);
      for (size_t i = 1; i < a.size(); ++i) {
        r = e.op() == Op::kMin ? std::min(r, arg(i)) : std::max(r, arg(i));
      }
      return r;
    }
    case Op::kEq:
      return arg(0) == arg(1);
    case Op::kNe:
      return arg(0) != arg(1);
    case Op::kLt:
      return arg(0) < arg(1);
    case Op::kLe:
      return arg(0) <= arg(1);
    case Op::kAnd: {
      bool r = true;
      for (size_t i = 0; i < a.size(); ++i)
        r = (arg(i) != 0) && r;
      return r;
    }
    case Op::kOr: {
      bool r = false;
      for (size_t i = 0; i < a.size(); ++i)
        r = (arg(i) != 0) || r;
      return r;
    }
    case Op::kNot:
      return arg(0) == 0;
  }
  throw error("unknown symbolic op ", static_cast<int>(e.op()));
}

}  // namespace

int64_t Expr::eval(const std::unordered_map<std::string, int64_t>& bindings) const {
  try {
    return eval_node(*this, bindings);
  } catch (const Error& e) {
    if (is_symbol()) throw;
    throw error(e.what(), " in ", str());
  }
}

}  // namespace kiln::sym
