#pragma once

// Test support for the CPU kernel printer: a terse way to build kernel IR by hand, and a
// compiler driver that turns printed kernels into a shared library (with the system c++, at the
// flags generated code is built with, warnings as errors) and calls them on test data.

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "codegen/cpu/kernel_printer.h"
#include "link/build.h"
#include "lower/kernel_ir.h"
#include "model_interface.h"
#include "test_paths.h"

namespace kiln::testing {

using ir::DType;
using lower::ReduceOp;
using lower::ScalarOp;
using sym::Expr;

inline Expr S(const char* name) {
  return Expr::symbol(name);
}

// Appends nodes to a body, one per call (no sharing), and returns their ids.
class Nodes {
 public:
  explicit Nodes(lower::Body& body) : body_(body) {}

  int add(lower::ScalarNode n) {
    body_.nodes.push_back(std::move(n));
    return static_cast<int>(body_.nodes.size()) - 1;
  }
  int load(lower::BufferId buffer, DType dtype, Expr index) {
    lower::ScalarNode n;
    n.op = ScalarOp::kLoad;
    n.dtype = dtype;
    n.buffer = buffer;
    n.index = std::move(index);
    return add(n);
  }
  int fconst(double v, DType dtype) {
    lower::ScalarNode n;
    n.op = ScalarOp::kConst;
    n.dtype = dtype;
    n.fvalue = v;
    return add(n);
  }
  int iconst(int64_t v, DType dtype) {
    lower::ScalarNode n;
    n.op = ScalarOp::kConst;
    n.dtype = dtype;
    n.ivalue = v;
    return add(n);
  }
  int index(Expr value, DType dtype = DType::kInt64) {
    lower::ScalarNode n;
    n.op = ScalarOp::kIndex;
    n.dtype = dtype;
    n.index = std::move(value);
    return add(n);
  }
  int op(ScalarOp op, DType dtype, int a, int b = -1, int c = -1) {
    lower::ScalarNode n;
    n.op = op;
    n.dtype = dtype;
    n.a = a;
    n.b = b;
    n.c = c;
    return add(n);
  }
  int cast(int a, DType dtype) { return op(ScalarOp::kCast, dtype, a); }
  // The index variable is t<returned id>.
  int indirect(int a, Expr size) {
    lower::ScalarNode n;
    n.op = ScalarOp::kIndirect;
    n.dtype = DType::kInt64;
    n.a = a;
    n.index = std::move(size);
    return add(n);
  }
  int loop_result(int loop, DType dtype) {
    lower::ScalarNode n;
    n.op = ScalarOp::kLoopResult;
    n.dtype = dtype;
    n.ivalue = loop;
    return add(n);
  }
  int loop_index(int loop) {
    lower::ScalarNode n;
    n.op = ScalarOp::kLoopIndex;
    n.dtype = DType::kInt64;
    n.ivalue = loop;
    return add(n);
  }

