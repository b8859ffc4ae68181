// kiln compile, kiln run MODEL.so and kiln bench as a user runs them: argument errors, and a
// hand-built model library run and benchmarked through the CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "../link/hand_model.h"
#include "compiled_model.h"
#include "link/build.h"
#include "passes/passes.h"
#include "test_paths.h"
#include "util/float_formats.h"
#include "util/npy.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

Result kiln(const std::string& args) {
  auto dir = fresh_temp_dir("cli_compile");
  std::string cmd = kiln_binary().string() + " " + args + " >" + (dir / "out").string() + " 2>" +
                    (dir / "err").string();
  Result r;
  int raw = std::system(cmd.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

util::NpyArray float_array(std::vector<int64_t> shape, std::mt19937& rng) {
  util::NpyArray a;
  a.dtype = ir::DType::kFloat32;
  a.shape = std::move(shape);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  a.data.resize(static_cast<size_t>(a.numel()) * 4);
  for (int64_t i = 0; i < a.numel(); ++i) {
    float v = dist(rng);
    std::memcpy(a.data.data() + 4 * i, &v, 4);
  }
  return a;
}

float element(const util::NpyArray& a, int64_t i) {
  float v;
  std::memcpy(&v, a.data.data() + 4 * i, 4);
  return v;
}

TEST(CliCompile, ArgumentErrorsAreNamed) {
  const std::string model = (fixture_dir() / "torch2.15" / "mlp" / "model.pt2").string();
  auto dir = fresh_temp_dir("cli_compile_args");
  const std::string out = (dir / "m.so").string();

  Result r = kiln("compile " + model);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("compile: missing -o OUTPUT.so"), std::string::npos) << r.err;

  r = kiln("compile -o " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("missing MODEL.pt2"), std::string::npos) << r.err;

  r = kiln("compile " + model + " -o " + out + " --weights sideways");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--weights takes embed or external, not 'sideways'"), std::string::npos)
      << r.err;

  r = kiln("compile " + model + " -o " + out + " --device cuda");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "kiln: error: device 'cuda' is not supported yet (use cpu)\n");

  r = kiln("compile " + model + " -o " + out + " --target-cpu pentium9");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("target cpu 'pentium9' is not supported"), std::string::npos) << r.err;

  r = kiln("compile " + model + " -o " + out + " --jobs 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--jobs takes a positive count, not '0'"), std::string::npos) << r.err;

  r = kiln("compile " + model + " -o");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("-o needs a value"), std::string::npos) << r.err;

  r = kiln("compile " + model + " -o " + out + " --frobnicate");
  EXPECT_EQ(r.status, 2);

  r = kiln("compile " + (dir / "missing.pt2").string() + " -o " + out);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing.pt2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

// A model library built from hand-written sources, and one input file for it.
struct HandLibrary {
  HandModel hand;
  fs::path dir;
  fs::path library;
  fs::path input;
  util::NpyArray x;
};

HandLibrary hand_library(bool external) {
  HandLibrary h;
  h.hand = make_hand_model(external, 2, "cli", 5);
  h.dir = fresh_temp_dir("cli_hand");
  h.library = h.dir / "hand.so";
  link::LinkOptions o;
  o.output = h.library;
  o.external_weights = external;
  o.cache_dir = fs::temp_directory_path() / "kiln_link_test_cache";
  link::build_shared_library(h.hand.model, o);
  std::mt19937 rng(3);
  h.x = float_array({6, 4}, rng);
  h.input = h.dir / "x.npy";
  util::write_npy(h.input, h.x);
  return h;
}

// --verbose times every pass of the pipeline (two-space-indented lines under "passes"); without
// it only the stages are reported.
TEST(CliCompile, VerboseTimesEachPass) {
  const std::string model = (fixture_dir() / "torch2.15" / "op_act" / "model.pt2").string();
  auto dir = fresh_temp_dir("cli_verbose");
  const std::string common = "compile " + model + " -o " + (dir / "m.so").string() +
                             " --cache-dir " + test_cache_dir().string();
  Result r = kiln(common + " --verbose");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const passes::PassInfo& pass : passes::backend_pipeline()) {
    EXPECT_NE(r.err.find("[kiln]   pass " + std::string(pass.name) + ": "), std::string::npos)
        << pass.name << "\n"
        << r.err;
  }
  EXPECT_NE(r.err.find("[kiln] passes: "), std::string::npos) << r.err;
  Result quiet = kiln(common);
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_NE(quiet.err.find("[kiln] passes: "), std::string::npos) << quiet.err;
  EXPECT_EQ(quiet.err.find("  pass "), std::string::npos) << quiet.err;
}

