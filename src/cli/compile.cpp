#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "codegen/cpu_backend.h"
#include "frontend/load.h"
#include "link/build.h"
#include "link/toolchain.h"
#include "util/error.h"

namespace kiln::cli {
namespace {

struct CompileOptions {
  std::string model_path;
  std::string output;
  std::string device = "cpu";
  bool external_weights = false;
  std::string target_cpu = "x86-64-v3";
  std::string dump_after;
  std::string cache_dir;
  int jobs = 0;
  bool verbose = false;
  std::string model_name;
  std::string emit_sources;  // a directory to write the generated C++ to
};

CompileOptions parse(const std::vector<std::string>& args) {
  CompileOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError{"compile: " + a + " needs a value"};
      return args[++i];
    };
    if (a == "-o" || a == "--output") {
      o.output = value();
    } else if (a == "--device") {
      o.device = value();
    } else if (a == "--weights") {
      const std::string& w = value();
      if (w != "embed" && w != "external") {
        throw UsageError{"compile: --weights takes embed or external, not '" + w + "'"};
      }
      o.external_weights = w == "external";
    } else if (a == "--target-cpu") {
      o.target_cpu = value();
    } else if (a == "--dump-after") {
      o.dump_after = value();
    } else if (a == "--cache-dir") {
      o.cache_dir = value();
    } else if (a == "--jobs") {
      o.jobs = parse_count("compile", a, value());
    } else if (a == "--emit-sources") {
      o.emit_sources = value();
    } else if (a == "--model") {
      o.model_name = value();
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"compile: unknown option '" + a + "'"};
    } else if (o.model_path.empty()) {
      o.model_path = a;
    } else {
      throw UsageError{"compile: one model at a time (got '" + o.model_path + "' and '" + a + "')"};
    }
  }
  if (o.model_path.empty()) throw UsageError{"compile: missing MODEL.pt2"};
  if (o.output.empty()) throw UsageError{"compile: missing -o OUTPUT.so"};
  return o;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string bytes_text(uintmax_t bytes) {
  char buf[32];
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  const char* unit = "KiB";
  if (v >= 1024) v /= 1024, unit = "MiB";
  if (v >= 1024) v /= 1024, unit = "GiB";
  std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  return buf;
}

void progress(std::string_view stage, double seconds) {
  std::cerr << "[kiln] " << stage << ": " << seconds_text(seconds) << "\n";
}

}  // namespace

int compile_command(const std::vector<std::string>& args) {
  CompileOptions o = parse(args);
  // Everything that can be refused without reading the model is refused first.
  if (o.device != "cpu") throw error("device '", o.device, "' is not supported yet (use cpu)");
  link::march_flags(o.target_cpu);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };

  auto t = Clock::now();
  frontend::LoadedProgram loaded = frontend::load_program(o.model_path, o.model_name);
  progress("load", since(t));

  codegen::CpuBackendOptions backend;
  backend.target_cpu = o.target_cpu;
  backend.external_weights = o.external_weights;
  backend.dump_after = o.dump_after;
  backend.dump = &std::cout;
  backend.on_stage = [verbose = o.verbose](std::string_view stage, double seconds) {
    if (verbose || !stage.starts_with(' ')) progress(stage, seconds);  // parts only when verbose
  };
  codegen::GeneratedModel model = codegen::generate_cpu_model(loaded, backend);

  if (!o.emit_sources.empty()) {
    std::filesystem::create_directories(o.emit_sources);
    for (const auto& src : model.sources) {
      std::ofstream f(std::filesystem::path(o.emit_sources) / src.name, std::ios::binary);
      f << src.text;
      if (!f)
        throw error("cannot write ", (std::filesystem::path(o.emit_sources) / src.name).string());
    }
  }

  link::LinkOptions link_options;
  link_options.output = o.output;
  link_options.target_cpu = o.target_cpu;
  link_options.external_weights = o.external_weights;
  link_options.cache_dir = o.cache_dir;
  link_options.jobs = o.jobs;
  if (o.verbose)
    link_options.log = [](const std::string& line) { std::cerr << "[kiln]   " << line << "\n"; };
  t = Clock::now();
  link::LinkResult linked = link::build_shared_library(model, link_options);
  progress("link", since(t));
  if (o.verbose) {
    std::cerr << "[kiln]   prepare " << seconds_text(linked.prepare_seconds) << ", compile "
              << seconds_text(linked.compile_seconds) << ", link "
              << seconds_text(linked.link_seconds) << "\n";
  }

  const codegen::CompileSummary& s = model.summary;
  std::error_code ec;
  const uintmax_t so_bytes = std::filesystem::file_size(linked.library, ec);
  std::cout << "compiled '" << (model.model_name.empty() ? loaded.model_name : model.model_name)
            << "' to " << linked.library.string() << " (" << bytes_text(ec ? 0 : so_bytes) << ")\n";
  std::cout << "  kernels: " << s.kernels << " (" << s.fused_groups
            << " fused groups), externs: " << s.externs << "\n";
  std::cout << "  arena: ";
  if (s.arena_bytes_at_max >= 0) {
    std::cout << s.arena_bytes_at_max << " bytes at the largest shapes";
  } else {
    std::cout << "unbounded";
  }
  if (!s.arena_bytes.empty()) std::cout << " (" << s.arena_bytes << ")";
  std::cout << "\n  weights: " << bytes_text(model.weights.size()) << ", "
            << (o.external_weights ? "in " + linked.weights_file.string() : "embedded") << "\n";
  std::cout << "  compile: " << seconds_text(since(start)) << ", " << linked.objects << " objects ("
            << linked.cache_hits << " cached, "
            << (linked.prebuilt ? std::to_string(linked.prebuilt) + " built with kiln, " : "")
            << linked.cache_misses << " compiled)\n";
  return 0;
}

}  // namespace kiln::cli
