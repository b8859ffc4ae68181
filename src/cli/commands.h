#pragma once

#include <string>
#include <vector>

namespace kiln::cli {

// Each command takes the arguments after its name and returns the process exit code. Errors
// in the user's input are thrown as kiln::Error; main prints them as one line.
int inspect_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);
int compile_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);

// Thrown for a malformed command line; main prints the message and the usage.
struct UsageError {
  std::string message;
};

// The value of `option` as an integer >= 1 (>= 0 when `allow_zero`), or a UsageError naming the
// command, the option and the text.
int parse_count(const std::string& command, const std::string& option, const std::string& text,
                bool allow_zero = false);

}  // namespace kiln::cli
