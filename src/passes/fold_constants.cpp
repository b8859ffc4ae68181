// fold_constants: a node whose inputs are all constants (parameters and buffers the program
// never writes, tensor constants, literals, and results of folded nodes) is evaluated once with
// its reference kernel, and the values later nodes read become tensor-constant inputs whose
// data the program owns (ExportedProgram::constants, target "_folded.<value>").
//
// Not folded: random and side-effecting ops, ops with subgraphs, anything with a symbolic size
// or reading a SymInt (its value differs per call), and results that would be stored but are
// cheap to recompute: a view (folding it would copy, where it is free as an index map) and a
// result over 64 KiB and 4x the bytes of its inputs (expand, arange, zeros: storing them would
// bloat the artifact). Such a node is left in the graph and its own inputs are stored instead.
#include <set>

#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "passes/foldable_ops.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/values.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

constexpr size_t kLargeBytes = 64 * 1024;
constexpr size_t kGrowthFactor = 4;

size_t tensor_bytes(const ref::Tensor& t) {
  return static_cast<size_t>(t.numel()) * ir::dtype_size(t.dtype());
}

ref::RValue literal(const ir::Argument& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) return *i;
  if (const auto* d = std::get_if<double>(&a)) return *d;
  if (const auto* b = std::get_if<bool>(&a)) return *b;
  return std::monostate{};
}

class Folder {
 public:
  explicit Folder(ir::ExportedProgram& p)
      : p_(p), g_(p.graph), values_(g_), is_const_(g_.values.size(), false) {}

