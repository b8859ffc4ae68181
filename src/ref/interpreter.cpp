#include "ref/interpreter.h"

#include "ops/args.h"
#include "ops/op_table.h"
#include "ref/values.h"
#include "util/error.h"

namespace kiln::ref {
namespace {

RValue literal_value(const ir::Argument& a, const std::string& name) {
  if (std::holds_alternative<ir::NoneArg>(a)) return std::monostate{};
  if (const auto* i = std::get_if<int64_t>(&a)) return *i;
  if (const auto* d = std::get_if<double>(&a)) return *d;
  if (const auto* b = std::get_if<bool>(&a)) return *b;
  throw error("input '", name, "' is a constant the reference interpreter cannot represent");
}

// Checks a kernel's tensor against the type the program records for the value.
void check_result(const ir::Node& node, const ir::Value& v, const Tensor& t, Bindings& bindings) {
  const ir::TensorType& want = v.type;
  bool ok = want.dtype == t.dtype() && want.rank() == static_cast<size_t>(t.dim());
  for (size_t d = 0; ok && d < want.rank(); ++d) {
    const sym::Expr& e = want.sizes[d];
    if (e.is_symbol() && !bindings.count(e.name())) {
      bindings[e.name()] = t.sizes()[d];  // an unbacked size, known from now on
      continue;
    }
    bool bound = true;
    for (const auto& s : e.free_symbols())
      bound &= bindings.count(s) > 0;
    if (bound && e.eval(bindings) != t.sizes()[d]) ok = false;
  }
  if (!ok) {
    throw error("node '", node.name, "' (", node.target, "): the reference kernel produced ",
                t.str(), " for %", v.name, " but the program records ", want.str());
  }
}

// Runs the nodes of `g` in order on `values`. Values whose last reader has run are freed when
// `last_use` is given.
void run_nodes(const ir::Graph& g, ConcreteValues& values, Bindings& bindings,
               const std::vector<int>* last_use);

// A higher-order op that only wraps its subgraph: the subgraph runs on the node's tensor
// arguments, and its outputs are the node's.
void run_inlined(const ir::Node& node, ConcreteValues& values, Bindings& bindings) {
  const ir::SubgraphArg* sub = nullptr;
  std::vector<ir::ValueId> operands;
  for (const auto& in : node.inputs) {
    if (const auto* s = std::get_if<ir::SubgraphArg>(&in.arg)) {
      sub = s;
    } else if (sub != nullptr) {
      for (ir::ValueId id : ir::argument_values(in.arg))
        operands.push_back(id);
    }
  }
  if (sub == nullptr || !sub->graph) throw error("node '", node.name, "' has no subgraph");
  const ir::Graph& body = *sub->graph;
  if (body.inputs.size() != operands.size()) {
    throw error("node '", node.name, "' passes ", operands.size(), " values to a subgraph of ",
                body.inputs.size(), " inputs");
  }
  ConcreteValues inner(body);
  for (size_t i = 0; i < operands.size(); ++i)
    inner.set(body.inputs[i], values.get(operands[i]));
  run_nodes(body, inner, bindings, nullptr);
  std::vector<ir::ValueId> produced, results;
  for (const auto& out : node.outputs) {
    for (ir::ValueId id : ir::argument_values(out))
      produced.push_back(id);
  }
  for (const auto& out : body.outputs) {
    for (ir::ValueId id : ir::argument_values(out))
      results.push_back(id);
  }
  if (produced.size() != results.size()) {
    throw error("node '", node.name, "' names ", produced.size(),
                " outputs but its subgraph returns ", results.size());
  }
  for (size_t i = 0; i < produced.size(); ++i)
    values.set(produced[i], inner.get(results[i]));
}

void run_nodes(const ir::Graph& g, ConcreteValues& values, Bindings& bindings,
               const std::vector<int>* last_use) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (ops::is_inlined_higher_order(node.target)) {
      run_inlined(node, values, bindings);
      continue;
    }
    const ops::OpDef* op = ops::find_op(node.target);
    if (op == nullptr) throw error("node '", node.name, "': kiln does not support ", node.target);
    ops::Args args(*op, node, values);
    std::vector<RValue> results = op->reference(args);

