// resolve_views: every value a view op produces becomes an index map over its root buffer, the
// first non-view ancestor. The root is a graph input (its layout is the one the ABI checks) or
// a node output, which kiln materializes dense and contiguous; the view's strides and storage
// offset are then symbolic expressions in the root's elements, and Value::view_of names the
// root.
//
// A reshape of a layout that no strides express (a view/reshape of a permuted tensor that
// merges dims the permute separated) is not a view: a contiguous clone is inserted before it,
// and the reshape views the clone.
//
// The export records PyTorch's real strides for every value. Where the root's recorded layout
// is the one kiln gives it, the computed strides must agree with the recorded ones (dims of
// size 1 excepted, whose strides carry no meaning); a disagreement is a bug in the stride
// rules and throws.
#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

std::string exprs_text(const std::vector<sym::Expr>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? ", " : "") + v[i].str();
  return out + "]";
}

class ViewResolver {
 public:
  explicit ViewResolver(ir::ExportedProgram& p) : p_(p), g_(p.graph) {
    for (const ir::Value& v : g_.values)
      recorded_.push_back(v.type);
    root_.assign(g_.values.size(), -1);
    checkable_.assign(g_.values.size(), false);
    for (ValueId id : g_.inputs) {
      root_[static_cast<size_t>(id)] = id;
      checkable_[static_cast<size_t>(id)] = true;  // inputs keep their recorded layout
    }
  }

