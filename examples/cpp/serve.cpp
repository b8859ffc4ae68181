// Serves a compiled kiln model from many threads, as an inference service would: loads the
// model library through kiln.hpp (no link-time dependency on it), prints its signature,
// creates one container with N runners, and sends requests with random inputs from T threads.
// Every output is checked to be finite; latency percentiles and throughput are printed.
//
//   serve MODEL.so [--runners N] [--threads T] [--requests R] [--intra-op K]
//                  [--max-dim D] [--seed S] [--weights PATH]

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

struct Args {
  std::string model;
  int runners = 2;
  int threads = 4;
  int requests = 200;  // per thread
  int intra_op = 0;    // 0: every core
  int64_t max_dim = 64;
  uint32_t seed = 1;
  std::string weights;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: serve MODEL.so [--runners N] [--threads T] [--requests R] "
               "[--intra-op K] [--max-dim D] [--seed S] [--weights PATH]\n",
               why);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
      return argv[++i];
    };
    auto number = [&]() -> long long {
      const std::string v = value();
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) {
        usage(("bad number for " + arg + ": " + v).c_str());
      }
      return n;
    };
    if (arg == "--runners") {
      a.runners = static_cast<int>(number());
    } else if (arg == "--threads") {
      a.threads = static_cast<int>(number());
    } else if (arg == "--requests") {
      a.requests = static_cast<int>(number());
    } else if (arg == "--intra-op") {
      a.intra_op = static_cast<int>(number());
    } else if (arg == "--max-dim") {
      a.max_dim = number();
    } else if (arg == "--seed") {
      a.seed = static_cast<uint32_t>(number());
    } else if (arg == "--weights") {
      a.weights = value();
    } else if (!arg.empty() && arg[0] == '-') {
      usage(("unknown option " + arg).c_str());
    } else if (a.model.empty()) {
      a.model = arg;
    } else {
      usage("more than one model given");
    }
  }
  if (a.model.empty()) usage("no model given");
  if (a.threads < 1 || a.requests < 1) usage("--threads and --requests must be at least 1");
  return a;
}

// Evaluates a dim's expression as kiln prints it ("s0", "2*s0 + 1", "(s1 - 1)//2 + 1",
// "Max(s0, 4)") with Python's floor division and modulo.
class DimEvaluator {
 public:
  DimEvaluator(const std::string& text, const std::map<std::string, int64_t>& symbols)
      : s_(text), symbols_(symbols) {}

  int64_t eval() {
    const int64_t v = sum();
    skip_space();
    if (pos_ != s_.size()) fail("unexpected '" + s_.substr(pos_) + "'");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("cannot evaluate dim '" + s_ + "': " + why);
  }
  void skip_space() {
    while (pos_ < s_.size() && s_[pos_] == ' ')
      ++pos_;
  }
  bool eat(const char* token) {
    skip_space();
    const size_t n = std::strlen(token);
    if (s_.compare(pos_, n, token) != 0) return false;
    pos_ += n;
    return true;
  }
  static int64_t floordiv(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
  }
  int64_t sum() {
    int64_t v = product();
    for (;;) {
      if (eat("+")) {
        v += product();
      } else if (eat("-")) {
        v -= product();
      } else {
        return v;
      }
    }
  }
  int64_t product() {
    int64_t v = unary();
    for (;;) {
      if (eat("*")) {
        v *= unary();
      } else if (eat("//")) {
        const int64_t d = unary();
        if (d == 0) fail("division by zero");
        v = floordiv(v, d);
      } else if (eat("%")) {
        const int64_t d = unary();
        if (d == 0) fail("modulo by zero");
        v = v - floordiv(v, d) * d;
      } else {
        return v;
      }
    }
  }
  int64_t unary() { return eat("-") ? -unary() : atom(); }
  int64_t atom() {
    skip_space();
    if (eat("(")) {
      const int64_t v = sum();
      if (!eat(")")) fail("missing ')'");
      return v;
    }
    if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        v = v * 10 + (s_[pos_++] - '0');
      }
      return v;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      ++pos_;
    }
    const std::string name = s_.substr(start, pos_ - start);
    if (name.empty()) fail("expected a number, a symbol or '('");
    if (name == "Min" || name == "Max") {
      if (!eat("(")) fail("expected '(' after " + name);
      int64_t v = sum();
      while (eat(","))
        v = name == "Min" ? std::min(v, sum()) : std::max(v, sum());
      if (!eat(")")) fail("missing ')'");
      return v;
    }
    const auto it = symbols_.find(name);
    if (it == symbols_.end()) fail("unknown symbol " + name);
    return it->second;
  }

  std::string s_;
  const std::map<std::string, int64_t>& symbols_;
  size_t pos_ = 0;
};

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A symbol's legal range, from the dims that are the bare symbol.
struct Range {
  int64_t lo = 0;
  int64_t hi = -1;  // -1: unbounded
};

