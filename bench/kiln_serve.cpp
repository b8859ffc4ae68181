// A minimal process that serves a kiln model library: load it, run it on random float32
// inputs, report when the first result was ready. bench/cold_start.py times it as a whole
// process (cold start) and reads its peak RSS while it serves N calls.
//
//   kiln_serve MODEL.so --shape 8,3,224,224 [--shape ...] [--iters N] [--threads T] [--seed S]
//
// Prints one JSON line: first_result_ns (CLOCK_MONOTONIC, comparable with the parent's clock),
// load_ns (dlopen + container), first_run_ns, checksum (sum of the first output), iters.
// Only float32 inputs (the benchmark models take no other).

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Args {
  std::string model;
  std::vector<std::vector<int64_t>> shapes;
  int iters = 1;
  int threads = 0;
  uint32_t seed = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "kiln_serve: %s\nusage: kiln_serve MODEL.so --shape D0,D1,... [--shape ...] "
               "[--iters N] [--threads T] [--seed S]\n",
               why.c_str());
  std::exit(2);
}

int64_t parse_int(const std::string& flag, const std::string& text, int64_t min) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < min) {
    usage(flag + " takes an integer >= " + std::to_string(min) + ", not '" + text + "'");
  }
  return v;
}

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    dims.push_back(parse_int("--shape", text.substr(start, comma - start), 0));
    start = comma + 1;
  }
  return dims;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--shape") {
      a.shapes.push_back(parse_shape(value()));
    } else if (arg == "--iters") {
      a.iters = static_cast<int>(parse_int(arg, value(), 1));
    } else if (arg == "--threads") {
      a.threads = static_cast<int>(parse_int(arg, value(), 0));
    } else if (arg == "--seed") {
      a.seed = static_cast<uint32_t>(parse_int(arg, value(), 0));
    } else if (!arg.empty() && arg[0] == '-') {
      usage("unknown option '" + arg + "'");
    } else if (a.model.empty()) {
      a.model = arg;
    } else {
      usage("one model at a time");
    }
  }
  if (a.model.empty()) usage("missing MODEL.so");
  if (a.shapes.empty()) usage("missing --shape");
  return a;
}

double sum_of(const DLTensor& t) {
  if (t.dtype.code != kDLFloat || t.dtype.bits != 32) return 0;
  int64_t n = 1;
  for (int32_t d = 0; d < t.ndim; ++d)
    n *= t.shape[d];
  const float* p = reinterpret_cast<const float*>(static_cast<const char*>(t.data) + t.byte_offset);
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += p[i];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    const int64_t t_start = monotonic_ns();
    kiln::Library library(a.model);
    kiln::Options options;
    options.num_threads = a.threads;
    kiln::Container container(library, options);
    if (container.num_inputs() != a.shapes.size()) {
      std::fprintf(stderr, "kiln_serve: %s takes %zu inputs, got %zu --shape\n", a.model.c_str(),
                   container.num_inputs(), a.shapes.size());
      return 2;
    }
    const int64_t t_loaded = monotonic_ns();

    // Inputs are drawn after loading, as a server would receive them.
    std::mt19937 rng(a.seed);
    std::normal_distribution<float> normal;
    std::vector<std::vector<float>> data(a.shapes.size());
    std::vector<DLTensor> inputs(a.shapes.size());
    for (size_t i = 0; i < a.shapes.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : a.shapes[i])
        n *= d;
      data[i].resize(static_cast<size_t>(n));
      for (float& v : data[i])
        v = normal(rng);
      DLTensor& t = inputs[i];
      t.data = data[i].data();
      t.device = {kDLCPU, 0};
      t.ndim = static_cast<int32_t>(a.shapes[i].size());
      t.dtype = {kDLFloat, 32, 1};
      t.shape = const_cast<int64_t*>(a.shapes[i].data());
      t.strides = nullptr;
      t.byte_offset = 0;
    }
    const int64_t t_run = monotonic_ns();
    std::vector<kiln::Tensor> out = container.run(inputs);
    const int64_t t_first = monotonic_ns();
    const double checksum = out.empty() ? 0 : sum_of(out[0]->dl_tensor);
    out.clear();
    for (int i = 1; i < a.iters; ++i)
      container.run(inputs);
    std::printf(
        "{\"first_result_ns\": %lld, \"load_ns\": %lld, \"first_run_ns\": %lld, "
        "\"checksum\": %.9g, \"iters\": %d}\n",
        static_cast<long long>(t_first), static_cast<long long>(t_loaded - t_start),
        static_cast<long long>(t_first - t_run), checksum, a.iters);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln_serve: %s\n", e.what());
    return 1;
  }
  return 0;
}
