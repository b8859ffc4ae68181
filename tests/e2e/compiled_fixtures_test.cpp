// Every fixture model compiled for the CPU reproduces PyTorch's stored outputs (fp32 within
// 1e-4 relative, fp16/bf16 within 1e-2, integers and bools exactly) and matches the reference
// interpreter on fresh random inputs at the smallest, the largest and a random legal shape.
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

// The random-shape checks run the reference interpreter, which is slow on big inputs: a shape
// whose user inputs hold more elements than this is shrunk, halving its largest symbol (toward
// the symbol's minimum) until it fits.
constexpr int64_t kMaxInputElements = 60000;

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
  const auto& cases = fx.manifest["cases"];
  std::vector<std::vector<ref::Tensor>> case_inputs;
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<ref::Tensor> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto file = (fx.dir / cases[c]["inputs"][i]["file"].get<std::string>()).string();
      args.push_back(std::get<ref::Tensor>(ref::value_from_npy(util::read_npy(file), *inputs[i], file)));
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
        for (int64_t k = 0; k < have.numel(); ++k) wide.set(k, have.get(k));
        expect_close(wide, want, ir::DType::kBFloat16);
      } else {
        expect_close(have, want, have.dtype());
      }
    }
    case_inputs.push_back(std::move(args));
  }

  // Fresh random inputs at the smallest, the largest and a random shape of every range.
  passes::attach_stored_tensors(loaded);
  ir::ExportedProgram rp = loaded.program;
  passes::inline_higher_order(rp);
  passes::functionalize(rp);
  ref::Interpreter interpreter(rp, passes::stored_tensors(loaded, rp));
  std::mt19937 rng(1234);
  for (int variant = 0; variant < 3; ++variant) {
    std::unordered_map<std::string, int64_t> syms, mins;
    for (const auto& [name, range] : p.ranges) {
      const int64_t lo = std::max<int64_t>(range.min.value_or(0), 0);
      const int64_t hi = std::max(lo, range.max.value_or(lo + 64));
      mins[name] = lo;
      syms[name] = variant == 0 ? lo : variant == 1 ? hi : std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    }
    auto input_elements = [&] {
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
    while (input_elements() > kMaxInputElements) {
      std::string largest;
      for (const auto& [name, v] : syms) {
        if (v > mins[name] && (largest.empty() || v > syms[largest])) largest = name;
      }
      if (largest.empty()) break;
      syms[largest] = std::max(mins[largest], syms[largest] / 2);
    }
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
      // Integer inputs (token ids, indices) stay inside the values the stored case used.
      double lo = -2, hi = 2;
      if (!ir::is_floating(dt)) {
        const ref::Tensor& sample = case_inputs[0][i];
        lo = hi = sample.numel() ? sample.get(0) : 0;
        for (int64_t k = 0; k < sample.numel(); ++k) {
          lo = std::min(lo, sample.get(k));
          hi = std::max(hi, sample.get(k));
        }
        hi += 1;
      }
      args.push_back(random_tensor(dt, sizes, rng, lo, hi));
      rargs.emplace_back(args.back());
    }
    if (!ok) continue;
    SCOPED_TRACE("random variant " + std::to_string(variant));
    std::vector<ref::RValue> want;
    try {
      want = interpreter.run_user_outputs(rargs);
    } catch (const Error& e) {
      // A shape the export's guards reject (e.g. a derived dim out of range) is skipped.
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
        for (int64_t k = 0; k < have.numel(); ++k) wide.set(k, have.get(k));
        have = wide;
      }
      expect_close(have, w, dt);
    }
  }
}

// Reproducible builds: code generation is deterministic for every fixture (the linker's own
// determinism, from identical sources to identical bytes, is tested in tests/link).
TEST_P(CompiledFixture, GeneratesIdenticalSourcesTwice) {
  const FixtureModel& fx = GetParam();
  const frontend::LoadedProgram loaded = frontend::load_program(fx.dir / "model.pt2");
  const codegen::GeneratedModel a = codegen::generate_cpu_model(loaded, {});
  const codegen::GeneratedModel b = codegen::generate_cpu_model(frontend::load_program(fx.dir / "model.pt2"), {});
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
