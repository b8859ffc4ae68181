// drop_noops: removes ops that compute nothing in a functional inference program, reading their
// input in place of their output.
//
// Assertions go only where the IR proves them: _assert_tensor_metadata when the value's dtype
// and sizes are the asserted ones (strides and device describe eager PyTorch's placement and
// layout, which kiln chooses itself), _assert_scalar when the asserted condition holds over
// every value the symbol ranges allow. An assertion not proven stays in the graph, so the
// reference interpreter and the backend check it at run time.
#include <string_view>

#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

bool one_of(std::string_view t, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (t == n) return true;
  }
  return false;
}

class NoopFinder {
 public:
  explicit NoopFinder(ir::ExportedProgram& p) : p_(p), g_(p.graph) {}

  // The value the node's single output equals, when the node is a no-op; -1 otherwise.
  // Assertions that are proven return -2 (the node goes, nothing is renamed).
  ValueId replacement(const ir::Node& n) {
    const ops::OpDef* op = ops::find_op(n.target);
    if (op == nullptr) return -1;
    ops::GraphValueSource source(g_);
    ops::Args a(*op, n, source);
    const std::string& t = n.target;
    if (t == "aten._assert_tensor_metadata.default") return metadata_proven(a) ? -2 : -1;
    if (t == "aten._assert_scalar.default") return scalar_proven(n) ? -2 : -1;
    auto outs = ir::node_outputs(n);
    if (outs.size() != 1 || value(outs[0]).kind != ir::ValueKind::kTensor) return -1;
    const ir::TensorType& out = value(outs[0]).type;

    if (one_of(t, {"aten.dropout.default", "aten.feature_dropout.default"})) {
      // Identity in eval mode, and for p == 0 (PyTorch returns the input then too).
      if (a.to_bool("train") && a.to_double("p") != 0) return -1;
      return input(n, "input");
    }
    if (one_of(t, {"aten.alias.default", "aten.detach.default", "aten.clone.default",
                   "aten.contiguous.default", "aten.lift_fresh_copy.default"})) {
      return input(n, "self");  // copies and aliases hold the same values
    }
    if (one_of(t, {"aten.to.dtype", "aten.to.dtype_layout", "aten.to.device", "aten.to.other",
                   "aten._to_copy.default", "aten.type_as.default"})) {
      // A device move is the identity: kiln places every tensor on its one target device.
      ValueId self = input(n, "self");
      return value(self).type.dtype == out.dtype ? self : -1;
    }
    if (t == "aten.copy.default") {
      ValueId self = input(n, "self"), src = input(n, "src");
      const ir::TensorType& s = value(src).type;
      return s.dtype == out.dtype && same_sizes(s.sizes, value(self).type.sizes) ? src : -1;
    }
    if (is_reshape_op(t) ||
        one_of(t, {"aten.expand.default", "aten.expand_as.default", "aten.squeeze.default",
                   "aten.squeeze.dim", "aten.squeeze.dims", "aten.unflatten.int"})) {
      ValueId self = input(n, "self");
      return same_sizes(value(self).type.sizes, out.sizes) ? self : -1;
    }
    if (t == "aten.permute.default") {
      std::vector<int64_t> dims = a.ints("dims");
      auto rank = static_cast<int64_t>(dims.size());
      for (int64_t i = 0; i < rank; ++i) {
        int64_t d = dims[static_cast<size_t>(i)];
        if ((d < 0 ? d + rank : d) != i) return -1;
      }
      return input(n, "self");
    }
    if (t == "aten.transpose.int") {
      ValueId self = input(n, "self");
      auto rank = static_cast<int64_t>(value(self).type.rank());
      int64_t d0 = a.to_int("dim0"), d1 = a.to_int("dim1");
      if (rank > 0 && (d0 < 0 ? d0 + rank : d0) == (d1 < 0 ? d1 + rank : d1)) return self;
      return rank == 0 ? self : -1;
    }
    if (t == "aten.slice.Tensor") {
      // The whole dim: starts at 0, step 1, and keeps the size.
      ValueId self = input(n, "self");
      bool from_zero = a.is_none("start") || a.sym("start") == sym::Expr(0);
      bool step_one = a.sym("step") == sym::Expr(1);
      return from_zero && step_one && same_sizes(value(self).type.sizes, out.sizes) ? self : -1;
    }
    return -1;
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;

  const ir::Value& value(ValueId id) const { return g_.values[static_cast<size_t>(id)]; }

  ValueId input(const ir::Node& n, std::string_view name) const {
    int i = ir::input_index(n, name);
    if (i < 0) throw error("drop_noops: node '", n.name, "' (", n.target, ") lacks '", name, "'");
    auto ids = ir::argument_values(n.inputs[static_cast<size_t>(i)].arg);
    if (ids.size() != 1) {
      throw error("drop_noops: node '", n.name, "' (", n.target, "): '", name, "' is not a tensor");
    }
    return ids[0];
  }

  bool same_sizes(const std::vector<sym::Expr>& a, const std::vector<sym::Expr>& b) const {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!provably_equal(a[i], b[i], p_.ranges)) return false;
    }
    return true;
  }

  bool metadata_proven(const ops::Args& a) const {
    const ir::TensorType& t = a.type("a");
    if (auto dtype = a.dtype("dtype"); dtype && *dtype != t.dtype) return false;
    if (!a.is_none("size") && !same_sizes(a.syms("size"), t.sizes)) return false;
    int i = ir::input_index(a.node(), "layout");
    if (i >= 0) {
      const ir::Argument& l = a.node().inputs[static_cast<size_t>(i)].arg;
      if (const auto* layout = std::get_if<ir::Layout>(&l);
          layout && *layout != ir::Layout::kStrided) {
        return false;
      }
    }
    return true;
  }

  bool scalar_proven(const ir::Node& n) const {
    int i = ir::input_index(n, "self");
    if (i < 0) return false;
    const ir::Argument& arg = n.inputs[static_cast<size_t>(i)].arg;
    std::optional<sym::Expr> cond;
    if (const auto* b = std::get_if<ir::SymBoolArg>(&arg)) {
      if (!b->value) return b->literal;
      cond = value(*b->value).sym;
    } else if (const auto* s = std::get_if<ir::SymIntArg>(&arg)) {
      if (!s->value) return s->literal != 0;
      if (auto e = value(*s->value).sym) cond = sym::ne(*e, 0);
    } else if (const auto* lit = std::get_if<bool>(&arg)) {
      return *lit;
    } else if (const auto* lit_int = std::get_if<int64_t>(&arg)) {
      return *lit_int != 0;
    }
    if (!cond) return false;
    sym::Range r = sym::bounds(*cond, p_.ranges);
    return r.min && *r.min >= 1;  // a condition is 0 or 1: true everywhere in the ranges
  }
};

