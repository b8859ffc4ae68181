// Integrity of real compiled libraries (tests/runtime covers the same checks on a hand-written
// model description): a library generated for another model-interface version is refused at
// container creation, a library of another C ABI version is refused by kiln.hpp, and an external
// weights file that is missing, truncated, extended, corrupt or another model's is refused with
// an error naming the file, while the right file loads and gives the embedded build's results.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "codegen/cpu_backend.h"
#include "compiled_model.h"
#include "frontend/load.h"
#include "link/build.h"
#include "link/process.h"
#include "model_interface.h"
#include "op_harness.h"
#include "reliability_support.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Creates a container through the raw C ABI; returns the status and the last error.
std::pair<KilnStatus, std::string> try_create(const fs::path& so, const char* weights_path) {
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (h == nullptr) throw error("dlopen ", so.string(), ": ", dlerror());
  auto init = reinterpret_cast<decltype(&kiln_options_init)>(dlsym(h, "kiln_options_init"));
  auto create =
      reinterpret_cast<decltype(&kiln_container_create)>(dlsym(h, "kiln_container_create"));
  auto destroy =
      reinterpret_cast<decltype(&kiln_container_delete)>(dlsym(h, "kiln_container_delete"));
  auto last_error = reinterpret_cast<decltype(&kiln_last_error)>(dlsym(h, "kiln_last_error"));
  KilnOptions o;
  init(&o);
  o.weights_path = weights_path;
  KilnContainer* c = reinterpret_cast<KilnContainer*>(&o);  // must be reset to NULL on failure
  const KilnStatus s = create(&c, &o);
  std::string message = s == KILN_OK ? "" : last_error();
  if (s != KILN_OK && c != nullptr) message += " [out not reset to NULL]";
  if (s == KILN_OK) destroy(c);
  dlclose(h);
  return {s, message};
}

TEST(Integrity, OtherInterfaceVersionIsRefused) {
  // The mlp fixture's generated sources, with the interface version the wrapper records bumped:
  // a library built by a kiln whose runtime contract differs from the runtime linked into it.
  const frontend::LoadedProgram loaded = frontend::load_program(reliability::fixture_pt2("mlp"));
  codegen::GeneratedModel model = codegen::generate_cpu_model(loaded, {});
  const std::string needle = "kiln::rt::kModelInterfaceVersion,";
  int patched = 0;
  for (auto& s : model.sources) {
    const size_t at = s.text.find(needle);
    if (at == std::string::npos) continue;
    s.text.replace(at, needle.size(), "kiln::rt::kModelInterfaceVersion + 1,");
    ++patched;
  }
  ASSERT_EQ(patched, 1) << "the wrapper no longer records the interface version as expected";
  link::LinkOptions lo;
  lo.output = fresh_temp_dir("integrity-iface") / "mlp_iface.so";
  lo.cache_dir = test_cache_dir();
  lo.opt_level = "-O1";
  link::build_shared_library(model, lo);

  const auto [status, message] = try_create(lo.output, nullptr);
  EXPECT_EQ(status, KILN_ERROR_LOAD);
  const std::string expected = "was generated for runtime interface version " +
                               std::to_string(kiln::rt::kModelInterfaceVersion + 1) +
                               ", but this runtime implements version " +
                               std::to_string(kiln::rt::kModelInterfaceVersion);
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  EXPECT_EQ(message.find("[out not reset"), std::string::npos) << message;
}

