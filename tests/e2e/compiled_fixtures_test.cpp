// Every fixture model compiled for the CPU reproduces PyTorch's stored outputs (fp32 within
// 1e-4 relative, fp16/bf16 within 1e-2, integers and bools exactly) and matches the reference
// interpreter on fresh random inputs at the smallest shape, each symbol at its maximum, the
// all-maximum corner (within a size budget) and a random legal shape.
#include <gtest/gtest.h>

#include <random>

#include "codegen/cpu_backend.h"
#include "compiled_model.h"
#include "fixture_models.h"
#include "frontend/load.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"
#include "ref/npy_io.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// The random-shape checks run the reference interpreter, which is slow on big inputs. The
// smallest shape and each symbol at its maximum (the others at their minimum) always run. The
// corner with every symbol at its maximum runs when its user inputs hold at most
// kMaxCornerElements elements (all but the image models, whose corner is 32x3x256x256 and would
// take the interpreter minutes), and a random shape is shrunk, halving its largest symbol toward
// the symbol's minimum, until it holds at most kMaxRandomElements.
constexpr int64_t kMaxCornerElements = 1 << 20;
constexpr int64_t kMaxRandomElements = 60000;

double tolerance(ir::DType t) {
  if (t == ir::DType::kFloat32 || t == ir::DType::kFloat64) return 1e-4;
  if (t == ir::DType::kFloat16 || t == ir::DType::kBFloat16) return 1e-2;
  return 0;
}

void expect_close(const ref::Tensor& got, const ref::Tensor& want, ir::DType dtype) {
  ASSERT_EQ(got.sizes(), want.sizes());
  const double tol = tolerance(dtype);
  if (tol == 0) {
    EXPECT_TRUE(same_values(got, want)) << "exact " << ir::dtype_name(dtype) << " output differs";
  } else {
    EXPECT_LE(relative_error(got, want), tol) << ir::dtype_name(dtype);
  }
}

class CompiledFixture : public ::testing::TestWithParam<FixtureModel> {
 protected:
  static std::filesystem::path so_path(const FixtureModel& fx) {
    return std::filesystem::temp_directory_path() / ("kiln-e2e-" + fx.id + ".so");
  }
};

std::vector<const ir::Value*> user_inputs(const ir::ExportedProgram& p) {
  std::vector<const ir::Value*> out;
  for (size_t i = 0; i < p.signature.inputs.size(); ++i) {
    if (p.signature.inputs[i].kind == ir::InputKind::kUserInput &&
        p.graph.values[p.graph.inputs[i]].kind == ir::ValueKind::kTensor) {
      out.push_back(&p.graph.values[p.graph.inputs[i]]);
    }
  }
  return out;
}

