#pragma once

// What decompositions are written with: the Decomposer, which emits the nodes replacing one
// composite node, and each family's table of decompositions (decompose_*.cpp), which
// op_table.cpp attaches to the OpDef entries.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"

namespace kiln::ops {

struct Decomposition {
  std::string_view target;
  DecomposeFn fn;
};

std::span<const Decomposition> gemm_decompositions();       // decompose_gemm.cpp
std::span<const Decomposition> einsum_decompositions();     // nn_einsum.cpp
std::span<const Decomposition> reduction_decompositions();  // decompose_reduction.cpp
std::span<const Decomposition> norm_decompositions();       // decompose_norm.cpp
std::span<const Decomposition> nn_decompositions();         // decompose_nn.cpp
std::span<const Decomposition> pointwise_decompositions();  // decompose_pointwise.cpp
std::span<const Decomposition> shape_decompositions();      // decompose_shape.cpp

// Emits the nodes that replace one node, in order, each typed by its op's shape rule
// (ir::make_node). The values of emitted nodes are added to the graph at once; the nodes are
// kept here for the caller to place where the replaced node was.
//
// Types are returned by value: emitting grows Graph::values, so references into it (such as
// the ones Args::type returns) must not be held across an emit.
class Decomposer {
 public:
  Decomposer(ir::Graph& graph, const ir::Node& node);

  const ir::Node& node() const { return node_; }
  const ir::Graph& graph() const { return graph_; }
  std::vector<ir::Node> take_nodes() { return std::move(nodes_); }

  // Emits target(args); returns its outputs (flattened), or its one output.
  std::vector<ir::ValueId> emit_all(std::string_view target, const ir::CallArgs& args);
  ir::ValueId emit(std::string_view target, const ir::CallArgs& args);

  ir::TensorType type(ir::ValueId v) const;
  ir::DType dtype(ir::ValueId v) const;
  int64_t rank(ir::ValueId v) const;
  sym::Expr size(ir::ValueId v, int64_t dim) const;

  // ---- Sizes as SymInt arguments ----
  // Dim `dim` of v: a literal when known, else a sym_size.int output (one per distinct
  // expression).
  ir::SymIntArg dim(ir::ValueId v, int64_t dim);
  std::vector<ir::SymIntArg> sizes(ir::ValueId v);
  // a + b and a * b: literals when both are, else an _operator node.
  ir::SymIntArg add(const ir::SymIntArg& a, const ir::SymIntArg& b);
  ir::SymIntArg mul(const ir::SymIntArg& a, const ir::SymIntArg& b);
  // The product of v's dims `dims` (1 for none).
  ir::SymIntArg count(ir::ValueId v, const std::vector<int64_t>& dims);
  sym::Expr expr(const ir::SymIntArg& a) const;

  // ---- Tensor ops (each emits one node, or none where it would be the identity) ----
  ir::ValueId cast(ir::ValueId v, ir::DType dtype);  // _to_copy
  ir::ValueId unary(std::string_view target, ir::ValueId v);
  // A binary op whose `other` is a tensor or a number (literal or symbolic).
  ir::ValueId binary(std::string_view target, ir::ValueId v, const ir::Argument& other);
  ir::ValueId add(ir::ValueId x, ir::ValueId y);
  ir::ValueId sub(ir::ValueId x, ir::ValueId y);
  ir::ValueId mul(ir::ValueId x, ir::ValueId y);
  ir::ValueId div(ir::ValueId x, ir::ValueId y);
  // With a number (int64_t, double, bool, a SymIntArg) or any other argument, such as a
  // TensorArg; named apart from the tensor forms so that a value id never passes for an int.
  ir::ValueId add_n(ir::ValueId x, const ir::Argument& y);
  ir::ValueId sub_n(ir::ValueId x, const ir::Argument& y);
  ir::ValueId mul_n(ir::ValueId x, const ir::Argument& y);
  ir::ValueId div_n(ir::ValueId x, const ir::Argument& y);
  ir::ValueId where(ir::ValueId cond, ir::ValueId x, ir::ValueId y);
  // Reductions over dims (non-negative), keeping them as size 1 when keepdim. An empty dim
  // list reduces nothing (v itself), unlike the ops' own "[] means all".
  ir::ValueId sum(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim);
  ir::ValueId amax(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim);
  // sum / count, in v's (floating) dtype.
  ir::ValueId mean(ir::ValueId v, const std::vector<int64_t>& dims, bool keepdim);
  // Two passes over dims (kept as size 1): the mean, then the biased (correction 0) variance
  // as the mean squared deviation. `centered` is v - mean, when computed.
  struct Moments {
    ir::ValueId mean;
    ir::ValueId var;
    std::optional<ir::ValueId> centered;
  };
  Moments moments(ir::ValueId v, const std::vector<int64_t>& dims);  // keepdim

