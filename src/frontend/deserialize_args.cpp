// The Argument union, TensorMeta and symbolic values of the export schema (pt2-format.md §3.4-3.6).

#include <cmath>
#include <limits>

#include "frontend/deserialize.h"
#include "frontend/deserialize_impl.h"
#include "sym/expr.h"

namespace kiln::frontend::detail {

std::string Context::where() const {
  std::string out;
  for (const auto& p : path_) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

Context::Scope::Scope(Context& ctx, std::string what)
    : ctx_(ctx), uncaught_(std::uncaught_exceptions()) {
  ctx_.path_.push_back(std::move(what));
}

Context::Scope::~Scope() {
  if (std::uncaught_exceptions() == uncaught_) ctx_.path_.pop_back();
}

const Json* find(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const Json& require(Context& ctx, const Json& object, std::string_view key) {
  const Json* j = find(object, key);
  if (!j) ctx.fail("missing field '", key, "'");
  return *j;
}

const Json& expect_object(Context& ctx, const Json& j, std::string_view what) {
  if (!j.is_object()) ctx.fail(what, " must be a JSON object, not ", j.type_name());
  return j;
}

const Json& expect_array(Context& ctx, const Json& j, std::string_view what) {
  if (!j.is_array()) ctx.fail(what, " must be a JSON array, not ", j.type_name());
  return j;
}

int64_t to_int(Context& ctx, const Json& j, std::string_view what) {
  if (j.is_number_unsigned()) {
    auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      ctx.fail(what, " ", u, " does not fit in int64");
    }
    return static_cast<int64_t>(u);
  }
  if (!j.is_number_integer()) ctx.fail(what, " must be an integer, not ", j.dump());
  return j.get<int64_t>();
}

double to_double(Context& ctx, const Json& j, std::string_view what) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    // json.dumps(allow_nan=False) is preceded by a pass that spells non-finite floats as text.
    const auto& s = j.get_ref<const std::string&>();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  ctx.fail(what, " must be a number, not ", j.dump());
}

bool to_bool(Context& ctx, const Json& j, std::string_view what) {
  if (!j.is_boolean()) ctx.fail(what, " must be a boolean, not ", j.dump());
  return j.get<bool>();
}

std::string to_string(Context& ctx, const Json& j, std::string_view what) {
  if (!j.is_string()) ctx.fail(what, " must be a string, not ", j.dump());
  return j.get<std::string>();
}

std::pair<std::string, const Json*> union_of(Context& ctx, const Json& j, std::string_view what) {
  if (!j.is_object()) ctx.fail(what, " must be a one-key JSON object, not ", j.dump());
  if (j.size() != 1) {
    std::string keys;
    for (const auto& [k, v] : j.items())
      keys += (keys.empty() ? "" : ", ") + k;
    ctx.fail(what, " must have exactly one key, but has ", j.size(), " (", keys, ")");
  }
  auto it = j.begin();
  return {it.key(), &it.value()};
}

namespace {

sym::Expr parse_expr(Context& ctx, const Json& sym_expr) {
  std::string text = to_string(ctx, require(ctx, sym_expr, "expr_str"), "expr_str");
  try {
    return sym::parse(text);
  } catch (const Error& e) {
    ctx.fail("cannot read symbolic expression \"", text, "\": ", e.what());
  }
}

}  // namespace

sym::Expr sym_int(Context& ctx, const Json& j) {
  auto [key, payload] = union_of(ctx, j, "SymInt");
  if (key == "as_int") return to_int(ctx, *payload, "as_int");
  if (key == "as_expr") return parse_expr(ctx, *payload);
  ctx.fail("unknown SymInt kind '", key, "'");
}

sym::Expr sym_bool(Context& ctx, const Json& j) {
  auto [key, payload] = union_of(ctx, j, "SymBool");
  if (key == "as_bool") return to_bool(ctx, *payload, "as_bool") ? 1 : 0;
  if (key == "as_expr") return parse_expr(ctx, *payload);
  ctx.fail("unknown SymBool kind '", key, "'");
}

ir::Device device(Context& ctx, const Json& j) {
  expect_object(ctx, j, "device");
  ir::Device d;
  d.type = to_string(ctx, require(ctx, j, "type"), "device type");
  if (const Json* index = find(j, "index"))
    d.index = static_cast<int>(to_int(ctx, *index, "index"));
  return d;
}

ir::TensorType tensor_meta(Context& ctx, const Json& j) {
  expect_object(ctx, j, "TensorMeta");
  ir::TensorType t;
  int64_t dtype = to_int(ctx, require(ctx, j, "dtype"), "dtype");
  auto dt = ir::dtype_from_schema(dtype);
  if (!dt) ctx.fail("unknown dtype ", dtype, " (export schema ScalarType)");
  t.dtype = *dt;
  auto sym_list = [&](const char* key) {
    std::vector<sym::Expr> out;
    const Json* list = find(j, key);
    if (!list) return out;
    expect_array(ctx, *list, key);
    for (size_t i = 0; i < list->size(); ++i) {
      Context::Scope scope(ctx, std::string(key) + "[" + std::to_string(i) + "]");
      out.push_back(sym_int(ctx, (*list)[i]));
    }
    return out;
  };
  t.sizes = sym_list("sizes");
  t.strides = sym_list("strides");
  if (!find(j, "strides")) t.strides = ir::TensorType::contiguous_strides(t.sizes);
  if (const Json* offset = find(j, "storage_offset")) {
    Context::Scope scope(ctx, "storage_offset");
    t.storage_offset = sym_int(ctx, *offset);
  }
  if (const Json* dev = find(j, "device")) t.device = device(ctx, *dev);
  if (const Json* layout = find(j, "layout")) {
    int64_t value = to_int(ctx, *layout, "layout");
    auto l = ir::layout_from_schema(value);
    if (!l) ctx.fail("unknown layout ", value);
    t.layout = *l;
  }
  if (const Json* rg = find(j, "requires_grad"))
    t.requires_grad = to_bool(ctx, *rg, "requires_grad");
  return t;
}

GraphReader::GraphReader(Context& ctx, const Json& graph_json, ir::Graph& graph)
    : ctx_(ctx),
      graph_(graph),
      tensor_values_(find(graph_json, "tensor_values")),
      sym_int_values_(find(graph_json, "sym_int_values")),
      sym_bool_values_(find(graph_json, "sym_bool_values")),
      sym_float_values_(find(graph_json, "sym_float_values")),
      custom_obj_values_(find(graph_json, "custom_obj_values")) {}

ir::ValueId GraphReader::lookup(std::string_view name) {
  auto id = graph_.find(name);
  if (!id) ctx_.fail("value '", name, "' is not defined before this use");
  return *id;
}

ir::ValueId GraphReader::add(ir::Value v) {
  if (graph_.find(v.name)) ctx_.fail("value '", v.name, "' is defined more than once");
  return graph_.add_value(std::move(v));
}

const Json& GraphReader::meta(const Json* table, std::string_view table_name,
                              const std::string& name) {
  const Json* entry = table ? find(*table, name) : nullptr;
  if (!entry) ctx_.fail("value '", name, "' has no entry in ", table_name);
  return *entry;
}

ir::ValueId GraphReader::define_tensor(const std::string& name, int producer) {
  const Json& m = meta(tensor_values_, "tensor_values", name);
  ir::Value v;
  v.name = name;
  v.kind = ir::ValueKind::kTensor;
  v.producer = producer;
  {
    Context::Scope scope(ctx_, "tensor_values['" + name + "']");
    v.type = tensor_meta(ctx_, m);
  }
  return add(std::move(v));
}

ir::ValueId GraphReader::define_sym(const std::string& name, ir::ValueKind kind, int producer) {
  ir::Value v;
  v.name = name;
  v.kind = kind;
  v.producer = producer;
  if (kind == ir::ValueKind::kSymInt) {
    const Json& m = meta(sym_int_values_, "sym_int_values", name);
    Context::Scope scope(ctx_, "sym_int_values['" + name + "']");
    v.sym = sym_int(ctx_, m);
  } else if (kind == ir::ValueKind::kSymBool) {
    const Json& m = meta(sym_bool_values_, "sym_bool_values", name);
    Context::Scope scope(ctx_, "sym_bool_values['" + name + "']");
    v.sym = sym_bool(ctx_, m);
  } else {
    // SymFloat: sym::Expr is integer-only, so only the existence of the entry is checked.
    meta(sym_float_values_, "sym_float_values", name);
  }
  return add(std::move(v));
}

ir::ValueId GraphReader::define_custom_obj(const std::string& name, const std::string& class_fqn,
                                           int producer) {
  ir::Value v;
  v.name = name;
  v.kind = ir::ValueKind::kCustomObj;
  v.producer = producer;
  v.class_fqn = class_fqn;
  if (v.class_fqn.empty() && custom_obj_values_) {
    if (const Json* m = find(*custom_obj_values_, name); m && find(*m, "class_fqn")) {
      v.class_fqn = to_string(ctx_, *find(*m, "class_fqn"), "class_fqn");
    }
  }
  return add(std::move(v));
}

ir::TensorArg GraphReader::tensor_ref(const Json& j) {
  expect_object(ctx_, j, "TensorArgument");
  return {lookup(to_string(ctx_, require(ctx_, j, "name"), "tensor name"))};
}

ir::OptionalTensorArg GraphReader::optional_tensor(const Json& j) {
  auto [key, payload] = union_of(ctx_, j, "OptionalTensorArgument");
  if (key == "as_tensor") return {tensor_ref(*payload).value};
  if (key == "as_none") return {};
  ctx_.fail("unknown OptionalTensorArgument kind '", key, "'");
}

ir::SymIntArg GraphReader::sym_int_arg(const Json& j) {
  auto [key, payload] = union_of(ctx_, j, "SymIntArgument");
  if (key == "as_name") return {lookup(to_string(ctx_, *payload, "as_name")), 0};
  if (key == "as_int") return {std::nullopt, to_int(ctx_, *payload, "as_int")};
  ctx_.fail("unknown SymIntArgument kind '", key, "'");
}

ir::SymBoolArg GraphReader::sym_bool_arg(const Json& j) {
  auto [key, payload] = union_of(ctx_, j, "SymBoolArgument");
  if (key == "as_name") return {lookup(to_string(ctx_, *payload, "as_name")), false};
  if (key == "as_bool") return {std::nullopt, to_bool(ctx_, *payload, "as_bool")};
  ctx_.fail("unknown SymBoolArgument kind '", key, "'");
}

ir::SymFloatArg GraphReader::sym_float_arg(const Json& j) {
  auto [key, payload] = union_of(ctx_, j, "SymFloatArgument");
  if (key == "as_name") return {lookup(to_string(ctx_, *payload, "as_name")), 0.0};
  if (key == "as_float") return {std::nullopt, to_double(ctx_, *payload, "as_float")};
  ctx_.fail("unknown SymFloatArgument kind '", key, "'");
}

namespace {

template <typename T, typename F>
std::vector<T> each(Context& ctx, const Json& list, std::string_view what, F&& f) {
  expect_array(ctx, list, what);
  std::vector<T> out;
  out.reserve(list.size());
  for (const auto& e : list)
    out.push_back(f(e));
  return out;
}

}  // namespace

ir::Argument GraphReader::argument(const Json& j) {
  auto [key, payload_ptr] = union_of(ctx_, j, "Argument");
  const Json& p = *payload_ptr;
  Context& c = ctx_;
  if (key == "as_none") return ir::NoneArg{};
  if (key == "as_tensor") return tensor_ref(p);
  if (key == "as_tensors") {
    return each<ir::TensorArg>(c, p, key, [&](const Json& e) { return tensor_ref(e); });
  }
  if (key == "as_optional_tensor") return optional_tensor(p);
  if (key == "as_optional_tensors") {
    return each<ir::OptionalTensorArg>(c, p, key,
                                       [&](const Json& e) { return optional_tensor(e); });
  }
  if (key == "as_int") return to_int(c, p, key);
  if (key == "as_ints") {
    return each<int64_t>(c, p, key, [&](const Json& e) { return to_int(c, e, "int"); });
  }
  if (key == "as_float") return to_double(c, p, key);
  if (key == "as_floats") {
    return each<double>(c, p, key, [&](const Json& e) { return to_double(c, e, "float"); });
  }
  if (key == "as_bool") return to_bool(c, p, key);
  if (key == "as_bools") {
    return each<bool>(c, p, key, [&](const Json& e) { return to_bool(c, e, "bool"); });
  }
  if (key == "as_string") return to_string(c, p, key);
  if (key == "as_strings") {
    return each<std::string>(c, p, key, [&](const Json& e) { return to_string(c, e, "string"); });
  }
  if (key == "as_sym_int") return sym_int_arg(p);
  if (key == "as_sym_ints") {
    return each<ir::SymIntArg>(c, p, key, [&](const Json& e) { return sym_int_arg(e); });
  }
  if (key == "as_sym_bool") return sym_bool_arg(p);
  if (key == "as_sym_bools") {
    return each<ir::SymBoolArg>(c, p, key, [&](const Json& e) { return sym_bool_arg(e); });
  }
  if (key == "as_sym_float") return sym_float_arg(p);
  if (key == "as_sym_floats") {
    return each<ir::SymFloatArg>(c, p, key, [&](const Json& e) { return sym_float_arg(e); });
  }
  if (key == "as_scalar_type") {
    int64_t v = to_int(c, p, key);
    auto dt = ir::dtype_from_schema(v);
    if (!dt) c.fail("unknown scalar type ", v, " (export schema ScalarType)");
    return ir::ScalarTypeArg{*dt};
  }
  if (key == "as_memory_format") {
    int64_t v = to_int(c, p, key);
    auto f = ir::memory_format_from_schema(v);
    if (!f) c.fail("unknown memory format ", v);
    return *f;
  }
  if (key == "as_layout") {
    int64_t v = to_int(c, p, key);
    auto l = ir::layout_from_schema(v);
    if (!l) c.fail("unknown layout ", v);
    return *l;
  }
  if (key == "as_device") return device(c, p);
  if (key == "as_graph") {
    expect_object(c, p, "GraphArgument");
    ir::SubgraphArg s;
    s.name = to_string(c, require(c, p, "name"), "subgraph name");
    Context::Scope scope(c, "subgraph '" + s.name + "'");
    s.graph = std::make_shared<ir::Graph>(read_graph(c, require(c, p, "graph"), {}));
    return s;
  }
  if (key == "as_custom_obj") {
    expect_object(c, p, "CustomObjArgument");
    ir::CustomObjArg o;
    o.name = to_string(c, require(c, p, "name"), "custom object name");
    if (const Json* fqn = find(p, "class_fqn")) o.class_fqn = to_string(c, *fqn, "class_fqn");
    o.value = lookup(o.name);
    return o;
  }
  if (key == "as_operator") return ir::OperatorArg{normalize_target(to_string(c, p, key))};
  if (key == "as_complex") c.fail("complex arguments are unsupported");
  if (key == "as_nested_tensors" || key == "as_int_lists" || key == "as_float_lists" ||
      key == "as_string_to_argument") {
    c.fail("argument kind '", key, "' is unsupported");
  }
  c.fail("unknown argument kind '", key, "'");
}

ir::Argument GraphReader::output(const Json& j, int producer) {
  auto [key, payload_ptr] = union_of(ctx_, j, "output Argument");
  const Json& p = *payload_ptr;
  Context& c = ctx_;
  auto tensor_name = [&](const Json& t) {
    expect_object(c, t, "TensorArgument");
    return to_string(c, require(c, t, "name"), "tensor name");
  };
  auto tensor = [&](const Json& t) {
    return ir::TensorArg{define_tensor(tensor_name(t), producer)};
  };
  auto optional = [&](const Json& t) -> ir::OptionalTensorArg {
    auto [k, v] = union_of(c, t, "OptionalTensorArgument");
    if (k == "as_none") return {};
    if (k != "as_tensor") c.fail("unknown OptionalTensorArgument kind '", k, "'");
    return {tensor(*v).value};
  };
  // A symbolic output either names a new value or is a literal the export already knew.
  auto sym_name = [&](const Json& s) -> std::optional<std::string> {
    auto [k, v] = union_of(c, s, "symbolic output");
    if (k == "as_name") return to_string(c, *v, "as_name");
    return std::nullopt;
  };
  auto sym_int_out = [&](const Json& s) {
    if (auto name = sym_name(s)) {
      return ir::SymIntArg{define_sym(*name, ir::ValueKind::kSymInt, producer), 0};
    }
    return sym_int_arg(s);
  };
  auto sym_bool_out = [&](const Json& s) {
    if (auto name = sym_name(s)) {
      return ir::SymBoolArg{define_sym(*name, ir::ValueKind::kSymBool, producer), false};
    }
    return sym_bool_arg(s);
  };
  auto sym_float_out = [&](const Json& s) {
    if (auto name = sym_name(s)) {
      return ir::SymFloatArg{define_sym(*name, ir::ValueKind::kSymFloat, producer), 0.0};
    }
    return sym_float_arg(s);
  };
  if (key == "as_tensor") return tensor(p);
  if (key == "as_tensors") return each<ir::TensorArg>(c, p, key, tensor);
  if (key == "as_optional_tensor") return optional(p);
  if (key == "as_optional_tensors") return each<ir::OptionalTensorArg>(c, p, key, optional);
  if (key == "as_sym_int") return sym_int_out(p);
  if (key == "as_sym_ints") return each<ir::SymIntArg>(c, p, key, sym_int_out);
  if (key == "as_sym_bool") return sym_bool_out(p);
  if (key == "as_sym_bools") return each<ir::SymBoolArg>(c, p, key, sym_bool_out);
  if (key == "as_sym_float") return sym_float_out(p);
  if (key == "as_sym_floats") return each<ir::SymFloatArg>(c, p, key, sym_float_out);
  if (key == "as_custom_obj") {
    expect_object(c, p, "CustomObjArgument");
    ir::CustomObjArg o;
    o.name = to_string(c, require(c, p, "name"), "custom object name");
    if (const Json* fqn = find(p, "class_fqn")) o.class_fqn = to_string(c, *fqn, "class_fqn");
    o.value = define_custom_obj(o.name, o.class_fqn, producer);
    return o;
  }
  // Anything else (None, a literal) defines no value.
  ir::Argument arg = argument(j);
  if (!ir::argument_values(arg).empty()) c.fail("output kind '", key, "' cannot define values");
  return arg;
}

ir::ValueId GraphReader::input(const Json& j, const std::string& constant_name) {
  auto [key, payload_ptr] = union_of(ctx_, j, "graph input");
  const Json& p = *payload_ptr;
  if (key == "as_tensor") {
    expect_object(ctx_, p, "TensorArgument");
    return define_tensor(to_string(ctx_, require(ctx_, p, "name"), "tensor name"), -1);
  }
  if (key == "as_sym_int" || key == "as_sym_bool" || key == "as_sym_float") {
    if (const Json* name = find(p, "as_name")) {
      auto kind = key == "as_sym_int"    ? ir::ValueKind::kSymInt
                  : key == "as_sym_bool" ? ir::ValueKind::kSymBool
                                         : ir::ValueKind::kSymFloat;
      return define_sym(to_string(ctx_, *name, "as_name"), kind, -1);
    }
  }
  if (key == "as_custom_obj") {
    ir::CustomObjArg o = std::get<ir::CustomObjArg>(output(j, -1));
    return *o.value;
  }
  // A placeholder the export specialized to a literal.
  ir::Value v;
  v.kind = ir::ValueKind::kConstant;
  v.constant = argument(j);
  if (!ir::argument_values(v.constant).empty()) {
    ctx_.fail("graph input of kind '", key, "' is neither a placeholder nor a constant");
  }
  v.name = constant_name;
  for (int i = 1; graph_.find(v.name); ++i) {
    v.name = constant_name + "_" + std::to_string(i);
  }
  return add(std::move(v));
}

}  // namespace kiln::frontend::detail
