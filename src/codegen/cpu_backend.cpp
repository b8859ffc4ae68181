#include "codegen/cpu_backend.h"

#include <chrono>
#include <cstring>

#include "codegen/cpu/kernel_printer.h"
#include "codegen/wrapper/wrapper_printer.h"
#include "ir/printer.h"
#include "lower/lowering.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "schedule/fuse_reductions.h"
#include "schedule/plan_memory.h"
#include "checksum.h"
#include "util/error.h"
#include "util/version.h"

namespace kiln::codegen {

namespace {

// Steps per kernel translation unit: small enough that units compile in parallel, large
// enough that each compiler process has work.
constexpr size_t kStepsPerUnit = 16;

class StageTimer {
 public:
  explicit StageTimer(const CpuBackendOptions& o) : options_(o) {}
  void done(std::string_view stage) {
    const auto now = std::chrono::steady_clock::now();
    if (options_.on_stage) {
      options_.on_stage(stage, std::chrono::duration<double>(now - start_).count());
    }
    start_ = now;
  }

 private:
  const CpuBackendOptions& options_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Lays out every constant 64-byte aligned in one blob.
std::vector<ConstantLayout> build_weights(const frontend::LoadedProgram& loaded,
                                          const ir::ExportedProgram& program,
                                          const lower::Program& lowered,
                                          std::vector<uint8_t>& blob) {
  const auto stored = passes::stored_tensors(loaded, program);
  std::vector<ConstantLayout> layout;
  for (size_t c = 0; c < lowered.constants.size(); ++c) {
    const auto& tensor = stored.at(lowered.constant_inputs[c]);
    if (!tensor) throw error("no data for constant '", lowered.constants[c], "'");
    const ir::ConstantData data = passes::constant_from_tensor(*tensor);
    ConstantLayout l;
    l.offset = (blob.size() + 63) / 64 * 64;
    l.nbytes = data.bytes.size();
    blob.resize(l.offset + l.nbytes, 0);
    if (l.nbytes) std::memcpy(blob.data() + l.offset, data.bytes.data(), l.nbytes);
    layout.push_back(l);
  }
  blob.resize((blob.size() + 63) / 64 * 64, 0);
  return layout;
}

}  // namespace

GeneratedModel generate_cpu_model(const frontend::LoadedProgram& input,
                                  const CpuBackendOptions& options) {
  StageTimer timer(options);
  frontend::LoadedProgram loaded = input;
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram program = loaded.program;

  const auto missing = ops::unsupported_ops(program.graph);
  if (!missing.empty()) {
    std::string list;
    for (const auto& [target, count] : missing) {
      list += (list.empty() ? "" : ", ") + target + " (x" + std::to_string(count) + ")";
    }
    throw error("the program uses ", missing.size(), " op(s) kiln does not support: ", list);
  }
  bool dumped = options.dump_after.empty();
  if (!dumped && !passes::find_pass(options.dump_after)) {
    throw error("--dump-after: no pass named '", options.dump_after, "'");
  }
  passes::prepare_for_backend(program, [&](const passes::PassInfo& pass,
                                           const ir::ExportedProgram& p) {
    if (pass.name == options.dump_after && options.dump) {
      *options.dump << ir::print(p);
      dumped = true;
    }
  });
  timer.done("passes");

  lower::Program lowered = lower::lower_program(program);
  timer.done("lower");

  GeneratedModel model;
  model.model_name = loaded.model_name.empty() ? "model" : loaded.model_name;
  model.summary.fused_groups = schedule::fuse_reductions(lowered);
  const schedule::MemoryPlan plan = schedule::plan_memory(lowered);
  timer.done("schedule");

  WrapperSpec spec;
  spec.source = &program;
  spec.program = &lowered;
  spec.plan = &plan;
  spec.symbols = model_symbols(lowered);
  spec.constants = build_weights(loaded, program, lowered, model.weights);
  spec.model_name = model.model_name;
  spec.kiln_version = kVersion;
  spec.target_cpu = options.target_cpu;
  spec.external_weights = options.external_weights;
  spec.weights_size = model.weights.size();
  model.weights_checksum = rt::weights_checksum(model.weights.data(), model.weights.size());
  spec.weights_checksum = model.weights_checksum;

  cpu::PrintContext pc;
  pc.program = &lowered;
  pc.symbols = spec.symbols;
  std::string unit;
  int unit_steps = 0;
  auto flush = [&] {
    if (unit_steps == 0) return;
    model.sources.push_back({"kernels_" + std::to_string(model.sources.size()) + ".cpp",
                             cpu::kernel_prelude() + "\nnamespace kiln_model {\n\n" + unit +
                                 "}  // namespace kiln_model\n"});
    unit.clear();
    unit_steps = 0;
  };
  for (size_t s = 0; s < lowered.steps.size(); ++s) {
    const lower::Step& step = lowered.steps[s];
    const std::string fn = "step" + std::to_string(s);
    std::string inner;
    if (step.kernel) {
      unit += cpu::print_kernel(*step.kernel, pc);
      inner = step.kernel->name;
      ++model.summary.kernels;
    } else {
      inner = "extern" + std::to_string(s);
      unit += cpu::print_extern(*step.call, inner, pc);
      ++model.summary.externs;
    }
    unit += "\nbool " + fn + "(const kiln::rt::RunContext& ctx, void* const* buffers) {\n  return " +
            inner + "(ctx, buffers);\n}\n\n";
    spec.step_functions.push_back(fn);
    if (++unit_steps == kStepsPerUnit) flush();
  }
  flush();
  model.sources.push_back({"wrapper.cpp", print_wrapper(spec)});

  model.summary.arena_bytes = plan.total_bytes.str();
  std::unordered_map<std::string, int64_t> at_max;
  bool bounded = true;
  for (const auto& s : spec.symbols) {
    auto it = program.ranges.find(s);
    if (it == program.ranges.end() || !it->second.max) {
      bounded = false;
      break;
    }
    at_max[s] = *it->second.max;
  }
  if (bounded) model.summary.arena_bytes_at_max = plan.total_bytes.eval(at_max);
  timer.done("codegen");
  return model;
}

}  // namespace kiln::codegen
