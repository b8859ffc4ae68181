#include "op_harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <type_traits>
#include <unordered_map>

#include "ir/graph_edit.h"
#include "ir/verifier.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "passes/view_layout.h"
#include "ref/values.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// Builds the one-node graph: each tensor argument becomes a graph input whose type has the
// tensor's sizes, with every dim > 1 replaced by `d<size>` when `symbolic`.
struct OneNodeGraph {
  ir::Graph graph;
  ir::Node node;
  std::vector<std::pair<ir::ValueId, const ref::Tensor*>> tensors;
};

std::vector<sym::Expr> dims(const ref::Tensor& t, bool symbolic) {
  std::vector<sym::Expr> out;
  for (int64_t s : t.sizes()) {
    out.push_back(symbolic && s > 1 ? sym::Expr::symbol("d" + std::to_string(s)) : sym::Expr(s));
  }
  return out;
}

OneNodeGraph build(std::string_view target, const TestArgs& args, bool symbolic) {
  OneNodeGraph g;
  g.node.name = "op";
  g.node.target = std::string(target);
  int counter = 0;
  auto add_tensor = [&](const ref::Tensor& t) {
    ir::Value v;
    v.name = "t" + std::to_string(counter++);
    v.type = ir::TensorType::contiguous(t.dtype(), dims(t, symbolic));
    ir::ValueId id = g.graph.add_value(v);
    g.graph.inputs.push_back(id);
    g.tensors.emplace_back(id, &t);
    return id;
  };
  for (const auto& [name, arg] : args) {
    ir::Argument a = std::visit(
        [&](const auto& x) -> ir::Argument {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ref::Tensor>) {
            return ir::TensorArg{add_tensor(x)};
          } else if constexpr (std::is_same_v<T, std::vector<ref::Tensor>>) {
            std::vector<ir::TensorArg> list;
            for (const auto& t : x)
              list.push_back({add_tensor(t)});
            return list;
          } else if constexpr (std::is_same_v<T, std::vector<std::optional<ref::Tensor>>>) {
            std::vector<ir::OptionalTensorArg> list;
            for (const auto& t : x) {
              list.push_back(t ? ir::OptionalTensorArg{add_tensor(*t)} : ir::OptionalTensorArg{});
            }
            return list;
          } else if constexpr (std::is_same_v<T, ir::DType>) {
            return ir::ScalarTypeArg{x};
          } else {
            return x;
          }
        },
        arg);
    g.node.inputs.push_back({name, std::move(a), ir::ArgKindHint::kKeyword});
  }
  return g;
}

}  // namespace

std::vector<ref::RValue> run_op(std::string_view target, const TestArgs& args, RunOptions options) {
  const ops::OpDef* op = ops::find_op(target);
  if (op == nullptr) throw error("no op ", target, " in the table");
  OneNodeGraph g = build(target, args, false);
  ref::ConcreteValues values(g.graph);
  for (const auto& [id, t] : g.tensors)
    values.set(id, *t);
  ops::Args bound(*op, g.node, values);
  std::vector<ops::OutType> types = op->shape(bound);
  std::vector<ref::RValue> results = op->reference(bound);
  EXPECT_EQ(types.size(), results.size()) << target << ": shape rule and kernel disagree";
  for (size_t i = 0; i < std::min(types.size(), results.size()); ++i) {
    const auto* t = std::get_if<ref::Tensor>(&results[i]);
    if (t == nullptr) continue;
    EXPECT_EQ(types[i].kind, ir::ValueKind::kTensor) << target << " output " << i;
    EXPECT_EQ(types[i].tensor.str(), ref::concrete_type(*t).str())
        << target << " output " << i << ": shape rule vs kernel";
  }
  if (options.symbolic_shapes) {
    OneNodeGraph sg = build(target, args, true);
    ops::GraphValueSource source(sg.graph);
    ops::Args sym_bound(*op, sg.node, source);
    std::vector<ops::OutType> sym_types = op->shape(sym_bound);
    EXPECT_EQ(sym_types.size(), results.size()) << target << ": symbolic shape rule";
    std::unordered_map<std::string, int64_t> bindings;
    for (const auto& [id, t] : g.tensors) {
      for (int64_t s : t->sizes())
        bindings["d" + std::to_string(s)] = s;
    }
    for (size_t i = 0; i < std::min(sym_types.size(), results.size()); ++i) {
      const auto* t = std::get_if<ref::Tensor>(&results[i]);
      if (t == nullptr) continue;
      const auto& st = sym_types[i].tensor;
      EXPECT_EQ(st.dtype, t->dtype()) << target << " output " << i << " (symbolic)";
      EXPECT_EQ(st.sizes.size(), t->sizes().size()) << target << " output " << i << " (symbolic)";
      if (st.sizes.size() != t->sizes().size()) continue;
      for (size_t d = 0; d < st.sizes.size(); ++d) {
        EXPECT_EQ(st.sizes[d].eval(bindings), t->sizes()[d])
            << target << " output " << i << " dim " << d << " = " << st.sizes[d].str();
      }
    }
  }
  return results;
}

