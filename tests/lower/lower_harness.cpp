#include "lower/lower_harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>

#include "ir/graph_edit.h"
#include "ops/op_table.h"
#include "lower/evaluate.h"
#include "lower/lowering.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// The data of each lowered constant: the stored tensor of the signature input it names.
std::vector<ref::Tensor> constants_of(const lower::Program& lp,
                                      const std::vector<std::optional<ref::Tensor>>& stored) {
  if (lp.constant_inputs.size() != lp.constants.size()) {
    throw error("the lowered program lists ", lp.constants.size(), " constants but ",
                lp.constant_inputs.size(), " constant inputs");
  }
  std::vector<ref::Tensor> out;
  for (size_t i = 0; i < lp.constants.size(); ++i) {
    int32_t input = lp.constant_inputs[i];
    if (input < 0 || static_cast<size_t>(input) >= stored.size() || !stored[input]) {
      throw error("constant ", lp.constants[i], " (signature input ", input,
                  ") has no stored tensor");
    }
    out.push_back(*stored[input]);
  }
  return out;
}

// The stored tensors of a program with no archive: folded constants and read_stored.
std::vector<std::optional<ref::Tensor>> stored_of(const ir::ExportedProgram& p) {
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

// "element 5 (got nan, want 0.25)": a NaN or infinity mismatch if there is one, else the
// largest difference; for failure messages.
std::string worst_difference(const ref::Tensor& got, const ref::Tensor& want) {
  int64_t worst = -1;
  double worst_diff = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.get(i), b = want.get(i);
    if (a == b || (std::isnan(a) && std::isnan(b))) continue;
    bool special = !std::isfinite(a) || !std::isfinite(b);
    double diff = special ? INFINITY : std::fabs(a - b);
    if (worst < 0 || diff > worst_diff) {
      worst = i;
      worst_diff = diff;
      if (special) break;
    }
  }
  if (worst < 0) return "no element differs";
  std::ostringstream out;
  out << std::setprecision(10) << "element " << worst << " (got " << got.get(worst) << ", want "
      << want.get(worst) << ")";
  return out.str();
}

double default_tolerance(ir::DType t) {
  if (t == ir::DType::kFloat32 || t == ir::DType::kFloat64) return 1e-5;
  if (ir::is_floating(t)) return 1e-2;
  return 0;
}

void compare(std::string_view target, const std::string& variant,
             const std::vector<ref::Tensor>& got, const std::vector<ref::RValue>& want,
             const LowerCheckOptions& options) {
  std::string where = std::string(target) + " (" + variant + ")";
  ASSERT_EQ(got.size(), want.size()) << where << ": output count";
  for (size_t o = 0; o < got.size(); ++o) {
    const auto* w = std::get_if<ref::Tensor>(&want[o]);
    if (w == nullptr) {
      ADD_FAILURE() << where << " output " << o << ": the reference gives a non-tensor";
      continue;
    }
    const ref::Tensor& g = got[o];
    if (g.dtype() != w->dtype() || g.sizes() != w->sizes()) {
      ADD_FAILURE() << where << " output " << o << ": lowered " << g.str() << ", reference "
                    << w->str();
      continue;
    }
    if (!g.is_floating()) {
      EXPECT_TRUE(same_values(g, *w))
          << where << " output " << o << " " << g.str()
          << ": values differ from the reference, e.g. " << worst_difference(g, *w);
      continue;
    }
    double tol = options.tol >= 0 ? options.tol : default_tolerance(g.dtype());
    double err = relative_error(g, *w);
    EXPECT_LE(err, tol) << where << " output " << o << " " << g.str() << ": relative error " << err
                        << " over " << tol << "; worst at " << worst_difference(g, *w);
  }
}

