#include "link/build.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "link/embedded_files.h"
#include "link/object_cache.h"
#include "link/prebuilt_runtime.h"
#include "link/process.h"
#include "link/sha256.h"
#include "link/toolchain.h"
#include "util/error.h"

namespace kiln::link {
namespace fs = std::filesystem;
namespace {

constexpr int kErrorLines = 20;

// One translation unit to compile (or find in the cache).
struct Job {
  std::string name;       // as the user sees it: "kernels_0.cpp", "runtime/container.cpp"
  std::string file_name;  // written into the scratch directory under this name
  std::string_view text;
  std::vector<std::string> flags;  // independent of any path, so they can be part of the key
  const std::vector<uint8_t>* blob = nullptr;  // the weights, next to the assembler source
  std::string key;
  fs::path object;
  bool hit = false;
};

Job make_job(std::string name, std::string file_name, std::string_view text,
             std::vector<std::string> flags) {
  Job job;
  job.name = std::move(name);
  job.file_name = std::move(file_name);
  job.text = text;
  job.flags = std::move(flags);
  return job;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The weights as a read-only, 64-byte aligned, hidden symbol; .incbin keeps assembling fast for
// any size.
const std::string& weights_assembly() {
  static const std::string s = kWeightsSymbol;
  static const std::string text =
      "  .section .rodata.kiln_weights,\"a\",@progbits\n"
      "  .globl " +
      s +
      "\n"
      "  .hidden " +
      s +
      "\n"
      "  .type " +
      s +
      ", @object\n"
      "  .balign 64\n" +
      s +
      ":\n"
      "  .incbin \"weights.bin\"\n"
      "  .size " +
      s + ", . - " + s +
      "\n"
      "  .section .note.GNU-stack,\"\",@progbits\n";
  return text;
}

// Only the C ABI leaves the library; everything else (the runtime, libstdc++ template
// instances) stays local, so two models in one process never bind to each other's symbols.
constexpr std::string_view kExportMap = "{\n  global: kiln_*;\n  local: *;\n};\n";

void check_sources(const codegen::GeneratedModel& model) {
  if (model.sources.empty()) throw error("model '", model.model_name, "' has no sources to build");
  std::set<std::string> seen;
  for (const auto& s : model.sources) {
    const bool plain = !s.name.empty() && s.name.find('/') == std::string::npos &&
                       s.name[0] != '.' && s.name.ends_with(".cpp");
    if (!plain) throw error("generated source name '", s.name, "' is not a plain NAME.cpp");
    if (!seen.insert(s.name).second) throw error("generated source '", s.name, "' appears twice");
  }
}

std::vector<Job> plan_jobs(const codegen::GeneratedModel& model, const LinkOptions& options) {
  std::vector<std::string> target = common_compile_flags(options.opt_level);
  for (auto& f : march_flags(options.target_cpu))
    target.push_back(std::move(f));
  // The runtime checks the CPU's features before any model code runs, so it must itself run on
  // any x86-64; library-style externs only run after that check and get the target's flags.
  std::vector<std::string> baseline = common_compile_flags("-O3");
  for (auto& f : march_flags("x86-64"))
    baseline.push_back(std::move(f));

  std::vector<Job> jobs;
  for (const auto& s : model.sources) {
    jobs.push_back(make_job(s.name, s.name, s.text, target));
  }
  for (const EmbeddedFile& f : embedded_runtime_files()) {
    if (!f.path.starts_with("runtime/") || !f.path.ends_with(".cpp")) continue;
    std::string file = base_name(f.path);
    const bool heavy = file.starts_with("extern_");
    jobs.push_back(make_job(std::string(f.path), file, f.text, heavy ? target : baseline));
  }
  if (!options.external_weights) {
    Job w = make_job("weights.s", "weights.s", {}, {});
    w.blob = &model.weights;
    jobs.push_back(std::move(w));
  }
  return jobs;
}

void assign_keys(std::vector<Job>& jobs, const std::string& asm_text, const Toolchain& toolchain,
                 const std::string& native) {
  for (Job& job : jobs) {
    // The blob is hashed apart and only into the weights object's key.
    std::string blob_hash;
    if (job.blob != nullptr) {
      job.text = asm_text;
      Sha256 b;
      b.update(job.blob->data(), job.blob->size());
      blob_hash = b.hex_digest();
    }
    Sha256 h;
    h.field("kiln-object-1");
    h.field(toolchain.identity);
    h.field(native);
    for (const auto& f : job.flags)
      h.field(f);
    h.field(job.file_name);
    h.field(job.text);
    h.field(embedded_runtime_hash());
    h.field(blob_hash);
    job.key = h.hex_digest();
  }
}

class Compiler {
 public:
  Compiler(const Toolchain& toolchain, const ObjectCache& cache, fs::path runtime_dir,
           const LinkOptions& options)
      : toolchain_(toolchain),
        cache_(cache),
        runtime_dir_(std::move(runtime_dir)),
        options_(options) {}

  // Compiles one job into the cache; on failure returns the message (and keeps its sources).
  std::string compile(Job& job) {
    const fs::path scratch = cache_.scratch_dir(fs::path(job.file_name).stem().string());
    {
      std::ofstream src(scratch / job.file_name, std::ios::binary);
      src.write(job.text.data(), static_cast<std::streamsize>(job.text.size()));
      if (job.blob != nullptr) {
        std::ofstream bin(scratch / "weights.bin", std::ios::binary);
        bin.write(reinterpret_cast<const char*>(job.blob->data()),
                  static_cast<std::streamsize>(job.blob->size()));
        if (!bin) return "cannot write " + (scratch / "weights.bin").string();
      }
      if (!src) return "cannot write " + (scratch / job.file_name).string();
    }
    std::vector<std::string> argv = toolchain_.cxx;
    argv.insert(argv.end(), job.flags.begin(), job.flags.end());
    // Paths are mapped away and the seed fixed, so the object depends on the key alone.
    for (std::string a :
         {"-frandom-seed=" + job.key, "-ffile-prefix-map=" + scratch.string() + "=.",
          "-ffile-prefix-map=" + runtime_dir_.string() + "=kiln",
          "-I" + (runtime_dir_ / "runtime").string(), "-I" + (runtime_dir_ / "include").string(),
          std::string("-c"), job.file_name, std::string("-o"), job.file_name + ".o"}) {
      argv.push_back(std::move(a));
    }
    log("compile " + job.name + ": " + command_line(argv));
    ProcessResult r = run_process(argv, scratch);
    if (!r.ok()) {
      return "compiling " + job.name + " failed (its source is kept in " + scratch.string() +
             "):\n" + first_lines(r.output, kErrorLines);
    }
    const fs::path built = scratch / (job.file_name + ".o");
    if (!is_valid_object(built)) {
      return "compiling " + job.name + " gave no valid object file (" + built.string() + ")";
    }
    try {
      job.object = cache_.insert(built, job.key);
    } catch (const Error& e) {
      return e.what();
    }
    std::error_code ec;
    fs::remove_all(scratch, ec);
    return "";
  }

  void log(const std::string& line) {
    if (!options_.log) return;
    std::lock_guard lock(log_mutex_);
    options_.log(line);
  }

 private:
  const Toolchain& toolchain_;
  const ObjectCache& cache_;
  fs::path runtime_dir_;
  const LinkOptions& options_;
  std::mutex log_mutex_;
};

// Runs the misses on `workers` threads; the first failure stops new compiles and is thrown.
void compile_all(Compiler& compiler, std::vector<Job*>& todo, int workers) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string first_error;
  auto work = [&] {
    for (;;) {
      if (failed.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      std::string err;
      try {
        err = compiler.compile(*todo[i]);
      } catch (const std::exception& e) {  // an exception must not leave a worker thread
        err = "compiling " + todo[i]->name + " failed: " + e.what();
      }
      if (!err.empty()) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true)) first_error = std::move(err);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < workers; ++t)
    threads.emplace_back(work);
  work();
  for (auto& t : threads)
    t.join();
  if (failed) throw Error(first_error);
}

// The object built with kiln under `key`, stored into the cache; nullopt when there is none.
std::optional<fs::path> find_prebuilt(const ObjectCache& cache, const std::string& key) {
  for (const PrebuiltObject& p : prebuilt_runtime_objects()) {
    if (key != p.key) continue;
    const fs::path scratch = cache.scratch_dir("prebuilt");
    const fs::path built = scratch / "object.o";
    write_file_atomic(built, p.data, p.size);
    std::optional<fs::path> stored;
    if (is_valid_object(built)) stored = cache.insert(built, key);
    std::error_code ec;
    fs::remove_all(scratch, ec);
    return stored;
  }
  return std::nullopt;
}

// Everything before compiling: the toolchain, the cache with the runtime sources written into
// it, the jobs with their keys.
struct Plan {
  Toolchain toolchain;
  ObjectCache cache;
  fs::path runtime_dir;
  std::vector<Job> jobs;
};

Plan make_plan(const codegen::GeneratedModel& model, const LinkOptions& options) {
  Plan plan{detect_toolchain(), ObjectCache(resolve_cache_dir(options.cache_dir)), {}, {}};
  const std::string native = resolved_target(plan.toolchain, options.target_cpu);
  plan.cache.remove_stale_scratch();
  plan.runtime_dir = materialize_runtime(plan.cache.dir());
  plan.jobs = plan_jobs(model, options);
  assign_keys(plan.jobs, weights_assembly(), plan.toolchain, native);
  return plan;
}

int worker_count(const LinkOptions& options, size_t todo) {
  const int workers = options.jobs > 0
                          ? options.jobs
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::min(workers, static_cast<int>(todo));
}

}  // namespace

std::vector<std::string> common_compile_flags(const std::string& opt_level) {
  // IEEE semantics kept: no -ffast-math, so results match the reference interpreter.
  // No FMA contraction across ops, so results stay close to eager PyTorch; no errno from
  // math functions, so sqrt and friends vectorize; no floating-point traps (nothing reads the
  // exception flags), so a select between computed values if-converts into a vector blend.
  return {"-std=c++20",          opt_level,           "-fPIC",          "-fopenmp",
          "-fvisibility=hidden", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"};
}

// The empty table: executables that link the generated one (kiln_prebuilt_runtime) override it.
__attribute__((weak)) std::span<const PrebuiltObject> prebuilt_runtime_objects() {
  return {};
}

std::vector<RuntimeObject> compile_runtime_objects(const LinkOptions& options) {
  codegen::GeneratedModel none;
  Plan plan = make_plan(none, options);
  std::vector<Job*> todo;
  std::vector<Job*> runtime;
  for (Job& job : plan.jobs) {
    if (!job.name.starts_with("runtime/")) continue;
    runtime.push_back(&job);
    if (auto hit = plan.cache.find(job.key)) {
      job.object = *hit;
    } else {
      todo.push_back(&job);
    }
  }
  Compiler compiler(plan.toolchain, plan.cache, plan.runtime_dir, options);
  compile_all(compiler, todo, worker_count(options, todo.size()));
  std::vector<RuntimeObject> out;
  for (const Job* job : runtime)
    out.push_back({job->name, job->key, job->object});
  return out;
}

LinkResult build_shared_library(const codegen::GeneratedModel& model, const LinkOptions& options) {
  if (options.output.empty()) throw error("no output path for model '", model.model_name, "'");
  check_sources(model);
  LinkResult result;
  auto start = std::chrono::steady_clock::now();

  Plan plan = make_plan(model, options);
  const ObjectCache& cache = plan.cache;
  std::vector<Job>& jobs = plan.jobs;
  std::vector<Job*> todo;
  for (Job& job : jobs) {
    if (auto hit = cache.find(job.key)) {
      job.object = *hit;
      job.hit = true;
      ++result.cache_hits;
    } else if (auto built = find_prebuilt(cache, job.key)) {
      job.object = *built;
      job.hit = true;
      ++result.prebuilt;
    } else {
      todo.push_back(&job);
      ++result.cache_misses;
    }
  }
  result.objects = static_cast<int>(jobs.size());
  result.prepare_seconds = seconds_since(start);

  Compiler compiler(plan.toolchain, cache, plan.runtime_dir, options);
  for (const Job& job : jobs) {
    if (job.hit) compiler.log("cached " + job.name + ": " + job.object.string());
  }
  start = std::chrono::steady_clock::now();
  compile_all(compiler, todo, worker_count(options, todo.size()));
  result.compile_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  std::error_code ec;
  const fs::path out = fs::absolute(options.output);
  fs::create_directories(out.parent_path(), ec);
  if (ec) throw error("cannot create ", out.parent_path().string(), ": ", ec.message());
  if (options.external_weights) {
    result.weights_file = out.string() + ".weights";
    write_file_atomic(result.weights_file, model.weights.data(), model.weights.size());
  }
  const fs::path export_map = cache.dir() / "tmp" / "kiln_exports.map";
  write_file_atomic(export_map, kExportMap);
  const fs::path tmp_out = unique_temp_path(out);
  std::vector<std::string> argv = plan.toolchain.cxx;
  for (const char* a : {"-shared", "-o"})
    argv.push_back(a);
  argv.push_back(tmp_out.string());
  for (const Job& job : jobs)
    argv.push_back(job.object.string());
  for (std::string a :
       {std::string("-fopenmp"), std::string("-Wl,--as-needed"), std::string("-ldnnl"),
        std::string("-Wl,--build-id=none"), std::string("-Wl,-z,noexecstack"),
        std::string("-Wl,-z,defs"), "-Wl,--version-script=" + export_map.string()}) {
    argv.push_back(std::move(a));
  }
  compiler.log("link: " + command_line(argv));
  ProcessResult r = run_process(argv);
  if (!r.ok()) {
    fs::remove(tmp_out, ec);
    throw error("linking ", out.string(), " failed:\n", first_lines(r.output, kErrorLines));
  }
  fs::rename(tmp_out, out, ec);
  if (ec) {
    fs::remove(tmp_out, ec);
    throw error("cannot write ", out.string(), ": ", ec.message());
  }
  result.library = out;
  result.link_seconds = seconds_since(start);
  return result;
}

}  // namespace kiln::link
