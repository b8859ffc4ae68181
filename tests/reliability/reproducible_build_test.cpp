// Reproducible builds: compiling a model twice gives byte-identical libraries.
// - Every fixture (both torch versions): two compiles through the library calls `kiln compile`
//   makes, into different paths. The second one hits the shared object cache, but still loads
//   the archive, regenerates every source and relinks, so it proves that loading, code
//   generation and linking are deterministic.
// - A few small fixtures through the CLI, each time with a fresh cache directory, so every
//   object is compiled again: the compiler's output must not depend on paths or time either.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "compiled_model.h"
#include "fixture_models.h"
#include "frontend/load.h"
#include "link/process.h"
#include "reliability_support.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw error("cannot read ", p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "" when identical; else the sizes and the first differing offset.
std::string first_difference(const fs::path& a, const fs::path& b) {
  const std::string x = slurp(a), y = slurp(b);
  if (x == y) return "";
  size_t at = 0;
  while (at < x.size() && at < y.size() && x[at] == y[at])
    ++at;
  return a.filename().string() + " (" + std::to_string(x.size()) + " bytes) and " +
         b.filename().string() + " (" + std::to_string(y.size()) +
         " bytes) first differ at offset " + std::to_string(at);
}

class ReproducibleBuild : public ::testing::TestWithParam<FixtureModel> {};

TEST_P(ReproducibleBuild, SecondCompileIsByteIdentical) {
  const FixtureModel& fx = GetParam();
  const fs::path dir = fresh_temp_dir("repro-" + fx.id);
  for (const char* name : {"first.so", "second.so"}) {
    compile_model(frontend::load_program(fx.dir / "model.pt2"), dir / name);
  }
  EXPECT_EQ(first_difference(dir / "first.so", dir / "second.so"), "");
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReproducibleBuild, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

// `kiln compile` with two fresh caches (all objects compiled anew, at the CLI's -O3) in two
// directories. `weights` is "embed" or "external"; external weights files must match too.
class ReproducibleFreshCache
    : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(ReproducibleFreshCache, IdenticalLibraries) {
  const auto [model, weights] = GetParam();
  const fs::path pt2 = reliability::fixture_pt2(model);
  std::vector<fs::path> outputs;
  for (const char* run : {"a", "b"}) {
    const fs::path dir = fresh_temp_dir(std::string("repro-cli-") + model + "-" + run);
    const fs::path so = dir / (std::string(model) + ".so");
    const link::ProcessResult r = link::run_process(
        {kiln_binary().string(), "compile", pt2.string(), "-o", so.string(), "--cache-dir",
         (dir / "cache").string(), "--weights", weights, "--jobs", "2"});
    ASSERT_TRUE(r.ok()) << r.output;
    outputs.push_back(so);
  }
  EXPECT_EQ(first_difference(outputs[0], outputs[1]), "");
  if (std::string(weights) == "external") {
    EXPECT_EQ(first_difference(outputs[0].string() + ".weights", outputs[1].string() + ".weights"),
              "");
  }
  for (const fs::path& so : outputs)
    fs::remove_all(so.parent_path());
}

INSTANTIATE_TEST_SUITE_P(Small, ReproducibleFreshCache,
                         ::testing::Values(std::make_pair("mlp", "embed"),
                                           std::make_pair("inplace_ops", "external")),
                         [](const auto& param_info) {
                           return std::string(param_info.param.first);
                         });

}  // namespace
}  // namespace kiln::testing
