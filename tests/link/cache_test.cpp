// The pieces under the linker: hashing, the object cache and its atomic writes, the toolchain
// helpers, and the runtime sources embedded in the binary.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "link/embedded_files.h"
#include "link/object_cache.h"
#include "link/process.h"
#include "link/sha256.h"
#include "link/toolchain.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    had_ = std::getenv(name) != nullptr;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// A small real object file, compiled by the system compiler.
fs::path compile_object(const fs::path& dir) {
  std::ofstream(dir / "f.cpp") << "int kiln_probe(int x) { return 3 * x + 1; }\n";
  auto r = link::run_process({"c++", "-c", "f.cpp", "-o", "f.o"}, dir);
  EXPECT_TRUE(r.ok()) << r.output;
  return dir / "f.o";
}

TEST(Sha256, MatchesPublishedVectors) {
  EXPECT_EQ(link::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(link::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(link::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(link::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecewiseUpdatesEqualOneShot) {
  std::mt19937 rng(11);
  std::string data(1000, '\0');
  for (char& c : data)
    c = static_cast<char>(rng());
  for (size_t cut : {0u, 1u, 55u, 63u, 64u, 65u, 127u, 999u}) {
    link::Sha256 h;
    h.update(std::string_view(data).substr(0, cut));
    h.update(std::string_view(data).substr(cut));
    EXPECT_EQ(h.hex_digest(), link::sha256_hex(data)) << cut;
  }
  // Fields are length-prefixed: moving a byte across the boundary changes the hash.
  link::Sha256 a, b;
  a.field("ab");
  a.field("c");
  b.field("a");
  b.field("bc");
  EXPECT_NE(a.hex_digest(), b.hex_digest());
}

// The published vectors above run through whichever compression this CPU gets; this holds the
// SHA-extension code to the portable code on random blocks, state carried across calls.
TEST(Sha256, AcceleratedCompressionMatchesPortable) {
  if (!link::sha256_detail::accelerated()) GTEST_SKIP() << "no SHA extensions on this CPU";
  std::mt19937 rng(5);
  std::vector<uint8_t> data(64 * 37);
  for (uint8_t& b : data)
    b = static_cast<uint8_t>(rng());
  uint32_t portable[8], fast[8];
  for (int i = 0; i < 8; ++i)
    portable[i] = fast[i] = static_cast<uint32_t>(rng());
  for (size_t blocks : {size_t{1}, size_t{2}, size_t{3}, size_t{31}}) {
    link::sha256_detail::compress(portable, data.data(), blocks, true);
    link::sha256_detail::compress(fast, data.data(), blocks, false);
    EXPECT_TRUE(std::equal(portable, portable + 8, fast)) << blocks << " blocks";
  }
}

TEST(ObjectCache, CacheDirectoryPrecedence) {
  ScopedEnv kiln("KILN_CACHE_DIR", "/tmp/kiln-env-cache");
  ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
  ScopedEnv home("HOME", "/tmp/home");
  EXPECT_EQ(link::resolve_cache_dir("/given"), fs::path("/given"));
  EXPECT_EQ(link::resolve_cache_dir({}), fs::path("/tmp/kiln-env-cache"));
  {
    ScopedEnv unset("KILN_CACHE_DIR", nullptr);
    EXPECT_EQ(link::resolve_cache_dir({}), fs::path("/tmp/xdg/kiln"));
    ScopedEnv unset_xdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(link::resolve_cache_dir({}), fs::path("/tmp/home/.cache/kiln"));
    ScopedEnv unset_home("HOME", nullptr);
    try {
      link::resolve_cache_dir({});
      ADD_FAILURE() << "no cache directory should be an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("KILN_CACHE_DIR"), std::string::npos) << e.what();
    }
  }
}

TEST(ObjectCache, ValidatesObjectFiles) {
  auto dir = fresh_temp_dir("link_objects");
  fs::path good = compile_object(dir);
  EXPECT_TRUE(link::is_valid_object(good));
  std::string bytes = slurp(good);
  ASSERT_GT(bytes.size(), 200u);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  EXPECT_FALSE(link::is_valid_object(write("empty.o", "")));
  EXPECT_FALSE(link::is_valid_object(write("text.o", std::string(100, 'x'))));
  EXPECT_FALSE(link::is_valid_object(write("half.o", bytes.substr(0, bytes.size() / 2))));
  EXPECT_FALSE(link::is_valid_object(write("short.o", bytes.substr(0, bytes.size() - 1))));
  EXPECT_FALSE(link::is_valid_object(dir / "missing.o"));
  // A shared library is ELF too, but not a relocatable object.
  auto r = link::run_process({"c++", "-shared", "-fPIC", "f.cpp", "-o", "f.so"}, dir);
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_FALSE(link::is_valid_object(dir / "f.so"));
}

TEST(ObjectCache, FindDropsCorruptEntriesAndInsertStores) {
  auto dir = fresh_temp_dir("link_cache");
  link::ObjectCache cache(dir / "cache");
  const std::string key = link::sha256_hex("some key");
  EXPECT_FALSE(cache.find(key).has_value());
  fs::path scratch = cache.scratch_dir("probe");
  fs::path built = compile_object(scratch);
  fs::path stored = cache.insert(built, key);
  EXPECT_EQ(stored, cache.object_path(key));
  ASSERT_TRUE(cache.find(key).has_value());
  EXPECT_FALSE(fs::exists(built));

  std::string bytes = slurp(stored);
  std::ofstream(stored, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 3);
  EXPECT_FALSE(cache.find(key).has_value());
  EXPECT_FALSE(fs::exists(stored)) << "a corrupt entry is removed, never used";
}

TEST(ObjectCache, StaleScratchIsRemovedFreshScratchKept) {
  auto dir = fresh_temp_dir("link_stale");
  link::ObjectCache cache(dir / "cache");
  fs::path old_dir = cache.scratch_dir("old");
  std::ofstream(old_dir / "a.cpp") << "int a;";
  fs::path fresh = cache.scratch_dir("fresh");
  fs::last_write_time(old_dir, fs::file_time_type::clock::now() - std::chrono::hours(30));
  cache.remove_stale_scratch();
  EXPECT_FALSE(fs::exists(old_dir));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST(ObjectCache, AtomicWritesNeverShowAMix) {
  auto dir = fresh_temp_dir("link_atomic");
  const fs::path target = dir / "blob";
  constexpr int kThreads = 6;
  constexpr size_t kSize = 1 << 16;
  std::vector<std::thread> threads;
  std::atomic<bool> torn{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string data(kSize, static_cast<char>('a' + t));
      for (int i = 0; i < 10; ++i) {
        link::write_file_atomic(target, data);
        std::string seen = slurp(target);
        if (seen.size() != kSize || seen.find_first_not_of(seen[0]) != std::string::npos) {
          torn = true;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_FALSE(torn.load());
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++files;
  EXPECT_EQ(files, 1) << "temporary files were left behind";
}

TEST(Process, CapturesOutputAndExitStatus) {
  auto r = link::run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("out"), std::string::npos);
  EXPECT_NE(r.output.find("err"), std::string::npos);
  auto missing = link::run_process({"/nonexistent/kiln-no-such-compiler"});
  EXPECT_FALSE(missing.started);
  EXPECT_NE(missing.output.find("kiln-no-such-compiler"), std::string::npos);
  auto dir = fresh_temp_dir("link_cwd");
  auto pwd = link::run_process({"pwd"}, dir);
  EXPECT_EQ(fs::path(pwd.output.substr(0, pwd.output.find('\n'))), fs::canonical(dir));

  EXPECT_EQ(link::command_line({"c++", "-O3", "a b.cpp", "it's"}), "c++ -O3 'a b.cpp' 'it'\\''s'");
  EXPECT_EQ(link::first_lines("1\n2\n3\n4\n", 2), "1\n2\n[2 more lines]");
  EXPECT_EQ(link::first_lines("1\n2\n", 5), "1\n2");
}

TEST(Toolchain, TargetCpuFlagsAndErrors) {
  EXPECT_EQ(link::march_flags("x86-64-v3"),
            (std::vector<std::string>{"-march=x86-64-v3", "-mtune=generic"}));
  EXPECT_EQ(link::march_flags("native"), (std::vector<std::string>{"-march=native"}));
  EXPECT_EQ(link::march_flags("x86-64-v4")[0], "-march=x86-64-v4");
  try {
    link::march_flags("pentium9");
    ADD_FAILURE() << "an unknown target must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'pentium9'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x86-64-v3"), std::string::npos) << e.what();
  }
  link::Toolchain tc = link::detect_toolchain();
  EXPECT_NE(tc.identity.find("c++"), std::string::npos);
  EXPECT_NE(link::resolved_target(tc, "native").find("-march="), std::string::npos);
  EXPECT_EQ(link::resolved_target(tc, "x86-64-v3"), "");
  {
    ScopedEnv cxx("KILN_CXX", "/nonexistent/kiln-cxx");
    try {
      link::detect_toolchain();
      ADD_FAILURE() << "a missing compiler must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/nonexistent/kiln-cxx"), std::string::npos);
    }
  }
  ScopedEnv cxx("KILN_CXX", "ccache   c++");
  EXPECT_EQ(link::detect_toolchain().cxx, (std::vector<std::string>{"ccache", "c++"}));
}

TEST(EmbeddedRuntime, HoldsTheSourceTreeFilesVerbatim) {
  auto files = link::embedded_runtime_files();
  int checked = 0;
  bool has_abi = false, has_interface = false;
  for (const auto& f : files) {
    has_abi |= f.path == "include/kiln/kiln.h";
    has_interface |= f.path == "runtime/model_interface.h";
    EXPECT_EQ(slurp(source_dir() / f.path), f.text) << f.path;
    ++checked;
  }
  EXPECT_TRUE(has_abi);
  EXPECT_TRUE(has_interface);
  // Every runtime file of the tree is embedded.
  int in_tree = 0;
  for (const auto& e : fs::directory_iterator(source_dir() / "runtime")) {
    auto ext = e.path().extension();
    in_tree += ext == ".h" || ext == ".cpp";
  }
  for (const auto& e : fs::directory_iterator(source_dir() / "include" / "kiln"))
    in_tree += e.path().extension() == ".h";
  EXPECT_EQ(checked, in_tree);
  EXPECT_EQ(link::embedded_runtime_hash().size(), 64u);
}

TEST(EmbeddedRuntime, MaterializesAndRepairsItsDirectory) {
  auto cache = fresh_temp_dir("link_runtime");
  fs::path dir = link::materialize_runtime(cache);
  EXPECT_EQ(link::materialize_runtime(cache), dir);
  const auto& first = link::embedded_runtime_files()[0];
  EXPECT_EQ(slurp(dir / first.path), first.text);
  std::ofstream(dir / first.path, std::ios::trunc) << "tampered";
  EXPECT_EQ(link::materialize_runtime(cache), dir);
  EXPECT_EQ(slurp(dir / first.path), first.text);
  fs::remove(dir / "runtime" / "model_interface.h");
  link::materialize_runtime(cache);
  EXPECT_TRUE(fs::exists(dir / "runtime" / "model_interface.h"));
}

}  // namespace
}  // namespace kiln::testing
