// functionalize: rewrites in-place ops into their functional forms, so that every value is
// written once. Mutation through a view becomes a scatter of the new view contents back into
// its base (slice_scatter, select_scatter, or the inverse of a permute or reshape), and every
// later read of the base or of any view of it reads the updated value: views are re-taken
// from the new base when read after a mutation. Mutated graph inputs get mutation outputs.
//
// Each tensor value is tracked as an alias: a root (a graph input or the output of a non-view
// op) and the chain of view ops from it. A root has a version, bumped by each mutation, and
// the value holding its current contents; a view read at a version is materialized once, by
// replaying its chain on the current root.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

// One view op on an alias chain: the original node and which of its (flattened) outputs.
struct Step {
  int node = -1;
  int output = 0;
  auto operator<=>(const Step&) const = default;
};

struct Alias {
  ValueId root = -1;
  std::vector<Step> steps;
};

std::string describe(const ir::Node& n) {
  return "node '" + n.name + "' (" + n.target + ")";
}

// The name of the single mutated schema argument of an op, or "" when it mutates none.
std::string mutated_arg(const ops::OpDef& op, const ir::Node& n) {
  std::string found;
  for (const ops::ArgSchema& a : op.parsed_schema().args) {
    if (!a.is_mutated) continue;
    if (!found.empty()) {
      throw error("functionalize: ", describe(n), " mutates more than one argument ('", found,
                  "' and '", a.name, "')");
    }
    found = a.name;
  }
  return found;
}

std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& dims) {
  auto rank = static_cast<int64_t>(dims.size());
  std::vector<int64_t> inv(dims.size());
  for (int64_t i = 0; i < rank; ++i) {
    int64_t d = dims[static_cast<size_t>(i)];
    inv[static_cast<size_t>(d < 0 ? d + rank : d)] = i;
  }
  return inv;
}

class Functionalizer {
 public:
  explicit Functionalizer(ir::ExportedProgram& p)
      : p_(p), g_(p.graph), old_(std::move(p.graph.nodes)) {
    p.graph.nodes.clear();
    size_t count = g_.values.size();
    alias_.resize(count);
    orig_types_.reserve(count);
    for (const ir::Value& v : g_.values)
      orig_types_.push_back(v.type);
    for (ValueId id : g_.inputs) {
      if (g_.values[static_cast<size_t>(id)].kind == ir::ValueKind::kTensor) {
        alias_[static_cast<size_t>(id)] = Alias{id, {}};
      }
    }
  }

  void run() {
    for (size_t k = 0; k < old_.size(); ++k)
      process(static_cast<int>(k));
    for (ir::Argument& out : g_.outputs)
      rewrite(out);
    add_mutation_outputs();
    for (size_t i = 0; i < g_.outputs.size(); ++i)
      p_.signature.outputs[i].arg = g_.outputs[i];
    g_.nodes = std::move(out_);
    ir::compact(p_);
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;
  std::vector<ir::Node> old_;                // the nodes as exported
  std::vector<ir::Node> out_;                // the rewritten nodes, in order
  std::vector<std::optional<Alias>> alias_;  // per original tensor value
  std::vector<ir::TensorType> orig_types_;   // per original value, as exported
  std::map<ValueId, ValueId> current_;       // root -> value holding its contents now
  std::map<ValueId, int> version_;           // root -> number of mutations so far
  std::map<std::tuple<ValueId, int, std::vector<Step>>, ValueId> cache_;
  std::set<int> uncertain_;       // reshapes that may have copied in eager PyTorch
  std::set<ValueId> relaid_;      // values whose layout is no longer the exported one
  std::vector<ValueId> mutated_;  // graph inputs written

  ValueId current(ValueId root) const {
    auto it = current_.find(root);
    return it == current_.end() ? root : it->second;
  }
  int version(ValueId root) const {
    auto it = version_.find(root);
    return it == version_.end() ? 0 : it->second;
  }

  // The value to read for original value `id` at this point of the program.
  ValueId use(ValueId id) {
    if (static_cast<size_t>(id) >= alias_.size() || !alias_[static_cast<size_t>(id)]) return id;
    return materialize(*alias_[static_cast<size_t>(id)]);
  }

  void rewrite(ir::Argument& arg) {
    ir::for_each_ref(arg, [&](ValueId& id) { id = use(id); });
  }

  ValueId materialize(const Alias& a) {
    if (a.steps.empty()) return current(a.root);
    auto key = std::make_tuple(a.root, version(a.root), a.steps);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    // Read after a mutation of its root: take the view again from the current contents.
    const Step& last = a.steps.back();
    const ir::Node& orig = old_[static_cast<size_t>(last.node)];
    if (uncertain_.count(last.node)) {
      throw error("functionalize: ", describe(orig), " reshapes a tensor whose layout does not ",
                  "prove it a view, and is read after its base is mutated; whether it sees the ",
                  "mutation depends on eager PyTorch's layout");
    }
    Alias parent{a.root, {a.steps.begin(), a.steps.end() - 1}};
    ValueId base = materialize(parent);
    ir::Node n = orig;
    int self = ir::input_index(n, "self");
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (static_cast<int>(i) == self) {
        n.inputs[i].arg = ir::TensorArg{base};
      } else {
        rewrite(n.inputs[i].arg);
      }
    }
    std::vector<ValueId> outs = emit_view(n, /*keep_outputs=*/false, /*input_relaid=*/true);
    for (size_t k = 0; k < outs.size(); ++k) {
      std::vector<Step> steps = parent.steps;
      steps.push_back({last.node, static_cast<int>(k)});
      cache_[std::make_tuple(a.root, version(a.root), steps)] = outs[k];
    }
    return outs.at(static_cast<size_t>(last.output));
  }

