#include "passes/stored_tensors.h"

#include <map>
#include <memory>
#include <string>

#include "frontend/weights.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

bool is_stored(ir::InputKind k) {
  return k == ir::InputKind::kParameter || k == ir::InputKind::kBuffer ||
         k == ir::InputKind::kTensorConstant;
}

std::vector<int64_t> row_major(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t running = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    strides[d] = running;
    running *= sizes[d] == 0 ? 1 : sizes[d];
  }
  return strides;
}

ref::Tensor decode(const frontend::WeightTensor& w) {
  if (w.zero_filled) return ref::Tensor(w.dtype, w.sizes);
  return ref::tensor_from_bytes(w.dtype, w.sizes, w.strides, w.storage_offset, w.storage);
}

}  // namespace

ref::Tensor tensor_from_constant(const ir::ConstantData& c) {
  return ref::tensor_from_bytes(c.dtype, c.sizes, row_major(c.sizes), 0, c.bytes);
}

ir::ConstantData constant_from_tensor(const ref::Tensor& t) {
  return {t.dtype(), t.sizes(), ref::tensor_to_bytes(t)};
}

void attach_stored_tensors(frontend::LoadedProgram& loaded) {
  // FQN -> the archive's tensor; the archive owns the tensors and stays alive in the reader.
  auto by_fqn = std::make_shared<std::map<std::string, const frontend::WeightTensor*>>();
  for (size_t i = 0; i < loaded.input_tensors.size(); ++i) {
    if (loaded.input_tensors[i] != nullptr) {
      (*by_fqn)[loaded.program.signature.inputs[i].target] = loaded.input_tensors[i];
    }
  }
  auto archive = loaded.archive;
  loaded.program.read_stored =
      [archive, by_fqn](const std::string& target) -> std::optional<ir::ConstantData> {
    auto it = by_fqn->find(target);
    if (it == by_fqn->end()) return std::nullopt;
    const frontend::WeightTensor& w = *it->second;
    return ir::ConstantData{w.dtype, w.sizes, frontend::contiguous_bytes(w)};
  };
}

std::vector<std::optional<ref::Tensor>> stored_tensors(const frontend::LoadedProgram& loaded,
                                                       const ir::ExportedProgram& program) {
  std::map<std::string, const frontend::WeightTensor*> by_fqn;
  for (size_t i = 0; i < loaded.input_tensors.size(); ++i) {
    if (loaded.input_tensors[i] != nullptr) {
      by_fqn[loaded.program.signature.inputs[i].target] = loaded.input_tensors[i];
    }
  }
  std::vector<std::optional<ref::Tensor>> out(program.signature.inputs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const ir::InputSpec& spec = program.signature.inputs[i];
    if (!is_stored(spec.kind)) continue;
    if (auto c = program.constants.find(spec.target); c != program.constants.end()) {
      out[i] = tensor_from_constant(c->second);
    } else if (auto w = by_fqn.find(spec.target); w != by_fqn.end()) {
      out[i] = decode(*w->second);
    } else {
      throw error("no stored tensor for ", ir::input_kind_name(spec.kind), " '", spec.target,
                  "': neither the archive nor the folded constants hold it");
    }
  }
  return out;
}

}  // namespace kiln::passes