std::map<std::string, Range> symbol_ranges(const std::vector<kiln::TensorInfo>& inputs) {
  std::map<std::string, Range> ranges;
  for (const kiln::TensorInfo& t : inputs) {
    for (int32_t d = 0; d < t.ndim(); ++d) {
      if (!is_identifier(t.dims[d])) continue;
      Range& r = ranges[t.dims[d]];
      r.lo = std::max(r.lo, t.dim_min[d]);
      if (t.dim_max[d] >= 0) r.hi = r.hi < 0 ? t.dim_max[d] : std::min(r.hi, t.dim_max[d]);
    }
  }
  return ranges;
}

std::string dtype_name(DLDataType t) {
  const char* base = t.code == kDLFloat    ? "float"
                     : t.code == kDLBfloat ? "bfloat"
                     : t.code == kDLInt    ? "int"
                     : t.code == kDLUInt   ? "uint"
                     : t.code == kDLBool   ? "bool"
                                           : "other";
  return t.code == kDLBool ? "bool" : base + std::to_string(t.bits);
}

std::string describe(const kiln::TensorInfo& t) {
  std::string s = "  " + t.name + ": " + dtype_name(t.dtype) + "[";
  for (int32_t d = 0; d < t.ndim(); ++d) {
    if (d > 0) s += ", ";
    s += t.dims[d];
    if (t.dim_min[d] != t.dim_max[d]) {
      s += " in [" + std::to_string(t.dim_min[d]) + ", " +
           (t.dim_max[d] < 0 ? std::string("inf") : std::to_string(t.dim_max[d])) + "]";
    }
  }
  return s + "]";
}

// One request's inputs: owned buffers and the DLTensors over them.
struct Request {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<DLTensor> tensors;
  std::vector<const DLTensor*> ptrs;
};

uint16_t float_to_half(float f) {
  // Round-to-nearest-even is not needed for random test data; truncation is fine.
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  const uint32_t mant = (x >> 13) & 0x3ffu;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | mant);
}

void fill_random(uint8_t* data, int64_t n, DLDataType t, std::mt19937& rng) {
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 9);
  for (int64_t i = 0; i < n; ++i) {
    const float f = real(rng);
    if (t.code == kDLFloat && t.bits == 32) {
      std::memcpy(data + i * 4, &f, 4);
    } else if (t.code == kDLFloat && t.bits == 64) {
      const double d = f;
      std::memcpy(data + i * 8, &d, 8);
    } else if (t.code == kDLFloat && t.bits == 16) {
      const uint16_t h = float_to_half(f);
      std::memcpy(data + i * 2, &h, 2);
    } else if (t.code == kDLBfloat && t.bits == 16) {
      uint32_t x;
      std::memcpy(&x, &f, 4);
      const auto h = static_cast<uint16_t>(x >> 16);
      std::memcpy(data + i * 2, &h, 2);
    } else if (t.code == kDLBool) {
      data[i] = static_cast<uint8_t>(small(rng) % 2);
    } else {
      // Integers: small non-negative values, safe as indices into most tables.
      const int64_t v = small(rng);
      std::memcpy(data + i * (t.bits / 8), &v, t.bits / 8);  // little-endian low bytes
    }
  }
}

// Picks symbol values in range, evaluates every input dim, and asks the model whether the
// shapes are legal (kiln_output_shapes checks them all); retries on a miss.
Request make_request(const kiln::Container& model, const std::vector<kiln::TensorInfo>& inputs,
                     const std::map<std::string, Range>& ranges, int64_t max_dim,
                     std::mt19937& rng) {
  std::string last_error;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::map<std::string, int64_t> values;
    for (const auto& [name, r] : ranges) {
      int64_t hi = r.hi < 0 ? std::max(r.lo, max_dim) : std::min(r.hi, std::max(r.lo, max_dim));
      values[name] = std::uniform_int_distribution<int64_t>(r.lo, hi)(rng);
    }
    Request req;
    try {
      for (const kiln::TensorInfo& t : inputs) {
        std::vector<int64_t> shape;
        for (const std::string& d : t.dims)
          shape.push_back(DimEvaluator(d, values).eval());
        req.shapes.push_back(std::move(shape));
      }
      model.output_shapes(req.shapes);
    } catch (const std::exception& e) {
      last_error = e.what();
      continue;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : req.shapes[i])
        n *= d;
      const size_t bytes = static_cast<size_t>(n) * ((inputs[i].dtype.bits + 7) / 8);
      req.buffers.emplace_back(new uint8_t[std::max<size_t>(bytes, 1)]);
      fill_random(req.buffers.back().get(), n, inputs[i].dtype, rng);
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      req.tensors.push_back(DLTensor{req.buffers[i].get(),
                                     {kDLCPU, 0},
                                     static_cast<int32_t>(req.shapes[i].size()),
                                     inputs[i].dtype,
                                     req.shapes[i].data(),
                                     nullptr,
                                     0});
    }
    for (const DLTensor& t : req.tensors)
      req.ptrs.push_back(&t);
    return req;
  }
  throw std::runtime_error("no legal input shapes found: " + last_error);
}