  ir::ValueId reshape(ir::ValueId v, const std::vector<ir::SymIntArg>& sizes);
  ir::ValueId unsqueeze(ir::ValueId v, int64_t dim);
  ir::ValueId squeeze(ir::ValueId v, int64_t dim);
  ir::ValueId expand(ir::ValueId v, const std::vector<ir::SymIntArg>& sizes);
  ir::ValueId permute(ir::ValueId v, const std::vector<int64_t>& dims);
  ir::ValueId transpose(ir::ValueId v, int64_t dim0, int64_t dim1);
  // Elements [start, end) of dim `dim`; no end: to the end of the dim.
  ir::ValueId slice(ir::ValueId v, int64_t dim, const ir::SymIntArg& start,
                    const std::optional<ir::SymIntArg>& end);
  ir::ValueId full(const std::vector<ir::SymIntArg>& sizes, const ir::Argument& value,
                   ir::DType dtype, const ir::Device& device);
  ir::ValueId scalar_tensor(const ir::Argument& value, ir::DType dtype, const ir::Device& device);

 private:
  ir::Graph& graph_;
  const ir::Node& node_;
  std::vector<ir::Node> nodes_;
  std::map<std::string, ir::SymIntArg> dims_;  // by expression text
  std::string base(std::string_view target) const;
};

// ---- Argument helpers ----

inline ir::TensorArg tensor_arg(ir::ValueId v) {
  return ir::TensorArg{v};
}
inline ir::SymIntArg literal(int64_t v) {
  return ir::SymIntArg{std::nullopt, v};
}
// A SymInt argument: a plain int when it is a literal.
inline ir::Argument int_arg(const ir::SymIntArg& s) {
  if (s.value) return s;
  return s.literal;
}
// A size list: plain ints when every entry is a literal.
ir::Argument size_list(const std::vector<ir::SymIntArg>& sizes);
// The value of a tensor argument; nullopt for None.
ir::ValueId tensor_id(const Args& a, std::string_view name);
std::optional<ir::ValueId> optional_tensor_id(const Args& a, std::string_view name);
// An int list argument (int[] or SymInt[], or one int for "int[1]") entry by entry.
std::vector<ir::SymIntArg> sym_list(const Args& a, std::string_view name);
// A number argument as a literal when its value is known, else as given.
ir::Argument number(const Args& a, std::string_view name);

// The type of the op's i-th result, from its shape rule (the node may leave outputs unnamed).
ir::TensorType result_type(const Args& a, size_t i = 0);

// The dtype PyTorch computes 16-bit and 8-bit floats in (float32); others unchanged.
ir::DType opmath(ir::DType t);

// Dims 0..rank-1 picked by a reduction's mask.
std::vector<int64_t> masked_dims(const std::vector<bool>& mask);
// The dims a reduction's "dim" argument names, wrapped; None or [] means every dim.
std::vector<int64_t> reduction_dims(const Args& a, std::string_view name, int64_t rank);

}  // namespace kiln::ops
