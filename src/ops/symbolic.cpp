// Symbolic-int ops: size queries and the Python arithmetic export records on SymInts. Their
// shape rule is the value itself as an expression; the reference kernel evaluates it.
#include "ops/args.h"
#include "ops/common.h"
#include "ops/families.h"

namespace kiln::ops {
namespace {

std::vector<OutType> sym_size(const Args& a) {
  const ir::TensorType& t = a.type("self");
  int64_t dim = wrap_dim(a.to_int("dim"), static_cast<int64_t>(t.rank()), a);
  return {OutType::sym_int(t.sizes[static_cast<size_t>(dim)])};
}

std::vector<OutType> sym_stride(const Args& a) {
  const ir::TensorType& t = a.type("self");
  int64_t dim = wrap_dim(a.to_int("dim"), static_cast<int64_t>(t.rank()), a);
  return {OutType::sym_int(t.strides[static_cast<size_t>(dim)])};
}

std::vector<OutType> sym_numel(const Args& a) {
  return {OutType::sym_int(a.type("self").numel())};
}

OutType sym_bool(sym::Expr e) {
  OutType o = OutType::sym_int(std::move(e));
  o.kind = ir::ValueKind::kSymBool;
  return o;
}

template <sym::Expr (*F)(const sym::Expr&, const sym::Expr&)>
std::vector<OutType> binary(const Args& a) {
  return {OutType::sym_int(F(a.sym("a"), a.sym("b")))};
}

template <sym::Expr (*F)(const sym::Expr&, const sym::Expr&)>
std::vector<OutType> compare(const Args& a) {
  return {sym_bool(F(a.sym("a"), a.sym("b")))};
}

sym::Expr add(const sym::Expr& x, const sym::Expr& y) {
  return x + y;
}
sym::Expr sub(const sym::Expr& x, const sym::Expr& y) {
  return x - y;
}
sym::Expr mul(const sym::Expr& x, const sym::Expr& y) {
  return x * y;
}
sym::Expr gt(const sym::Expr& x, const sym::Expr& y) {
  return sym::lt(y, x);
}
sym::Expr ge(const sym::Expr& x, const sym::Expr& y) {
  return sym::le(y, x);
}

std::vector<OutType> neg(const Args& a) {
  return {OutType::sym_int(-a.sym("a"))};
}
std::vector<OutType> sym_not(const Args& a) {
  return {sym_bool(sym::logical_not(a.sym("a")))};
}

// The value of a symbolic op on known ints: its shape rule over constants.
std::vector<ref::RValue> evaluate(const Args& a) {
  std::vector<ref::RValue> out;
  for (const OutType& o : a.op().shape(a)) {
    auto c = o.sym ? o.sym->as_const() : std::nullopt;
    if (!c) a.fail("the value is not known");
    if (o.kind == ir::ValueKind::kSymBool) {
      out.emplace_back(*c != 0);
    } else {
      out.emplace_back(*c);
    }
  }
  return out;
}

const OpDef kOps[] = {
    {"aten.sym_size.int", "sym_size.int(Tensor self, int dim) -> SymInt", sym_size, evaluate},
    {"aten.sym_stride.int", "sym_stride.int(Tensor self, int dim) -> SymInt", sym_stride, evaluate},
    {"aten.sym_numel.default", "sym_numel(Tensor self) -> SymInt", sym_numel, evaluate},
    {"_operator.add", "add(SymInt a, SymInt b) -> SymInt", binary<add>, evaluate},
    {"_operator.sub", "sub(SymInt a, SymInt b) -> SymInt", binary<sub>, evaluate},
    {"_operator.mul", "mul(SymInt a, SymInt b) -> SymInt", binary<mul>, evaluate},
    {"_operator.floordiv", "floordiv(SymInt a, SymInt b) -> SymInt", binary<sym::floor_div>,
     evaluate},
    {"_operator.mod", "mod(SymInt a, SymInt b) -> SymInt", binary<sym::mod>, evaluate},
    {"_operator.neg", "neg(SymInt a) -> SymInt", neg, evaluate},
    {"_operator.eq", "eq(SymInt a, SymInt b) -> bool", compare<sym::eq>, evaluate},
    {"_operator.ne", "ne(SymInt a, SymInt b) -> bool", compare<sym::ne>, evaluate},
    {"_operator.lt", "lt(SymInt a, SymInt b) -> bool", compare<sym::lt>, evaluate},
    {"_operator.le", "le(SymInt a, SymInt b) -> bool", compare<sym::le>, evaluate},
    {"_operator.gt", "gt(SymInt a, SymInt b) -> bool", compare<gt>, evaluate},
    {"_operator.ge", "ge(SymInt a, SymInt b) -> bool", compare<ge>, evaluate},
    {"torch.sym_max", "sym_max(SymInt a, SymInt b) -> SymInt", binary<sym::max>, evaluate},
    {"torch.sym_min", "sym_min(SymInt a, SymInt b) -> SymInt", binary<sym::min>, evaluate},
    {"torch.sym_not", "sym_not(SymInt a) -> bool", sym_not, evaluate},
};

}  // namespace

std::span<const OpDef> symbolic_ops() {
  return kOps;
}

}  // namespace kiln::ops
