#pragma once

// Small hand-built programs for the IR tests.

#include "ir/graph.h"

namespace kiln::testing {

inline sym::Expr s(const char* name) {
  return sym::Expr::symbol(name);
}

// graph(%p_w: f32[16, 8], %x: f32[s0, 8]):
//   %sym_size_int: SymInt(s0) = aten.sym_size.int(%x, 0)
//   %linear: f32[s0, 16] = aten.linear.default(%x, %p_w)
//   %view: f32[s0, 2, 8] = aten.view.default(%linear, [%sym_size_int, 2, 8])
//   return (%view)
inline ir::ExportedProgram small_program() {
  using namespace ir;
  ExportedProgram p;
  Graph& g = p.graph;
  auto tensor = [&](const char* name, std::vector<sym::Expr> sizes, int producer) {
    Value v;
    v.name = name;
    v.type = TensorType::contiguous(DType::kFloat32, std::move(sizes));
    v.producer = producer;
    return g.add_value(std::move(v));
  };
  ValueId w = tensor("p_w", {16, 8}, -1);
  ValueId x = tensor("x", {s("s0"), 8}, -1);
  g.inputs = {w, x};
  Value size;
  size.name = "sym_size_int";
  size.kind = ValueKind::kSymInt;
  size.sym = s("s0");
  size.producer = 0;
  ValueId sz = g.add_value(size);
  ValueId linear = tensor("linear", {s("s0"), 16}, 1);
  ValueId view = tensor("view", {s("s0"), 2, 8}, 2);

  Node n0;
  n0.name = "sym_size_int";
  n0.target = "aten.sym_size.int";
  n0.inputs = {{"self", TensorArg{x}, ArgKindHint::kPositional},
               {"dim", int64_t{0}, ArgKindHint::kPositional}};
  n0.outputs = {SymIntArg{sz, 0}};
  Node n1;
  n1.name = "linear";
  n1.target = "aten.linear.default";
  n1.inputs = {{"input", TensorArg{x}, ArgKindHint::kPositional},
               {"weight", TensorArg{w}, ArgKindHint::kPositional}};
  n1.outputs = {TensorArg{linear}};
  Node n2;
  n2.name = "view";
  n2.target = "aten.view.default";
  n2.inputs = {{"self", TensorArg{linear}, ArgKindHint::kPositional},
               {"size", std::vector<SymIntArg>{{sz, 0}, {std::nullopt, 2}, {std::nullopt, 8}},
                ArgKindHint::kPositional}};
  n2.outputs = {TensorArg{view}};
  g.nodes = {n0, n1, n2};
  g.outputs = {TensorArg{view}};

  p.signature.inputs = {{InputKind::kParameter, TensorArg{w}, "w", true},
                        {InputKind::kUserInput, TensorArg{x}, "", true}};
  p.signature.outputs = {{OutputKind::kUserOutput, TensorArg{view}, ""}};
  p.ranges["s0"] = sym::Range{2, 64};
  return p;
}

}  // namespace kiln::testing