// Rewrites a one-op program so that every user tensor input of rank >= 2 arrives transposed in
// its last two dims and is transposed back by an aten.transpose.int view: the op then reads a
// non-contiguous view. Returns the inputs to feed (physically transposed copies).
std::vector<ref::Tensor> transpose_inputs(ir::ExportedProgram& p, const std::vector<ref::Tensor>& inputs) {
  std::vector<ref::Tensor> fed = inputs;
  ir::Graph& g = p.graph;
  std::vector<ir::Node> views;
  size_t k = 0;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind != ir::InputKind::kUserInput) continue;
    const ir::ValueId v = g.inputs[i];
    if (g.values[v].kind != ir::ValueKind::kTensor) continue;
    const size_t index = k++;
    const size_t r = g.values[v].type.rank();
    if (r < 2) continue;
    const ref::Tensor& t = inputs.at(index);
    std::vector<int64_t> sizes = t.sizes();
    std::swap(sizes[r - 2], sizes[r - 1]);
    ref::Tensor moved(t.dtype(), sizes);
    const auto in_strides = t.strides();
    const auto out_strides = moved.strides();
    for (int64_t e = 0; e < t.numel(); ++e) {
      int64_t rest = e, dst = 0;
      for (size_t d = 0; d < r; ++d) {
        const int64_t idx = rest / in_strides[d];
        rest %= in_strides[d];
        const size_t dd = d == r - 2 ? r - 1 : d == r - 1 ? r - 2 : d;
        dst += idx * out_strides[dd];
      }
      if (t.is_floating()) {
        moved.set(dst, t.get(e));
      } else {
        moved.set_int(dst, t.get_int(e));
      }
    }
    fed[index] = moved;
    ir::TensorType& type = g.values[v].type;
    std::swap(type.sizes[r - 2], type.sizes[r - 1]);
    type.strides = ir::TensorType::contiguous_strides(type.sizes);
    ir::Node node = ir::make_node(g, "aten.transpose.int",
                                  {{"self", ir::TensorArg{v}},
                                   {"dim0", static_cast<int64_t>(r - 2)},
                                   {"dim1", static_cast<int64_t>(r - 1)}},
                                  g.values[v].name + "_t");
    const ir::ValueId out = ir::node_outputs(node)[0];
    ir::replace_uses(p, v, out);
    views.push_back(std::move(node));
  }
  g.nodes.insert(g.nodes.begin(), views.begin(), views.end());
  ir::renumber_producers(g);
  return fed;
}

}  // namespace

void check_lowered_op(std::string_view target, const TestArgs& args, LowerCheckOptions options) {
  for (bool symbolic : {false, true}) {
    if (symbolic && !options.symbolic) continue;
    const std::string variant = symbolic ? "symbolic shapes" : "static shapes";
    OpProgram op;
    std::vector<ref::RValue> want;
    try {
      op = build_op_program(target, args, symbolic);
      std::vector<ref::RValue> inputs(op.inputs.begin(), op.inputs.end());
      ref::Interpreter interpreter(op.program, stored_of(op.program));
      want = interpreter.run_user_outputs(inputs);
    } catch (const Error& e) {
      ADD_FAILURE() << target << " (" << variant << "): the reference failed: " << e.what();
      continue;
    }
    std::vector<ref::Tensor> got;
    try {
      ir::ExportedProgram prepared = op.program;
      if (options.run_backend_passes) passes::prepare_for_backend(prepared);
      lower::Program lowered = lower::lower_program(prepared);
      got = lower::evaluate(lowered, op.inputs, constants_of(lowered, stored_of(prepared)));
    } catch (const Error& e) {
      ADD_FAILURE() << target << " (" << variant << "): " << e.what();
      continue;
    }
    compare(target, variant, got, want, options);

    // The same op reading non-contiguous inputs (static shapes). View ops are left out: the
    // strides their outputs record assume the contiguous input (view chains are tested apart).
    const ops::OpDef* def = ops::find_op(target);
    if (symbolic || !options.non_contiguous || (def && def->is_view)) continue;
    try {
      ir::ExportedProgram prepared = op.program;
      const std::vector<ref::Tensor> fed = transpose_inputs(prepared, op.inputs);
      if (options.run_backend_passes) passes::prepare_for_backend(prepared);
      lower::Program lowered = lower::lower_program(prepared);
      got = lower::evaluate(lowered, fed, constants_of(lowered, stored_of(prepared)));
    } catch (const Error& e) {
      ADD_FAILURE() << target << " (non-contiguous inputs): " << e.what();
      continue;
    }
    compare(target, "non-contiguous inputs", got, want, options);
  }
}

std::vector<ref::Tensor> evaluate_lowered(const frontend::LoadedProgram& loaded,
                                          const std::vector<ref::Tensor>& user_inputs) {
  frontend::LoadedProgram local = loaded;
  if (!local.program.read_stored) passes::attach_stored_tensors(local);
  ir::ExportedProgram prepared = local.program;
  passes::prepare_for_backend(prepared);
  lower::Program lowered = lower::lower_program(prepared);
  return lower::evaluate(lowered, user_inputs,
                         constants_of(lowered, passes::stored_tensors(local, prepared)));
}

}  // namespace kiln::testing