bool mutates(const ir::Node& n) {
  const ops::OpDef* op = ops::find_op(n.target);
  if (op == nullptr) return false;
  for (const ops::ArgSchema& a : op->parsed_schema().args) {
    if (a.is_mutated) return true;
  }
  return false;
}

}  // namespace

void drop_noops(ir::ExportedProgram& program) {
  ir::Graph& g = program.graph;
  for (const ir::Node& n : g.nodes) {
    // Dropping a clone is only sound when nothing writes to either side of it afterwards.
    if (mutates(n)) {
      throw error("drop_noops: node '", n.name, "' (", n.target,
                  ") writes in place; run functionalize first");
    }
  }
  NoopFinder finder(program);
  std::vector<bool> keep(g.nodes.size(), true);
  // Nodes that now read a value laid out differently from the one they read before (a copy
  // such as contiguous() removed in front of them).
  std::vector<bool> relaid_input(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    ValueId with = finder.replacement(g.nodes[k]);
    if (with == -1) continue;
    keep[k] = false;
    if (with < 0) continue;
    ValueId out = ir::node_outputs(g.nodes[k])[0];
    const ir::TensorType& a = g.values[static_cast<size_t>(out)].type;
    const ir::TensorType& b = g.values[static_cast<size_t>(with)].type;
    if (a.strides != b.strides || a.storage_offset != b.storage_offset) {
      for (size_t j = k + 1; j < g.nodes.size(); ++j) {
        for (const ir::NamedArgument& in : g.nodes[j].inputs) {
          for (ValueId id : ir::argument_values(in.arg))
            relaid_input[j] = relaid_input[j] || id == out;
        }
      }
    }
    ir::replace_uses(program, out, with);
  }
  // Views of those inputs describe their layout anew, as they would have without the copy.
  std::vector<bool> relaid(g.values.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!keep[k]) continue;
    bool stale = relaid_input[k];
    for (const ir::NamedArgument& in : g.nodes[k].inputs) {
      for (ValueId id : ir::argument_values(in.arg))
        stale = stale || relaid[static_cast<size_t>(id)];
    }
    if (stale && refresh_view_layout(g, g.nodes[k], program.ranges)) {
      for (ValueId id : ir::node_outputs(g.nodes[k]))
        relaid[static_cast<size_t>(id)] = true;
    }
  }
  ir::compact(program, keep);
}

}  // namespace kiln::passes
