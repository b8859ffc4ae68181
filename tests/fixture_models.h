#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::testing {

// One committed fixture model: tests/fixtures/torch<version>/<name>/ with model.pt2,
// manifest.json and the case<k>_in<i>.npy / case<k>_out<j>.npy files.
struct FixtureModel {
  std::string id;  // "torch2.15_mlp", usable as a gtest parameter name
  std::filesystem::path dir;
  // Shared: gtest copies every parameter of every suite when the binary starts, and copying
  // the parsed manifests made each test process spend most of a second starting up.
  std::shared_ptr<const nlohmann::json> parsed_manifest;
  const nlohmann::json& manifest() const { return *parsed_manifest; }
};

// gtest prints a parameter by its id.
inline void PrintTo(const FixtureModel& m, std::ostream* os) { *os << m.id; }

// Every fixture model, sorted by id.
const std::vector<FixtureModel>& fixture_models();

}  // namespace kiln::testing
