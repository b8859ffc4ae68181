#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "codegen/cpu_backend.h"
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "frontend/load.h"
#include "ir/printer.h"
#include "ops/op_table.h"

namespace kiln::cli {
namespace {

using Json = nlohmann::ordered_json;

Json shape_json(const std::vector<sym::Expr>& sizes) {
  Json dims = Json::array();
  for (const auto& d : sizes) {
    if (auto c = d.as_const()) {
      dims.push_back(*c);
    } else {
      dims.push_back(d.str());
    }
  }
  return dims;
}

Json bound_json(const std::optional<int64_t>& b) {
  return b ? Json(*b) : Json(nullptr);
}

Json value_json(const ir::Graph& graph, const ir::Argument& arg, const std::string& name_hint) {
  Json j;
  auto ids = ir::argument_values(arg);
  if (ids.size() == 1) {
    const ir::Value& v = graph.values[ids[0]];
    j["name"] = v.name;
    j["kind"] = std::string(ir::value_kind_name(v.kind));
    if (v.kind == ir::ValueKind::kTensor) {
      j["dtype"] = std::string(ir::dtype_name(v.type.dtype));
      j["shape"] = shape_json(v.type.sizes);
      j["device"] = v.type.device.str();
    } else if (v.sym) {
      j["expr"] = v.sym->str();
    }
  } else {
    j["name"] = name_hint;
    j["kind"] = "literal";
    j["value"] = ir::print_argument(arg, graph);
  }
  return j;
}

// Which input dims each symbol appears in: "x.0", or "h.2 = 2*s0" for a derived dim.
std::map<std::string, std::vector<std::string>> symbol_uses(const ir::ExportedProgram& p) {
  std::map<std::string, std::vector<std::string>> uses;
  const ir::Graph& g = p.graph;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind != ir::InputKind::kUserInput) continue;
    const ir::Value& v = g.values[g.inputs[i]];
    if (v.kind != ir::ValueKind::kTensor) continue;
    for (size_t d = 0; d < v.type.sizes.size(); ++d) {
      const sym::Expr& dim = v.type.sizes[d];
      std::string use = v.name + "." + std::to_string(d);
      if (!dim.is_symbol() && !dim.is_const()) use += " = " + dim.str();
      for (const auto& s : dim.free_symbols())
        uses[s].push_back(use);
    }
  }
  return uses;
}

Json weights_json(const frontend::LoadedProgram& loaded) {
  Json j;
  int params = 0, buffers = 0, constants = 0;
  size_t logical_bytes = 0;
  std::map<std::string, std::pair<int, size_t>> by_dtype;
  std::map<size_t, std::vector<std::string>> by_storage;
  std::map<size_t, size_t> storage_bytes;
  const auto& specs = loaded.program.signature.inputs;
  for (size_t i = 0; i < specs.size(); ++i) {
    const frontend::WeightTensor* w = loaded.input_tensors[i];
    if (w == nullptr) continue;
    if (specs[i].kind == ir::InputKind::kParameter) ++params;
    if (specs[i].kind == ir::InputKind::kBuffer) ++buffers;
    if (specs[i].kind == ir::InputKind::kTensorConstant) ++constants;
    logical_bytes += w->nbytes();
    auto& [count, bytes] = by_dtype[std::string(ir::dtype_name(w->dtype))];
    ++count;
    bytes += w->nbytes();
    by_storage[w->storage_id].push_back(specs[i].target);
    storage_bytes[w->storage_id] = w->storage.size();
  }
  size_t stored = 0;
  for (const auto& [id, bytes] : storage_bytes)
    stored += bytes;
  j["count"] = params + buffers + constants;
  j["parameters"] = params;
  j["buffers"] = buffers;
  j["tensor_constants"] = constants;
  j["bytes"] = logical_bytes;
  j["stored_bytes"] = stored;
  Json dtypes = Json::object();
  for (const auto& [name, cb] : by_dtype)
    dtypes[name] = {{"count", cb.first}, {"bytes", cb.second}};
  j["dtypes"] = dtypes;
  Json shared = Json::array();
  for (const auto& [id, fqns] : by_storage) {
    if (fqns.size() > 1) shared.push_back(fqns);
  }
  j["shared_storage"] = shared;
  return j;
}