  void run() {
    std::vector<ir::Node> nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (ir::Node& n : nodes) {
      const ops::OpDef* op = ops::find_op(n.target);
      if (op != nullptr && op->is_view) {
        view(n, *op);
      } else {
        for (ValueId id : ir::node_outputs(n))
          make_root(id, is_contiguous_layout(recorded(id), p_.ranges));
      }
      g_.nodes.push_back(std::move(n));
    }
    ir::renumber_producers(g_);
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;
  std::vector<ir::TensorType> recorded_;  // per original value: the type as it came in
  std::vector<ValueId> root_;             // per value: its root, -1 before it is defined
  // Per root: its layout in eager PyTorch was the one kiln gives it, so the recorded strides of
  // its views can be compared with the computed ones.
  std::vector<bool> checkable_;

  const ir::TensorType& recorded(ValueId id) const {
    return static_cast<size_t>(id) < recorded_.size() ? recorded_[static_cast<size_t>(id)]
                                                      : g_.values[static_cast<size_t>(id)].type;
  }

  void grow() {
    root_.resize(g_.values.size(), -1);
    checkable_.resize(g_.values.size(), false);
  }

  void make_root(ValueId id, bool checkable) {
    grow();
    ir::Value& v = g_.values[static_cast<size_t>(id)];
    root_[static_cast<size_t>(id)] = id;
    checkable_[static_cast<size_t>(id)] = checkable;
    v.view_of.reset();
    if (v.kind != ir::ValueKind::kTensor) return;
    v.type.strides = ir::TensorType::contiguous_strides(v.type.sizes);
    v.type.storage_offset = 0;
  }

  void view(ir::Node& n, const ops::OpDef& op) {
    int self_index = ir::input_index(n, "self");
    auto self_ids = self_index < 0
                        ? std::vector<ValueId>{}
                        : ir::argument_values(n.inputs[static_cast<size_t>(self_index)].arg);
    if (self_ids.size() != 1) {
      throw error("resolve_views: view node '", n.name, "' (", n.target, ") has no tensor 'self'");
    }
    ValueId self = self_ids[0];
    ValueId root = root_.at(static_cast<size_t>(self));
    auto outs = ir::node_outputs(n);
    std::vector<ir::TensorType> computed;
    if (is_reshape_op(n.target)) {
      const ir::TensorType& in = g_.values[static_cast<size_t>(self)].type;
      const ir::TensorType& out = g_.values[static_cast<size_t>(outs.at(0))].type;
      auto strides = view_strides(in.sizes, in.strides, out.sizes, p_.ranges);
      ir::TensorType t = out;
      if (strides) {
        t.strides = *strides;
        t.storage_offset = in.storage_offset;
      } else {
        // No strides express this reshape of the input's layout: copy the input densely first.
        // In eager PyTorch the reshape copied too, into a contiguous tensor, so its recorded
        // strides still compare with ours when the root's did.
        bool checkable = checkable_[static_cast<size_t>(root)];
        ir::Node clone = ir::make_node(
            g_, "aten.clone.default",
            {{"self", ir::TensorArg{self}}, {"memory_format", ir::MemoryFormat::kContiguous}},
            g_.values[static_cast<size_t>(self)].name + "_contiguous");
        ValueId copy = ir::node_outputs(clone)[0];
        make_root(copy, checkable);
        g_.nodes.push_back(std::move(clone));
        n.inputs[static_cast<size_t>(self_index)].arg = ir::TensorArg{copy};
        root = copy;
        t.strides = ir::TensorType::contiguous_strides(t.sizes);
        t.storage_offset = 0;
      }
      computed.push_back(t);
    } else {
      if (n.target == "aten.as_strided.default" && !checkable_[static_cast<size_t>(root)]) {
        throw error("resolve_views: node '", n.name, "' (as_strided) addresses the storage of %",
                    g_.values[static_cast<size_t>(root)].name,
                    ", whose layout in the export differs from the contiguous one kiln gives it");
      }
      ops::GraphValueSource source(g_);
      for (const ops::OutType& t : op.shape(ops::Args(op, n, source))) {
        if (t.kind == ir::ValueKind::kTensor) computed.push_back(t.tensor);
      }
    }
    if (computed.size() != outs.size()) {
      throw error("resolve_views: node '", n.name, "' (", n.target, ") outputs ", outs.size(),
                  " tensors but its shape rule gives ", computed.size());
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      ValueId id = outs[k];
      if (checkable_[static_cast<size_t>(root)]) check(n, id, computed[k]);
      ir::Value& v = g_.values[static_cast<size_t>(id)];
      v.type.strides = computed[k].strides;
      v.type.storage_offset = computed[k].storage_offset;
      v.view_of = root;
      grow();
      root_[static_cast<size_t>(id)] = root;
    }
  }

  // The computed layout against the one the export recorded for the value.
  void check(const ir::Node& n, ValueId id, const ir::TensorType& computed) const {
    const ir::TensorType& want = recorded(id);
    const ir::Value& v = g_.values[static_cast<size_t>(id)];
    if (want.strides.size() != computed.strides.size()) {
      throw error("resolve_views: node '", n.name, "' (", n.target, "): computed ",
                  computed.strides.size(), " strides for %", v.name, ", which has rank ",
                  want.rank());
    }
    bool empty = false;
    for (const auto& s : want.sizes)
      empty = empty || provably_equal(s, 0, p_.ranges);
    if (empty) return;
    auto differs = [&](const sym::Expr& a, const sym::Expr& b) {
      return provably_different(a, b, p_.ranges);
    };
    bool bad = differs(computed.storage_offset, want.storage_offset);
    for (size_t d = 0; d < want.rank(); ++d) {
      if (provably_equal(want.sizes[d], 1, p_.ranges)) continue;
      bad = bad || differs(computed.strides[d], want.strides[d]);
    }
    if (bad) {
      throw error("resolve_views: node '", n.name, "' (", n.target,
                  "): computed stride=", exprs_text(computed.strides),
                  " offset=", computed.storage_offset.str(), " for %", v.name,
                  " but the export records stride=", exprs_text(want.strides),
                  " offset=", want.storage_offset.str());
    }
  }
};

}  // namespace

void resolve_views(ir::ExportedProgram& program) {
  ViewResolver(program).run();
}

}  // namespace kiln::passes
