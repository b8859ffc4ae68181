// Every kernel and extern call that lowering makes of real exported models prints, and the
// printed code compiles without a warning.

#include <set>

#include "frontend/load.h"
#include "kernel_harness.h"
#include "lower/lowering.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"

namespace kiln::testing {
namespace {

// The printed steps of a fixture model, inside a namespace of their own.
std::string print_fixture(const std::string& name) {
  auto loaded = frontend::load_program(fixture_dir() / "torch2.11" / name / "model.pt2");
  if (!loaded.program.read_stored) passes::attach_stored_tensors(loaded);
  ir::ExportedProgram prepared = loaded.program;
  passes::prepare_for_backend(prepared);
  const lower::Program program = lower::lower_program(prepared);
  std::set<std::string> symbols;
  for (const auto& b : program.buffers) {
    for (const auto& d : b.sizes) {
      for (const auto& s : d.free_symbols())
        symbols.insert(s);
    }
  }
  const codegen::cpu::PrintContext pc{&program, {symbols.begin(), symbols.end()}};
  std::string code = "namespace " + name + " {\n";
  std::string all = "bool (*const steps[])(const kiln::rt::RunContext&, void* const*) = {";
  int kernels = 0, externs = 0;
  for (const auto& step : program.steps) {
    if (step.kernel) {
      code += codegen::cpu::print_kernel(*step.kernel, pc) + "\n";
      all += step.kernel->name + ", ";
      ++kernels;
    } else if (step.call) {
      const std::string fn = "extern" + std::to_string(externs++);
      code += codegen::cpu::print_extern(*step.call, fn, pc) + "\n";
      all += fn + ", ";
    }
  }
  EXPECT_GT(kernels, 0) << name;
  return code + all + "};\n}  // namespace " + name + "\n";
}

TEST(CpuFixtureKernels, LoweredModelsPrintAndCompileCleanly) {
  std::string code;
  for (const char* name : {"mlp", "bert", "op_indexing", "op_reduce", "op_norms"}) {
    try {
      code += print_fixture(name);
    } catch (const Error& e) {
      ADD_FAILURE() << "printing fixture " << name << ": " << e.what();
    }
  }
  // Syntax and warnings only: the kernels are not run (their externs live in the runtime).
  CompiledKernels lib(code, {}, "", "-fsyntax-only");
  EXPECT_TRUE(lib.ok());
  EXPECT_EQ(lib.compiler_output(), "");
}

}  // namespace
}  // namespace kiln::testing
