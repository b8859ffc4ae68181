#include "fixture_models.h"

#include <algorithm>
#include <fstream>

#include "test_paths.h"

namespace kiln::testing {

const std::vector<FixtureModel>& fixture_models() {
  static const std::vector<FixtureModel> models = [] {
    std::vector<FixtureModel> out;
    for (const auto& version : std::filesystem::directory_iterator(fixture_dir())) {
      std::string v = version.path().filename().string();
      if (!version.is_directory() || v.rfind("torch", 0) != 0) continue;
      for (const auto& model : std::filesystem::directory_iterator(version.path())) {
        auto manifest_path = model.path() / "manifest.json";
        if (!std::filesystem::exists(manifest_path)) continue;
        std::ifstream in(manifest_path);
        FixtureModel m;
        m.dir = model.path();
        m.parsed_manifest = std::make_shared<const nlohmann::json>(nlohmann::json::parse(in));
        m.id = v + "_" + model.path().filename().string();
        std::replace_if(m.id.begin(), m.id.end(), [](char c) { return !std::isalnum(c); }, '_');
        out.push_back(std::move(m));
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }();
  return models;
}

}  // namespace kiln::testing
