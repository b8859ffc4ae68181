#include "ir/printer.h"

#include <charconv>
#include <cmath>
#include <set>
#include <type_traits>

namespace kiln::ir {

namespace {

std::string value_ref(ValueId id, const Graph& g) {
  // Out-of-range ids are printed rather than trusted: the printer is used on broken graphs too.
  if (id < 0 || static_cast<size_t>(id) >= g.values.size()) {
    return "%<bad id " + std::to_string(id) + ">";
  }
  return "%" + g.values[id].name;
}

std::string bool_text(bool b) {
  return b ? "True" : "False";
}

template <typename T, typename F>
std::string join_list(const std::vector<T>& items, F&& each) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += each(items[i]);
  }
  return out + "]";
}

std::string tensor_type_text(const TensorType& t) {
  std::string out = t.str();
  auto exprs = [](const std::vector<sym::Expr>& v) {
    return join_list(v, [](const sym::Expr& e) { return e.str(); });
  };
  if (t.strides.size() != t.sizes.size() || t.strides != TensorType::contiguous_strides(t.sizes)) {
    out += " stride=" + exprs(t.strides);
  }
  if (t.storage_offset != sym::Expr(0)) out += " offset=" + t.storage_offset.str();
  if (t.layout != Layout::kStrided) out += " layout=" + std::string(layout_name(t.layout));
  if (t.device != Device{}) out += " " + t.device.str();
  return out;
}

// A value where it is defined: "%name: type".
std::string value_def(ValueId id, const Graph& g) {
  std::string out = value_ref(id, g);
  if (id >= 0 && static_cast<size_t>(id) < g.values.size()) {
    out += ": " + print_type(g.values[id]);
    if (const auto& root = g.values[id].view_of) out += " view_of=" + value_ref(*root, g);
  }
  return out;
}

// A node output or graph input: the values it defines, with their types.
std::string def_text(const Argument& arg, const Graph& g) {
  return std::visit(
      [&](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, TensorArg>) {
          return value_def(a.value, g);
        } else if constexpr (std::is_same_v<T, std::vector<TensorArg>>) {
          return join_list(a, [&](const TensorArg& t) { return value_def(t.value, g); });
        } else if constexpr (std::is_same_v<T, OptionalTensorArg> || std::is_same_v<T, SymIntArg> ||
                             std::is_same_v<T, SymBoolArg> || std::is_same_v<T, SymFloatArg>) {
          return a.value ? value_def(*a.value, g) : print_argument(arg, g);
        } else if constexpr (std::is_same_v<T, std::vector<OptionalTensorArg>> ||
                             std::is_same_v<T, std::vector<SymIntArg>> ||
                             std::is_same_v<T, std::vector<SymBoolArg>> ||
                             std::is_same_v<T, std::vector<SymFloatArg>>) {
          return join_list(a, [&](const auto& e) {
            return e.value ? value_def(*e.value, g) : print_argument(Argument(e), g);
          });
        } else {
          return print_argument(arg, g);
        }
      },
      arg);
}

class Printer {
 public:
  std::string out;

  void graph(const Graph& g, const std::string& header) {
    out += header + "(";
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      if (i) out += ", ";
      out += value_def(g.inputs[i], g);
    }
    out += "):\n";
    for (const auto& node : g.nodes)
      this->node(node, g);
    out += "  return ";
    if (g.is_single_tensor_return && g.outputs.size() == 1) {
      out += print_argument(g.outputs[0], g);
    } else {
      out += "(";
      for (size_t i = 0; i < g.outputs.size(); ++i) {
        if (i) out += ", ";
        out += print_argument(g.outputs[i], g);
      }
      out += ")";
    }
    out += "\n";
  }

  // Prints `g` and then, in order of first use, every subgraph reachable from it.
  void graph_with_subgraphs(const Graph& g) {
    graph(g, "graph");
    for (size_t i = 0; i < pending_.size(); ++i) {
      const SubgraphArg& s = pending_[i];
      out += "\n";
      graph(*s.graph, "subgraph @" + s.name);
    }
  }

 private:
  std::vector<SubgraphArg> pending_;
  std::set<const Graph*> seen_;

  void node(const Node& n, const Graph& g) {
    out += "  ";
    if (n.outputs.size() == 1) {
      out += def_text(n.outputs[0], g) + " = ";
    } else if (n.outputs.size() > 1) {
      out += "(";
      for (size_t i = 0; i < n.outputs.size(); ++i) {
        if (i) out += ", ";
        out += def_text(n.outputs[i], g);
      }
      out += ") = ";
    }
    out += n.target + "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const NamedArgument& in = n.inputs[i];
      if (i) out += ", ";
      if (in.kind != ArgKindHint::kPositional && !in.name.empty()) out += in.name + "=";
      out += print_argument(in.arg, g);
      if (const auto* s = std::get_if<SubgraphArg>(&in.arg); s && s->graph) {
        if (seen_.insert(s->graph.get()).second) pending_.push_back(*s);
      }
    }
    out += ")\n";
  }
};

}  // namespace

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  std::string s(buf, res.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";  // keep it visibly a float
  return s;
}

