#pragma once

// Running the toolchain: one child process, its stdout and stderr captured together.

#include <filesystem>
#include <string>
#include <vector>

namespace kiln::link {

struct ProcessResult {
  bool started = false;  // false: the program could not be run at all (output says why)
  int exit_code = -1;    // -1 when it was killed by a signal
  std::string output;    // stdout and stderr, interleaved as written

  bool ok() const { return started && exit_code == 0; }
};

// Runs argv (argv[0] is looked up in PATH) with working directory `cwd` (empty: this process's).
// Safe to call from several threads at once.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::filesystem::path& cwd = {});

// argv as one shell-quoted line, for logs and error messages.
std::string command_line(const std::vector<std::string>& argv);

// The first `max_lines` lines of `text`, with a note of how many were left out.
std::string first_lines(const std::string& text, int max_lines);

}  // namespace kiln::link