  void run() {
    find_constant_inputs();
    folded_.assign(g_.nodes.size(), false);
    for (size_t k = 0; k < g_.nodes.size(); ++k)
      folded_[k] = try_fold(g_.nodes[k]);
    choose_stored();
    store();
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;
  ref::ConcreteValues values_;  // over the graph's values as they are before any edit
  std::vector<bool> is_const_;
  std::map<ValueId, std::string> input_target_;  // constant tensor inputs not yet read
  std::vector<bool> folded_;

  void find_constant_inputs() {
    std::set<std::string> written;
    for (const ir::OutputSpec& o : p_.signature.outputs) {
      if (o.kind == ir::OutputKind::kBufferMutation ||
          o.kind == ir::OutputKind::kParameterMutation) {
        written.insert(o.target);
      }
    }
    for (size_t i = 0; i < p_.signature.inputs.size(); ++i) {
      const ir::InputSpec& spec = p_.signature.inputs[i];
      ValueId id = g_.inputs[i];
      const ir::Value& v = g_.values[static_cast<size_t>(id)];
      switch (spec.kind) {
        case ir::InputKind::kParameter:
        case ir::InputKind::kBuffer:
        case ir::InputKind::kTensorConstant:
          if (!written.count(spec.target)) {
            is_const_[static_cast<size_t>(id)] = true;
            input_target_[id] = spec.target;
          }
          break;
        case ir::InputKind::kConstantInput:
          if (v.kind == ir::ValueKind::kConstant) {
            is_const_[static_cast<size_t>(id)] = true;
            values_.set(id, literal(v.constant));
          }
          break;
        default:
          break;
      }
    }
  }

  // Reads a constant input's tensor the first time a folded node needs it.
  bool load(ValueId id) {
    if (values_.has(id)) return true;
    auto it = input_target_.find(id);
    if (it == input_target_.end()) return false;
    std::optional<ir::ConstantData> data;
    if (auto c = p_.constants.find(it->second); c != p_.constants.end()) {
      data = c->second;
    } else if (p_.read_stored) {
      data = p_.read_stored(it->second);
    }
    if (!data) return false;
    values_.set(id, tensor_from_constant(*data));
    return true;
  }

  bool try_fold(const ir::Node& n) {
    auto is_const = [&](ValueId id) { return is_const_[static_cast<size_t>(id)]; };
    if (!evaluable_at_compile_time(g_, n, is_const)) return false;
    const ops::OpDef* op = ops::find_op(n.target);
    const auto outs = ir::node_outputs(n);
    for (const ir::NamedArgument& in : n.inputs) {
      for (ValueId id : ir::argument_values(in.arg)) {
        if (!load(id)) return false;
      }
    }
    std::vector<ref::RValue> results;
    try {
      results = op->reference(ops::Args(*op, n, values_));
    } catch (const Error&) {
      return false;  // left to fail (or not) at run time, where the program reaches it
    }
    if (results.size() < outs.size()) {
      throw error("fold_constants: node '", n.name, "' (", n.target, ") returned ", results.size(),
                  " values for ", outs.size(), " outputs");
    }
    size_t r = 0;
    for (const ir::Argument& out : n.outputs) {
      if (std::holds_alternative<ir::NoneArg>(out)) {
        ++r;
        continue;
      }
      for (ValueId id : ir::argument_values(out)) {
        check(n, id, results[r]);
        values_.set(id, std::move(results[r++]));
        is_const_[static_cast<size_t>(id)] = true;
      }
    }
    return true;
  }

  void check(const ir::Node& n, ValueId id, const ref::RValue& result) const {
    const ir::Value& v = g_.values[static_cast<size_t>(id)];
    const auto* t = std::get_if<ref::Tensor>(&result);
    bool ok = t != nullptr && t->dtype() == v.type.dtype &&
              t->dim() == static_cast<int64_t>(v.type.rank());
    for (size_t d = 0; ok && d < v.type.rank(); ++d)
      ok = v.type.sizes[d] == sym::Expr(t->sizes()[d]);
    if (!ok) {
      throw error("fold_constants: node '", n.name, "' (", n.target, "): the reference kernel ",
                  "produced ", t ? t->str() : "a non-tensor", " for %", v.name,
                  " but the program records ", v.type.str());
    }
  }

  // Folded values read by a kept node or returned by the graph are the ones to store. Views and
  // cheap, large results are un-folded instead, which makes their inputs the ones to store.
  std::vector<ValueId> stored_values() const {
    std::vector<bool> read(g_.values.size(), false);
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (folded_[k]) continue;
      for (const ir::NamedArgument& in : g_.nodes[k].inputs) {
        for (ValueId id : ir::argument_values(in.arg))
          read[static_cast<size_t>(id)] = true;
      }
    }
    for (const ir::Argument& out : g_.outputs) {
      for (ValueId id : ir::argument_values(out))
        read[static_cast<size_t>(id)] = true;
    }
    std::vector<ValueId> out;
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!folded_[k]) continue;
      for (ValueId id : ir::node_outputs(g_.nodes[k])) {
        if (read[static_cast<size_t>(id)]) out.push_back(id);
      }
    }
    return out;
  }

  bool worth_storing(const ir::Node& n, ValueId id) const {
    const ops::OpDef* op = ops::find_op(n.target);
    if (op->is_view) return false;
    size_t in_bytes = 0;
    for (const ir::NamedArgument& in : n.inputs) {
      for (ValueId v : ir::argument_values(in.arg)) {
        if (const ref::Tensor* t = values_.tensor(v)) in_bytes += tensor_bytes(*t);
      }
    }
    size_t bytes = tensor_bytes(*values_.tensor(id));
    return !(bytes > kLargeBytes && bytes > kGrowthFactor * in_bytes);
  }

  void choose_stored() {
    for (bool changed = true; changed;) {
      changed = false;
      for (ValueId id : stored_values()) {
        auto k = static_cast<size_t>(g_.values[static_cast<size_t>(id)].producer);
        if (folded_[k] && !worth_storing(g_.nodes[k], id)) {
          folded_[k] = false;
          changed = true;
        }
      }
    }
  }

  // New tensor-constant inputs go after the existing parameters, buffers and constants.
  size_t insert_position() const {
    size_t pos = 0;
    for (size_t i = 0; i < p_.signature.inputs.size(); ++i) {
      auto k = p_.signature.inputs[i].kind;
      if (k == ir::InputKind::kParameter || k == ir::InputKind::kBuffer ||
          k == ir::InputKind::kTensorConstant) {
        pos = i + 1;
      }
    }
    return pos;
  }

  void store() {
    size_t pos = insert_position();
    for (ValueId id : stored_values()) {
      const ref::Tensor& t = *values_.tensor(id);
      const ir::Value& v = g_.values[static_cast<size_t>(id)];
      std::string target = "_folded." + v.name;
      for (int n = 1; p_.constants.count(target); ++n)
        target = "_folded." + v.name + "_" + std::to_string(n);
      ir::Value placeholder;
      placeholder.type = ir::TensorType::contiguous(t.dtype(), v.type.sizes, v.type.device);
      ValueId input = ir::add_fresh_value(g_, "_folded_" + v.name, std::move(placeholder));
      g_.inputs.insert(g_.inputs.begin() + static_cast<std::ptrdiff_t>(pos), input);
      p_.signature.inputs.insert(p_.signature.inputs.begin() + static_cast<std::ptrdiff_t>(pos),
                                 {ir::InputKind::kTensorConstant, ir::TensorArg{input}, target});
      ++pos;
      p_.constants[target] = constant_from_tensor(t);
      ir::replace_uses(p_, id, input);
    }
    std::vector<bool> keep(g_.nodes.size());
    for (size_t k = 0; k < keep.size(); ++k)
      keep[k] = !folded_[k];
    ir::compact(p_, keep);
  }
};

}  // namespace

void fold_constants(ir::ExportedProgram& program) {
  Folder(program).run();
}

}  // namespace kiln::passes
