#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "frontend/load.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"
#include "ref/npy_io.h"
#include "util/error.h"
#include "util/npy.h"

namespace kiln::cli {
namespace {

struct RunOptions {
  std::string model_path;
  std::vector<std::string> inputs;
  std::string out_dir;
  bool reference = false;
};

RunOptions parse(const std::vector<std::string>& args) {
  RunOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--reference") {
      o.reference = true;
    } else if (a == "--out" && i + 1 < args.size()) {
      o.out_dir = args[++i];
    } else if (a == "--inputs") {
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0)
        o.inputs.push_back(args[++i]);
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"run: unknown option '" + a + "'"};
    } else if (o.model_path.empty()) {
      o.model_path = a;
    } else {
      throw UsageError{"run: one model at a time (got '" + o.model_path + "' and '" + a + "')"};
    }
  }
  if (o.model_path.empty()) throw UsageError{"run: missing MODEL"};
  if (o.out_dir.empty()) throw UsageError{"run: missing --out DIR"};
  return o;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  RunOptions o = parse(args);
  if (!o.reference) {
    throw UsageError{
        "run: only --reference is available: kiln runs .pt2 programs on its "
        "reference interpreter"};
  }
  frontend::LoadedProgram loaded = frontend::load_program(o.model_path);
  ref::check_supported(loaded.program.graph);  // every missing op named before any work
  // The interpreter runs the program as exported, with writes through views made explicit.
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram p = loaded.program;
  passes::inline_higher_order(p);
  passes::functionalize(p);
  ref::Interpreter interpreter(p, passes::stored_tensors(loaded, p));

  std::vector<const ir::Value*> user_inputs;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput) {
      user_inputs.push_back(&p.graph.values[p.graph.inputs[i]]);
    }
  }
  if (o.inputs.size() != user_inputs.size()) {
    std::string names;
    for (const auto* v : user_inputs)
      names += (names.empty() ? "" : ", ") + v->name;
    throw error(o.model_path, " takes ", user_inputs.size(), " input",
                user_inputs.size() == 1 ? "" : "s", " (", names, ") but ", o.inputs.size(),
                " were given");
  }
  std::vector<ref::RValue> inputs;
  for (size_t i = 0; i < o.inputs.size(); ++i) {
    inputs.push_back(
        ref::value_from_npy(util::read_npy(o.inputs[i]), *user_inputs[i], o.inputs[i]));
  }
  std::vector<ref::RValue> outputs = interpreter.run_user_outputs(inputs);
  std::filesystem::create_directories(o.out_dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto path = std::filesystem::path(o.out_dir) / ("out" + std::to_string(i) + ".npy");
    util::write_npy(path, ref::npy_from_value(outputs[i], i));
  }
  std::cerr << "kiln: wrote " << outputs.size() << " output" << (outputs.size() == 1 ? "" : "s")
            << " to " << o.out_dir << "\n";
  return 0;
}

}  // namespace kiln::cli