 private:
  lower::Body& body_;
};

inline lower::BufferId add_buffer(lower::Program& p, const std::string& name, DType dtype,
                                  std::vector<Expr> sizes) {
  lower::Buffer b;
  b.name = name;
  b.dtype = dtype;
  b.sizes = std::move(sizes);
  p.buffers.push_back(std::move(b));
  return static_cast<lower::BufferId>(p.buffers.size()) - 1;
}

inline lower::Loop reduction_loop(std::vector<Expr> ranges, ReduceOp op, DType accumulate) {
  lower::Loop l;
  l.ranges = std::move(ranges);
  l.reduce = op;
  l.accumulate = accumulate;
  return l;
}

inline void store(lower::Loop& loop, lower::BufferId buffer, Expr index, int value) {
  loop.stores.push_back({buffer, std::move(index), value});
}

using KernelFn = bool (*)(const rt::RunContext*, void* const*);

// Printed kernels compiled into a shared library. Each kernel named at construction gets an
// entry point; the test's kiln::rt::fail and any extra definitions (externs) live in the same
// library.
class CompiledKernels {
 public:
  // `code`: printed functions; `extra`: definitions placed between the prelude and the code.
  CompiledKernels(const std::string& code, const std::vector<std::string>& kernels,
                  const std::string& extra = "", const std::string& flags = "") {
    dir_ = fresh_temp_dir("codegen");
    std::string tu = codegen::cpu::kernel_prelude();
    tu += R"(
#include <cstdarg>
#include <cstdio>

namespace kiln::rt {
bool fail(ErrorSink* sink, int status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(sink->message, sizeof(sink->message), format, args);
  va_end(args);
  sink->status = status;
  return false;
}
}  // namespace kiln::rt
)";
    tu += extra + "\n" + code + "\n";
    for (const auto& k : kernels) {
      tu += "extern \"C\" bool entry_" + k +
            "(const kiln::rt::RunContext* ctx, void* const* buffers) { return " + k +
            "(*ctx, buffers); }\n";
    }
    source_ = tu;
    const auto src = dir_ / "kernels.cpp";
    const auto lib = dir_ / "kernels.so";
    std::ofstream(src) << tu;
    const auto root = source_dir();
    // The flags kiln compiles generated kernels with (the entry points here stay visible).
    std::string kiln_flags;
    for (const auto& f : link::common_compile_flags("-O3")) {
      if (f != "-fvisibility=hidden") kiln_flags += f + " ";
    }
    const std::string cmd =
        "c++ " + kiln_flags + "-march=x86-64-v3 -Wall -Wextra -Werror " +
        flags + " -shared -I" + (root / "runtime").string() + " -I" +
        (root / "include").string() + " -o " + lib.string() + " " + src.string() + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0)
      output_.append(buf, n);
    const int rc = pipe != nullptr ? pclose(pipe) : -1;
    if (rc != 0) {
      ADD_FAILURE() << "compiling printed kernels failed:\n" << output_ << "\n---- source:\n" << tu;
      return;
    }
    compiled_ = true;
    if (flags.find("-fsyntax-only") != std::string::npos) return;  // nothing to load
    // Kept loaded: OpenMP's worker threads must not outlive their library.
    handle_ = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle_ == nullptr) {
      ADD_FAILURE() << "dlopen: " << dlerror();
      return;
    }
    for (const auto& k : kernels) {
      fns_[k] = reinterpret_cast<KernelFn>(dlsym(handle_, ("entry_" + k).c_str()));
    }
  }
  ~CompiledKernels() { std::filesystem::remove_all(dir_); }

  // Compiled (and loaded, unless only checked with -fsyntax-only).
  bool ok() const { return compiled_ && (handle_ != nullptr || fns_.empty()); }
  const std::string& compiler_output() const { return output_; }
  const std::string& source() const { return source_; }
  // Any other function of the library, by its (extern "C") name.
  void* symbol(const std::string& name) const {
    return handle_ != nullptr ? dlsym(handle_, name.c_str()) : nullptr;
  }

  struct Result {
    bool ok = false;
    rt::ErrorSink error;
  };
  Result run(const std::string& kernel, const std::vector<void*>& buffers,
             const std::vector<int64_t>& symbols = {}, int threads = 4) const {
    Result r;
    auto it = fns_.find(kernel);
    if (it == fns_.end() || it->second == nullptr) {
      ADD_FAILURE() << "no compiled kernel " << kernel;
      return r;
    }
    rt::RunContext ctx{};
    ctx.symbols = symbols.data();
    ctx.num_threads = threads;
    ctx.error = &r.error;
    r.ok = it->second(&ctx, buffers.data());
    return r;
  }

 private:
  std::filesystem::path dir_;
  std::string source_, output_;
  bool compiled_ = false;
  void* handle_ = nullptr;
  std::map<std::string, KernelFn> fns_;
};

}  // namespace kiln::testing
