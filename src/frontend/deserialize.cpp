// ExportedProgram JSON -> ir::ExportedProgram: graphs, nodes, signature, ranges
// (pt2-format.md §3). Arguments and tensor metadata are in deserialize_args.cpp.

#include "frontend/deserialize.h"

#include <cmath>
#include <limits>
#include <new>

#include "frontend/deserialize_impl.h"
#include "frontend/json_depth.h"
#include "ir/verifier.h"

namespace kiln::frontend {

namespace {

using detail::Context;
using detail::find;
using detail::Json;
using detail::require;
using detail::to_string;

constexpr int kSchemaMajor = 8;

// The name of the first value a node's outputs define, without validating anything.
std::optional<std::string> first_output_name(const Json* outputs) {
  if (!outputs || !outputs->is_array() || outputs->empty()) return std::nullopt;
  const Json& first = (*outputs)[0];
  if (!first.is_object() || first.size() != 1) return std::nullopt;
  const Json* p = &first.begin().value();
  if (p->is_array()) {
    if (p->empty()) return std::nullopt;
    p = &(*p)[0];
  }
  if (!p->is_object()) return std::nullopt;
  if (p->size() == 1 && p->begin().value().is_object()) p = &p->begin().value();  // as_tensor
  for (const char* key : {"name", "as_name"}) {
    if (const Json* n = find(*p, key); n && n->is_string()) return n->get<std::string>();
  }
  return std::nullopt;
}

std::map<std::string, std::string> read_metadata(Context& ctx, const Json* j) {
  std::map<std::string, std::string> out;
  if (!j) return out;
  detail::expect_object(ctx, *j, "metadata");
  for (const auto& [key, value] : j->items()) {
    if (value.is_null()) continue;
    out[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out;
}

ir::ArgKindHint arg_kind(Context& ctx, const Json* j) {
  if (!j) return ir::ArgKindHint::kUnknown;
  switch (detail::to_int(ctx, *j, "argument kind")) {
    case 0:
      return ir::ArgKindHint::kUnknown;
    case 1:
      return ir::ArgKindHint::kPositional;
    case 2:
      return ir::ArgKindHint::kKeyword;
    default:
      ctx.fail("unknown argument kind ", j->dump(), " (expected 0, 1 or 2)");
  }
}

void read_node(detail::GraphReader& reader, ir::Graph& graph, const Json& j, int index) {
  Context& ctx = reader.ctx();
  std::optional<Context::Scope> scope;
  scope.emplace(ctx, "node #" + std::to_string(index));
  detail::expect_object(ctx, j, "Node");
  ir::Node node;
  node.target = normalize_target(to_string(ctx, require(ctx, j, "target"), "target"));
  const Json* outputs = find(j, "outputs");
  if (const Json* name = find(j, "name"); name && name->is_string() && !name->empty()) {
    node.name = name->get<std::string>();
  } else if (auto first = first_output_name(outputs)) {
    node.name = *first;
  } else {
    node.name = node.target + "_" + std::to_string(index);
  }
  scope.reset();
  Context::Scope named(ctx, "node '" + node.name + "' (" + node.target + ")");

  // Inputs first: a node cannot use its own outputs.
  if (const Json* inputs = find(j, "inputs")) {
    detail::expect_array(ctx, *inputs, "inputs");
    for (size_t i = 0; i < inputs->size(); ++i) {
      const Json& in = (*inputs)[i];
      detail::expect_object(ctx, in, "NamedArgument");
      ir::NamedArgument named_arg;
      if (const Json* n = find(in, "name")) named_arg.name = to_string(ctx, *n, "argument name");
      Context::Scope arg_scope(
          ctx, "argument " +
                   (named_arg.name.empty() ? "#" + std::to_string(i) : "'" + named_arg.name + "'"));
      named_arg.arg = reader.argument(require(ctx, in, "arg"));
      named_arg.kind = arg_kind(ctx, find(in, "kind"));
      node.inputs.push_back(std::move(named_arg));
    }
  }
  if (outputs) {
    detail::expect_array(ctx, *outputs, "outputs");
    for (size_t i = 0; i < outputs->size(); ++i) {
      Context::Scope out_scope(ctx, "output #" + std::to_string(i));
      node.outputs.push_back(reader.output((*outputs)[i], index));
    }
  }
  node.metadata = read_metadata(ctx, find(j, "metadata"));
  if (const Json* single = find(j, "is_hop_single_tensor_return")) {
    node.is_hop_single_tensor_return = detail::to_bool(ctx, *single, "is_hop_single_tensor_return");
  }
  graph.nodes.push_back(std::move(node));
}

// The literal of a ConstantValue union (constant_input specs).
ir::Argument constant_value(Context& ctx, const Json& j) {
  auto [key, p] = detail::union_of(ctx, j, "ConstantValue");
  if (key == "as_none") return ir::NoneArg{};
  if (key == "as_int") return detail::to_int(ctx, *p, key);
  if (key == "as_float") return detail::to_double(ctx, *p, key);
  if (key == "as_string") return to_string(ctx, *p, key);
  if (key == "as_bool") return detail::to_bool(ctx, *p, key);
  ctx.fail("unknown ConstantValue kind '", key, "'");
}

std::string spec_target(Context& ctx, const Json& spec, const char* key) {
  return to_string(ctx, require(ctx, spec, key), key);
}

// A spec's `arg` field that is a bare TensorArgument {name}.
ir::TensorArg spec_tensor(detail::GraphReader& reader, const Json& spec) {
  Context& ctx = reader.ctx();
  const Json& arg = detail::expect_object(ctx, require(ctx, spec, "arg"), "arg");
  return {reader.lookup(to_string(ctx, require(ctx, arg, "name"), "name"))};
}

ir::InputSpec read_input_spec(detail::GraphReader& reader, const Json& j) {
  Context& ctx = reader.ctx();
  auto [key, p] = detail::union_of(ctx, j, "InputSpec");
  const Json& spec = detail::expect_object(ctx, *p, key);
  ir::InputSpec s;
  if (key == "user_input") {
    s.kind = ir::InputKind::kUserInput;
    s.arg = reader.argument(require(ctx, spec, "arg"));
  } else if (key == "parameter") {
    s.kind = ir::InputKind::kParameter;
    s.arg = spec_tensor(reader, spec);
    s.target = spec_target(ctx, spec, "parameter_name");
  } else if (key == "buffer") {
    s.kind = ir::InputKind::kBuffer;
    s.arg = spec_tensor(reader, spec);
    s.target = spec_target(ctx, spec, "buffer_name");
    if (const Json* pers = find(spec, "persistent")) {
      s.persistent = detail::to_bool(ctx, *pers, "persistent");
    }
  } else if (key == "tensor_constant") {
    s.kind = ir::InputKind::kTensorConstant;
    s.arg = spec_tensor(reader, spec);
    s.target = spec_target(ctx, spec, "tensor_constant_name");
  } else if (key == "custom_obj") {
    s.kind = ir::InputKind::kCustomObj;
    const Json& arg = detail::expect_object(ctx, require(ctx, spec, "arg"), "arg");
    ir::CustomObjArg o;
    o.name = to_string(ctx, require(ctx, arg, "name"), "name");
    if (const Json* fqn = find(arg, "class_fqn")) o.class_fqn = to_string(ctx, *fqn, "class_fqn");
    o.value = reader.lookup(o.name);
    s.arg = o;
    s.target = spec_target(ctx, spec, "custom_obj_name");
  } else if (key == "constant_input") {
    s.kind = ir::InputKind::kConstantInput;
    s.target = spec_target(ctx, spec, "name");
    s.arg = constant_value(ctx, require(ctx, spec, "value"));
  } else if (key == "token") {
    s.kind = ir::InputKind::kToken;
    s.arg = spec_tensor(reader, spec);
  } else {
    ctx.fail("unknown input spec kind '", key, "'");
  }
  return s;
}

ir::OutputSpec read_output_spec(detail::GraphReader& reader, const Json& j) {
  Context& ctx = reader.ctx();
  auto [key, p] = detail::union_of(ctx, j, "OutputSpec");
  const Json& spec = detail::expect_object(ctx, *p, key);
  struct Kind {
    const char* key;
    ir::OutputKind kind;
    const char* target;  // the field naming what the output updates; null: none
  };
  static constexpr Kind kKinds[] = {
      {"user_output", ir::OutputKind::kUserOutput, nullptr},
      {"loss_output", ir::OutputKind::kLossOutput, nullptr},
      {"buffer_mutation", ir::OutputKind::kBufferMutation, "buffer_name"},
      {"gradient_to_parameter", ir::OutputKind::kGradientToParameter, "parameter_name"},
      {"gradient_to_user_input", ir::OutputKind::kGradientToUserInput, "user_input_name"},
      {"user_input_mutation", ir::OutputKind::kUserInputMutation, "user_input_name"},
      {"token", ir::OutputKind::kToken, nullptr},
      {"parameter_mutation", ir::OutputKind::kParameterMutation, "parameter_name"},
  };
  for (const Kind& k : kKinds) {
    if (key != k.key) continue;
    ir::OutputSpec s;
    s.kind = k.kind;
    // Only user outputs hold a full Argument; the others hold a bare TensorArgument.
    s.arg = s.kind == ir::OutputKind::kUserOutput ? reader.argument(require(ctx, spec, "arg"))
                                                  : ir::Argument(spec_tensor(reader, spec));
    if (k.target) s.target = spec_target(ctx, spec, k.target);
    return s;
  }
  ctx.fail("unknown output spec kind '", key, "'");
}

ir::GraphSignature read_signature(detail::GraphReader& reader, const Json* j) {
  ir::GraphSignature sig;
  if (!j) return sig;
  Context& ctx = reader.ctx();
  Context::Scope scope(ctx, "signature");
  detail::expect_object(ctx, *j, "signature");
  if (const Json* inputs = find(*j, "input_specs")) {
    detail::expect_array(ctx, *inputs, "input_specs");
    for (size_t i = 0; i < inputs->size(); ++i) {
      Context::Scope s(ctx, "input spec #" + std::to_string(i));
      sig.inputs.push_back(read_input_spec(reader, (*inputs)[i]));
    }
  }
  if (const Json* outputs = find(*j, "output_specs")) {
    detail::expect_array(ctx, *outputs, "output_specs");
    for (size_t i = 0; i < outputs->size(); ++i) {
      Context::Scope s(ctx, "output spec #" + std::to_string(i));
      sig.outputs.push_back(read_output_spec(reader, (*outputs)[i]));
    }
  }
  return sig;
}

// Placeholder names for graph inputs the export turned into literals: a constant_input spec
// carries its name; any other literal input is "arg<i>", as torch's loader names it.
std::vector<std::string> constant_input_names(const Json* signature, size_t num_inputs) {
  std::vector<std::string> names(num_inputs);
  for (size_t i = 0; i < num_inputs; ++i)
    names[i] = "arg" + std::to_string(i);
  const Json* specs = signature ? find(*signature, "input_specs") : nullptr;
  if (!specs || !specs->is_array()) return names;
  for (size_t i = 0; i < specs->size() && i < num_inputs; ++i) {
    const Json* spec = find((*specs)[i], "constant_input");
    const Json* name = spec ? find(*spec, "name") : nullptr;
    if (name && name->is_string() && !name->empty()) names[i] = name->get<std::string>();
  }
  return names;
}

std::optional<int64_t> range_bound(Context& ctx, const Json* j, const char* what) {
  if (!j) return std::nullopt;  // null: unbounded (sympy's oo / int_oo)
  if (j->is_string()) {
    double d = detail::to_double(ctx, *j, what);
    if (std::isinf(d)) return std::nullopt;
    ctx.fail(what, " must be an integer or null, not ", j->dump());
  }
  return detail::to_int(ctx, *j, what);
}

sym::RangeMap read_ranges(Context& ctx, const Json* j) {
  sym::RangeMap ranges;
  if (!j) return ranges;
  Context::Scope scope(ctx, "range_constraints");
  detail::expect_object(ctx, *j, "range_constraints");
  for (const auto& [symbol, rc] : j->items()) {
    Context::Scope s(ctx, "'" + symbol + "'");
    detail::expect_object(ctx, rc, "RangeConstraint");
    // Stored as written: torch's loader would clamp backed symbols' min to 2.
    ranges[symbol] = sym::Range{range_bound(ctx, find(rc, "min_val"), "min_val"),
                                range_bound(ctx, find(rc, "max_val"), "max_val")};
  }
  return ranges;
}

std::vector<std::string> string_list(Context& ctx, const Json* j, const char* what) {
  std::vector<std::string> out;
  if (!j) return out;
  detail::expect_array(ctx, *j, what);
  for (const auto& e : *j)
    out.push_back(to_string(ctx, e, what));
  return out;
}

void read_module_call_graph(Context& ctx, const Json* j, ir::ExportedProgram& p) {
  if (!j || !j->is_array()) return;
  for (const auto& entry : *j) {
    const Json* fqn = find(entry, "fqn");
    const Json* sig = find(entry, "signature");
    if (!fqn || !fqn->is_string() || !fqn->get_ref<const std::string&>().empty() || !sig) continue;
    Context::Scope scope(ctx, "module_call_graph root signature");
    if (const Json* s = find(*sig, "in_spec")) p.in_spec = to_string(ctx, *s, "in_spec");
    if (const Json* s = find(*sig, "out_spec")) p.out_spec = to_string(ctx, *s, "out_spec");
    p.forward_arg_names = string_list(ctx, find(*sig, "forward_arg_names"), "forward_arg_names");
    return;
  }
}

ir::ExportedProgram read_program(Context& ctx, const Json& root) {
  detail::expect_object(ctx, root, "the ExportedProgram");
  ir::ExportedProgram p;
  if (const Json* version = find(root, "schema_version")) {
    Context::Scope scope(ctx, "schema_version");
    detail::expect_object(ctx, *version, "schema_version");
    p.schema_major =
        static_cast<int>(detail::to_int(ctx, require(ctx, *version, "major"), "major"));
    if (const Json* minor = find(*version, "minor")) {
      p.schema_minor = static_cast<int>(detail::to_int(ctx, *minor, "minor"));
    }
    if (p.schema_major != kSchemaMajor) {
      ctx.fail("unsupported export schema version ", p.schema_major, ".", p.schema_minor,
               " (kiln reads major version ", kSchemaMajor, ")");
    }
  }
  const Json& module = require(ctx, root, "graph_module");
  detail::expect_object(ctx, module, "graph_module");
  const Json& graph = require(ctx, module, "graph");
  const Json* signature = find(module, "signature");
  const Json* inputs = find(graph, "inputs");
  size_t num_inputs = inputs && inputs->is_array() ? inputs->size() : 0;
  {
    Context::Scope scope(ctx, "graph");
    p.graph = detail::read_graph(ctx, graph, constant_input_names(signature, num_inputs));
  }
  detail::GraphReader reader(ctx, graph, p.graph);
  p.signature = read_signature(reader, signature);
  read_module_call_graph(ctx, find(module, "module_call_graph"), p);
  p.ranges = read_ranges(ctx, find(root, "range_constraints"));
  if (const Json* opsets = find(root, "opset_version")) {
    Context::Scope scope(ctx, "opset_version");
    detail::expect_object(ctx, *opsets, "opset_version");
    for (const auto& [ns, v] : opsets->items())
      p.opset_version[ns] = detail::to_int(ctx, v, ns);
  }
  p.torch_version = "<=2.4";  // the schema's default for files that predate the field
  if (const Json* tv = find(root, "torch_version"))
    p.torch_version = to_string(ctx, *tv, "torch_version");
  if (const Json* verifiers = find(root, "verifiers")) {
    p.verifiers = string_list(ctx, verifiers, "verifiers");
  } else if (const Json* dialect = find(root, "dialect")) {  // older files: one dialect name
    p.verifiers.push_back(to_string(ctx, *dialect, "dialect"));
  }
  p.guards_code = string_list(ctx, find(root, "guards_code"), "guards_code");
  return p;
}

}  // namespace

std::string normalize_target(std::string_view target) {
  constexpr std::string_view kPrefix = "torch.ops.";
  if (target.substr(0, kPrefix.size()) == kPrefix) target.remove_prefix(kPrefix.size());
  return std::string(target);
}

namespace detail {

ir::Graph read_graph(Context& ctx, const Json& j, const std::vector<std::string>& constant_names) {
  expect_object(ctx, j, "Graph");
  ir::Graph graph;
  GraphReader reader(ctx, j, graph);
  if (const Json* inputs = find(j, "inputs")) {
    expect_array(ctx, *inputs, "inputs");
    for (size_t i = 0; i < inputs->size(); ++i) {
      Context::Scope scope(ctx, "input #" + std::to_string(i));
      std::string name = i < constant_names.size() ? constant_names[i] : "arg" + std::to_string(i);
      graph.inputs.push_back(reader.input((*inputs)[i], name));
    }
  }
  if (const Json* nodes = find(j, "nodes")) {
    expect_array(ctx, *nodes, "nodes");
    for (size_t k = 0; k < nodes->size(); ++k) {
      read_node(reader, graph, (*nodes)[k], static_cast<int>(k));
    }
  }
  if (const Json* outputs = find(j, "outputs")) {
    expect_array(ctx, *outputs, "outputs");
    for (size_t i = 0; i < outputs->size(); ++i) {
      Context::Scope scope(ctx, "output #" + std::to_string(i));
      graph.outputs.push_back(reader.argument((*outputs)[i]));
    }
  }
  if (const Json* single = find(j, "is_single_tensor_return")) {
    graph.is_single_tensor_return = to_bool(ctx, *single, "is_single_tensor_return");
  }
  return graph;
}

}  // namespace detail

ir::ExportedProgram deserialize_program(std::string_view json_text, std::string_view source_name) {
  Context ctx(source_name);
  check_json_depth(json_text, source_name);
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    throw error(source_name, ": invalid JSON at byte ", e.byte, ": ", e.what());
  } catch (const Json::exception& e) {
    throw error(source_name, ": invalid JSON: ", e.what());
  }
  ir::ExportedProgram program;
  try {
    program = read_program(ctx, root);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // Should not happen (fields are type-checked before use); keep foreign exceptions inside
    // kiln::Error all the same, with the place the reader had reached.
    std::string where = ctx.where();
    throw error(source_name, ": ", where, where.empty() ? "" : ": ", e.what());
  }
  try {
    ir::verify(program);
  } catch (const Error& e) {
    throw error(source_name, ": ", e.what());
  }
  return program;
}

}  // namespace kiln::frontend
