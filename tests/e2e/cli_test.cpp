// The kiln command as a user runs it: exit codes, one-line errors, inspect's report, run's files.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixture_models.h"
#include "op_harness.h"
#include "ref/npy_io.h"
#include "test_paths.h"
#include "util/npy.h"

namespace kiln::testing {
namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

Result run_kiln(const std::string& args) {
  auto dir = fresh_temp_dir("cli");
  std::string cmd = kiln_binary().string() + " " + args + " >" + (dir / "out").string() + " 2>" +
                    (dir / "err").string();
  Result r;
  int raw = std::system(cmd.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

class InspectFixture : public ::testing::TestWithParam<FixtureModel> {};

TEST_P(InspectFixture, PrintsHistogramAndUnsupportedList) {
  const FixtureModel& fx = GetParam();
  Result text = run_kiln("inspect " + (fx.dir / "model.pt2").string());
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("ops ("), std::string::npos);
  EXPECT_NE(text.out.find("unsupported ops ("), std::string::npos);
  Result json = run_kiln("inspect --json " + (fx.dir / "model.pt2").string());
  ASSERT_EQ(json.status, 0) << json.err;
  auto report = nlohmann::json::parse(json.out);
  int nodes = 0;
  for (const auto& [target, count] : report["ops"].items()) {
    EXPECT_NE(text.out.find(target), std::string::npos) << target;
    nodes += count.get<int>();
  }
  EXPECT_EQ(report["node_count"].get<int>(), nodes);
  EXPECT_EQ(report["inputs"].size(), fx.manifest()["user_inputs"].size());
  EXPECT_EQ(report["outputs"].size(), fx.manifest()["user_outputs"].size());
  EXPECT_EQ(report["symbols"].size(), fx.manifest()["range_constraints"].size());
  for (const auto& [target, count] : report["unsupported_ops"].items()) {
    EXPECT_NE(text.out.find("  " + target + " ("), std::string::npos) << target;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InspectFixture, ::testing::ValuesIn(fixture_models()),
                         [](const auto& param_info) { return param_info.param.id; });

TEST(Cli, UnreadableArchivesExitNonZeroWithOneLine) {
  auto dir = fresh_temp_dir("cli_bad");
  auto good = fixture_dir() / "torch2.15" / "mlp" / "model.pt2";
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  };
  for (const auto& path :
       {write("truncated.pt2", bytes.substr(0, bytes.size() / 2)), write("empty.pt2", ""),
        write("text.pt2", "not a zip"), (dir / "missing.pt2").string()}) {
    Result r = run_kiln("inspect " + path);
    EXPECT_EQ(r.status, 1) << path;
    EXPECT_TRUE(r.out.empty()) << path;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  }
  EXPECT_EQ(run_kiln("inspect").status, 2);
  EXPECT_EQ(run_kiln("frobnicate").status, 2);
}

TEST(Cli, RunReferenceWritesOutputsAndNamesBadInputs) {
  auto fx_dir = fixture_dir() / "torch2.15" / "mlp";
  auto out = fresh_temp_dir("cli_run");
  Result r = run_kiln("run " + (fx_dir / "model.pt2").string() + " --reference --inputs " +
                      (fx_dir / "case0_in0.npy").string() + " --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  ref::Tensor got = ref::tensor_from_npy(util::read_npy(out / "out0.npy"));
  ref::Tensor want = ref::tensor_from_npy(util::read_npy(fx_dir / "case0_out0.npy"));
  EXPECT_LE(relative_error(got, want), 1e-5);

  // An input of the wrong width: named, with the dim and the value.
  std::mt19937 rng(9);
  auto bad = fresh_temp_dir("cli_bad_input") / "x.npy";
  util::write_npy(bad, ref::npy_from_value(random_tensor(ir::DType::kFloat32, {2, 15}, rng), 0));
  Result e = run_kiln("run " + (fx_dir / "model.pt2").string() + " --reference --inputs " +
                      bad.string() + " --out " + out.string());
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.err.find("input 'x' dim 1 is 15"), std::string::npos) << e.err;
}

}  // namespace
}  // namespace kiln::testing