  // Places a view node: the exported one keeps its values, a view taken again gets fresh ones.
  // Where the input is not the exported one (a new base, or a value a write made a fresh
  // tensor), the outputs' strides and offset are derived anew from it.
  std::vector<ValueId> emit_view(ir::Node& n, bool keep_outputs, bool input_relaid) {
    if (!keep_outputs) {
      for (ir::Argument& out : n.outputs) {
        ir::for_each_ref(out, [&](ValueId& id) {
          ir::Value v = g_.values[static_cast<size_t>(id)];
          std::string base = v.name;
          id = ir::add_fresh_value(g_, base, std::move(v));
        });
      }
    }
    std::vector<ValueId> outs = ir::node_outputs(n);
    if (!keep_outputs && !outs.empty()) n.name = g_.values[static_cast<size_t>(outs[0])].name;
    if ((!keep_outputs || input_relaid) && refresh_view_layout(g_, n, p_.ranges)) {
      relaid_.insert(outs.begin(), outs.end());
    }
    out_.push_back(n);
    return outs;
  }

  // Whether rewriting changed what the node reads, or what it reads changed layout.
  bool inputs_relaid(const ir::Node& orig, const ir::Node& rewritten) const {
    for (size_t i = 0; i < orig.inputs.size(); ++i) {
      auto a = ir::argument_values(orig.inputs[i].arg);
      auto b = ir::argument_values(rewritten.inputs[i].arg);
      if (a != b) return true;
      for (ValueId id : b) {
        if (relaid_.count(id)) return true;
      }
    }
    return false;
  }

  std::vector<ValueId> call(std::string_view target, const ir::CallArgs& args,
                            std::string_view base) {
    ir::Node n = ir::make_node(g_, target, args, base);
    std::vector<ValueId> outs = ir::node_outputs(n);
    out_.push_back(std::move(n));
    return outs;
  }

  // Writes inside the subgraph of a higher-order op (other than those inline_higher_order
  // splices in) are not rewritten: refuse them rather than run them wrong.
  static void refuse_writes_in_subgraphs(const ir::Node& n) {
    for (const ir::NamedArgument& in : n.inputs) {
      const auto* sub = std::get_if<ir::SubgraphArg>(&in.arg);
      if (sub == nullptr || !sub->graph) continue;
      for (const ir::Node& inner : sub->graph->nodes) {
        const ops::OpDef* op = ops::find_op(inner.target);
        if (op != nullptr && !mutated_arg(*op, inner).empty()) {
          throw error("functionalize: ", describe(inner), " in subgraph @", sub->name, " of ",
                      describe(n), " writes in place; writes inside subgraphs are not supported");
        }
        refuse_writes_in_subgraphs(inner);
      }
    }
  }

