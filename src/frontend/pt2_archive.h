#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/weights.h"
#include "frontend/zip_archive.h"

namespace kiln::frontend {

// A `torch.export.save` archive (torch 2.9 - 2.11 layout, see pt2-format.md sections 1-2):
//   <root>/models/<model>.json                              ExportedProgram JSON
//   <root>/data/weights/<model>_weights_config.json         FQN -> raw storage file + tensor_meta
//   <root>/data/constants/<model>_constants_config.json
//   <root>/data/weights/weight_N, data/constants/tensor_N   raw little-endian storage bytes
//   <root>/extra/<name>                                     user extra files
//   <root>/archive_format ("pt2"), archive_version ("0"), byteorder ("little")
// Opening checks the container, the format records and every weight against its file; older
// layouts (torch 2.6 - 2.8) and AOTInductor packages are refused with a message saying what
// to do. All data stays in the mapping: model JSON, extra files and weights are views into it.
class Pt2Archive {
 public:
  explicit Pt2Archive(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return zip_.path(); }
  const ZipArchive& zip() const { return zip_; }
  // The folder every entry sits in, without the slash ("export_fixture").
  const std::string& root() const { return root_; }

  // Sorted; "model" for a plain torch.export.save.
  const std::vector<std::string>& model_names() const { return model_names_; }
  bool has_model(std::string_view model) const { return models_.find(model) != models_.end(); }
  // The ExportedProgram JSON text of `models/<model>.json` (CRC-checked).
  std::string_view model_json(std::string_view model) const;

  // The tensors of the weights config (parameters and persistent buffers) and of the constants
  // config (lifted constants and non-persistent buffers), in file order.
  const std::vector<WeightTensor>& weights(std::string_view model) const;
  const std::vector<WeightTensor>& constants(std::string_view model) const;
  // Looks in the weights, then the constants; nullptr if the FQN is in neither.
  const WeightTensor* find_tensor(std::string_view model, std::string_view fqn) const;

  // `extra/<name>` entries, by name (without "extra/").
  const std::map<std::string, std::string_view, std::less<>>& extra_files() const {
    return extra_files_;
  }

 private:
  struct Model {
    std::string_view json;  // CRC-checked at open
    std::vector<WeightTensor> weights;
    std::vector<WeightTensor> constants;
  };

  const Model& model(std::string_view name) const;
  void reject_other_layouts() const;
  void find_root();
  void check_format_records() const;
  void load_models();

  ZipArchive zip_;
  std::string root_;
  std::vector<std::string> model_names_;
  std::map<std::string, Model, std::less<>> models_;
  std::map<std::string, std::string_view, std::less<>> extra_files_;
};

}  // namespace kiln::frontend