// kiln.hpp's kiln::Error cannot share a program with the compiler's, so a small program built
// here does the loading through kiln.hpp and prints what it caught.
TEST(Integrity, OtherAbiVersionIsRefusedByTheWrapper) {
  // A library that exports the C ABI but reports another KILN_ABI_VERSION (kiln_abi_version is
  // the first thing kiln.hpp asks; no other entry point is called).
  const fs::path dir = fresh_temp_dir("integrity-abi");
  std::string lib = "extern \"C\" {\n";
  lib +=
      "unsigned kiln_abi_version(void) { return " + std::to_string(KILN_ABI_VERSION + 1) + "; }\n";
  for (const char* f :
       {"kiln_options_init", "kiln_container_create", "kiln_container_delete", "kiln_run",
        "kiln_num_inputs", "kiln_num_outputs", "kiln_num_constants", "kiln_input_info",
        "kiln_output_info", "kiln_constant_info", "kiln_output_shapes", "kiln_update_constants",
        "kiln_last_error", "kiln_model_info"}) {
    lib += std::string("void ") + f + "(void) {}\n";
  }
  lib += "}\n";
  write(dir / "old_abi.cpp", lib);
  write(dir / "load.cpp",
        "#include <cstdio>\n#include \"kiln/kiln.hpp\"\n"
        "int main(int, char** argv) {\n"
        "  try { kiln::Library lib(argv[1]); std::puts(\"loaded\"); }\n"
        "  catch (const kiln::Error& e) { std::printf(\"%d %s\\n\", static_cast<int>(e.status()), "
        "e.what()); }\n"
        "}\n");
  const fs::path so = dir / "old_abi.so", exe = dir / "load";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"c++", "-shared", "-fPIC", "-w", (dir / "old_abi.cpp").string(), "-o", so.string()},
           {"c++", "-std=c++20", "-I" + (source_dir() / "include").string(),
            (dir / "load.cpp").string(), "-o", exe.string(), "-ldl"}}) {
    const link::ProcessResult r = link::run_process(argv);
    ASSERT_TRUE(r.ok()) << r.output;
  }
  const link::ProcessResult r = link::run_process({exe.string(), so.string()});
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(r.output, std::to_string(KILN_ERROR_LOAD) + " model library '" + so.string() +
                          "' has kiln ABI version " + std::to_string(KILN_ABI_VERSION + 1) +
                          ", but this kiln.hpp is for " + std::to_string(KILN_ABI_VERSION) + "\n");
  fs::remove_all(dir);
}

TEST(Integrity, ExternalWeightsMustMatch) {
  const fs::path dir = fresh_temp_dir("integrity-weights");
  const fs::path so = dir / "mlp.so";
  const fs::path other_so = dir / "op_norms.so";
  compile_model(frontend::load_program(reliability::fixture_pt2("mlp")), so,
                /*external_weights=*/true);
  compile_model(frontend::load_program(reliability::fixture_pt2("op_norms")), other_so, true);
  const std::string good = slurp(so.string() + ".weights");
  ASSERT_GT(good.size(), 64u);

  // The right file, beside the library and by path: the embedded build's exact results.
  std::mt19937 rng(43);
  const ref::Tensor x = random_tensor(ir::DType::kFloat32, {9, 16}, rng);
  const auto want = CompiledModel(reliability::compiled_fixture("mlp")).run({x});
  EXPECT_TRUE(same_values(CompiledModel(so).run({x})[0], want[0]));
  EXPECT_EQ(try_create(so, (so.string() + ".weights").c_str()).first, KILN_OK);

  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x10);
  std::string shuffled = good;  // same bytes, other order: same size, other checksum
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  struct Case {
    const char* what;
    std::string bytes;
    const char* needle;
  } cases[] = {
      {"truncated by one byte", good.substr(0, good.size() - 1), "but the model expects"},
      {"half", good.substr(0, good.size() / 2), "but the model expects"},
      {"empty", "", "but the model expects"},
      {"one byte more", good + "x", "but the model expects"},
      {"one flipped bit", flipped, "does not match the model: checksum"},
      {"shuffled", shuffled, "does not match the model: checksum"},
      {"another model's", slurp(other_so.string() + ".weights"), "weights file"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    const fs::path path = dir / "bad.weights";
    write(path, k.bytes);
    const auto [status, message] = try_create(so, path.c_str());
    EXPECT_EQ(status, KILN_ERROR_LOAD);
    EXPECT_NE(message.find("weights file '" + path.string() + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(k.needle), std::string::npos) << message;
    EXPECT_EQ(message.find("[out not reset"), std::string::npos) << message;
  }
  {  // missing beside the library, and a directory in its place
    fs::rename(so.string() + ".weights", dir / "moved.weights");
    const auto [status, message] = try_create(so, nullptr);
    EXPECT_EQ(status, KILN_ERROR_LOAD);
    EXPECT_NE(message.find("weights file '" + so.string() + ".weights' cannot be opened"),
              std::string::npos)
        << message;
    const auto [dir_status, dir_message] = try_create(so, dir.c_str());
    EXPECT_EQ(dir_status, KILN_ERROR_LOAD);
    EXPECT_NE(dir_message.find("is not a regular file"), std::string::npos) << dir_message;
    fs::rename(dir / "moved.weights", so.string() + ".weights");
  }
  // After every refusal the right file still loads.
  EXPECT_TRUE(same_values(CompiledModel(so).run({x})[0], want[0]));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kiln::testing
