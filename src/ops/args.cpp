#include "ops/args.h"

#include <type_traits>

#include "ops/op_table.h"

namespace kiln::ops {
namespace {

const ir::Argument kNoneArgument = ir::NoneArg{};

}  // namespace

const ir::TensorType& GraphValueSource::type(ir::ValueId id) const {
  return graph_.values.at(static_cast<size_t>(id)).type;
}

sym::Expr GraphValueSource::sym_int(ir::ValueId id) const {
  const ir::Value& v = graph_.values.at(static_cast<size_t>(id));
  return v.sym ? *v.sym : sym::Expr::symbol(v.name);
}

std::optional<bool> GraphValueSource::sym_bool(ir::ValueId id) const {
  const ir::Value& v = graph_.values.at(static_cast<size_t>(id));
  if (!v.sym) return std::nullopt;
  auto c = v.sym->as_const();
  if (!c) return std::nullopt;
  return *c != 0;
}

Args::Args(const OpDef& op, const ir::Node& node, const ValueSource& source)
    : op_(op), node_(node), schema_(op.parsed_schema()), source_(source) {
  bound_.assign(schema_.args.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const ir::NamedArgument& in = node.inputs[i];
    int index = in.name.empty() ? static_cast<int>(i) : schema_.index_of(in.name);
    if (index < 0 || static_cast<size_t>(index) >= bound_.size()) {
      fail("argument '", in.name, "' is not in the schema ", op.schema);
    }
    bound_[static_cast<size_t>(index)] = &in.arg;
  }
  for (size_t i = 0; i < bound_.size(); ++i) {
    if (bound_[i] != nullptr) continue;
    const ArgSchema& a = schema_.args[i];
    if (a.default_value) {
      bound_[i] = &*a.default_value;
    } else if (a.optional) {
      bound_[i] = &kNoneArgument;
    } else {
      fail("required argument '", a.name, "' is missing");
    }
  }
}

const ir::Argument& Args::raw(std::string_view name) const {
  int index = schema_.index_of(name);
  if (index < 0) fail("the op has no argument '", name, "'");
  return *bound_[static_cast<size_t>(index)];
}

int64_t Args::known(const sym::Expr& e, std::string_view name) const {
  auto c = e.as_const();
  if (!c) fail("argument '", name, "' is the symbolic ", e.str(), " where a known int is needed");
  return *c;
}

bool Args::is_none(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<ir::NoneArg>(a)) return true;
  if (const auto* t = std::get_if<ir::OptionalTensorArg>(&a)) return !t->value;
  return false;
}

bool Args::is_tensor(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<ir::TensorArg>(a)) return true;
  const auto* opt = std::get_if<ir::OptionalTensorArg>(&a);
  return opt != nullptr && opt->value.has_value();
}

bool Args::is_number(std::string_view name) const {
  const ir::Argument& a = raw(name);
  return std::holds_alternative<bool>(a) || std::holds_alternative<ir::SymBoolArg>(a) ||
         std::holds_alternative<double>(a) || std::holds_alternative<ir::SymFloatArg>(a) ||
         std::holds_alternative<int64_t>(a) || std::holds_alternative<ir::SymIntArg>(a);
}

const ir::TensorType& Args::type(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* t = std::get_if<ir::TensorArg>(&a)) return source_.type(t->value);
  if (const auto* t = std::get_if<ir::OptionalTensorArg>(&a); t && t->value) {
    return source_.type(*t->value);
  }
  fail("argument '", name, "' is not a tensor");
}

std::optional<ir::TensorType> Args::optional_type(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return type(name);
}

std::vector<std::optional<ir::TensorType>> Args::types(std::string_view name) const {
  const ir::Argument& a = raw(name);
  std::vector<std::optional<ir::TensorType>> out;
  if (const auto* list = std::get_if<std::vector<ir::TensorArg>>(&a)) {
    for (const auto& t : *list)
      out.emplace_back(source_.type(t.value));
  } else if (const auto* opt = std::get_if<std::vector<ir::OptionalTensorArg>>(&a)) {
    for (const auto& t : *opt) {
      out.push_back(t.value ? std::optional(source_.type(*t.value)) : std::nullopt);
    }
  } else {
    fail("argument '", name, "' is not a list of tensors");
  }
  return out;
}

const ref::Tensor& Args::tensor(std::string_view name) const {
  const ir::Argument& a = raw(name);
  std::optional<ir::ValueId> id;
  if (const auto* t = std::get_if<ir::TensorArg>(&a)) id = t->value;
  if (const auto* t = std::get_if<ir::OptionalTensorArg>(&a)) id = t->value;
  if (!id) fail("argument '", name, "' is not a tensor");
  const ref::Tensor* t = source_.tensor(*id);
  if (t == nullptr) fail("argument '", name, "' has no concrete value");
  return *t;
}

const ref::Tensor* Args::optional_tensor(std::string_view name) const {
  if (is_none(name)) return nullptr;
  return &tensor(name);
}

