#pragma once

// Helpers for the pass tests: a builder for small programs, running programs on the reference
// interpreter, and comparing the values two programs compute.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ir/graph_edit.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "op_harness.h"
#include "passes/stored_tensors.h"
#include "passes/view_layout.h"
#include "ref/interpreter.h"

namespace kiln::testing {

inline sym::Expr sy(const char* name) {
  return sym::Expr::symbol(name);
}

// Builds a program input by input and node by node; node outputs are typed by the op table's
// shape rules (ir::append_node). Weights given to param() are what read_stored returns.
class ProgramBuilder {
 public:
  ir::ExportedProgram program;
  std::map<std::string, ref::Tensor> weights;  // by FQN

  ir::ValueId input(const std::string& name, ir::DType dtype, std::vector<sym::Expr> sizes) {
    return add_input(name, ir::InputKind::kUserInput, "", dtype, std::move(sizes));
  }

  // A parameter, buffer or tensor constant holding `data`.
  ir::ValueId stored(const std::string& name, ir::InputKind kind, const std::string& fqn,
                     ref::Tensor data) {
    std::vector<sym::Expr> sizes(data.sizes().begin(), data.sizes().end());
    ir::ValueId id = add_input(name, kind, fqn, data.dtype(), std::move(sizes));
    weights[fqn] = std::move(data);
    return id;
  }

  // The first output, or -1 for an op that returns nothing.
  ir::ValueId op(std::string_view target, const ir::CallArgs& args, std::string_view name) {
    auto outs = ops(target, args, name);
    return outs.empty() ? -1 : outs[0];
  }
  // View outputs get the strides eager PyTorch records (shape rules fall back to contiguous
  // types for reshapes over symbolic strided layouts).
  std::vector<ir::ValueId> ops(std::string_view target, const ir::CallArgs& args,
                               std::string_view name) {
    auto outs = ir::append_node(program.graph, target, args, name);
    passes::refresh_view_layout(program.graph, program.graph.nodes.back(), program.ranges);
    return outs;
  }

  void output(ir::ValueId id, ir::OutputKind kind = ir::OutputKind::kUserOutput,
              const std::string& target = "") {
    program.graph.outputs.emplace_back(ir::TensorArg{id});
    program.signature.outputs.push_back({kind, ir::TensorArg{id}, target});
  }

  // The program, verified, with read_stored serving the weights.
  ir::ExportedProgram finish() {
    auto data = std::make_shared<std::map<std::string, ref::Tensor>>(weights);
    program.read_stored = [data](const std::string& fqn) -> std::optional<ir::ConstantData> {
      auto it = data->find(fqn);
      if (it == data->end()) return std::nullopt;
      return passes::constant_from_tensor(it->second);
    };
    ir::verify(program);
    return program;
  }

 private:
  ir::ValueId add_input(const std::string& name, ir::InputKind kind, const std::string& fqn,
                        ir::DType dtype, std::vector<sym::Expr> sizes) {
    ir::Value v;
    v.name = name;
    v.type = ir::TensorType::contiguous(dtype, std::move(sizes));
    ir::ValueId id = program.graph.add_value(std::move(v));
    program.graph.inputs.push_back(id);
    program.signature.inputs.push_back({kind, ir::TensorArg{id}, fqn, true});
    return id;
  }
};

inline ir::TensorArg T(ir::ValueId id) {
  return ir::TensorArg{id};
}

// The tensor of each signature input: stored tensors via read_stored, folded constants from
// program.constants.
inline std::vector<std::optional<ref::Tensor>> stored_of(const ir::ExportedProgram& p) {
  std::vector<std::optional<ref::Tensor>> out(p.signature.inputs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const ir::InputSpec& s = p.signature.inputs[i];
    if (s.kind == ir::InputKind::kUserInput || s.kind == ir::InputKind::kConstantInput) continue;
    if (auto c = p.constants.find(s.target); c != p.constants.end()) {
      out[i] = passes::tensor_from_constant(c->second);
    } else if (p.read_stored) {
      if (auto d = p.read_stored(s.target)) out[i] = passes::tensor_from_constant(*d);
    }
  }
  return out;
}

// Every signature output of the program on `inputs` (user inputs in signature order).
inline std::vector<ref::RValue> run_all(const ir::ExportedProgram& p,
                                        const std::vector<ref::RValue>& inputs,
                                        std::vector<std::optional<ref::Tensor>> stored) {
  ref::Interpreter interpreter(p, std::move(stored));
  return interpreter.run(inputs);
}
inline std::vector<ref::RValue> run_all(const ir::ExportedProgram& p,
                                        const std::vector<ref::RValue>& inputs) {
  return run_all(p, inputs, stored_of(p));
}

// The outputs of the given kinds, in order.
inline std::vector<ref::RValue> outputs_of_kind(const ir::ExportedProgram& p,
                                                const std::vector<ref::RValue>& all,
                                                ir::OutputKind kind) {
  std::vector<ref::RValue> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (p.signature.outputs[i].kind == kind) out.push_back(all[i]);
  }
  return out;
}

// Exactly equal values (tensors: dtype, sizes and every element, NaN equal to NaN); with
// `tolerance` > 0, floating tensors within that relative error.
inline ::testing::AssertionResult same_outputs(const std::vector<ref::RValue>& got,
                                               const std::vector<ref::RValue>& want,
                                               double tolerance = 0) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << got.size() << " outputs where " << want.size() << " are expected";
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const auto* a = std::get_if<ref::Tensor>(&got[i]);
    const auto* b = std::get_if<ref::Tensor>(&want[i]);
    if (a == nullptr || b == nullptr) {
      bool same = got[i].index() == want[i].index() && a == nullptr && b == nullptr;
      if (same && std::holds_alternative<int64_t>(got[i])) {
        same = std::get<int64_t>(got[i]) == std::get<int64_t>(want[i]);
      } else if (same && std::holds_alternative<double>(got[i])) {
        same = std::get<double>(got[i]) == std::get<double>(want[i]);
      } else if (same && std::holds_alternative<bool>(got[i])) {
        same = std::get<bool>(got[i]) == std::get<bool>(want[i]);
      }
      if (!same) return ::testing::AssertionFailure() << "output " << i << " differs";
      continue;
    }
    if (a->str() != b->str()) {
      return ::testing::AssertionFailure()
             << "output " << i << " is " << a->str() << ", expected " << b->str();
    }
    bool ok = tolerance > 0 && a->is_floating() ? relative_error(*a, *b) <= tolerance
                                                : same_values(*a, *b);
    if (!ok) {
      return ::testing::AssertionFailure()
             << "output " << i << " (" << a->str() << ") differs; relative error "
             << relative_error(*a, *b);
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace kiln::testing