  void process(int k) {
    const ir::Node& orig = old_[static_cast<size_t>(k)];
    refuse_writes_in_subgraphs(orig);
    const ops::OpDef* op = ops::find_op(orig.target);
    if (op != nullptr && !op->functional.empty()) return process_inplace(k, *op);
    if (op != nullptr && !mutated_arg(*op, orig).empty()) {
      throw error("functionalize: ", describe(orig), " mutates its argument '",
                  mutated_arg(*op, orig), "' and the op table has no functional form for it");
    }
    if (op != nullptr && op->is_view && view_kind(orig) != ReshapeKind::kCopy) {
      return process_view(k);
    }
    // A functional op (or a reshape that copies): its outputs are new roots.
    ir::Node n = orig;
    for (ir::NamedArgument& in : n.inputs)
      rewrite(in.arg);
    for (ValueId id : ir::node_outputs(n)) {
      if (g_.values[static_cast<size_t>(id)].kind == ir::ValueKind::kTensor) {
        alias_[static_cast<size_t>(id)] = Alias{id, {}};
      }
    }
    out_.push_back(std::move(n));
  }

  ReshapeKind view_kind(const ir::Node& n) {
    if (!is_reshape_op(n.target)) return ReshapeKind::kView;
    int self = ir::input_index(n, "self");
    auto outs = ir::node_outputs(n);
    if (self < 0 || outs.size() != 1) return ReshapeKind::kView;
    auto in = ir::argument_values(n.inputs[static_cast<size_t>(self)].arg);
    if (in.size() != 1) return ReshapeKind::kView;
    return reshape_kind(n.target, orig_types_[static_cast<size_t>(in[0])],
                        g_.values[static_cast<size_t>(outs[0])].type.sizes, p_.ranges);
  }

  void process_view(int k) {
    const ir::Node& orig = old_[static_cast<size_t>(k)];
    if (view_kind(orig) == ReshapeKind::kUnknown) uncertain_.insert(k);
    int self = ir::input_index(orig, "self");
    if (self < 0) throw error("functionalize: view ", describe(orig), " has no 'self' argument");
    auto in = ir::argument_values(orig.inputs[static_cast<size_t>(self)].arg);
    if (in.size() != 1 || !alias_.at(static_cast<size_t>(in[0]))) {
      throw error("functionalize: view ", describe(orig), " does not view a tensor");
    }
    Alias base = *alias_[static_cast<size_t>(in[0])];
    ir::Node n = orig;
    for (ir::NamedArgument& a : n.inputs)
      rewrite(a.arg);
    std::vector<ValueId> outs = emit_view(n, /*keep_outputs=*/true, inputs_relaid(orig, n));
    for (size_t o = 0; o < outs.size(); ++o) {
      Alias a = base;
      a.steps.push_back({k, static_cast<int>(o)});
      cache_[std::make_tuple(a.root, version(a.root), a.steps)] = outs[o];
      alias_[static_cast<size_t>(outs[o])] = std::move(a);
    }
  }

