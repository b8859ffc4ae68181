#include "ir/verifier.h"

#include <set>
#include <type_traits>

#include "ir/printer.h"
#include "util/error.h"

namespace kiln::ir {

namespace {

std::string describe_node(const Node& n) {
  return "node '" + n.name + "' (" + n.target + ")";
}

class GraphVerifier {
 public:
  GraphVerifier(const Graph& g, std::string where, std::set<const Graph*>& active)
      : g_(g), where_(std::move(where)), active_(active) {}

  void run() {
    if (!active_.insert(&g_).second) fail("graph contains itself as a subgraph");
    check_values();
    defined_.assign(g_.values.size(), false);
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      context_ = "graph input #" + std::to_string(i);
      define(g_.inputs[i], -1);
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k)
      check_node(static_cast<int>(k));
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      context_ = "graph output #" + std::to_string(i);
      use(g_.outputs[i]);
    }
    context_.clear();
    for (size_t id = 0; id < g_.values.size(); ++id) {
      const Value& v = g_.values[id];
      if (v.producer >= 0 && !defined_[id]) {
        fail("value %", v.name, " names ", describe_node(g_.nodes[v.producer]),
             " as its producer, but that node does not output it");
      }
    }
    active_.erase(&g_);
  }

 private:
  const Graph& g_;
  std::string where_;
  std::set<const Graph*>& active_;
  std::vector<bool> defined_;
  std::string context_;  // the node/argument being checked

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    std::string prefix = "IR verification failed in " + where_ + ": ";
    if (!context_.empty()) prefix += context_ + ": ";
    throw error(prefix, parts...);
  }

  const Value& value(ValueId id) const {
    if (id < 0 || static_cast<size_t>(id) >= g_.values.size()) {
      fail("value id ", id, " is out of range (the graph has ", g_.values.size(), " values)");
    }
    return g_.values[id];
  }

  void check_values() {
    for (size_t id = 0; id < g_.values.size(); ++id) {
      const Value& v = g_.values[id];
      if (v.name.empty()) fail("value #", id, " has no name");
      auto found = g_.find(v.name);
      if (!found) {
        fail("value %", v.name, " (id ", id,
             ") is missing from the graph's name index; add values with Graph::add_value");
      }
      if (*found != static_cast<ValueId>(id)) {
        fail("value name %", v.name, " is used by ids ", *found, " and ", id);
      }
      if (v.producer < -1 || v.producer >= static_cast<int>(g_.nodes.size())) {
        fail("value %", v.name, " has producer index ", v.producer, ", but the graph has ",
             g_.nodes.size(), " nodes");
      }
      if (v.kind == ValueKind::kTensor && v.type.strides.size() != v.type.sizes.size()) {
        fail("tensor %", v.name, " has ", v.type.sizes.size(), " sizes but ", v.type.strides.size(),
             " strides");
      }
    }
  }

  static bool kind_fits(ValueKind actual, ValueKind expected) {
    if (expected == ValueKind::kTensor) {
      return actual == ValueKind::kTensor || actual == ValueKind::kToken;  // tokens are tensors
    }
    return actual == expected;
  }

  void expect_kind(const Value& v, ValueKind expected) const {
    if (!kind_fits(v.kind, expected)) {
      fail("value %", v.name, " is a ", value_kind_name(v.kind), " but is used as a ",
           value_kind_name(expected));
    }
  }

  // Visits every value an argument refers to, with the kind its position requires.
  template <typename F>
  void each_ref(const Argument& arg, F&& f) const {
    auto opt = [&](const std::optional<ValueId>& id, ValueKind k) {
      if (id) f(*id, k);
    };
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, TensorArg>) {
            f(a.value, ValueKind::kTensor);
          } else if constexpr (std::is_same_v<T, std::vector<TensorArg>>) {
            for (const auto& t : a)
              f(t.value, ValueKind::kTensor);
          } else if constexpr (std::is_same_v<T, OptionalTensorArg>) {
            opt(a.value, ValueKind::kTensor);
          } else if constexpr (std::is_same_v<T, std::vector<OptionalTensorArg>>) {
            for (const auto& t : a)
              opt(t.value, ValueKind::kTensor);
          } else if constexpr (std::is_same_v<T, SymIntArg>) {
            opt(a.value, ValueKind::kSymInt);
          } else if constexpr (std::is_same_v<T, std::vector<SymIntArg>>) {
            for (const auto& s : a)
              opt(s.value, ValueKind::kSymInt);
          } else if constexpr (std::is_same_v<T, SymBoolArg>) {
            opt(a.value, ValueKind::kSymBool);
          } else if constexpr (std::is_same_v<T, std::vector<SymBoolArg>>) {
            for (const auto& s : a)
              opt(s.value, ValueKind::kSymBool);
          } else if constexpr (std::is_same_v<T, SymFloatArg>) {
            opt(a.value, ValueKind::kSymFloat);
          } else if constexpr (std::is_same_v<T, std::vector<SymFloatArg>>) {
            for (const auto& s : a)
              opt(s.value, ValueKind::kSymFloat);
          } else if constexpr (std::is_same_v<T, CustomObjArg>) {
            auto id = a.value ? a.value : g_.find(a.name);
            if (!id) fail("custom object %", a.name, " is not a value of this graph");
            const Value& v = value(*id);
            if (v.name != a.name) {
              fail("custom object argument names %", a.name, " but refers to %", v.name);
            }
            f(*id, ValueKind::kCustomObj);
          }
        },
        arg);
  }

  void use(const Argument& arg) {
    each_ref(arg, [&](ValueId id, ValueKind k) {
      const Value& v = value(id);
      if (!defined_[id]) fail("value %", v.name, " is used before it is defined");
      expect_kind(v, k);
    });
  }

  void define(ValueId id, int producer) {
    const Value& v = value(id);
    if (defined_[id]) fail("value %", v.name, " is defined more than once");
    if (v.producer != producer) {
      if (producer < 0) fail("graph input %", v.name, " has producer index ", v.producer);
      fail("output %", v.name, " has producer index ", v.producer, " instead of ", producer);
    }
    if (v.view_of) check_view_of(v, producer);
    defined_[id] = true;
  }

  // A view names a root defined before it, which is a tensor and not itself a view.
  void check_view_of(const Value& v, int producer) const {
    if (producer < 0) fail("graph input %", v.name, " is marked as a view");
    const Value& root = value(*v.view_of);
    if (v.kind != ValueKind::kTensor || root.kind != ValueKind::kTensor) {
      fail("%", v.name, " is a view of %", root.name, ", but views are between tensors");
    }
    if (root.view_of) {
      fail("%", v.name, " is a view of %", root.name, ", which is itself a view (of %",
           value(*root.view_of).name, "); views name their root");
    }
    if (!defined_[*v.view_of]) fail("%", v.name, " is a view of %", root.name, ", defined later");
  }

  void check_node(int k) {
    const Node& n = g_.nodes[k];
    std::string node_text = describe_node(n);
    if (n.target.empty()) {
      context_ = node_text;
      fail("node has no target");
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const NamedArgument& in = n.inputs[i];
      context_ = node_text + ", argument ";
      context_ += in.name.empty() ? '#' + std::to_string(i) : '\'' + in.name + '\'';
      use(in.arg);
      if (const auto* s = std::get_if<SubgraphArg>(&in.arg)) {
        if (!s->graph) fail("subgraph @", s->name, " is missing");
        GraphVerifier(*s->graph, "subgraph @" + s->name + " of " + node_text + " in " + where_,
                      active_)
            .run();
      }
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      context_ = node_text + ", output #" + std::to_string(i);
      each_ref(n.outputs[i], [&](ValueId id, ValueKind kind) {
        define(id, k);
        expect_kind(g_.values[id], kind);
      });
    }
  }
};