TEST_P(CompiledFixture, MatchesTorchAndReference) {
  const FixtureModel& fx = GetParam();
  frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  const auto so = compile_model(loaded, so_path(fx));
  CompiledModel model(so);

  ir::ExportedProgram p = loaded.program;
  const auto inputs = user_inputs(p);
  ASSERT_EQ(model.num_inputs(), inputs.size());

  // Stored cases: PyTorch's own outputs.
  const auto& cases = fx.manifest()["cases"];
  std::vector<std::vector<ref::Tensor>> case_inputs;
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<ref::Tensor> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto file = (fx.dir / cases[c]["inputs"][i]["file"].get<std::string>()).string();
      args.push_back(
          std::get<ref::Tensor>(ref::value_from_npy(util::read_npy(file), *inputs[i], file)));
    }
    const auto got = model.run(args);
    const auto& out = cases[c]["outputs"];
    ASSERT_EQ(got.size(), out.size());
    for (size_t o = 0; o < out.size(); ++o) {
      SCOPED_TRACE("output " + std::to_string(o));
      const ref::Tensor want =
          ref::tensor_from_npy(util::read_npy(fx.dir / out[o]["file"].get<std::string>()));
      // bf16 outputs are stored widened to f32: compare widened.
      ref::Tensor have = got[o];
      if (have.dtype() == ir::DType::kBFloat16) {
        ref::Tensor wide(ir::DType::kFloat32, have.sizes());
        for (int64_t k = 0; k < have.numel(); ++k)
          wide.set(k, have.get(k));
        expect_close(wide, want, ir::DType::kBFloat16);
      } else {
        expect_close(have, want, have.dtype());
      }
    }
    case_inputs.push_back(std::move(args));
  }

  // Fresh random inputs at the shapes described at kMaxCornerElements.
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram rp = loaded.program;
  passes::inline_higher_order(rp);
  passes::functionalize(rp);
  ref::Interpreter interpreter(rp, passes::stored_tensors(loaded, rp));
  std::mt19937 rng(1234);
  using Bindings = std::unordered_map<std::string, int64_t>;
  Bindings mins, maxs;
  for (const auto& [name, range] : p.ranges) {
    mins[name] = std::max<int64_t>(range.min.value_or(0), 0);
    maxs[name] = std::max(mins[name], range.max.value_or(mins[name] + 64));
  }
  auto input_elements = [&](const Bindings& syms) {
    int64_t total = 0;
    for (const ir::Value* v : inputs) {
      int64_t n = 1;
      for (const auto& d : v->type.sizes) {
        try {
          n *= d.eval(syms);
        } catch (const Error&) {
          return int64_t{0};
        }
      }
      total += n;
    }
    return total;
  };
  // (label, symbol bindings) of every shape compared.
  std::vector<std::pair<std::string, Bindings>> shapes = {{"smallest", mins}};
  // The range maxima are compared once per model, on its newest export: the older torch's
  // export of the same module compiles to the same kernels, and the interpreter at the image
  // models' maxima takes most of the suite's time.
  const bool newest_export = fx.dir.parent_path().filename() == "torch2.15";
  for (const auto& [name, hi] : maxs) {
    if (!newest_export) break;
    if (hi == mins[name]) continue;
    Bindings one = mins;
    one[name] = hi;
    shapes.emplace_back(name + " at its maximum " + std::to_string(hi), one);
  }
  if (newest_export && maxs != mins && input_elements(maxs) <= kMaxCornerElements)
    shapes.emplace_back("largest", maxs);
  Bindings random = mins;
  for (auto& [name, v] : random)
    v = std::uniform_int_distribution<int64_t>(v, maxs[name])(rng);
  while (input_elements(random) > kMaxRandomElements) {
    std::string largest;
    for (const auto& [name, v] : random) {
      if (v > mins[name] && (largest.empty() || v > random[largest])) largest = name;
    }
    if (largest.empty()) break;
    random[largest] = std::max(mins[largest], random[largest] / 2);
  }
  shapes.emplace_back("random", random);
  int compared = 0, refused = 0;
  for (const auto& [label, syms] : shapes) {
    std::vector<ref::Tensor> args;
    std::vector<ref::RValue> rargs;
    bool ok = true;
    for (size_t i = 0; i < inputs.size() && ok; ++i) {
      std::vector<int64_t> sizes;
      for (const auto& d : inputs[i]->type.sizes) {
        try {
          sizes.push_back(d.eval(syms));
        } catch (const Error&) {
          ok = false;
        }
      }
      if (!ok) break;
      const ir::DType dt = inputs[i]->type.dtype;
      // Integer and bool inputs (token ids, indices, nonzero divisors) are drawn from the values
      // the stored case used, so they keep whatever constraint the model relies on.
      if (ir::is_floating(dt)) {
        args.push_back(random_tensor(dt, sizes, rng, -2, 2));
      } else {
        const ref::Tensor& sample = case_inputs[0][i];
        ref::Tensor t(dt, sizes);
        std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(sample.numel() - 1, 0));
        for (int64_t k = 0; k < t.numel(); ++k)
          t.set(k, sample.numel() ? sample.get(pick(rng)) : 0);
        args.push_back(std::move(t));
      }
      rargs.emplace_back(args.back());
    }
    if (!ok) continue;
    SCOPED_TRACE("random inputs, shape: " + label);
    std::vector<ref::RValue> want;
    try {
      want = interpreter.run_user_outputs(rargs);
    } catch (const Error& reason) {
      // A shape the export's guards reject (a derived dim out of range, two dims that must be
      // equal): the compiled model must refuse it too.
      EXPECT_THROW((void)model.run(args), Error) << "the interpreter refused: " << reason.what();
      ++refused;
      continue;
    }
    const auto got = model.run(args);
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < got.size(); ++o) {
      SCOPED_TRACE("output " + std::to_string(o));
      const ref::Tensor w = ref::tensor_from_npy(ref::npy_from_value(want[o], o));
      ref::Tensor have = got[o];
      const ir::DType dt = have.dtype();
      if (dt == ir::DType::kBFloat16) {
        ref::Tensor wide(ir::DType::kFloat32, have.sizes());
        for (int64_t k = 0; k < have.numel(); ++k)
          wide.set(k, have.get(k));
        have = wide;
      }
      expect_close(have, w, dt);
    }
    ++compared;
  }
  // The older export compares the smallest and a random shape, of which the random one may be
  // refused; the newest also compares the range maxima.
  EXPECT_GE(compared, newest_export ? 2 : 1)
      << "too few legal shapes compared (" << refused << " refused)";
}

// Reproducible builds: code generation is deterministic for every fixture (the linker's own
// determinism, from identical sources to identical bytes, is tested in tests/link).
TEST_P(CompiledFixture, GeneratesIdenticalSourcesTwice) {
  const FixtureModel& fx = GetParam();
  const frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  const codegen::GeneratedModel a = codegen::generate_cpu_model(loaded, {});
  const codegen::GeneratedModel b =
      codegen::generate_cpu_model(frontend::load_program(fx.dir / "model.pt2"), {});
  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    EXPECT_EQ(a.sources[i].name, b.sources[i].name);
    EXPECT_TRUE(a.sources[i].text == b.sources[i].text) << a.sources[i].name << " differs";
  }
  EXPECT_TRUE(a.weights == b.weights);
  EXPECT_EQ(a.weights_checksum, b.weights_checksum);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CompiledFixture, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

}  // namespace
}  // namespace kiln::testing
