#include "codegen/cpu_backend.h"

#include <chrono>
#include <cstring>
#include <map>

#include "checksum.h"
#include "codegen/cpu/kernel_printer.h"
#include "codegen/wrapper/wrapper_printer.h"
#include "externs.h"
#include "ir/printer.h"
#include "lower/lowering.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "schedule/fuse_epilogues.h"
#include "schedule/fuse_reductions.h"
#include "schedule/plan_memory.h"
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
    report(stage, start_);
    start_ = lap_start_ = std::chrono::steady_clock::now();
  }
  // A part of the current stage, timed from the previous part (or the stage's start).
  void lap(std::string_view part) {
    report(part, lap_start_);
    lap_start_ = std::chrono::steady_clock::now();
  }

 private:
  void report(std::string_view name, std::chrono::steady_clock::time_point since) const {
    if (!options_.on_stage) return;
    const auto now = std::chrono::steady_clock::now();
    options_.on_stage(name, std::chrono::duration<double>(now - since).count());
  }

  const CpuBackendOptions& options_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point lap_start_ = start_;
};

// Lays out every constant 64-byte aligned in one blob.
std::vector<ConstantLayout> build_weights(const frontend::LoadedProgram& loaded,
                                          const ir::ExportedProgram& program,
                                          const lower::Program& lowered,
                                          std::vector<uint8_t>& blob) {
  std::vector<ConstantLayout> layout;
  for (size_t c = 0; c < lowered.constants.size(); ++c) {
    const ir::ConstantData data =
        passes::stored_constant(loaded, program, static_cast<size_t>(lowered.constant_inputs[c]));
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

std::string sizes_text(const std::vector<sym::Expr>& sizes) {
  std::string out = "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    out += (d ? ", " : "") + sizes[d].str();
  return out + "]";
}

// A gemm or conv call's fused post-ops (runtime/externs.h), as " + relu, add(buf7)".
std::string epilogue_text(const lower::Program& program, const lower::ExternCall& c) {
  size_t at = 0;
  if (c.kind == "gemm") {
    at = 18;
  } else if (c.kind == "conv" && c.int_params.size() > 1 && c.int_params[1].as_const()) {
    at = 8 + 6 * static_cast<size_t>(*c.int_params[1].as_const());
  } else {
    return "";
  }
  if (c.int_params.size() < at + 2) return "";
  const auto count = c.int_params[at + 1].as_const();
  if (!count || *count == 0 || c.int_params.size() < at + 2 + 2 * static_cast<size_t>(*count)) {
    return "";
  }
  static const std::map<int64_t, std::string> kNames = {{rt::kPostRelu, "relu"},
                                                        {rt::kPostLeakyRelu, "leaky_relu"},
                                                        {rt::kPostElu, "elu"},
                                                        {rt::kPostGeluErf, "gelu"},
                                                        {rt::kPostGeluTanh, "gelu_tanh"},
                                                        {rt::kPostSigmoid, "sigmoid"},
                                                        {rt::kPostTanh, "tanh"},
                                                        {rt::kPostSilu, "silu"},
                                                        {rt::kPostHardswish, "hardswish"},
                                                        {rt::kPostClamp, "clamp"},
                                                        {rt::kPostLinear, "linear"},
                                                        {rt::kPostAdd, "add"},
                                                        {rt::kPostAddChannel, "add_channel"},
                                                        {rt::kPostMul, "mul"},
                                                        {rt::kPostMulChannel, "mul_channel"},
                                                        {rt::kPostSub, "sub"},
                                                        {rt::kPostSubChannel, "sub_channel"}};
  std::string out = " + epilogue:";
  for (int64_t k = 0; k < *count; ++k) {
    const auto kind = c.int_params[at + 2 + 2 * static_cast<size_t>(k)].as_const();
    const auto input = c.int_params[at + 3 + 2 * static_cast<size_t>(k)].as_const();
    auto it = kind ? kNames.find(*kind) : kNames.end();
    out += std::string(k ? ", " : " ") + (it != kNames.end() ? it->second : "?");
    if (input && *input >= 0 && static_cast<size_t>(*input) < c.inputs.size()) {
      const lower::BufferId b = c.inputs[static_cast<size_t>(*input)];
      out += "(" + program.buffers[static_cast<size_t>(b)].name + ")";
    }
  }
  return out;
}

std::string describe_plan(const lower::Program& program, const schedule::MemoryPlan& plan,
                          const CompileSummary& summary) {
  std::string out;
  out += "steps: " + std::to_string(program.steps.size()) + " (" + std::to_string(summary.kernels) +
         " kernels, " + std::to_string(summary.externs) +
         " externs), fused groups: " + std::to_string(summary.fused_groups) + "\n";
  for (size_t s = 0; s < program.steps.size(); ++s) {
    const lower::Step& step = program.steps[s];
    std::vector<lower::BufferId> writes;
    if (step.kernel) {
      const lower::Kernel& k = *step.kernel;
      out += "  " + std::to_string(s) + ". " + k.name + " over " + sizes_text(k.ranges) + ":";
      for (const lower::Loop& loop : k.loops) {
        out += " " +
               (loop.reduce ? std::string(lower::reduce_op_name(*loop.reduce)) : "pointwise") +
               (loop.ranges.empty() ? "" : sizes_text(loop.ranges));
        for (const auto& st : loop.stores)
          writes.push_back(st.buffer);
      }
      out += "\n      ops: " + k.comment + "\n";
    } else {
      const lower::ExternCall& c = *step.call;
      out += "  " + std::to_string(s) + ". extern " + c.kind + epilogue_text(program, c) +
             "\n      ops: " + c.comment + "\n";
      writes = c.outputs;
    }
    std::string w;
    for (lower::BufferId b : writes) {
      const lower::Buffer& buf = program.buffers[b];
      const std::string text =
          buf.name + " " + std::string(ir::dtype_name(buf.dtype)) + sizes_text(buf.sizes);
      if (w.find(text) == std::string::npos) w += (w.empty() ? "" : ", ") + text;
    }
    out += "      writes: " + w + "\n";
  }
  out += "arena: " + plan.total_bytes.str() + " bytes";
  if (summary.arena_bytes_at_max >= 0) {
    out += " (" + std::to_string(summary.arena_bytes_at_max) + " at the largest shapes)";
  }
  out += ", " + std::to_string(plan.slots.size()) + " slots\n";
  for (size_t k = 0; k < plan.slots.size(); ++k) {
    out += "  slot " + std::to_string(k) + " at " + plan.slots[k].offset.str() + ", " +
           plan.slots[k].bytes.str() + " bytes:";
    for (lower::BufferId b : plan.slots[k].members)
      out += " " + program.buffers[b].name;
    out += "\n";
  }
  return out;
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
  passes::prepare_for_backend(program,
                              [&](const passes::PassInfo& pass, const ir::ExportedProgram& p) {
                                timer.lap("  pass " + std::string(pass.name));
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
  model.summary.fused_groups = schedule::fuse_epilogues(lowered);
  model.summary.fused_groups += schedule::fuse_reductions(lowered);
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
    unit += "\nbool " + fn +
            "(const kiln::rt::RunContext& ctx, void* const* buffers) {\n  return " + inner +
            "(ctx, buffers);\n}\n\n";
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
  model.plan_text = describe_plan(lowered, plan, model.summary);
  timer.done("codegen");
  return model;
}

}  // namespace kiln::codegen
