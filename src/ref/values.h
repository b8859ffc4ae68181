#pragma once

#include <map>
#include <memory>
#include <vector>

#include "ir/graph.h"
#include "ops/args.h"
#include "ref/tensor.h"

namespace kiln::ref {

// The interpreter's values, by ValueId, seen by ops::Args: tensor types are the concrete sizes
// as constant expressions, and SymInts are their known values.
class ConcreteValues : public ops::ValueSource {
 public:
  explicit ConcreteValues(const ir::Graph& graph);

  void set(ir::ValueId id, RValue value);
  const RValue& get(ir::ValueId id) const;
  bool has(ir::ValueId id) const;
  void erase(ir::ValueId id);

  const ir::TensorType& type(ir::ValueId id) const override;
  sym::Expr sym_int(ir::ValueId id) const override;
  std::optional<double> sym_float(ir::ValueId id) const override;
  std::optional<bool> sym_bool(ir::ValueId id) const override;
  const Tensor* tensor(ir::ValueId id) const override;
  bool is_concrete() const override { return true; }

 private:
  const ir::Graph& graph_;
  std::vector<RValue> values_;
  std::vector<bool> present_;
  // Types are built on first request and kept until the value changes.
  mutable std::vector<std::unique_ptr<ir::TensorType>> types_;
};

// A tensor type with the concrete sizes of `t`, contiguous, on `device`.
ir::TensorType concrete_type(const Tensor& t, const ir::Device& device = {});

}  // namespace kiln::ref
