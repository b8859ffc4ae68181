#include "frontend/load.h"

#include "frontend/deserialize.h"
#include "ir/printer.h"
#include "util/error.h"

namespace kiln::frontend {
namespace {

std::string choose_model(const Pt2Archive& archive, const std::string& requested) {
  const auto& names = archive.model_names();
  if (!requested.empty()) {
    if (!archive.has_model(requested)) {
      std::string known;
      for (const auto& n : names)
        known += (known.empty() ? "" : ", ") + n;
      throw error(archive.path().string(), ": no model named '", requested, "' (models: ", known,
                  ")");
    }
    return requested;
  }
  if (names.empty()) throw error(archive.path().string(), ": the archive holds no models/*.json");
  if (names.size() > 1 && !archive.has_model("model")) {
    throw error(archive.path().string(), ": the archive holds ", names.size(), " models; name one");
  }
  return archive.has_model("model") ? "model" : names.front();
}

// The stored tensor must be exactly what the placeholder declares: weights have static shapes.
void check_binding(const std::string& source, const ir::InputSpec& spec, const ir::Value& value,
                   const WeightTensor& w) {
  const ir::TensorType& t = value.type;
  if (t.dtype != w.dtype) {
    throw error(source, ": ", ir::input_kind_name(spec.kind), " '", spec.target, "' (input %",
                value.name, ") is ", ir::dtype_name(w.dtype), " in ", w.file, " but ",
                ir::dtype_name(t.dtype), " in the graph");
  }
  bool same_rank = t.sizes.size() == w.sizes.size();
  for (size_t i = 0; same_rank && i < t.sizes.size(); ++i) {
    auto dim = t.sizes[i].as_const();
    if (!dim || *dim != w.sizes[i]) same_rank = false;
  }
  if (!same_rank) {
    std::string stored;
    for (auto s : w.sizes)
      stored += (stored.empty() ? "" : ", ") + std::to_string(s);
    throw error(source, ": ", ir::input_kind_name(spec.kind), " '", spec.target, "' (input %",
                value.name, ") has shape [", stored, "] in ", w.file, " but ", t.str(),
                " in the graph");
  }
}

}  // namespace

LoadedProgram load_program(const std::filesystem::path& path, const std::string& model) {
  auto archive = std::make_shared<const Pt2Archive>(path);
  LoadedProgram loaded;
  loaded.archive = archive;
  loaded.model_name = choose_model(*archive, model);
  const std::string source = path.string() + ":models/" + loaded.model_name + ".json";
  loaded.program = deserialize_program(archive->model_json(loaded.model_name), source);

  const ir::Graph& graph = loaded.program.graph;
  const auto& specs = loaded.program.signature.inputs;
  loaded.input_tensors.assign(specs.size(), nullptr);
  for (size_t i = 0; i < specs.size(); ++i) {
    const ir::InputSpec& spec = specs[i];
    if (spec.kind != ir::InputKind::kParameter && spec.kind != ir::InputKind::kBuffer &&
        spec.kind != ir::InputKind::kTensorConstant) {
      continue;
    }
    const WeightTensor* w = archive->find_tensor(loaded.model_name, spec.target);
    if (w == nullptr) {
      throw error(path.string(), ": ", ir::input_kind_name(spec.kind), " '", spec.target,
                  "' is in the graph signature but in neither the weights nor the constants "
                  "config");
    }
    check_binding(path.string(), spec, graph.values[graph.inputs[i]], *w);
    loaded.input_tensors[i] = w;
  }
  return loaded;
}

}  // namespace kiln::frontend
