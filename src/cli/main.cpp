#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

namespace {

constexpr const char* kUsage =
    "usage: kiln <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile MODEL.pt2 -o MODEL.so [--device cpu] [--weights embed|external]\n"
    "          [--target-cpu x86-64-v3] [--dump-after PASS] [--cache-dir DIR] [--jobs N]\n"
    "          [--model NAME] [--verbose] [--emit-sources DIR]\n"
    "      compiles the program into a self-contained shared library with the C ABI of\n"
    "      kiln/kiln.h. --weights external writes the weights to MODEL.so.weights;\n"
    "      --target-cpu is one of x86-64, x86-64-v2, x86-64-v3, x86-64-v4, native. Objects\n"
    "      are cached in --cache-dir, $KILN_CACHE_DIR or ~/.cache/kiln; $KILN_CXX names the\n"
    "      C++ compiler (default c++); --emit-sources writes the generated C++ to DIR\n"
    "  inspect MODEL.pt2 [--json] [--model NAME] [--ir] [--plan]\n"
    "      inputs, outputs, symbols and ranges, weights, the op histogram and every op kiln\n"
    "      does not support yet; --plan shows the CPU schedule: kernels with their source\n"
    "      ops, fused groups, externs and the arena\n"
    "  run MODEL.so --inputs A.npy [B.npy ...] --out DIR [--runners N] [--expect E.npy ...]\n"
    "  run MODEL.pt2 --reference --inputs A.npy [B.npy ...] --out DIR [--expect E.npy ...]\n"
    "      runs a compiled model, or the program on the reference interpreter; writes\n"
    "      DIR/out0.npy, out1.npy, ... (the user outputs, flattened). bf16 inputs are given\n"
    "      as float32, and bf16 outputs written as float32. --expect compares each output\n"
    "      with an array (floats: relative error within 1e-4, 1e-2 for f16/bf16; others\n"
    "      exactly) and exits 1 when one differs\n"
    "  bench MODEL.so --inputs A.npy [B.npy ...] [--runners N] [--concurrency C]\n"
    "          [--iters K] [--warmup W] [--threads T] [--json]\n"
    "      C client threads share K timed runs (after W warm-up runs) on a container with N\n"
    "      runners and T intra-op threads (0: all cores); prints p50/p90/p99 latency and\n"
    "      throughput\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "inspect") return kiln::cli::inspect_command(args);
    if (command == "run") return kiln::cli::run_command(args);
    if (command == "compile") return kiln::cli::compile_command(args);
    if (command == "bench") return kiln::cli::bench_command(args);
    throw kiln::cli::UsageError{"unknown command '" + command + "'"};
  } catch (const kiln::cli::UsageError& e) {
    std::cerr << "kiln: " << e.message << "\n\n" << kUsage;
    return 2;
  } catch (const kiln::Error& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "kiln: internal error: " << e.what() << "\n";
    return 3;
  }
}
