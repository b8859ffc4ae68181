#include "ref/values.h"

#include "util/error.h"

namespace kiln::ref {

ConcreteValues::ConcreteValues(const ir::Graph& graph)
    : graph_(graph),
      values_(graph.values.size()),
      present_(graph.values.size(), false),
      types_(graph.values.size()) {}

void ConcreteValues::set(ir::ValueId id, RValue value) {
  auto i = static_cast<size_t>(id);
  values_.at(i) = std::move(value);
  present_[i] = true;
  types_[i].reset();
}

const RValue& ConcreteValues::get(ir::ValueId id) const {
  auto i = static_cast<size_t>(id);
  if (!present_.at(i)) throw error("value %", graph_.values[i].name, " has not been computed");
  return values_[i];
}

bool ConcreteValues::has(ir::ValueId id) const {
  return present_.at(static_cast<size_t>(id));
}

void ConcreteValues::erase(ir::ValueId id) {
  auto i = static_cast<size_t>(id);
  values_.at(i) = std::monostate{};
  present_[i] = false;
  types_[i].reset();
}

const ir::TensorType& ConcreteValues::type(ir::ValueId id) const {
  auto i = static_cast<size_t>(id);
  if (!types_.at(i)) {
    const Tensor* t = tensor(id);
    if (t == nullptr) throw error("value %", graph_.values[i].name, " is not a tensor");
    types_[i] = std::make_unique<ir::TensorType>(concrete_type(*t, graph_.values[i].type.device));
  }
  return *types_[i];
}

sym::Expr ConcreteValues::sym_int(ir::ValueId id) const {
  const RValue& v = get(id);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  throw error("value %", graph_.values[static_cast<size_t>(id)].name, " is not an int");
}

std::optional<double> ConcreteValues::sym_float(ir::ValueId id) const {
  const RValue& v = get(id);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> ConcreteValues::sym_bool(ir::ValueId id) const {
  const RValue& v = get(id);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i != 0;
  return std::nullopt;
}

const Tensor* ConcreteValues::tensor(ir::ValueId id) const {
  return std::get_if<Tensor>(&get(id));
}

ir::TensorType concrete_type(const Tensor& t, const ir::Device& device) {
  std::vector<sym::Expr> sizes(t.sizes().begin(), t.sizes().end());
  return ir::TensorType::contiguous(t.dtype(), std::move(sizes), device);
}

}  // namespace kiln::ref
