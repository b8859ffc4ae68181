#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ops/schema.h"
#include "ref/tensor.h"
#include "sym/expr.h"
#include "util/error.h"

namespace kiln::ops {

// Where an op's arguments get their values: the graph's symbolic types (shape inference), or
// the interpreter's concrete tensors and ints (reference evaluation).
class ValueSource {
 public:
  virtual ~ValueSource() = default;
  // The type of a tensor value; concrete sizes (constants) in reference evaluation.
  virtual const ir::TensorType& type(ir::ValueId id) const = 0;
  // A SymInt value as an expression; a constant in reference evaluation.
  virtual sym::Expr sym_int(ir::ValueId id) const = 0;
  // A SymFloat value; only known in reference evaluation.
  virtual std::optional<double> sym_float(ir::ValueId) const { return std::nullopt; }
  // A SymBool value, when known.
  virtual std::optional<bool> sym_bool(ir::ValueId) const { return std::nullopt; }
  // The concrete tensor; nullptr during shape inference.
  virtual const ref::Tensor* tensor(ir::ValueId) const { return nullptr; }
  // True for reference evaluation: values are known, and node outputs have no type until the
  // kernel computes them.
  virtual bool is_concrete() const { return false; }
};

// The symbolic types from the graph: what shape rules see at compile time.
class GraphValueSource : public ValueSource {
 public:
  explicit GraphValueSource(const ir::Graph& graph) : graph_(graph) {}
  const ir::TensorType& type(ir::ValueId id) const override;
  sym::Expr sym_int(ir::ValueId id) const override;
  std::optional<bool> sym_bool(ir::ValueId id) const override;

 private:
  const ir::Graph& graph_;
};

// A Python number argument: int, float or bool, kept exactly.
struct Scalar {
  enum class Kind : uint8_t { kInt, kFloat, kBool };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0;
  double to_double() const { return kind == Kind::kFloat ? f : static_cast<double>(i); }
  bool is_floating() const { return kind == Kind::kFloat; }
};

struct OpDef;

// A node's arguments bound to its op's schema: looked up by schema name, positional or keyword
// as the file wrote them, with the schema's default where the file omitted one. Every accessor
// throws kiln::Error naming the node, the op and the argument when the value has another type.
class Args {
 public:
  Args(const OpDef& op, const ir::Node& node, const ValueSource& source);

  const OpDef& op() const { return op_; }
  const ir::Node& node() const { return node_; }
  const OpSchema& schema() const { return schema_; }
  const ValueSource& source() const { return source_; }

  // The argument as bound: the node's own, else the schema default, else None. For the few
  // ops that must look at the variant itself (an int vs a float vs a SymBool).
  const ir::Argument& raw(std::string_view name) const;

  // True when the argument is None (given so, or omitted with default None).
  bool is_none(std::string_view name) const;
  // True when the argument holds a tensor (not a number or None).
  bool is_tensor(std::string_view name) const;
  // True when the argument holds a number: int, float or bool, literal or symbolic (the export
  // passes Python numbers where the schema says Tensor, as in aten.add.Tensor(x, 1)).
  bool is_number(std::string_view name) const;

  // Tensors: the type (shape rules) or the concrete tensor (reference kernels).
  const ir::TensorType& type(std::string_view name) const;
  std::optional<ir::TensorType> optional_type(std::string_view name) const;
  std::vector<std::optional<ir::TensorType>> types(std::string_view name) const;
  const ref::Tensor& tensor(std::string_view name) const;
  const ref::Tensor* optional_tensor(std::string_view name) const;
  std::vector<const ref::Tensor*> tensors(std::string_view name) const;  // nullptr for None
  // The concrete tensor when the source has one (reference evaluation); nullptr otherwise,
  // and for None or a non-tensor argument.
  const ref::Tensor* known_tensor(std::string_view name) const;
  // The ValueIds of a tensor list's elements (nullopt for None elements); a single tensor
  // argument gives one element.
  std::vector<std::optional<ir::ValueId>> tensor_ids(std::string_view name) const;

  // Ints (int and SymInt): symbolic, or required to be known.
  sym::Expr sym(std::string_view name) const;
  std::vector<sym::Expr> syms(std::string_view name) const;
  int64_t to_int(std::string_view name) const;
  std::optional<int64_t> optional_int(std::string_view name) const;
  std::vector<int64_t> ints(std::string_view name) const;
  std::optional<std::vector<int64_t>> optional_ints(std::string_view name) const;

  double to_double(std::string_view name) const;
  std::optional<double> optional_double(std::string_view name) const;
  // float[] (floats, SymFloats or ints); symbolic floats must be known.
  std::vector<double> doubles(std::string_view name) const;
  std::optional<std::vector<double>> optional_doubles(std::string_view name) const;
  bool to_bool(std::string_view name) const;
  std::optional<bool> optional_bool(std::string_view name) const;
  Scalar scalar(std::string_view name) const;
  std::optional<Scalar> optional_scalar(std::string_view name) const;
  // The kind of a number argument, read from the argument itself, so that a symbolic value is
  // fine in a shape rule.
  Scalar::Kind number_kind(std::string_view name) const;
  // A number argument's value when it is known (a literal, or a symbol the source knows).
  std::optional<Scalar> known_scalar(std::string_view name) const;
  std::optional<ir::DType> dtype(std::string_view name) const;
  std::string str(std::string_view name) const;
  std::optional<std::string> optional_str(std::string_view name) const;
  std::optional<ir::Device> device(std::string_view name) const;
  // Also reads an int as c10::MemoryFormat numbers it, as in the "memory_format=0" default
  // that PyTorch prints for contiguous_format.
  std::optional<ir::MemoryFormat> memory_format(std::string_view name) const;

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw error("node '", node_.name, "' (", node_.target, "): ", parts...);
  }

 private:
  const OpDef& op_;
  const ir::Node& node_;
  const OpSchema& schema_;
  const ValueSource& source_;
  // One entry per schema argument: the node's argument, or the schema default, or null.
  std::vector<const ir::Argument*> bound_;

  int64_t known(const sym::Expr& e, std::string_view name) const;
};

}  // namespace kiln::ops
