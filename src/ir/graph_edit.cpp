#include "ir/graph_edit.h"

#include <type_traits>

#include "ops/args.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::ir {

void for_each_ref(Argument& arg, const std::function<void(ValueId&)>& f) {
  auto opt = [&](std::optional<ValueId>& id) {
    if (id) f(*id);
  };
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, TensorArg>) {
          f(a.value);
        } else if constexpr (std::is_same_v<T, std::vector<TensorArg>>) {
          for (auto& t : a)
            f(t.value);
        } else if constexpr (std::is_same_v<T, OptionalTensorArg> || std::is_same_v<T, SymIntArg> ||
                             std::is_same_v<T, SymBoolArg> || std::is_same_v<T, SymFloatArg> ||
                             std::is_same_v<T, CustomObjArg>) {
          opt(a.value);
        } else if constexpr (std::is_same_v<T, std::vector<OptionalTensorArg>> ||
                             std::is_same_v<T, std::vector<SymIntArg>> ||
                             std::is_same_v<T, std::vector<SymBoolArg>> ||
                             std::is_same_v<T, std::vector<SymFloatArg>>) {
          for (auto& e : a)
            opt(e.value);
        }
      },
      arg);
}

std::string fresh_name(const Graph& g, std::string_view base) {
  std::string name(base.empty() ? "v" : base);
  if (!g.find(name)) return name;
  for (int n = 1;; ++n) {
    std::string candidate = name + "_" + std::to_string(n);
    if (!g.find(candidate)) return candidate;
  }
}

ValueId add_fresh_value(Graph& g, std::string_view base, Value v) {
  v.name = fresh_name(g, base);
  v.producer = -1;
  v.view_of.reset();
  return g.add_value(std::move(v));
}

void replace_uses(Graph& g, ValueId from, ValueId to) {
  auto swap = [&](ValueId& id) {
    if (id == from) id = to;
  };
  for (Node& n : g.nodes) {
    for (NamedArgument& in : n.inputs)
      for_each_ref(in.arg, swap);
  }
  for (Argument& out : g.outputs)
    for_each_ref(out, swap);
  for (Value& v : g.values) {
    if (v.view_of != from) continue;
    if (g.values[to].view_of) {
      throw error("replacing %", g.values[from].name, " by %", g.values[to].name, ": the view %",
                  v.name, " would name a root that is itself a view");
    }
    v.view_of = to;
  }
}

void replace_uses(ExportedProgram& p, ValueId from, ValueId to) {
  replace_uses(p.graph, from, to);
  for (OutputSpec& spec : p.signature.outputs)
    for_each_ref(spec.arg, [&](ValueId& id) {
      if (id == from) id = to;
    });
}

std::vector<int> use_counts(const Graph& g) {
  std::vector<int> counts(g.values.size(), 0);
  for (const Node& n : g.nodes) {
    for (const NamedArgument& in : n.inputs) {
      for (ValueId id : argument_values(in.arg))
        ++counts[static_cast<size_t>(id)];
    }
  }
  for (const Argument& out : g.outputs) {
    for (ValueId id : argument_values(out))
      ++counts[static_cast<size_t>(id)];
  }
  return counts;
}

std::vector<ValueId> node_outputs(const Node& n) {
  std::vector<ValueId> out;
  for (const Argument& a : n.outputs) {
    for (ValueId id : argument_values(a))
      out.push_back(id);
  }
  return out;
}

void renumber_producers(Graph& g) {
  for (Value& v : g.values)
    v.producer = -1;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    for (ValueId id : node_outputs(g.nodes[k]))
      g.values[static_cast<size_t>(id)].producer = static_cast<int>(k);
  }
}