TEST(CliRun, CompiledLibraryWritesOutputs) {
  HandLibrary h = hand_library(false);
  auto out = h.dir / "out";
  Result r = kiln("run " + h.library.string() + " --inputs " + h.input.string() + " --out " +
                  out.string() + " --runners 2");
  ASSERT_EQ(r.status, 0) << r.err;
  util::NpyArray y = util::read_npy(out / "out0.npy");
  ASSERT_EQ(y.shape, (std::vector<int64_t>{6, 4}));
  ASSERT_EQ(y.dtype, ir::DType::kFloat32);
  for (int64_t i = 0; i < 24; ++i) {
    EXPECT_EQ(element(y, i), element(h.x, i) + h.hand.w[i % 4] + h.hand.c) << i;
  }
}

// --expect: the outputs checked against stored arrays; a small error passes, a larger one, a NaN
// or another shape fails with status 1 and a line naming the output.
TEST(CliRun, ExpectComparesOutputs) {
  HandLibrary h = hand_library(false);
  util::NpyArray want = h.x;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float v = element(h.x, i) + h.hand.w[i % 4] + h.hand.c;
    std::memcpy(want.data.data() + 4 * i, &v, 4);
  }
  auto run_expect = [&](const util::NpyArray& expected, const std::string& name) {
    const fs::path file = h.dir / (name + ".npy");
    util::write_npy(file, expected);
    return kiln("run " + h.library.string() + " --inputs " + h.input.string() + " --out " +
                (h.dir / "out").string() + " --expect " + file.string());
  };
  Result ok = run_expect(want, "want");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.err.find("output 0: relative error"), std::string::npos) << ok.err;

  util::NpyArray off = want;  // one element off by 0.05: a relative error near 1e-3
  float v = element(off, 5) + 0.05f;
  std::memcpy(off.data.data() + 20, &v, 4);
  Result far = run_expect(off, "off");
  EXPECT_EQ(far.status, 1);
  EXPECT_NE(far.err.find("outputs differ"), std::string::npos) << far.err;

  util::NpyArray nan = want;
  v = std::nanf("");
  std::memcpy(nan.data.data() + 8, &v, 4);
  Result with_nan = run_expect(nan, "nan");
  EXPECT_EQ(with_nan.status, 1);
  EXPECT_NE(with_nan.err.find("NaN"), std::string::npos) << with_nan.err;

  std::mt19937 rng(3);
  Result shape = run_expect(float_array({3, 8}, rng), "shape");  // the output is [6, 4]
  EXPECT_EQ(shape.status, 1);
  EXPECT_NE(shape.err.find("shape differs"), std::string::npos) << shape.err;

  Result count = kiln("run " + h.library.string() + " --inputs " + h.input.string() + " --out " +
                      (h.dir / "out").string() + " --expect " + (h.dir / "want.npy").string() +
                      " " + (h.dir / "want.npy").string());
  EXPECT_NE(count.status, 0);
  EXPECT_NE(count.err.find("--expect names 2 files"), std::string::npos) << count.err;
}