  void process_inplace(int k, const ops::OpDef& op) {
    const ir::Node& orig = old_[static_cast<size_t>(k)];
    std::string name = mutated_arg(op, orig);
    int index = ir::input_index(orig, name);
    auto targets = index < 0 ? std::vector<ValueId>{}
                             : ir::argument_values(orig.inputs[static_cast<size_t>(index)].arg);
    if (targets.size() != 1) {
      throw error("functionalize: ", describe(orig), " has no tensor for its mutated argument '",
                  name, "'");
    }
    if (!alias_.at(static_cast<size_t>(targets[0]))) {
      throw error("functionalize: ", describe(orig), " writes to %",
                  g_.values[static_cast<size_t>(targets[0])].name, ", which is not a tensor");
    }
    Alias target = *alias_[static_cast<size_t>(targets[0])];
    const ir::DType target_dtype = g_.values[static_cast<size_t>(targets[0])].type.dtype;

    ir::Node n = orig;
    n.target = std::string(op.functional);
    for (ir::NamedArgument& a : n.inputs)
      rewrite(a.arg);
    const ops::OpDef* functional = ops::find_op(n.target);
    if (functional == nullptr) {
      throw error("functionalize: ", describe(orig), ": the op table lacks its functional form ",
                  n.target);
    }
    // Arguments keep their positions; a few functional forms name them differently
    // (dropout_(self) -> dropout(input)).
    const ops::OpSchema& from = op.parsed_schema();
    const ops::OpSchema& to = functional->parsed_schema();
    for (ir::NamedArgument& a : n.inputs) {
      int i = a.name.empty() ? -1 : from.index_of(a.name);
      if (i >= 0 && static_cast<size_t>(i) < to.args.size()) {
        a.name = to.args[static_cast<size_t>(i)].name;
      }
    }
    ops::GraphValueSource source(g_);
    std::vector<ops::OutType> types = functional->shape(ops::Args(*functional, n, source));
    if (types.empty() || types[0].kind != ir::ValueKind::kTensor) {
      throw error("functionalize: ", n.target, " returns no tensor");
    }
    auto outs = ir::node_outputs(orig);
    ValueId result;
    if (outs.size() == 1) {
      result = outs[0];  // the functional op defines the in-place op's output value
      ir::TensorType& t = g_.values[static_cast<size_t>(result)].type;
      if (t.strides != types[0].tensor.strides ||
          t.storage_offset != types[0].tensor.storage_offset) {
        relaid_.insert(result);
      }
      t = types[0].tensor;
      n.outputs = {ir::TensorArg{result}};
    } else {
      ir::Value v;
      v.type = types[0].tensor;
      std::string base = outs.empty() ? orig.name : g_.values[static_cast<size_t>(outs[0])].name;
      result = ir::add_fresh_value(g_, base, v);
      n.outputs = {ir::TensorArg{result}};
      n.name = g_.values[static_cast<size_t>(result)].name;
    }
    out_.push_back(n);
    if (types[0].tensor.dtype != target_dtype) {
      // The in-place op stores its result in the mutated tensor's dtype.
      result = call("aten._to_copy.default",
                    {{"self", ir::TensorArg{result}}, {"dtype", ir::ScalarTypeArg{target_dtype}}},
                    "_to_copy")[0];
    }
    write_back(target, result, orig);
    for (ValueId id : outs)
      alias_[static_cast<size_t>(id)] = target;
  }

  // The root's new contents after the view `a` of it was set to `contents`.
  void write_back(const Alias& a, ValueId contents, const ir::Node& at) {
    ValueId root = a.root;
    std::vector<ValueId> prefix;  // prefix[j]: the view through steps[0, j) now
    for (size_t j = 0; j < a.steps.size(); ++j)
      prefix.push_back(materialize({root, {a.steps.begin(), a.steps.begin() + j}}));
    std::vector<ValueId> updated(a.steps.size() + 1);
    updated[a.steps.size()] = contents;
    for (size_t j = a.steps.size(); j-- > 0;)
      updated[j] = scatter(a.steps[j], prefix[j], updated[j + 1], at);
    int v = version(root) + 1;
    version_[root] = v;
    current_[root] = updated[0];
    for (size_t j = 1; j <= a.steps.size(); ++j)
      cache_[std::make_tuple(root, v, std::vector<Step>(a.steps.begin(), a.steps.begin() + j))] =
          updated[j];
    if (is_input(root) && std::find(mutated_.begin(), mutated_.end(), root) == mutated_.end()) {
      mutated_.push_back(root);
    }
  }

  bool is_input(ValueId id) const {
    return std::find(g_.inputs.begin(), g_.inputs.end(), id) != g_.inputs.end();
  }

  // Copies the node's argument `name` (as it was written) into `args`, if present.
  static void copy_arg(const ir::Node& n, std::string_view name, ir::CallArgs& args,
                       std::string_view as = {}) {
    int i = ir::input_index(n, name);
    if (i >= 0)
      args.emplace_back(std::string(as.empty() ? name : as), n.inputs[static_cast<size_t>(i)].arg);
  }