void compact(ExportedProgram& p, const std::vector<bool>& keep_nodes) {
  Graph& g = p.graph;
  std::vector<Node> nodes;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (keep_nodes.empty() || keep_nodes[k]) nodes.push_back(std::move(g.nodes[k]));
  }
  std::vector<bool> live(g.values.size(), false);
  for (ValueId id : g.inputs)
    live[static_cast<size_t>(id)] = true;
  for (const Node& n : nodes) {
    for (ValueId id : node_outputs(n))
      live[static_cast<size_t>(id)] = true;
  }
  Graph out;
  std::vector<ValueId> remap(g.values.size(), -1);
  for (size_t id = 0; id < g.values.size(); ++id) {
    if (live[id]) remap[id] = out.add_value(std::move(g.values[id]));
  }
  auto fix = [&](ValueId& id) {
    if (id < 0 || static_cast<size_t>(id) >= remap.size()) {
      throw error("compacting the graph: value id ", id, " is out of range");
    }
    if (remap[static_cast<size_t>(id)] < 0) {
      throw error("compacting the graph: value #", id,
                  " is still referred to, but no input or remaining node defines it");
    }
    id = remap[static_cast<size_t>(id)];
  };
  for (Node& n : nodes) {
    for (NamedArgument& in : n.inputs)
      for_each_ref(in.arg, fix);
    for (Argument& a : n.outputs)
      for_each_ref(a, fix);
  }
  for (ValueId id : g.inputs)
    out.inputs.push_back(remap[static_cast<size_t>(id)]);
  out.outputs = std::move(g.outputs);
  for (Argument& a : out.outputs)
    for_each_ref(a, fix);
  for (Value& v : out.values) {
    if (v.view_of) fix(*v.view_of);
  }
  out.nodes = std::move(nodes);
  out.is_single_tensor_return = g.is_single_tensor_return;
  renumber_producers(out);
  g = std::move(out);
  for (InputSpec& spec : p.signature.inputs)
    for_each_ref(spec.arg, fix);
  for (OutputSpec& spec : p.signature.outputs)
    for_each_ref(spec.arg, fix);
}

namespace {

const ops::OpDef& op_for(std::string_view target) {
  const ops::OpDef* op = ops::find_op(target);
  if (op == nullptr) throw error("cannot build a node for ", target, ": the op table lacks it");
  return *op;
}

}  // namespace

Node make_node(Graph& g, std::string_view target, const CallArgs& args, std::string_view base) {
  const ops::OpDef& op = op_for(target);
  const ops::OpSchema& schema = op.parsed_schema();
  Node n;
  n.target = std::string(target);
  for (const auto& [name, arg] : args) {
    int index = schema.index_of(name);
    if (index < 0) throw error("cannot build a node for ", target, ": no argument '", name, "'");
    bool keyword = schema.args[static_cast<size_t>(index)].kwarg_only;
    n.inputs.push_back({name, arg, keyword ? ArgKindHint::kKeyword : ArgKindHint::kPositional});
  }
  ops::GraphValueSource source(g);
  std::vector<ops::OutType> types = op.shape(ops::Args(op, n, source));

  auto new_value = [&](const ops::OutType& t) {
    Value v;
    v.kind = t.kind;
    if (t.kind == ValueKind::kTensor) v.type = t.tensor;
    v.sym = t.sym;
    return add_fresh_value(g, base, std::move(v));
  };
  size_t next = 0;
  auto take = [&]() -> const ops::OutType& {
    if (next >= types.size()) {
      throw error("cannot build a node for ", target, ": its shape rule gave ", types.size(),
                  " outputs, fewer than the schema returns");
    }
    return types[next++];
  };
  for (const ops::ArgSchema& ret : schema.returns) {
    if (ret.is_list) {
      std::vector<TensorArg> list;
      while (next < types.size())
        list.push_back({new_value(take())});
      n.outputs.emplace_back(std::move(list));
      continue;
    }
    const ops::OutType& t = take();
    ValueId id = new_value(t);
    if (t.kind == ValueKind::kSymInt) {
      n.outputs.emplace_back(SymIntArg{id, 0});
    } else if (t.kind == ValueKind::kSymBool) {
      n.outputs.emplace_back(SymBoolArg{id, false});
    } else {
      n.outputs.emplace_back(TensorArg{id});
    }
  }
  auto outs = node_outputs(n);
  n.name = outs.empty() ? fresh_name(g, base) : g.values[static_cast<size_t>(outs[0])].name;
  return n;
}

std::vector<ValueId> append_node(Graph& g, std::string_view target, const CallArgs& args,
                                 std::string_view base) {
  Node n = make_node(g, target, args, base);
  std::vector<ValueId> outs = node_outputs(n);
  for (ValueId id : outs)
    g.values[static_cast<size_t>(id)].producer = static_cast<int>(g.nodes.size());
  g.nodes.push_back(std::move(n));
  return outs;
}

int input_index(const Node& n, std::string_view name) {
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i].name == name) return static_cast<int>(i);
  }
  const ops::OpDef* op = ops::find_op(n.target);
  if (op == nullptr) return -1;
  int index = op->parsed_schema().index_of(name);
  if (index >= 0 && static_cast<size_t>(index) < n.inputs.size() &&
      n.inputs[static_cast<size_t>(index)].name.empty()) {
    return index;
  }
  return -1;
}

}  // namespace kiln::ir