    size_t r = 0;
    auto assign = [&](ir::ValueId id) {
      if (r >= results.size()) {
        throw error("node '", node.name, "' (", node.target, ") returned ", results.size(),
                    " values but the program names more outputs");
      }
      if (const auto* t = std::get_if<Tensor>(&results[r])) {
        check_result(node, g.values[id], *t, bindings);
      }
      values.set(id, std::move(results[r++]));
    };
    for (const ir::Argument& out : node.outputs) {
      if (std::holds_alternative<ir::NoneArg>(out)) {
        ++r;
        continue;
      }
      for (ir::ValueId id : ir::argument_values(out))
        assign(id);
    }
    // An in-place op's result is also the new value of the argument it mutates.
    if (!op->functional.empty() && !results.empty()) {
      const ops::OpSchema& schema = op->parsed_schema();
      for (size_t a = 0; a < schema.args.size(); ++a) {
        if (!schema.args[a].is_mutated) continue;
        for (const auto& in : node.inputs) {
          if (in.name != schema.args[a].name) continue;
          auto ids = ir::argument_values(in.arg);
          auto produced = node.outputs.empty() ? std::vector<ir::ValueId>{}
                                               : ir::argument_values(node.outputs[0]);
          if (ids.size() == 1 && !produced.empty()) values.set(ids[0], values.get(produced[0]));
        }
      }
    }
    if (last_use == nullptr) continue;
    for (const auto& in : node.inputs) {
      for (ir::ValueId id : ir::argument_values(in.arg)) {
        if ((*last_use)[id] == static_cast<int>(n) && values.has(id)) values.erase(id);
      }
    }
  }
}

}  // namespace

void check_supported(const ir::Graph& graph) {
  auto missing = ops::unsupported_ops(graph);
  if (missing.empty()) return;
  std::string list;
  for (const auto& [target, count] : missing) {
    list += (list.empty() ? "" : ", ") + target + " (" + std::to_string(count) + ")";
  }
  throw error("the program uses ", missing.size(), " op", missing.size() == 1 ? "" : "s",
              " kiln does not support: ", list);
}

Interpreter::Interpreter(const ir::ExportedProgram& program,
                         std::vector<std::optional<Tensor>> stored)
    : program_(program), stored_(std::move(stored)) {
  check_supported(program.graph);
  const ir::Graph& g = program.graph;
  last_use_.assign(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (const auto& in : g.nodes[n].inputs) {
      for (ir::ValueId id : ir::argument_values(in.arg))
        last_use_[id] = static_cast<int>(n);
    }
  }
  // Graph outputs and mutated inputs live to the end.
  for (const auto& out : g.outputs) {
    for (ir::ValueId id : ir::argument_values(out))
      last_use_[id] = -1;
  }
  for (ir::ValueId id : g.inputs)
    last_use_[id] = -1;
}

std::vector<RValue> Interpreter::run(const std::vector<RValue>& user_inputs) const {
  const ir::Graph& g = program_.graph;
  Bindings bindings = bind_inputs(program_, user_inputs);
  ConcreteValues values(g);
  size_t k = 0;
  for (size_t i = 0; i < program_.signature.inputs.size(); ++i) {
    const ir::InputSpec& spec = program_.signature.inputs[i];
    ir::ValueId id = g.inputs[i];
    switch (spec.kind) {
      case ir::InputKind::kUserInput:
        values.set(id, user_inputs[k++]);
        break;
      case ir::InputKind::kParameter:
      case ir::InputKind::kBuffer:
      case ir::InputKind::kTensorConstant:
        if (!stored_.at(i)) throw error("no stored tensor for '", spec.target, "'");
        values.set(id, *stored_[i]);
        break;
      case ir::InputKind::kConstantInput:
        values.set(id, literal_value(g.values[id].constant, g.values[id].name));
        break;
      default:
        throw error("input '", g.values[id].name, "' is a ", ir::input_kind_name(spec.kind),
                    ", which the reference interpreter does not take");
    }
  }

  run_nodes(g, values, bindings, &last_use_);

  std::vector<RValue> outputs;
  for (const ir::OutputSpec& spec : program_.signature.outputs) {
    if (const auto* s = std::get_if<ir::SymIntArg>(&spec.arg); s && !s->value) {
      outputs.emplace_back(s->literal);
      continue;
    }
    auto ids = ir::argument_values(spec.arg);
    if (ids.empty()) {
      outputs.push_back(literal_value(spec.arg, "output"));
    } else {
      outputs.push_back(values.get(ids[0]));
    }
  }
  return outputs;
}

std::vector<RValue> Interpreter::run_user_outputs(const std::vector<RValue>& user_inputs) const {
  std::vector<RValue> all = run(user_inputs);
  std::vector<RValue> user;
  for (size_t i = 0; i < all.size(); ++i) {
    if (program_.signature.outputs[i].kind == ir::OutputKind::kUserOutput) {
      user.push_back(std::move(all[i]));
    }
  }
  return user;
}

}  // namespace kiln::ref