  // The sizes of `v` as a SymInt[] argument, reading symbolic dims with sym_size.
  ir::Argument sizes_arg(ValueId v) {
    const auto sizes = g_.values[static_cast<size_t>(v)].type.sizes;
    std::vector<ir::SymIntArg> list;
    bool all_const = true;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (auto c = sizes[d].as_const()) {
        list.push_back({std::nullopt, *c});
        continue;
      }
      all_const = false;
      ValueId s =
          call("aten.sym_size.int", {{"self", ir::TensorArg{v}}, {"dim", static_cast<int64_t>(d)}},
               "sym_size_int")[0];
      list.push_back({s, 0});
    }
    if (!all_const) return list;
    std::vector<int64_t> ints;
    for (const auto& s : list)
      ints.push_back(s.literal);
    return ints;
  }

  // The base `base` with the view `step` of it replaced by `src`.
  ValueId scatter(const Step& step, ValueId base, ValueId src, const ir::Node& at) {
    const ir::Node& view = old_[static_cast<size_t>(step.node)];
    const std::string& t = view.target;
    auto fail = [&](const std::string& why) -> Error {
      return error("functionalize: ", describe(at), " writes through the view ", describe(view),
                   ", ", why);
    };
    if (uncertain_.count(step.node)) {
      throw fail(
          "a reshape whose input layout does not prove it a view (eager PyTorch may have "
          "copied, and then the write would not reach the base)");
    }
    ir::CallArgs args{{"self", ir::TensorArg{base}}, {"src", ir::TensorArg{src}}};
    if (t == "aten.slice.Tensor") {
      for (const char* a : {"dim", "start", "end", "step"})
        copy_arg(view, a, args);
      return call("aten.slice_scatter.default", args, "slice_scatter")[0];
    }
    if (t == "aten.select.int") {
      copy_arg(view, "dim", args);
      copy_arg(view, "index", args);
      return call("aten.select_scatter.default", args, "select_scatter")[0];
    }
    if (t == "aten.unbind.int") {
      copy_arg(view, "dim", args);
      args.emplace_back("index", ir::SymIntArg{std::nullopt, step.output});
      return call("aten.select_scatter.default", args, "select_scatter")[0];
    }
    if (t == "aten.narrow.default" || t == "aten.split.Tensor" ||
        t == "aten.split_with_sizes.default" || t == "aten.chunk.default") {
      return slice_back(view, step, args, fail);
    }
    if (t == "aten.permute.default") {
      int i = ir::input_index(view, "dims");
      const auto* dims =
          i < 0 ? nullptr
                : std::get_if<std::vector<int64_t>>(&view.inputs[static_cast<size_t>(i)].arg);
      if (dims == nullptr) throw fail("whose dims are not a literal list");
      return call("aten.permute.default",
                  {{"self", ir::TensorArg{src}}, {"dims", inverse_permutation(*dims)}},
                  "permute")[0];
    }
    if (t == "aten.transpose.int") {
      ir::CallArgs targs{{"self", ir::TensorArg{src}}};
      copy_arg(view, "dim0", targs);
      copy_arg(view, "dim1", targs);
      return call(t, targs, "transpose")[0];
    }
    if (t == "aten.t.default") return call(t, {{"self", ir::TensorArg{src}}}, "t")[0];
    if (t == "aten.movedim.int") {
      ir::CallArgs margs{{"self", ir::TensorArg{src}}};
      copy_arg(view, "destination", margs, "source");
      copy_arg(view, "source", margs, "destination");
      return call(t, margs, "movedim")[0];
    }
    if (t == "aten.alias.default" || t == "aten.detach.default") return src;
    if (is_reshape_op(t) || t == "aten.unsqueeze.default" || t == "aten.squeeze.default" ||
        t == "aten.squeeze.dim" || t == "aten.squeeze.dims" || t == "aten.unflatten.int") {
      // These keep the elements' row-major order: reshaping back restores the base's shape.
      return call("aten.reshape.default",
                  {{"self", ir::TensorArg{src}}, {"shape", sizes_arg(base)}}, "reshape")[0];
    }
    if (t == "aten.expand.default" || t == "aten.expand_as.default") {
      throw fail("which repeats elements (PyTorch refuses such writes)");
    }
    throw fail("which functionalization cannot invert");
  }

  // narrow, split, split_with_sizes and chunk outputs are slices of one dim.
  template <typename Fail>
  ValueId slice_back(const ir::Node& view, const Step& step, ir::CallArgs& args, Fail&& fail) {
    const ir::TensorType& base_type = orig_types_[static_cast<size_t>(ir::argument_values(
        view.inputs[static_cast<size_t>(ir::input_index(view, "self"))].arg)[0])];
    ops::GraphValueSource source(g_);
    const ops::OpDef* op = ops::find_op(view.target);
    ops::Args bound(*op, view, source);
    int64_t rank = static_cast<int64_t>(base_type.rank());
    int64_t dim = bound.to_int("dim");
    if (dim < 0) dim += rank;
    sym::Expr start = 0, length;
    if (view.target == "aten.narrow.default") {
      start = bound.sym("start");
      length = bound.sym("length");
      if (auto c = start.as_const(); c && *c < 0)
        start = base_type.sizes[static_cast<size_t>(dim)] + *c;
    } else {
      auto outs = ir::node_outputs(view);
      for (int o = 0; o < step.output; ++o)
        start = start + orig_types_[static_cast<size_t>(outs[static_cast<size_t>(o)])]
                            .sizes[static_cast<size_t>(dim)];
      length = orig_types_[static_cast<size_t>(outs[static_cast<size_t>(step.output)])]
                   .sizes[static_cast<size_t>(dim)];
    }
    auto s = start.as_const();
    auto e = (start + length).as_const();
    if (!s || !e)
      throw fail("whose bounds (" + start.str() + ", +" + length.str() + ") are symbolic");
    args.emplace_back("dim", dim);
    args.emplace_back("start", ir::SymIntArg{std::nullopt, *s});
    args.emplace_back("end", ir::SymIntArg{std::nullopt, *e});
    return call("aten.slice_scatter.default", args, "slice_scatter")[0];
  }

  // Buffers, parameters and user inputs written by the program get mutation outputs holding
  // their final contents, placed before the user outputs as export places them.
  void add_mutation_outputs() {
    auto& specs = p_.signature.outputs;
    std::set<std::string> existing;
    for (const ir::OutputSpec& o : specs) {
      if (o.kind == ir::OutputKind::kBufferMutation ||
          o.kind == ir::OutputKind::kParameterMutation ||
          o.kind == ir::OutputKind::kUserInputMutation) {
        existing.insert(o.target);
      }
    }
    size_t pos = 0;
    while (pos < specs.size() && specs[pos].kind != ir::OutputKind::kUserOutput &&
           specs[pos].kind != ir::OutputKind::kLossOutput) {
      ++pos;
    }
    // In signature order, as export orders its mutation outputs.
    std::vector<ValueId> written;
    for (ValueId id : g_.inputs) {
      if (std::find(mutated_.begin(), mutated_.end(), id) != mutated_.end()) written.push_back(id);
    }
    for (ValueId root : written) {
      size_t i = static_cast<size_t>(std::find(g_.inputs.begin(), g_.inputs.end(), root) -
                                     g_.inputs.begin());
      const ir::InputSpec& in = p_.signature.inputs[i];
      ir::OutputSpec spec;
      switch (in.kind) {
        case ir::InputKind::kBuffer:
          spec = {ir::OutputKind::kBufferMutation, {}, in.target};
          break;
        case ir::InputKind::kParameter:
          spec = {ir::OutputKind::kParameterMutation, {}, in.target};
          break;
        case ir::InputKind::kUserInput:
          spec = {
              ir::OutputKind::kUserInputMutation, {}, g_.values[static_cast<size_t>(root)].name};
          break;
        default:
          throw error("functionalize: the program writes its ", ir::input_kind_name(in.kind),
                      " input %", g_.values[static_cast<size_t>(root)].name,
                      ", which has no mutation output kind");
      }
      // An export that already returns the new value keeps its output; reads of the input
      // in it were renamed to the input's final contents above.
      if (existing.count(spec.target)) continue;
      spec.arg = ir::TensorArg{current(root)};
      specs.insert(specs.begin() + static_cast<std::ptrdiff_t>(pos), spec);
      g_.outputs.insert(g_.outputs.begin() + static_cast<std::ptrdiff_t>(pos), spec.arg);
      ++pos;
    }
  }
};

}  // namespace

void functionalize(ir::ExportedProgram& program) {
  Functionalizer(program).run();
}

}  // namespace kiln::passes