std::string describe_spec(size_t i, std::string_view dir, std::string_view kind) {
  return std::string(dir) + " spec #" + std::to_string(i) + " (" + std::string(kind) + ")";
}

// The value a spec's argument refers to (tensor, sym or custom-object placeholder), if any.
std::optional<ValueId> spec_value(const Argument& arg) {
  auto ids = argument_values(arg);
  if (ids.size() == 1) return ids[0];
  if (const auto* c = std::get_if<CustomObjArg>(&arg)) return c->value;
  return std::nullopt;
}

// A constant the export specialized a graph input to (a symbolic literal counts too).
bool is_literal(const Argument& arg) {
  if (const auto* i = std::get_if<SymIntArg>(&arg)) return !i->value;
  if (const auto* b = std::get_if<SymBoolArg>(&arg)) return !b->value;
  if (const auto* f = std::get_if<SymFloatArg>(&arg)) return !f->value;
  return std::holds_alternative<NoneArg>(arg) || std::holds_alternative<int64_t>(arg) ||
         std::holds_alternative<double>(arg) || std::holds_alternative<bool>(arg) ||
         std::holds_alternative<std::string>(arg);
}

void verify_signature(const ExportedProgram& p) {
  const Graph& g = p.graph;
  const auto& sig = p.signature;
  auto fail = [](const auto&... parts) -> Error {
    return error("IR verification failed in signature: ", parts...);
  };
  if (sig.inputs.size() != g.inputs.size()) {
    throw fail("the signature has ", sig.inputs.size(), " input specs but the graph has ",
               g.inputs.size(), " inputs");
  }
  std::set<std::string> buffers, parameters, user_inputs;
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    const InputSpec& spec = sig.inputs[i];
    const Value& placeholder = g.values[g.inputs[i]];  // ids were checked by verify(graph)
    std::string where = describe_spec(i, "input", input_kind_name(spec.kind));
    auto id = spec_value(spec.arg);
    if (id) {
      if (*id != g.inputs[i]) {
        std::string named = *id >= 0 && static_cast<size_t>(*id) < g.values.size()
                                ? "%" + g.values[*id].name
                                : "id " + std::to_string(*id);
        throw fail(where, " refers to ", named, " but graph input #", i, " is %", placeholder.name);
      }
    } else if (is_literal(spec.arg)) {
      if (placeholder.kind != ValueKind::kConstant || placeholder.constant != spec.arg) {
        throw fail(where, " is a constant but graph input #", i, " (%", placeholder.name,
                   ") is not that constant");
      }
    } else {
      throw fail(where, " has an argument that is neither a placeholder nor a constant");
    }
    auto need = [&](bool ok, std::string_view what) {
      if (!ok) throw fail(where, " (%", placeholder.name, ") must be ", what);
    };
    bool tensor = std::holds_alternative<TensorArg>(spec.arg);
    switch (spec.kind) {
      case InputKind::kParameter:
      case InputKind::kBuffer:
      case InputKind::kTensorConstant:
        need(tensor && placeholder.kind == ValueKind::kTensor, "a tensor");
        need(!spec.target.empty(), "named by a target FQN");
        (spec.kind == InputKind::kBuffer ? buffers : parameters).insert(spec.target);
        break;
      case InputKind::kCustomObj:
        need(placeholder.kind == ValueKind::kCustomObj, "a custom object");
        need(!spec.target.empty(), "named by a target FQN");
        break;
      case InputKind::kToken:
        need(tensor, "a token tensor");
        break;
      case InputKind::kConstantInput:
        need(is_literal(spec.arg), "a constant");
        break;
      case InputKind::kUserInput:
        user_inputs.insert(placeholder.name);
        break;
    }
  }
  if (sig.outputs.size() != g.outputs.size()) {
    throw fail("the signature has ", sig.outputs.size(), " output specs but the graph has ",
               g.outputs.size(), " outputs");
  }
  for (size_t i = 0; i < sig.outputs.size(); ++i) {
    const OutputSpec& spec = sig.outputs[i];
    std::string where = describe_spec(i, "output", output_kind_name(spec.kind));
    if (!(spec.arg == g.outputs[i])) {
      throw fail(where, " is ", print_argument(spec.arg, g), " but graph output #", i, " is ",
                 print_argument(g.outputs[i], g));
    }
    auto target_in = [&](const std::set<std::string>& names, std::string_view what) {
      if (!names.count(spec.target)) {
        throw fail(where, " targets '", spec.target, "', which is not a ", what, " input");
      }
    };
    switch (spec.kind) {
      case OutputKind::kBufferMutation:
        target_in(buffers, "buffer");
        break;
      case OutputKind::kParameterMutation:
      case OutputKind::kGradientToParameter:
        target_in(parameters, "parameter");
        break;
      case OutputKind::kUserInputMutation:
      case OutputKind::kGradientToUserInput:
        target_in(user_inputs, "user");
        break;
      default:
        break;
    }
  }
}