std::vector<const ref::Tensor*> Args::tensors(std::string_view name) const {
  const ir::Argument& a = raw(name);
  std::vector<const ref::Tensor*> out;
  auto fetch = [&](ir::ValueId id) {
    const ref::Tensor* t = source_.tensor(id);
    if (t == nullptr) fail("argument '", name, "' has no concrete value");
    return t;
  };
  if (const auto* list = std::get_if<std::vector<ir::TensorArg>>(&a)) {
    for (const auto& t : *list)
      out.push_back(fetch(t.value));
  } else if (const auto* opt = std::get_if<std::vector<ir::OptionalTensorArg>>(&a)) {
    for (const auto& t : *opt)
      out.push_back(t.value ? fetch(*t.value) : nullptr);
  } else {
    fail("argument '", name, "' is not a list of tensors");
  }
  return out;
}

const ref::Tensor* Args::known_tensor(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* t = std::get_if<ir::TensorArg>(&a)) return source_.tensor(t->value);
  if (const auto* t = std::get_if<ir::OptionalTensorArg>(&a); t && t->value) {
    return source_.tensor(*t->value);
  }
  return nullptr;
}

std::vector<std::optional<ir::ValueId>> Args::tensor_ids(std::string_view name) const {
  const ir::Argument& a = raw(name);
  std::vector<std::optional<ir::ValueId>> out;
  if (const auto* list = std::get_if<std::vector<ir::TensorArg>>(&a)) {
    for (const auto& t : *list)
      out.emplace_back(t.value);
  } else if (const auto* opt = std::get_if<std::vector<ir::OptionalTensorArg>>(&a)) {
    for (const auto& t : *opt)
      out.push_back(t.value);
  } else if (const auto* one = std::get_if<ir::TensorArg>(&a)) {
    out.emplace_back(one->value);
  } else if (const auto* maybe = std::get_if<ir::OptionalTensorArg>(&a)) {
    out.push_back(maybe->value);
  } else {
    fail("argument '", name, "' is not a tensor or a list of tensors");
  }
  return out;
}

sym::Expr Args::sym(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* i = std::get_if<int64_t>(&a)) return *i;
  if (const auto* b = std::get_if<bool>(&a)) return *b ? 1 : 0;
  if (const auto* s = std::get_if<ir::SymIntArg>(&a)) {
    return s->value ? source_.sym_int(*s->value) : sym::Expr(s->literal);
  }
  if (const auto* l = std::get_if<std::vector<int64_t>>(&a); l && l->size() == 1) return (*l)[0];
  fail("argument '", name, "' is not an int");
}

std::vector<sym::Expr> Args::syms(std::string_view name) const {
  const ir::Argument& a = raw(name);
  std::vector<sym::Expr> out;
  if (const auto* l = std::get_if<std::vector<int64_t>>(&a)) {
    for (int64_t v : *l)
      out.emplace_back(v);
  } else if (const auto* s = std::get_if<std::vector<ir::SymIntArg>>(&a)) {
    for (const auto& e : *s) {
      out.push_back(e.value ? source_.sym_int(*e.value) : sym::Expr(e.literal));
    }
  } else if (std::holds_alternative<int64_t>(a) || std::holds_alternative<ir::SymIntArg>(a)) {
    out.push_back(sym(name));  // "int[1] dim" given as one int
  } else {
    fail("argument '", name, "' is not a list of ints");
  }
  return out;
}

int64_t Args::to_int(std::string_view name) const {
  return known(sym(name), name);
}

std::optional<int64_t> Args::optional_int(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return to_int(name);
}

std::vector<int64_t> Args::ints(std::string_view name) const {
  std::vector<int64_t> out;
  for (const auto& e : syms(name))
    out.push_back(known(e, name));
  return out;
}

std::optional<std::vector<int64_t>> Args::optional_ints(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return ints(name);
}

double Args::to_double(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* d = std::get_if<double>(&a)) return *d;
  if (const auto* f = std::get_if<ir::SymFloatArg>(&a)) {
    if (!f->value) return f->literal;
    if (auto v = source_.sym_float(*f->value)) return *v;
    fail("argument '", name, "' is a symbolic float whose value is not known");
  }
  return static_cast<double>(to_int(name));
}

std::optional<double> Args::optional_double(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return to_double(name);
}

std::vector<double> Args::doubles(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* d = std::get_if<std::vector<double>>(&a)) return *d;
  if (const auto* l = std::get_if<std::vector<ir::SymFloatArg>>(&a)) {
    std::vector<double> out;
    for (const auto& f : *l) {
      if (!f.value) {
        out.push_back(f.literal);
      } else if (auto v = source_.sym_float(*f.value)) {
        out.push_back(*v);
      } else {
        fail("argument '", name, "' holds a symbolic float whose value is not known");
      }
    }
    return out;
  }
  if (const auto* l = std::get_if<std::vector<int64_t>>(&a)) {
    return std::vector<double>(l->begin(), l->end());
  }
  fail("argument '", name, "' is not a list of floats");
}