// Whether every element of a float output is finite (other dtypes always are).
bool all_finite(const DLTensor& t) {
  int64_t n = 1;
  for (int32_t d = 0; d < t.ndim; ++d)
    n *= t.shape[d];
  const uint8_t* p = static_cast<const uint8_t*>(t.data) + t.byte_offset;
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype.code == kDLFloat && t.dtype.bits == 32) {
      float f;
      std::memcpy(&f, p + i * 4, 4);
      if (!std::isfinite(f)) return false;
    } else if (t.dtype.code == kDLFloat && t.dtype.bits == 64) {
      double d;
      std::memcpy(&d, p + i * 8, 8);
      if (!std::isfinite(d)) return false;
    } else if ((t.dtype.code == kDLFloat || t.dtype.code == kDLBfloat) && t.dtype.bits == 16) {
      uint16_t h;
      std::memcpy(&h, p + i * 2, 2);
      const uint16_t exp_mask = t.dtype.code == kDLFloat ? 0x7c00 : 0x7f80;
      if ((h & exp_mask) == exp_mask) return false;
    }
  }
  return true;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

int serve(const Args& args) {
  kiln::Library lib(args.model);
  std::printf("%s", lib.model_info().c_str());
  kiln::Options options;
  options.num_runners = args.runners;
  options.num_threads = args.intra_op;
  options.weights_path = args.weights;
  const kiln::Container model(lib, options);
  const std::vector<kiln::TensorInfo> inputs = model.inputs();
  std::printf("inputs:\n");
  for (const kiln::TensorInfo& t : inputs)
    std::printf("%s\n", describe(t).c_str());
  std::printf("outputs:\n");
  for (const kiln::TensorInfo& t : model.outputs())
    std::printf("%s\n", describe(t).c_str());
  const std::map<std::string, Range> ranges = symbol_ranges(inputs);

  // A few requests per thread, prepared before the clock starts.
  constexpr int kPrepared = 8;
  std::vector<std::vector<Request>> prepared(static_cast<size_t>(args.threads));
  std::mt19937 rng(args.seed);
  for (auto& per_thread : prepared) {
    for (int i = 0; i < kPrepared; ++i) {
      per_thread.push_back(make_request(model, inputs, ranges, args.max_dim, rng));
    }
  }

  std::printf("serving %d requests from %d threads on %d runners\n", args.requests * args.threads,
              args.threads, args.runners);
  std::vector<std::vector<double>> latencies(static_cast<size_t>(args.threads));
  std::atomic<int> failures{0}, non_finite{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < args.threads; ++t) {
    workers.emplace_back([&, t] {
      const auto ti = static_cast<size_t>(t);
      for (int r = 0; r < args.requests; ++r) {
        const Request& req = prepared[ti][static_cast<size_t>(r % kPrepared)];
        const auto t0 = std::chrono::steady_clock::now();
        try {
          const std::vector<kiln::Tensor> outs = model.run(req.ptrs);
          latencies[ti].push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count());
          for (const kiln::Tensor& o : outs) {
            if (!all_finite(o->dl_tensor)) ++non_finite;
          }
        } catch (const kiln::Error& e) {
          if (failures++ == 0) std::fprintf(stderr, "request failed: %s\n", e.what());
        }
      }
    });
  }
  for (std::thread& w : workers)
    w.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<double> all;
  for (const auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  if (!all.empty()) {
    std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f\n", percentile(all, 0.5),
                percentile(all, 0.9), percentile(all, 0.99));
    std::printf("throughput: %.1f requests/s\n", static_cast<double>(all.size()) / seconds);
  }
  std::printf("failed requests: %d, requests with non-finite outputs: %d\n", failures.load(),
              non_finite.load());
  return failures.load() == 0 && non_finite.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  try {
    return serve(args);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error (status %d): %s\n", static_cast<int>(e.status()), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