// Folded constants: each names a tensor-constant input, and its data matches that input's type.
void verify_constants(const ExportedProgram& p) {
  const Graph& g = p.graph;
  auto fail = [](const auto&... parts) -> Error {
    return error("IR verification failed in constants: ", parts...);
  };
  std::set<std::string> used;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    const InputSpec& spec = p.signature.inputs[i];
    auto it = p.constants.find(spec.target);
    if (spec.kind != InputKind::kTensorConstant || it == p.constants.end()) continue;
    used.insert(spec.target);
    const ConstantData& c = it->second;
    const TensorType& t = g.values[g.inputs[i]].type;
    bool same = c.dtype == t.dtype && c.sizes.size() == t.rank();
    int64_t numel = 1;
    for (size_t d = 0; d < c.sizes.size(); ++d) {
      numel *= c.sizes[d];
      same = same && t.sizes[d] == sym::Expr(c.sizes[d]);
    }
    if (!same) {
      throw fail("constant '", spec.target, "' holds ", dtype_name(c.dtype), " data of ",
                 c.sizes.size(), " dims, but its input %", g.values[g.inputs[i]].name, " is ",
                 t.str());
    }
    if (c.bytes.size() != static_cast<size_t>(numel) * dtype_size(c.dtype)) {
      throw fail("constant '", spec.target, "' has ", c.bytes.size(), " bytes for ", numel,
                 " elements of ", dtype_name(c.dtype));
    }
  }
  for (const auto& [target, c] : p.constants) {
    if (!used.count(target)) {
      throw fail("constant '", target, "' is not the target of any tensor-constant input");
    }
  }
}

}  // namespace