Json build_report(const frontend::LoadedProgram& loaded) {
  const ir::ExportedProgram& p = loaded.program;
  const ir::Graph& g = p.graph;
  Json r;
  r["file"] = loaded.archive->path().string();
  r["model"] = loaded.model_name;
  r["torch_version"] = p.torch_version;
  r["schema_version"] = std::to_string(p.schema_major) + "." + std::to_string(p.schema_minor);

  Json inputs = Json::array();
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    const ir::InputSpec& spec = p.signature.inputs[i];
    if (spec.kind != ir::InputKind::kUserInput && spec.kind != ir::InputKind::kConstantInput) {
      continue;
    }
    inputs.push_back(value_json(g, ir::TensorArg{g.inputs[i]}, ""));
  }
  r["inputs"] = inputs;

  Json outputs = Json::array();
  Json mutations = Json::array();
  for (size_t i = 0; i < p.signature.outputs.size(); ++i) {
    const ir::OutputSpec& spec = p.signature.outputs[i];
    Json v = value_json(g, spec.arg, "output" + std::to_string(i));
    if (spec.kind == ir::OutputKind::kUserOutput) {
      outputs.push_back(v);
    } else {
      v["mutates"] = std::string(ir::output_kind_name(spec.kind)) + " " + spec.target;
      mutations.push_back(v);
    }
  }
  r["outputs"] = outputs;
  r["mutations"] = mutations;

  auto uses = symbol_uses(p);
  Json symbols = Json::object();
  for (const auto& [name, range] : p.ranges) {
    Json s;
    s["min"] = bound_json(range.min);
    s["max"] = bound_json(range.max);
    s["used_by"] = uses.count(name) ? Json(uses[name]) : Json::array();
    symbols[name] = s;
  }
  r["symbols"] = symbols;
  r["weights"] = weights_json(loaded);

  auto histogram = ops::op_histogram(g);
  std::vector<std::pair<std::string, int>> sorted(histogram.begin(), histogram.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  Json ops = Json::object();
  int nodes = 0;
  for (const auto& [target, count] : sorted) {
    ops[target] = count;
    nodes += count;
  }
  r["node_count"] = nodes;
  r["ops"] = ops;
  Json unsupported = Json::object();
  for (const auto& [target, count] : ops::unsupported_ops(g))
    unsupported[target] = count;
  r["unsupported_ops"] = unsupported;
  return r;
}

std::string human_bytes(size_t bytes) {
  char buf[32];
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  const char* unit = "KiB";
  if (v >= 1024) v /= 1024, unit = "MiB";
  if (v >= 1024) v /= 1024, unit = "GiB";
  std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  return buf;
}

std::string shape_text(const Json& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i].is_string() ? shape[i].get<std::string>()
                              : std::to_string(shape[i].get<int64_t>());
  }
  return s + "]";
}

std::string value_text(const Json& v) {
  std::string s = v["name"].get<std::string>() + ": ";
  if (v.contains("dtype")) {
    s += v["dtype"].get<std::string>() + shape_text(v["shape"]);
    if (v["device"] != "cpu") s += " (" + v["device"].get<std::string>() + ")";
  } else if (v.contains("expr")) {
    s += v["kind"].get<std::string>() + "(" + v["expr"].get<std::string>() + ")";
  } else if (v.contains("value")) {
    s += v["value"].get<std::string>();
  } else {
    s += v["kind"].get<std::string>();
  }
  return s;
}

