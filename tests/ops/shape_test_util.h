// Helpers shared by the shape family's tests: row-major index arithmetic written out here, so
// the expectations do not share kiln's own.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "op_harness.h"
#include "ops/args.h"
#include "ops/op_table.h"

namespace kiln::testing {

using Idx = std::vector<int64_t>;

// The multi-index of row-major element `flat` of a tensor of `sizes`.
inline Idx index_of(int64_t flat, const Idx& sizes) {
  Idx idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

// The row-major position of `idx` in a tensor of `sizes`.
inline int64_t flat_of(const Idx& idx, const Idx& sizes) {
  int64_t flat = 0;
  for (size_t d = 0; d < idx.size(); ++d)
    flat = flat * sizes[d] + idx[d];
  return flat;
}

inline double at(const ref::Tensor& t, const Idx& idx) {
  return t.get(flat_of(idx, t.sizes()));
}

// A tensor whose element at each index is f(index).
inline ref::Tensor build(ir::DType dtype, const Idx& sizes,
                         const std::function<double(const Idx&)>& f) {
  ref::Tensor t(dtype, sizes);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, f(index_of(i, sizes)));
  return t;
}

// Shape inference over hand-built types (strides of a non-contiguous input, symbolic sizes and
// SymInt arguments), without the harness's concrete run.
struct ManualCall {
  ir::Graph graph;
  ir::Node node;
  explicit ManualCall(std::string target) {
    node.name = "op";
    node.target = std::move(target);
  }
  void tensor(const std::string& name, ir::TensorType t) {
    ir::Value v;
    v.name = "v_" + name;
    v.type = std::move(t);
    node.inputs.push_back({name, ir::TensorArg{graph.add_value(v)}, ir::ArgKindHint::kKeyword});
  }
  // A contiguous float32 tensor of `sizes`.
  void tensor(const std::string& name, std::vector<sym::Expr> sizes) {
    tensor(name, ir::TensorType::contiguous(ir::DType::kFloat32, std::move(sizes)));
  }
  void sym_arg(const std::string& name, sym::Expr e) {
    ir::Value v;
    v.name = "v_" + name;
    v.kind = ir::ValueKind::kSymInt;
    v.sym = std::move(e);
    node.inputs.push_back({name, ir::SymIntArg{graph.add_value(v), 0}, ir::ArgKindHint::kKeyword});
  }
  void arg(const std::string& name, ir::Argument a) {
    node.inputs.push_back({name, std::move(a), ir::ArgKindHint::kKeyword});
  }
  std::vector<ops::OutType> shape() {
    const ops::OpDef* op = ops::find_op(node.target);
    EXPECT_NE(op, nullptr);
    ops::GraphValueSource source(graph);
    ops::Args args(*op, node, source);
    return op->shape(args);
  }
};

}  // namespace kiln::testing
