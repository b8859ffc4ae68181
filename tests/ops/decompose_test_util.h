#pragma once

// Checks an op's decomposition: a program of one node of the op on random inputs (every dim > 1
// made symbolic, or all dims concrete) runs on the reference interpreter before and after
// passes::decompose; the outputs must agree, no node with a decomposition may remain, and the
// program must verify.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>

#include "ir/printer.h"
#include "ir/verifier.h"
#include "op_harness.h"
#include "ops/op_table.h"
#include "passes/pass_test_util.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::testing {

// The targets some test has decomposed, for the coverage check.
inline std::set<std::string>& decomposed_targets() {
  static std::set<std::string> targets;
  return targets;
}

// Targets in the program that still have a decomposition.
inline std::string remaining_composites(const ir::Graph& g) {
  std::string out;
  for (const ir::Node& n : g.nodes) {
    const ops::OpDef* op = ops::find_op(n.target);
    if (op != nullptr && op->decompose != nullptr) out += (out.empty() ? "" : ", ") + n.target;
  }
  return out;
}

struct DecomposeOptions {
  double tolerance = 1e-5;  // relative, for floating outputs (others must be exact)
  // In the symbolic run: tensor arguments whose dims stay concrete (weights, which the export
  // specializes), and dim sizes that stay concrete everywhere (a dim the op needs known).
  std::set<std::string> concrete_args;
  std::set<int64_t> concrete_sizes;
};

// The one-node program: each tensor argument a user input (dims > 1 named d<size> with range
// [2, 4096] when symbolic, equal sizes sharing a symbol), every tensor output a user output.
inline ir::ExportedProgram one_op_program(std::string_view target, const TestArgs& args,
                                          bool symbolic, std::vector<ref::RValue>& inputs,
                                          const DecomposeOptions& options = {}) {
  ProgramBuilder b;
  int counter = 0;
  std::string arg_name;
  auto add = [&](const ref::Tensor& t) {
    std::vector<sym::Expr> sizes;
    for (int64_t s : t.sizes()) {
      if (symbolic && s > 1 && !options.concrete_args.contains(arg_name) &&
          !options.concrete_sizes.contains(s)) {
        std::string name = "d" + std::to_string(s);
        b.program.ranges[name] = sym::Range{2, 4096};
        sizes.push_back(sym::Expr::symbol(name));
      } else {
        sizes.emplace_back(s);
      }
    }
    inputs.emplace_back(t);
    return b.input("t" + std::to_string(counter++), t.dtype(), sizes);
  };
  ir::CallArgs call;
  for (const auto& [name, arg] : args) {
    arg_name = name;
    ir::Argument a = std::visit(
        [&](const auto& x) -> ir::Argument {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ref::Tensor>) {
            return ir::TensorArg{add(x)};
          } else if constexpr (std::is_same_v<T, std::vector<ref::Tensor>>) {
            std::vector<ir::TensorArg> list;
            for (const auto& t : x)
              list.push_back({add(t)});
            return list;
          } else if constexpr (std::is_same_v<T, std::vector<std::optional<ref::Tensor>>>) {
            std::vector<ir::OptionalTensorArg> list;
            for (const auto& t : x)
              list.push_back(t ? ir::OptionalTensorArg{add(*t)} : ir::OptionalTensorArg{});
            return list;
          } else if constexpr (std::is_same_v<T, ir::DType>) {
            return ir::ScalarTypeArg{x};
          } else {
            return x;
          }
        },
        arg);
    call.emplace_back(name, std::move(a));
  }
  for (ir::ValueId id : b.ops(target, call, "op")) {
    if (b.program.graph.values[static_cast<size_t>(id)].kind == ir::ValueKind::kTensor)
      b.output(id);
  }
  return b.finish();
}

// The op on `args` computes the same before and after decomposition: exactly for integer and
// bool results, within the tolerance for floating ones. Checked with concrete dims and with
// symbolic ones.
inline ::testing::AssertionResult decomposes(std::string_view target, const TestArgs& args,
                                             const DecomposeOptions& options) {
  for (bool symbolic : {false, true}) {
    std::string mode = symbolic ? " (symbolic dims)" : " (concrete dims)";
    std::vector<ref::RValue> inputs;
    ir::ExportedProgram before;
    try {
      before = one_op_program(target, args, symbolic, inputs, options);
    } catch (const Error& e) {
      return ::testing::AssertionFailure() << "building " << target << mode << ": " << e.what();
    }
    const ops::OpDef* op = ops::find_op(target);
    if (op == nullptr || op->decompose == nullptr) {
      return ::testing::AssertionFailure() << target << " has no decomposition";
    }
    ir::ExportedProgram after = before;
    try {
      passes::decompose(after);
      ir::verify(after);
    } catch (const Error& e) {
      return ::testing::AssertionFailure() << "decomposing " << target << mode << ": " << e.what();
    }
    if (std::string left = remaining_composites(after.graph); !left.empty()) {
      return ::testing::AssertionFailure() << target << mode << " still has " << left << ":\n"
                                           << ir::print(after);
    }
    std::vector<ref::RValue> want, got;
    try {
      want = run_all(before, inputs);
      got = run_all(after, inputs);
    } catch (const Error& e) {
      return ::testing::AssertionFailure()
             << "running " << target << mode << ": " << e.what() << "\n"
             << ir::print(after);
    }
    auto same = same_outputs(got, want, options.tolerance);
    if (!same) return same << " for " << target << mode << "\n" << ir::print(after);
  }
  decomposed_targets().insert(std::string(target));
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult decomposes(std::string_view target, const TestArgs& args,
                                             double tolerance = 1e-5) {
  DecomposeOptions options;
  options.tolerance = tolerance;
  return decomposes(target, args, options);
}

}  // namespace kiln::testing
