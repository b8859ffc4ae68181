#include "test_paths.h"

#include <atomic>
#include <unistd.h>

namespace kiln::testing {

std::filesystem::path source_dir() { return KILN_SOURCE_DIR; }
std::filesystem::path fixture_dir() { return source_dir() / "tests" / "fixtures"; }
std::filesystem::path kiln_binary() { return KILN_BINARY; }

std::filesystem::path fresh_temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("kiln_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace kiln::testing
