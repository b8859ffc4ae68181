#pragma once

#include <filesystem>
#include <string>

namespace kiln::testing {

// The repository root, for committed fixtures.
std::filesystem::path source_dir();
// tests/fixtures/<name>.
std::filesystem::path fixture_dir();
// The kiln CLI binary built alongside the tests.
std::filesystem::path kiln_binary();
// A fresh, empty directory under the system temp dir, unique per call.
std::filesystem::path fresh_temp_dir(const std::string& tag);

}  // namespace kiln::testing
