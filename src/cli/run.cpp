#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/model_library.h"
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
  std::vector<std::string> expected;  // --expect: one .npy per output
  std::string out_dir;
  bool reference = false;
  int runners = 1;
};

RunOptions parse(const std::vector<std::string>& args) {
  RunOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--reference") {
      o.reference = true;
    } else if (a == "--out" && i + 1 < args.size()) {
      o.out_dir = args[++i];
    } else if (a == "--runners" && i + 1 < args.size()) {
      o.runners = parse_count("run", a, args[++i]);
    } else if (a == "--inputs") {
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0)
        o.inputs.push_back(args[++i]);
    } else if (a == "--expect") {
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0)
        o.expected.push_back(args[++i]);
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

void write_outputs(const std::string& dir, const std::vector<util::NpyArray>& outputs) {
  std::filesystem::create_directories(dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    util::write_npy(std::filesystem::path(dir) / ("out" + std::to_string(i) + ".npy"), outputs[i]);
  }
  std::cerr << "kiln: wrote " << outputs.size() << " output" << (outputs.size() == 1 ? "" : "s")
            << " to " << dir << "\n";
}

// --expect: each output against its stored array. Floats by relative error ||out - want|| /
// ||want|| (f32/f64 within 1e-4, f16/bf16 within 1e-2), everything else exactly; a NaN where
// the expected value is not NaN fails. Returns whether every output passed.
bool check_outputs(const std::vector<std::string>& expected,
                   const std::vector<util::NpyArray>& outputs) {
  if (expected.size() != outputs.size()) {
    throw error("--expect names ", expected.size(), " file", expected.size() == 1 ? "" : "s",
                " but the model has ", outputs.size(), " output", outputs.size() == 1 ? "" : "s");
  }
  bool all = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const ref::Tensor got = ref::tensor_from_npy(outputs[i]);
    const ref::Tensor want = ref::tensor_from_npy(util::read_npy(expected[i]));
    std::string verdict;
    if (got.sizes() != want.sizes()) {
      verdict = "shape differs from " + expected[i];
    } else if (ir::is_floating(want.dtype())) {
      const bool half = want.dtype() == ir::DType::kFloat16 || want.dtype() == ir::DType::kBFloat16;
      const double tolerance = half ? 1e-2 : 1e-4;
      double diff = 0, norm = 0;
      bool nan = false;
      for (int64_t k = 0; k < want.numel(); ++k) {
        const double g = got.get(k), w = want.get(k);
        if (std::isnan(w)) {
          nan = nan || !std::isnan(g);
          continue;
        }
        nan = nan || std::isnan(g);
        diff += (g - w) * (g - w);
        norm += w * w;
      }
      const double rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
      char text[96];
      std::snprintf(text, sizeof text, "relative error %.2e (tolerance %.0e)", rel, tolerance);
      verdict = nan ? "NaN in one array where the other holds a number" : text;
      if (!nan && rel <= tolerance) verdict += ", ok";
    } else {
      int64_t wrong = 0;
      for (int64_t k = 0; k < want.numel(); ++k)
        wrong += got.get_int(k) != want.get_int(k);
      verdict =
          wrong ? std::to_string(wrong) + " of " + std::to_string(want.numel()) + " elements differ"
                : "exact, ok";
    }
    const bool ok = verdict.ends_with("ok");
    all = all && ok;
    std::cerr << "kiln: output " << i << ": " << verdict << "\n";
  }
  return all;
}

// Writes the outputs, then checks them when --expect was given: the exit status.
int finish(const RunOptions& o, const std::vector<util::NpyArray>& outputs) {
  write_outputs(o.out_dir, outputs);
  if (o.expected.empty()) return 0;
  if (check_outputs(o.expected, outputs)) return 0;
  std::cerr << "kiln: outputs differ from the expected arrays\n";
  return 1;
}

// A compiled model: one run on a container with kiln-allocated outputs.
int run_library(const RunOptions& o) {
  ModelLibrary library(o.model_path);
  KilnOptions options;
  library.options_init(&options);
  options.num_runners = o.runners;
  ModelContainer container(library, options);
  std::vector<HostTensor> inputs = read_inputs(container, o.inputs);
  auto outputs = container.run(inputs);
  std::vector<util::NpyArray> arrays;
  for (size_t i = 0; i < outputs.size(); ++i)
    arrays.push_back(npy_from_output(outputs[i]->dl_tensor, i));
  return finish(o, arrays);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  RunOptions o = parse(args);
  if (!std::filesystem::exists(o.model_path)) throw error(o.model_path, ": no such file");
  if (is_elf_file(o.model_path)) {
    if (o.reference) {
      throw UsageError{"run: --reference runs a .pt2 program, and " + o.model_path +
                       " is a compiled model library"};
    }
    return run_library(o);
  }
  if (!o.reference) {
    throw UsageError{"run: " + o.model_path +
                     " is not a model library; run a .pt2 program on the reference "
                     "interpreter with --reference, or compile it with kiln compile"};
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
  std::vector<util::NpyArray> arrays;
  for (size_t i = 0; i < outputs.size(); ++i)
    arrays.push_back(ref::npy_from_value(outputs[i], i));
  return finish(o, arrays);
}

}  // namespace kiln::cli
