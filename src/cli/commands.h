#pragma once

#include <string>
#include <vector>

namespace kiln::cli {

// Each command takes the arguments after its name and returns the process exit code. Errors
// in the user's input are thrown as kiln::Error; main prints them as one line.
int inspect_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);

// Thrown for a malformed command line; main prints the message and the usage.
struct UsageError {
  std::string message;
};

}  // namespace kiln::cli