std::string quote_string(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string print_argument(const Argument& arg, const Graph& g) {
  return std::visit(
      [&](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, NoneArg>) {
          return "None";
        } else if constexpr (std::is_same_v<T, TensorArg>) {
          return value_ref(a.value, g);
        } else if constexpr (std::is_same_v<T, OptionalTensorArg>) {
          return a.value ? value_ref(*a.value, g) : "None";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(a);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_double(a);
        } else if constexpr (std::is_same_v<T, bool>) {
          return bool_text(a);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return quote_string(a);
        } else if constexpr (std::is_same_v<T, SymIntArg>) {
          return a.value ? value_ref(*a.value, g) : std::to_string(a.literal);
        } else if constexpr (std::is_same_v<T, SymBoolArg>) {
          return a.value ? value_ref(*a.value, g) : bool_text(a.literal);
        } else if constexpr (std::is_same_v<T, SymFloatArg>) {
          return a.value ? value_ref(*a.value, g) : format_double(a.literal);
        } else if constexpr (std::is_same_v<T, ScalarTypeArg>) {
          return std::string(dtype_name(a.dtype));
        } else if constexpr (std::is_same_v<T, MemoryFormat>) {
          return std::string(memory_format_name(a));
        } else if constexpr (std::is_same_v<T, Layout>) {
          return std::string(layout_name(a));
        } else if constexpr (std::is_same_v<T, Device>) {
          return a.str();
        } else if constexpr (std::is_same_v<T, SubgraphArg>) {
          return "@" + a.name;
        } else if constexpr (std::is_same_v<T, CustomObjArg>) {
          return a.value ? value_ref(*a.value, g) : "%" + a.name;
        } else if constexpr (std::is_same_v<T, OperatorArg>) {
          return a.target;
        } else {
          // The list alternatives: print each element as its own argument.
          return join_list(a, [&](const auto& e) { return print_argument(Argument(e), g); });
        }
      },
      arg);
}

std::string print_type(const Value& v) {
  switch (v.kind) {
    case ValueKind::kTensor:
      return tensor_type_text(v.type);
    case ValueKind::kSymInt:
    case ValueKind::kSymBool:
      return std::string(value_kind_name(v.kind)) + (v.sym ? "(" + v.sym->str() + ")" : "");
    case ValueKind::kCustomObj:
      return "CustomObj(" + v.class_fqn + ")";
    case ValueKind::kConstant:
      return "Const(" + print_argument(v.constant, Graph{}) + ")";
    case ValueKind::kSymFloat:
    case ValueKind::kToken:
      break;
  }
  return std::string(value_kind_name(v.kind));
}

std::string print(const Graph& graph) {
  Printer p;
  p.graph_with_subgraphs(graph);
  return p.out;
}

std::string print(const ExportedProgram& program) {
  const Graph& g = program.graph;
  std::string out = print(g);
  out += "signature:\n";
  for (const auto& in : program.signature.inputs) {
    out += "  input " + print_argument(in.arg, g) + ": " + std::string(input_kind_name(in.kind));
    if (!in.target.empty()) out += " " + in.target;
    if (in.kind == InputKind::kBuffer && !in.persistent) out += " non_persistent";
    out += "\n";
  }
  for (const auto& o : program.signature.outputs) {
    out += "  output " + print_argument(o.arg, g) + ": " + std::string(output_kind_name(o.kind));
    if (!o.target.empty()) out += " " + o.target;
    out += "\n";
  }
  if (!program.constants.empty()) {
    out += "constants:\n";
    for (const auto& [target, c] : program.constants) {
      out += "  " + target + ": " + std::string(dtype_name(c.dtype)) +
             join_list(c.sizes, [](int64_t v) { return std::to_string(v); }) + ", " +
             std::to_string(c.bytes.size()) + " bytes\n";
    }
  }
  if (!program.ranges.empty()) {
    out += "ranges:\n";
    for (const auto& [name, range] : program.ranges)
      out += "  " + name + ": " + range.str() + "\n";
  }
  return out;
}

}  // namespace kiln::ir
