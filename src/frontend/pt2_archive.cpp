#include "frontend/pt2_archive.h"

#include <algorithm>

#include "util/error.h"

namespace kiln::frontend {
namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

bool has_entry_under(const ZipArchive& zip, std::string_view prefix) {
  return std::any_of(zip.entries().begin(), zip.entries().end(),
                     [&](const ZipEntry& e) { return e.name.starts_with(prefix); });
}

constexpr std::string_view kReexport =
    "re-export the model with torch >= 2.9 (torch.export.save), which writes the raw-weights "
    "layout kiln reads";

}  // namespace

Pt2Archive::Pt2Archive(const std::filesystem::path& path) : zip_(path) {
  if (zip_.entries().empty()) {
    throw error(path.string(), ": the zip archive has no entries; not a PT2 archive");
  }
  reject_other_layouts();
  find_root();
  check_format_records();
  load_models();
}

// Layouts written before torch 2.9 and AOTInductor packages, each named for the user.
void Pt2Archive::reject_other_layouts() const {
  const std::string where = path().string();
  for (const ZipEntry& e : zip_.entries()) {
    const std::string_view name = e.name;
    const auto slash = name.find('/');
    const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
    if (base == "serialized_exported_program.json") {
      throw error(where, ": this archive was written by torch 2.6 or 2.7 (it holds '", name,
                  "' and pickled state dicts), a layout kiln does not read; ", kReexport);
    }
  }
  // 2.6/2.7 AOTInductor packages have no root folder.
  if (zip_.contains("archive_format") && has_entry_under(zip_, "data/aotinductor/")) {
    throw error(where,
                ": this is an AOTInductor package (compiled by aoti_compile_and_package, holding "
                "data/aotinductor/), not an exported program; give kiln the .pt2 written by "
                "torch.export.save(ep, path) instead");
  }
}

// The root folder is the archive's name at save time; it is read, never assumed.
void Pt2Archive::find_root() {
  const std::string where = path().string();
  const std::string& first = zip_.entries().front().name;
  const auto slash = first.find('/');
  if (slash == std::string::npos || slash == 0) {
    throw error(where, ": entry '", first,
                "' is not inside a root folder; a PT2 archive (torch >= 2.8) keeps every entry "
                "under one folder");
  }
  root_ = first.substr(0, slash);
  const std::string prefix = root_ + "/";
  for (const ZipEntry& e : zip_.entries()) {
    if (!e.name.starts_with(prefix)) {
      throw error(where, ": root folder mismatch: entry '", e.name, "' is not under '", prefix,
                  "' like entry '", first, "'");
    }
  }
}

void Pt2Archive::check_format_records() const {
  const std::string where = path().string();
  const std::string format_entry = root_ + "/archive_format";
  if (!zip_.contains(format_entry)) {
    throw error(where, ": no '", format_entry, "' record; not a PT2 archive");
  }
  const std::string_view format = trim(zip_.read_text(format_entry));
  if (format != "pt2") {
    throw error(where, ": ", format_entry, " is '", format, "', expected 'pt2'");
  }
  // A missing archive_version means 0; 0 is the only version torch has written (2.8 - 2.11).
  const std::string version_entry = root_ + "/archive_version";
  if (zip_.contains(version_entry)) {
    const std::string_view version = trim(zip_.read_text(version_entry));
    if (version != "0") {
      throw error(where, ": ", version_entry, " is '", version,
                  "'; kiln reads PT2 archive version 0, the version torch.export.save has written "
                  "since torch 2.8. Re-export with a torch release that writes version 0");
    }
  }
  const std::string order_entry = root_ + "/byteorder";
  if (zip_.contains(order_entry)) {
    const std::string_view order = trim(zip_.read_text(order_entry));
    if (order != "little") {
      throw error(where, ": ", order_entry, " is '", order,
                  "'; kiln reads only little-endian archives");
    }
  }
}

void Pt2Archive::load_models() {
  const std::string where = path().string();
  const std::string models_dir = root_ + "/models/";
  for (const ZipEntry& e : zip_.entries()) {
    std::string_view name = e.name;
    if (!name.starts_with(models_dir) || !name.ends_with(".json")) continue;
    name.remove_prefix(models_dir.size());
    name.remove_suffix(5);
    if (name.empty() || name.find('/') != std::string_view::npos) continue;
    model_names_.emplace_back(name);
  }
  std::sort(model_names_.begin(), model_names_.end());
  if (model_names_.empty()) {
    if (has_entry_under(zip_, root_ + "/data/aotinductor/")) {
      throw error(where,
                  ": this is an AOTInductor package (compiled by aoti_compile_and_package: "
                  "data/aotinductor/ and no models/), not an exported program; give kiln the "
                  ".pt2 written by torch.export.save(ep, path) instead");
    }
    throw error(where, ": no '", models_dir,
                "<name>.json' entry; the archive holds no exported "
                "program");
  }

  // Storage ids are per archive, so tied tensors are found across models and configs.
  std::map<std::string, size_t> storage_ids;
  const std::string weights_dir = root_ + "/data/weights/";
  const std::string constants_dir = root_ + "/data/constants/";
  for (const std::string& name : model_names_) {
    Model m;
    m.json = zip_.read_text(models_dir + name + ".json");
    const std::string weights_config = weights_dir + name + "_weights_config.json";
    const std::string constants_config = constants_dir + name + "_constants_config.json";
    // torch 2.8 pickled each model's state dict into one file and wrote no config.
    for (const auto& [config, pickled] :
         {std::pair{weights_config, weights_dir + name + ".pt"},
          std::pair{constants_config, constants_dir + name + ".pt"}}) {
      if (!zip_.contains(config) && zip_.contains(pickled)) {
        throw error(where, ": this archive was written by torch 2.8 (model '", name,
                    "' keeps its tensors pickled in '", pickled, "', with no '", config,
                    "'), a layout kiln does not read; ", kReexport);
      }
    }
    m.weights = read_payload_config(zip_, weights_config, weights_dir, false, storage_ids);
    m.constants = read_payload_config(zip_, constants_config, constants_dir, true, storage_ids);
    models_.emplace(name, std::move(m));
  }

  const std::string extra_dir = root_ + "/extra/";
  for (const ZipEntry& e : zip_.entries()) {
    if (e.name.starts_with(extra_dir) && e.name.size() > extra_dir.size()) {
      extra_files_.emplace(e.name.substr(extra_dir.size()), zip_.read_text(e.name));
    }
  }
}

const Pt2Archive::Model& Pt2Archive::model(std::string_view name) const {
  auto it = models_.find(name);
  if (it == models_.end()) {
    std::string known;
    for (const std::string& n : model_names_)
      known += (known.empty() ? "" : ", ") + n;
    throw error(path().string(), ": no model '", name, "' (the archive holds: ", known, ")");
  }
  return it->second;
}

std::string_view Pt2Archive::model_json(std::string_view model_name) const {
  return model(model_name).json;
}

const std::vector<WeightTensor>& Pt2Archive::weights(std::string_view model_name) const {
  return model(model_name).weights;
}

const std::vector<WeightTensor>& Pt2Archive::constants(std::string_view model_name) const {
  return model(model_name).constants;
}

const WeightTensor* Pt2Archive::find_tensor(std::string_view model_name,
                                            std::string_view fqn) const {
  const Model& m = model(model_name);
  for (const auto* list : {&m.weights, &m.constants}) {
    for (const WeightTensor& w : *list) {
      if (w.fqn == fqn) return &w;
    }
  }
  return nullptr;
}

}  // namespace kiln::frontend
