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
    "  inspect MODEL.pt2 [--json] [--model NAME] [--ir]\n"
    "      inputs, outputs, symbols and ranges, weights, the op histogram and every op kiln\n"
    "      does not support yet\n"
    "  run MODEL.pt2 --reference --inputs A.npy [B.npy ...] --out DIR\n"
    "      runs the program on the reference interpreter; writes DIR/out0.npy, out1.npy, ...\n"
    "      (the user outputs, flattened). bf16 inputs are given as float32.\n";

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
