#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/model_library.h"
#include "util/error.h"

namespace kiln::cli {
namespace {

struct BenchOptions {
  std::string model_path;
  std::vector<std::string> inputs;
  int runners = 1;
  int concurrency = 1;
  int iters = 100;
  int warmup = 10;
  int threads = 0;  // 0: every core
  bool json = false;
};

BenchOptions parse(const std::vector<std::string>& args) {
  BenchOptions o;
  bool has_inputs = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError{"bench: " + a + " needs a value"};
      return args[++i];
    };
    if (a == "--inputs") {
      has_inputs = true;
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0)
        o.inputs.push_back(args[++i]);
    } else if (a == "--runners") {
      o.runners = parse_count("bench", a, value());
    } else if (a == "--concurrency") {
      o.concurrency = parse_count("bench", a, value());
    } else if (a == "--iters") {
      o.iters = parse_count("bench", a, value());
    } else if (a == "--warmup") {
      o.warmup = parse_count("bench", a, value(), /*allow_zero=*/true);
    } else if (a == "--threads") {
      o.threads = parse_count("bench", a, value(), /*allow_zero=*/true);
    } else if (a == "--json") {
      o.json = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"bench: unknown option '" + a + "'"};
    } else if (o.model_path.empty()) {
      o.model_path = a;
    } else {
      throw UsageError{"bench: one model at a time (got '" + o.model_path + "' and '" + a + "')"};
    }
  }
  if (o.model_path.empty()) throw UsageError{"bench: missing MODEL.so"};
  if (!has_inputs) throw UsageError{"bench: missing --inputs A.npy [B.npy ...]"};
  return o;
}

// One client: its own output tensors (so runs allocate nothing), the shared read-only inputs.
class Client {
 public:
  Client(const ModelContainer& container, std::vector<HostTensor>& inputs) : container_(container) {
    for (auto& t : inputs)
      inputs_.push_back(t.dl());
    auto shapes = container.output_shapes(inputs);
    for (size_t j = 0; j < shapes.size(); ++j) {
      outputs_.emplace_back(container.outputs()[j].dtype, shapes[j]);
    }
    for (auto& t : outputs_)
      output_ptrs_.push_back(t.dl());
  }

  void run() const {
    const ModelLibrary& lib = container_.library();
    container_.check(lib.run(container_.get(), inputs_.data(), inputs_.size(), output_ptrs_.data(),
                             nullptr, output_ptrs_.size(), nullptr));
  }

 private:
  const ModelContainer& container_;
  std::vector<const DLTensor*> inputs_;
  std::vector<HostTensor> outputs_;
  std::vector<DLTensor*> output_ptrs_;
};

// Runs `total` calls shared by the clients, each on its own thread; returns each call's
// latency in milliseconds. The first failure stops every client and is thrown.
std::vector<double> run_shared(std::vector<Client>& clients, int total) {
  using Clock = std::chrono::steady_clock;
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string first_error;
  std::vector<double> latencies;
  auto work = [&](const Client& client) {
    std::vector<double> mine;
    try {
      while (!failed.load() && next.fetch_add(1) < total) {
        auto t0 = Clock::now();
        client.run();
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      if (!failed.exchange(true)) first_error = e.what();
    }
    std::lock_guard lock(mutex);
    latencies.insert(latencies.end(), mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (size_t c = 1; c < clients.size(); ++c)
    threads.emplace_back(work, std::cref(clients[c]));
  work(clients[0]);
  for (auto& t : threads)
    t.join();
  if (failed) throw Error(first_error);
  return latencies;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  BenchOptions o = parse(args);
  if (!is_elf_file(o.model_path)) {
    throw error(o.model_path, " is not a model library (compile it with kiln compile first)");
  }
  ModelLibrary library(o.model_path);
  KilnOptions options;
  library.options_init(&options);
  options.num_runners = o.runners;
  options.num_threads = o.threads;
  ModelContainer container(library, options);
  std::vector<HostTensor> inputs = read_inputs(container, o.inputs);
  std::vector<Client> clients;
  clients.reserve(static_cast<size_t>(o.concurrency));
  for (int c = 0; c < o.concurrency; ++c)
    clients.emplace_back(container, inputs);

  if (o.warmup > 0) run_shared(clients, o.warmup);
  auto start = std::chrono::steady_clock::now();
  std::vector<double> ms = run_shared(clients, o.iters);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double v : ms)
    mean += v;
  mean /= static_cast<double>(ms.size());
  const double throughput = static_cast<double>(ms.size()) / wall;

  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = o.model_path;
    j["runs"] = ms.size();
    j["warmup"] = o.warmup;
    j["concurrency"] = o.concurrency;
    j["runners"] = o.runners;
    j["threads"] = o.threads;
    j["latency_ms"] = {{"p50", percentile(ms, 50)}, {"p90", percentile(ms, 90)},
                       {"p99", percentile(ms, 99)}, {"min", ms.front()},
                       {"max", ms.back()},          {"mean", mean}};
    j["throughput_per_s"] = throughput;
    j["wall_s"] = wall;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  char line[256];
  std::cout << o.model_path << ": " << ms.size() << " runs after " << o.warmup << " warm-up, "
            << o.concurrency << " client" << (o.concurrency == 1 ? "" : "s") << ", " << o.runners
            << " runner" << (o.runners == 1 ? "" : "s") << ", "
            << (o.threads == 0 ? std::string("all cores") : std::to_string(o.threads) + " threads")
            << "\n";
  std::snprintf(line, sizeof line,
                "latency (ms): p50 %.4g  p90 %.4g  p99 %.4g  (min %.4g, mean %.4g, max %.4g)\n",
                percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), ms.front(), mean,
                ms.back());
  std::cout << line;
  std::snprintf(line, sizeof line, "throughput: %.1f runs/s\n", throughput);
  std::cout << line;
  return 0;
}

}  // namespace kiln::cli