void print_text(const Json& r, std::ostream& out) {
  out << r["file"].get<std::string>() << " (model '" << r["model"].get<std::string>() << "', torch "
      << r["torch_version"].get<std::string>() << ", schema "
      << r["schema_version"].get<std::string>() << ")\n";
  out << "inputs (" << r["inputs"].size() << "):\n";
  for (const auto& v : r["inputs"])
    out << "  " << value_text(v) << "\n";
  out << "outputs (" << r["outputs"].size() << "):\n";
  for (const auto& v : r["outputs"])
    out << "  " << value_text(v) << "\n";
  if (!r["mutations"].empty()) {
    out << "mutations (" << r["mutations"].size() << "):\n";
    for (const auto& v : r["mutations"]) {
      out << "  " << value_text(v) << " -> " << v["mutates"].get<std::string>() << "\n";
    }
  }
  out << "symbols (" << r["symbols"].size() << "):\n";
  for (const auto& [name, s] : r["symbols"].items()) {
    std::string max = s["max"].is_null() ? "inf" : std::to_string(s["max"].get<int64_t>());
    std::string min = s["min"].is_null() ? "-inf" : std::to_string(s["min"].get<int64_t>());
    out << "  " << name << " in [" << min << ", " << max << "]";
    if (!s["used_by"].empty()) {
      out << "  used by ";
      for (size_t i = 0; i < s["used_by"].size(); ++i) {
        out << (i ? ", " : "") << s["used_by"][i].get<std::string>();
      }
      if (s["used_by"].size() > 1) out << " (shared)";
    }
    out << "\n";
  }
  const Json& w = r["weights"];
  out << "weights: " << w["count"].get<int>() << " tensors (" << w["parameters"].get<int>()
      << " parameters, " << w["buffers"].get<int>() << " buffers, "
      << w["tensor_constants"].get<int>() << " constants), "
      << human_bytes(w["bytes"].get<size_t>()) << ", stored "
      << human_bytes(w["stored_bytes"].get<size_t>()) << "\n";
  for (const auto& [dtype, cb] : w["dtypes"].items()) {
    out << "  " << dtype << ": " << cb["count"].get<int>()
        << (cb["count"].get<int>() == 1 ? " tensor, " : " tensors, ")
        << human_bytes(cb["bytes"].get<size_t>()) << "\n";
  }
  for (const auto& group : w["shared_storage"]) {
    out << "  shared storage:";
    for (const auto& fqn : group)
      out << " " << fqn.get<std::string>();
    out << "\n";
  }
  out << "ops (" << r["node_count"].get<int>() << " nodes, " << r["ops"].size() << " targets):\n";
  for (const auto& [target, count] : r["ops"].items()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %6d  %s\n", count.get<int>(), target.c_str());
    out << line;
  }
  const Json& missing = r["unsupported_ops"];
  out << "unsupported ops (" << missing.size() << "):";
  if (missing.empty()) out << " none";
  out << "\n";
  for (const auto& [target, count] : missing.items()) {
    out << "  " << target << " (" << count.get<int>() << ")\n";
  }
}

}  // namespace

int inspect_command(const std::vector<std::string>& args) {
  std::string path, model;
  bool json = false, ir_text = false, plan = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--ir") {
      ir_text = true;
    } else if (args[i] == "--plan") {
      plan = true;
    } else if (args[i] == "--model" && i + 1 < args.size()) {
      model = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      throw UsageError{"inspect: unknown option '" + args[i] + "'"};
    } else if (path.empty()) {
      path = args[i];
    } else {
      throw UsageError{"inspect: one model at a time (got '" + path + "' and '" + args[i] + "')"};
    }
  }
  if (path.empty()) throw UsageError{"inspect: missing MODEL.pt2"};

  frontend::LoadedProgram loaded = frontend::load_program(path, model);
  if (ir_text) {
    std::cout << ir::print(loaded.program);
    return 0;
  }
  if (plan) {
    // The CPU backend's schedule: kernels with their source ops, fusion groups, externs and
    // the arena (nothing is compiled).
    std::cout << codegen::generate_cpu_model(loaded, {}).plan_text;
    return 0;
  }
  Json report = build_report(loaded);
  if (json) {
    std::cout << report.dump(2) << "\n";
  } else {
    print_text(report, std::cout);
  }
  return 0;
}

}  // namespace kiln::cli