TEST(CliRun, BadInputsAndModelErrorsExitWithOneLine) {
  HandLibrary h = hand_library(false);
  const std::string run = "run " + h.library.string() + " --out " + (h.dir / "o").string();
  std::mt19937 rng(8);
  util::write_npy(h.dir / "wide.npy", float_array({6, 5}, rng));
  Result r = kiln(run + " --inputs " + (h.dir / "wide.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("kiln: error: input 'x' (#0): dim 1 is 5"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  r = kiln(run + " --inputs " + h.input.string() + " " + h.input.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("takes 1 input (x) but 2 were given"), std::string::npos) << r.err;

  util::NpyArray d;
  d.dtype = ir::DType::kFloat64;
  d.shape = {6, 4};
  d.data.assign(6 * 4 * 8, std::byte{0});
  util::write_npy(h.dir / "double.npy", d);
  r = kiln(run + " --inputs " + (h.dir / "double.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("double.npy holds f64 but input 'x' (#0) takes f32"), std::string::npos)
      << r.err;

  r = kiln(run + " --reference --inputs " + h.input.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("compiled model library"), std::string::npos) << r.err;

  std::ofstream(h.dir / "not_a_model.so") << "text";
  r = kiln("run " + (h.dir / "not_a_model.so").string() + " --inputs " + h.input.string() +
           " --out " + (h.dir / "o").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is not a model library"), std::string::npos) << r.err;

  // Weights that went missing: the runtime's load error, with the file.
  HandLibrary ext = hand_library(true);
  fs::remove(ext.library.string() + ".weights");
  r = kiln("run " + ext.library.string() + " --inputs " + ext.input.string() + " --out " +
           (ext.dir / "o").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("hand.so.weights"), std::string::npos) << r.err;
}

// A model with narrow float inputs: a = copy of x (bf16[s0, 3]), b = copy of h (f16[s0, 3]).
constexpr const char* kNarrowWrapper =
    R"cpp(#include <cstdint>
#include <cstring>

#include "checks.h"
#include "kiln/kiln.h"
#include "model_interface.h"

          extern "C" const unsigned char kiln_weights_blob[];

          namespace {
          using namespace kiln::rt;

          const SymbolInfo kSymbols[] = {{"s0", 1, 16}};
          const char* const kDims[] = {"s0", "3"};
          const int64_t kMin[] = {1, 3};
          const int64_t kMax[] = {16, 3};
          const TensorInfo kInputs[] = {{"x", {kDLBfloat, 16, 1}, 2, kDims, kMin, kMax},
                                        {"h", {kDLFloat, 16, 1}, 2, kDims, kMin, kMax}};
          const TensorInfo kOutputs[] = {{"a", {kDLBfloat, 16, 1}, 2, kDims, kMin, kMax},
                                         {"b", {kDLFloat, 16, 1}, 2, kDims, kMin, kMax}};

          bool bind_inputs(const DLTensor* const* in, int64_t* symbols, ErrorSink* err) {
            symbols[0] = INT64_MIN;
            for (int32_t i = 0; i < 2; ++i) {
              if (!check_tensor(in[i], i, kInputs[i], err)) return false;
              if (!bind_symbol(kInputs[i], i, 0, in[i]->shape[0], kSymbols[0], &symbols[0], err)) {
                return false;
              }
              if (!check_dim(kInputs[i], i, 1, in[i]->shape[1], 3, err)) return false;
            }
            return true;
          }

          bool bind_shapes(const int64_t* const* shapes, int64_t* symbols, ErrorSink* err) {
            symbols[0] = INT64_MIN;
            for (int32_t i = 0; i < 2; ++i) {
              if (!bind_symbol(kInputs[i], i, 0, shapes[i][0], kSymbols[0], &symbols[0], err)) return false;
              if (!check_dim(kInputs[i], i, 1, shapes[i][1], 3, err)) return false;
            }
            return true;
          }

          void output_shapes(const int64_t* symbols, int64_t* const* shapes) {
            for (int j = 0; j < 2; ++j) {
              shapes[j][0] = symbols[0];
              shapes[j][1] = 3;
            }
          }

          uint64_t arena_bytes(const int64_t*) {
            return 0;
          }

          bool run(const RunContext& ctx) {
            const size_t bytes = static_cast<size_t>(ctx.symbols[0]) * 3 * 2;
            std::memcpy(ctx.outputs[0], ctx.inputs[0], bytes);
            std::memcpy(ctx.outputs[1], ctx.inputs[1], bytes);
            return true;
          }

          const ModelDesc kDesc = {kModelInterfaceVersion,
                                   "narrow",
                                   "test",
                                   "x86-64-v3",
                                   1,
                                   kSymbols,
                                   2,
                                   kInputs,
                                   2,
                                   kOutputs,
                                   0,
                                   nullptr,
                                   kiln_weights_blob,
                                   0,
                                   CHECKSUM,
                                   bind_inputs,
                                   bind_shapes,
                                   output_shapes,
                                   arena_bytes,
                                   run};

          }  // namespace

          extern "C" const kiln::rt::ModelDesc* kiln_rt_model() {
            return &kDesc;
          }
    )cpp";

TEST(CliRun, NarrowFloatInputsAndOutputs) {
  codegen::GeneratedModel model;
  model.model_name = "narrow";
  model.weights_checksum = rt::weights_checksum(nullptr, 0);
  std::string wrapper = kNarrowWrapper;
  wrapper.replace(wrapper.find("CHECKSUM"), 8, std::to_string(model.weights_checksum) + "ULL");
  model.sources.push_back({"wrapper.cpp", wrapper});
  auto dir = fresh_temp_dir("cli_narrow");
  link::LinkOptions o;
  o.output = dir / "narrow.so";
  o.cache_dir = fs::temp_directory_path() / "kiln_link_test_cache";
  link::build_shared_library(model, o);

  // x: float32 values that bf16 cannot hold, so they must be rounded (to nearest, ties to
  // even); h: float16 values, passed as they are.
  std::mt19937 rng(12);
  util::NpyArray x = float_array({5, 3}, rng);
  float tie = 1.0f + 0x1p-8f;  // exactly between two bf16 values: rounds to even (1.0)
  std::memcpy(x.data.data(), &tie, 4);
  util::NpyArray h;
  h.dtype = ir::DType::kFloat16;
  h.shape = {5, 3};
  std::uniform_real_distribution<double> dist(-8.0, 8.0);
  for (int i = 0; i < 15; ++i) {
    uint16_t bits =
        util::double_to_half_bits(util::round_to_float_format(ir::DType::kFloat16, dist(rng)));
    h.data.push_back(static_cast<std::byte>(bits & 0xff));
    h.data.push_back(static_cast<std::byte>(bits >> 8));
  }
  util::write_npy(dir / "x.npy", x);
  util::write_npy(dir / "h.npy", h);
  Result r = kiln("run " + (dir / "narrow.so").string() + " --inputs " + (dir / "x.npy").string() +
                  " " + (dir / "h.npy").string() + " --out " + (dir / "out").string());
  ASSERT_EQ(r.status, 0) << r.err;
  util::NpyArray a = util::read_npy(dir / "out" / "out0.npy");
  util::NpyArray b = util::read_npy(dir / "out" / "out1.npy");
  ASSERT_EQ(a.dtype, ir::DType::kFloat32);
  ASSERT_EQ(a.shape, x.shape);
  for (int64_t i = 0; i < 15; ++i) {
    const double want = util::round_to_float_format(ir::DType::kBFloat16, element(x, i));
    EXPECT_EQ(element(a, i), static_cast<float>(want)) << i << ": " << element(x, i);
  }
  EXPECT_EQ(element(a, 0), 1.0f);
  ASSERT_EQ(b.dtype, ir::DType::kFloat16);
  EXPECT_EQ(b.data, h.data);

  // float16 inputs must come as float16.
  r = kiln("run " + (dir / "narrow.so").string() + " --inputs " + (dir / "x.npy").string() + " " +
           (dir / "x.npy").string() + " --out " + (dir / "out").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("x.npy holds f32 but input 'h' (#1) takes f16"), std::string::npos) << r.err;
}

TEST(CliBench, ReportsPercentilesAndThroughput) {
  HandLibrary h = hand_library(false);
  const std::string bench = "bench " + h.library.string() + " --inputs " + h.input.string();
  Result r = kiln(bench + " --iters 40 --warmup 3 --concurrency 3 --runners 2 --threads 1 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["runs"].get<int>(), 40);
  EXPECT_EQ(j["concurrency"].get<int>(), 3);
  EXPECT_EQ(j["runners"].get<int>(), 2);
  const auto& lat = j["latency_ms"];
  EXPECT_GT(lat["p50"].get<double>(), 0.0);
  EXPECT_LE(lat["min"].get<double>(), lat["p50"].get<double>());
  EXPECT_LE(lat["p50"].get<double>(), lat["p90"].get<double>());
  EXPECT_LE(lat["p90"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["max"].get<double>());
  EXPECT_GT(j["throughput_per_s"].get<double>(), 0.0);

  r = kiln(bench + " --iters 5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("p50"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runs/s"), std::string::npos) << r.out;

  EXPECT_EQ(kiln("bench " + h.library.string()).status, 2);
  EXPECT_EQ(kiln(bench + " --concurrency 0").status, 2);
  std::mt19937 rng(4);
  util::write_npy(h.dir / "tall.npy", float_array({65, 4}, rng));
  r = kiln("bench " + h.library.string() + " --inputs " + (h.dir / "tall.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("outside the range [1, 64] of s0"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kiln::testing