void verify(const Graph& graph) {
  std::set<const Graph*> active;
  GraphVerifier(graph, "graph", active).run();
}

void verify(const ExportedProgram& program) {
  verify(program.graph);
  verify_signature(program);
  verify_constants(program);
  for (const auto& [name, range] : program.ranges) {
    if (range.min && range.max && *range.min > *range.max) {
      throw error("IR verification failed in ranges: symbol ", name, " has range ", range.str(),
                  " (min > max)");
    }
  }
  const Graph& g = program.graph;
  for (ValueId id : g.inputs) {
    const Value& v = g.values[id];
    std::set<std::string> symbols;
    auto add = [&](const sym::Expr& e) {
      auto free = e.free_symbols();
      symbols.insert(free.begin(), free.end());
    };
    if (v.kind == ValueKind::kTensor) {
      for (const auto& e : v.type.sizes)
        add(e);
      for (const auto& e : v.type.strides)
        add(e);
      add(v.type.storage_offset);
    } else if (v.sym) {
      add(*v.sym);
    }
    for (const auto& s : symbols) {
      if (!program.ranges.count(s)) {
        throw error("IR verification failed in ranges: symbol ", s, " in the type of input %",
                    v.name, " has no range entry");
      }
    }
  }
}

}  // namespace kiln::ir