OpProgram build_op_program(std::string_view target, const TestArgs& args, bool symbolic) {
  OneNodeGraph g = build(target, args, symbolic);
  OpProgram out;
  ir::ExportedProgram& p = out.program;
  p.graph = std::move(g.graph);
  for (const auto& [id, t] : g.tensors) {
    p.signature.inputs.push_back({ir::InputKind::kUserInput, ir::TensorArg{id}, "", true});
    out.inputs.push_back(*t);
    for (const sym::Expr& d : p.graph.values[id].type.sizes) {
      if (d.is_symbol()) p.ranges[d.name()] = sym::Range{2, std::nullopt};
    }
  }
  ir::CallArgs call;
  for (const ir::NamedArgument& a : g.node.inputs)
    call.emplace_back(a.name, a.arg);
  std::vector<ir::ValueId> outs = ir::append_node(p.graph, target, call, "op");
  passes::refresh_view_layout(p.graph, p.graph.nodes.back(), p.ranges);
  for (ir::ValueId id : outs) {
    if (p.graph.values[id].kind != ir::ValueKind::kTensor) continue;
    p.graph.outputs.emplace_back(ir::TensorArg{id});
    p.signature.outputs.push_back({ir::OutputKind::kUserOutput, ir::TensorArg{id}, ""});
  }
  ir::verify(p);
  return out;
}

ref::Tensor run_op_tensor(std::string_view target, const TestArgs& args, RunOptions options) {
  auto out = run_op(target, args, options);
  if (out.size() != 1) throw error(target, " returned ", out.size(), " values");
  return as_tensor(out[0]);
}

const ref::Tensor& as_tensor(const ref::RValue& v) {
  const auto* t = std::get_if<ref::Tensor>(&v);
  if (t == nullptr) throw error("the value is not a tensor");
  return *t;
}

ref::Tensor random_tensor(ir::DType dtype, std::vector<int64_t> sizes, std::mt19937& rng, double lo,
                          double hi) {
  ref::Tensor t(dtype, std::move(sizes));
  std::uniform_real_distribution<double> real(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == ir::DType::kBool) {
      t.set_int(i, rng() & 1);
    } else if (ir::is_floating(dtype)) {
      t.set(i, real(rng));
    } else {
      t.set_int(i, static_cast<int64_t>(std::floor(real(rng))));
    }
  }
  return t;
}

ref::Tensor make_tensor(ir::DType dtype, std::vector<int64_t> sizes, const std::vector<double>& v) {
  ref::Tensor t(dtype, std::move(sizes));
  if (static_cast<int64_t>(v.size()) != t.numel()) throw error("make_tensor: wrong value count");
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, v[static_cast<size_t>(i)]);
  return t;
}

double relative_error(const ref::Tensor& got, const ref::Tensor& want) {
  if (got.dtype() != want.dtype() || got.sizes() != want.sizes()) return INFINITY;
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.get(i), b = want.get(i);
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) return INFINITY;
      continue;
    }
    if (std::isinf(a) || std::isinf(b)) {
      if (a != b) return INFINITY;
      continue;
    }
    diff += (a - b) * (a - b);
    norm += b * b;
  }
  if (norm == 0) return diff == 0 ? 0 : INFINITY;
  return std::sqrt(diff / norm);
}

bool same_values(const ref::Tensor& a, const ref::Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.get(i), y = b.get(i);
    if (std::isnan(x) && std::isnan(y)) continue;
    if (a.is_floating() ? x != y : a.get_int(i) != b.get_int(i)) return false;
  }
  return true;
}

}  // namespace kiln::testing