std::optional<std::vector<double>> Args::optional_doubles(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return doubles(name);
}

bool Args::to_bool(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* b = std::get_if<bool>(&a)) return *b;
  if (const auto* s = std::get_if<ir::SymBoolArg>(&a)) {
    if (!s->value) return s->literal;
    if (auto v = source_.sym_bool(*s->value)) return *v;
    fail("argument '", name, "' is a symbolic bool whose value is not known");
  }
  if (const auto* i = std::get_if<int64_t>(&a)) return *i != 0;
  fail("argument '", name, "' is not a bool");
}

std::optional<bool> Args::optional_bool(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return to_bool(name);
}

Scalar Args::scalar(std::string_view name) const {
  const ir::Argument& a = raw(name);
  Scalar s;
  if (std::holds_alternative<bool>(a) || std::holds_alternative<ir::SymBoolArg>(a)) {
    s.kind = Scalar::Kind::kBool;
    s.i = to_bool(name);
  } else if (std::holds_alternative<double>(a) || std::holds_alternative<ir::SymFloatArg>(a)) {
    s.kind = Scalar::Kind::kFloat;
    s.f = to_double(name);
  } else {
    s.kind = Scalar::Kind::kInt;
    s.i = to_int(name);
  }
  return s;
}

std::optional<Scalar> Args::optional_scalar(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return scalar(name);
}

Scalar::Kind Args::number_kind(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<bool>(a) || std::holds_alternative<ir::SymBoolArg>(a)) {
    return Scalar::Kind::kBool;
  }
  if (std::holds_alternative<double>(a) || std::holds_alternative<ir::SymFloatArg>(a)) {
    return Scalar::Kind::kFloat;
  }
  if (std::holds_alternative<int64_t>(a) || std::holds_alternative<ir::SymIntArg>(a)) {
    return Scalar::Kind::kInt;
  }
  fail("argument '", name, "' is not a number");
}

std::optional<Scalar> Args::known_scalar(std::string_view name) const {
  const ir::Argument& a = raw(name);
  Scalar s;
  s.kind = number_kind(name);
  if (const auto* b = std::get_if<bool>(&a)) {
    s.i = *b;
  } else if (const auto* d = std::get_if<double>(&a)) {
    s.f = *d;
  } else if (const auto* i = std::get_if<int64_t>(&a)) {
    s.i = *i;
  } else if (const auto* si = std::get_if<ir::SymIntArg>(&a)) {
    auto c = si->value ? source_.sym_int(*si->value).as_const() : si->literal;
    if (!c) return std::nullopt;
    s.i = *c;
  } else if (const auto* sb = std::get_if<ir::SymBoolArg>(&a)) {
    auto c = sb->value ? source_.sym_bool(*sb->value) : sb->literal;
    if (!c) return std::nullopt;
    s.i = *c;
  } else if (const auto* sf = std::get_if<ir::SymFloatArg>(&a)) {
    auto c = sf->value ? source_.sym_float(*sf->value) : sf->literal;
    if (!c) return std::nullopt;
    s.f = *c;
  }
  return s;
}

std::optional<ir::DType> Args::dtype(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<ir::NoneArg>(a)) return std::nullopt;
  if (const auto* t = std::get_if<ir::ScalarTypeArg>(&a)) return t->dtype;
  fail("argument '", name, "' is not a dtype");
}

std::string Args::str(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (const auto* s = std::get_if<std::string>(&a)) return *s;
  fail("argument '", name, "' is not a string");
}

std::optional<std::string> Args::optional_str(std::string_view name) const {
  if (is_none(name)) return std::nullopt;
  return str(name);
}

std::optional<ir::Device> Args::device(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<ir::NoneArg>(a)) return std::nullopt;
  if (const auto* d = std::get_if<ir::Device>(&a)) return *d;
  fail("argument '", name, "' is not a device");
}

std::optional<ir::MemoryFormat> Args::memory_format(std::string_view name) const {
  const ir::Argument& a = raw(name);
  if (std::holds_alternative<ir::NoneArg>(a)) return std::nullopt;
  if (const auto* f = std::get_if<ir::MemoryFormat>(&a)) return *f;
  if (const auto* i = std::get_if<int64_t>(&a)) {
    // c10::MemoryFormat: Contiguous, Preserve, ChannelsLast, ChannelsLast3d.
    switch (*i) {
      case 0:
        return ir::MemoryFormat::kContiguous;
      case 1:
        return ir::MemoryFormat::kPreserve;
      case 2:
        return ir::MemoryFormat::kChannelsLast;
      case 3:
        return ir::MemoryFormat::kChannelsLast3d;
      default:
        fail("argument '", name, "' is the unknown memory format ", *i);
    }
  }
  fail("argument '", name, "' is not a memory format");
}

}  // namespace kiln::ops
