#include "ops/decompose_util.h"

#include <algorithm>
#include <numeric>

#include "ops/common.h"
#include "util/error.h"

namespace kiln::ops {

Decomposer::Decomposer(ir::Graph& graph, const ir::Node& node) : graph_(graph), node_(node) {}

std::string Decomposer::base(std::string_view target) const {
  // "aten.mul.Tensor" -> "<node>_mul", so the replacement reads as the node's parts.
  std::string_view op = target;
  if (auto first = op.find('.'); first != std::string_view::npos) op = op.substr(first + 1);
  if (auto dot = op.find('.'); dot != std::string_view::npos) op = op.substr(0, dot);
  while (op.starts_with('_'))
    op.remove_prefix(1);
  std::string out = node_.name;
  out += '_';
  out += op;
  return out;
}

std::vector<ir::ValueId> Decomposer::emit_all(std::string_view target, const ir::CallArgs& args) {
  ir::Node n = ir::make_node(graph_, target, args, base(target));
  std::vector<ir::ValueId> outs = ir::node_outputs(n);
  nodes_.push_back(std::move(n));
  return outs;
}

ir::ValueId Decomposer::emit(std::string_view target, const ir::CallArgs& args) {
  std::vector<ir::ValueId> outs = emit_all(target, args);
  if (outs.size() != 1) {
    throw error("decomposing node '", node_.name, "': ", target, " gave ", outs.size(),
                " outputs where one is expected");
  }
  return outs[0];
}

ir::TensorType Decomposer::type(ir::ValueId v) const {
  return graph_.values.at(static_cast<size_t>(v)).type;
}

ir::DType Decomposer::dtype(ir::ValueId v) const {
  return graph_.values.at(static_cast<size_t>(v)).type.dtype;
}

int64_t Decomposer::rank(ir::ValueId v) const {
  return static_cast<int64_t>(graph_.values.at(static_cast<size_t>(v)).type.rank());
}

sym::Expr Decomposer::size(ir::ValueId v, int64_t dim) const {
  return graph_.values.at(static_cast<size_t>(v)).type.sizes.at(static_cast<size_t>(dim));
}

ir::SymIntArg Decomposer::dim(ir::ValueId v, int64_t d) {
  sym::Expr e = size(v, d);
  if (auto c = e.as_const()) return literal(*c);
  std::string key = e.str();
  if (auto it = dims_.find(key); it != dims_.end()) return it->second;
  ir::ValueId s = emit("aten.sym_size.int", {{"self", tensor_arg(v)}, {"dim", d}});
  ir::SymIntArg out{s, 0};
  dims_.emplace(key, out);
  return out;
}

std::vector<ir::SymIntArg> Decomposer::sizes(ir::ValueId v) {
  std::vector<ir::SymIntArg> out;
  for (int64_t d = 0; d < rank(v); ++d)
    out.push_back(dim(v, d));
  return out;
}

sym::Expr Decomposer::expr(const ir::SymIntArg& a) const {
  if (!a.value) return sym::Expr(a.literal);
  const ir::Value& v = graph_.values.at(static_cast<size_t>(*a.value));
  return v.sym ? *v.sym : sym::Expr::symbol(v.name);
}

ir::SymIntArg Decomposer::add(const ir::SymIntArg& a, const ir::SymIntArg& b) {
  if (!a.value && !b.value) return literal(a.literal + b.literal);
  if (!a.value && a.literal == 0) return b;
  if (!b.value && b.literal == 0) return a;
  return {emit("_operator.add", {{"a", a}, {"b", b}}), 0};
}

ir::SymIntArg Decomposer::mul(const ir::SymIntArg& a, const ir::SymIntArg& b) {
  if (!a.value && !b.value) return literal(a.literal * b.literal);
  if (!a.value && a.literal == 1) return b;
  if (!b.value && b.literal == 1) return a;
  return {emit("_operator.mul", {{"a", a}, {"b", b}}), 0};
}

ir::SymIntArg Decomposer::count(ir::ValueId v, const std::vector<int64_t>& dims) {
  // Known dims first, so the symbolic product needs the fewest nodes.
  int64_t known = 1;
  std::vector<ir::SymIntArg> symbolic;
  for (int64_t d : dims) {
    ir::SymIntArg s = dim(v, d);
    if (s.value) {
      symbolic.push_back(s);
    } else {
      known *= s.literal;
    }
  }
  ir::SymIntArg out = literal(known);
  for (const ir::SymIntArg& s : symbolic)
    out = mul(out, s);
  return out;
}

ir::ValueId Decomposer::cast(ir::ValueId v, ir::DType t) {
  if (dtype(v) == t) return v;
  return emit("aten._to_copy.default", {{"self", tensor_arg(v)}, {"dtype", ir::ScalarTypeArg{t}}});
}

ir::ValueId Decomposer::unary(std::string_view target, ir::ValueId v) {
  return emit(target, {{"self", tensor_arg(v)}});
}

ir::ValueId Decomposer::binary(std::string_view target, ir::ValueId v, const ir::Argument& other) {
  return emit(target, {{"self", tensor_arg(v)}, {"other", other}});
}

ir::ValueId Decomposer::add(ir::ValueId x, ir::ValueId y) {
  return binary("aten.add.Tensor", x, tensor_arg(y));
}
ir::ValueId Decomposer::sub(ir::ValueId x, ir::ValueId y) {
  return binary("aten.sub.Tensor", x, tensor_arg(y));
}
ir::ValueId Decomposer::mul(ir::ValueId x, ir::ValueId y) {
  return binary("aten.mul.Tensor", x, tensor_arg(y));
}
ir::ValueId Decomposer::div(ir::ValueId x, ir::ValueId y) {
  return binary("aten.div.Tensor", x, tensor_arg(y));
}
ir::ValueId Decomposer::add_n(ir::ValueId x, const ir::Argument& y) {
  return binary("aten.add.Tensor", x, y);
}
ir::ValueId Decomposer::sub_n(ir::ValueId x, const ir::Argument& y) {
  return binary("aten.sub.Tensor", x, y);
}
ir::ValueId Decomposer::mul_n(ir::ValueId x, const ir::Argument& y) {
  return binary("aten.mul.Tensor", x, y);
}
ir::ValueId Decomposer::div_n(ir::ValueId x, const ir::Argument& y) {
  return binary("aten.div.Tensor", x, y);
}

ir::ValueId Decomposer::where(ir::ValueId cond, ir::ValueId x, ir::ValueId y) {
  return emit("aten.where.self",
              {{"condition", tensor_arg(cond)}, {"self", tensor_arg(x)}, {"other", tensor_arg(y)}});
}

ir::ValueId Decomposer::sum(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim) {
  if (dims.empty()) return v;
  return emit("aten.sum.dim_IntList",
              {{"self", tensor_arg(v)}, {"dim", dims}, {"keepdim", keepdim}});
}

ir::ValueId Decomposer::amax(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim) {
  if (dims.empty()) return v;
  return emit("aten.amax.default", {{"self", tensor_arg(v)}, {"dim", dims}, {"keepdim", keepdim}});
}

ir::ValueId Decomposer::mean(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim) {
  if (dims.empty()) return v;
  ir::SymIntArg n = count(v, dims);
  ir::ValueId s = sum(v, dims, keepdim);
  if (!n.value) return n.literal == 1 ? s : div_n(s, n.literal);
  return div_n(s, n);
}

Decomposer::Moments Decomposer::moments(ir::ValueId v, const std::vector<int64_t>& dims) {
  ir::ValueId m = mean(v, dims, true);
  ir::ValueId d = sub(v, m);
  return {m, mean(mul(d, d), dims, true), d};
}

ir::Argument size_list(const std::vector<ir::SymIntArg>& sizes) {
  std::vector<int64_t> ints;
  for (const ir::SymIntArg& s : sizes) {
    if (s.value) return sizes;
    ints.push_back(s.literal);
  }
  return ints;
}

ir::ValueId Decomposer::reshape(ir::ValueId v, const std::vector<ir::SymIntArg>& new_sizes) {
  ir::TensorType t = type(v);
  bool same = t.rank() == new_sizes.size();
  for (size_t d = 0; same && d < new_sizes.size(); ++d)
    same = expr(new_sizes[d]) == t.sizes[d];
  if (same) return v;
  return emit("aten.reshape.default", {{"self", tensor_arg(v)}, {"shape", size_list(new_sizes)}});
}

ir::ValueId Decomposer::unsqueeze(ir::ValueId v, int64_t d) {
  return emit("aten.unsqueeze.default", {{"self", tensor_arg(v)}, {"dim", d}});
}

ir::ValueId Decomposer::squeeze(ir::ValueId v, int64_t d) {
  return emit("aten.squeeze.dim", {{"self", tensor_arg(v)}, {"dim", d}});
}

ir::ValueId Decomposer::expand(ir::ValueId v, const std::vector<ir::SymIntArg>& new_sizes) {
  ir::TensorType t = type(v);
  bool same = t.rank() == new_sizes.size();
  for (size_t d = 0; same && d < new_sizes.size(); ++d)
    same = expr(new_sizes[d]) == t.sizes[d];
  if (same) return v;
  return emit("aten.expand.default", {{"self", tensor_arg(v)}, {"size", size_list(new_sizes)}});
}

ir::ValueId Decomposer::permute(ir::ValueId v, const std::vector<int64_t>& dims) {
  std::vector<int64_t> identity(dims.size());
  std::iota(identity.begin(), identity.end(), 0);
  if (dims == identity) return v;
  return emit("aten.permute.default", {{"self", tensor_arg(v)}, {"dims", dims}});
}

ir::ValueId Decomposer::transpose(ir::ValueId v, int64_t dim0, int64_t dim1) {
  return emit("aten.transpose.int", {{"self", tensor_arg(v)}, {"dim0", dim0}, {"dim1", dim1}});
}

ir::ValueId Decomposer::slice(ir::ValueId v, int64_t d, const ir::SymIntArg& start,
                              const std::optional<ir::SymIntArg>& end) {
  return emit("aten.slice.Tensor", {{"self", tensor_arg(v)},
                                    {"dim", d},
                                    {"start", int_arg(start)},
                                    {"end", end ? int_arg(*end) : ir::Argument(ir::NoneArg{})},
                                    {"step", int64_t{1}}});
}

ir::ValueId Decomposer::full(const std::vector<ir::SymIntArg>& sizes, const ir::Argument& value,
                             ir::DType t, const ir::Device& device) {
  return emit("aten.full.default", {{"size", size_list(sizes)},
                                    {"fill_value", value},
                                    {"dtype", ir::ScalarTypeArg{t}},
                                    {"device", device}});
}

ir::ValueId Decomposer::scalar_tensor(const ir::Argument& value, ir::DType t,
                                      const ir::Device& device) {
  return emit("aten.scalar_tensor.default",
              {{"s", value}, {"dtype", ir::ScalarTypeArg{t}}, {"device", device}});
}

ir::ValueId tensor_id(const Args& a, std::string_view name) {
  const ir::Argument& arg = a.raw(name);
  if (const auto* t = std::get_if<ir::TensorArg>(&arg)) return t->value;
  if (const auto* t = std::get_if<ir::OptionalTensorArg>(&arg); t && t->value) return *t->value;
  a.fail("argument '", name, "' is not a tensor");
}

std::optional<ir::ValueId> optional_tensor_id(const Args& a, std::string_view name) {
  if (a.is_none(name)) return std::nullopt;
  return tensor_id(a, name);
}

std::vector<ir::SymIntArg> sym_list(const Args& a, std::string_view name) {
  const ir::Argument& arg = a.raw(name);
  if (const auto* l = std::get_if<std::vector<ir::SymIntArg>>(&arg)) return *l;
  if (const auto* l = std::get_if<std::vector<int64_t>>(&arg)) {
    std::vector<ir::SymIntArg> out;
    for (int64_t v : *l)
      out.push_back(literal(v));
    return out;
  }
  if (const auto* s = std::get_if<ir::SymIntArg>(&arg)) return {*s};
  if (const auto* i = std::get_if<int64_t>(&arg)) return {literal(*i)};
  a.fail("argument '", name, "' is not a list of ints");
}

ir::Argument number(const Args& a, std::string_view name) {
  std::optional<Scalar> s = a.known_scalar(name);
  if (!s) return a.raw(name);
  switch (s->kind) {
    case Scalar::Kind::kFloat:
      return s->f;
    case Scalar::Kind::kBool:
      return s->i != 0;
    case Scalar::Kind::kInt:
      break;
  }
  return s->i;
}

ir::TensorType result_type(const Args& a, size_t i) {
  std::vector<OutType> types = a.op().shape(a);
  if (i >= types.size() || types[i].kind != ir::ValueKind::kTensor) {
    a.fail("the op has no tensor result #", i);
  }
  return types[i].tensor;
}

ir::DType opmath(ir::DType t) {
  if (ir::is_floating(t) && ir::dtype_size(t) < 4) return ir::DType::kFloat32;
  return t;
}

std::vector<int64_t> masked_dims(const std::vector<bool>& mask) {
  std::vector<int64_t> out;
  for (size_t d = 0; d < mask.size(); ++d) {
    if (mask[d]) out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

std::vector<int64_t> reduction_dims(const Args& a, std::string_view name, int64_t rank) {
  std::vector<int64_t> all(static_cast<size_t>(rank));
  std::iota(all.begin(), all.end(), 0);
  if (a.schema().index_of(name) < 0 || a.is_none(name)) return all;
  std::vector<int64_t> dims = a.ints(name);
  if (dims.empty()) return all;
  std::vector<bool> mask(static_cast<size_t>(rank), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, rank, a);
    if (rank > 0) mask[static_cast<size_t>(w)] = true;
  }
  return masked_dims(mask);
}

}  // namespace kiln::ops
