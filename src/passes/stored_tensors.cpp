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

std::map<std::string, const frontend::WeightTensor*> tensors_by_fqn(
    const frontend::LoadedProgram& loaded) {
  std::map<std::string, const frontend::WeightTensor*> by_fqn;
  for (size_t i = 0; i < loaded.input_tensors.size(); ++i) {
    if (loaded.input_tensors[i] != nullptr) {
      by_fqn[loaded.program.signature.inputs[i].target] = loaded.input_tensors[i];
    }
  }
  return by_fqn;
}

[[noreturn]] void throw_missing(const ir::InputSpec& spec) {
  throw error("no stored tensor for ", ir::input_kind_name(spec.kind), " '", spec.target,
              "': neither the archive nor the folded constants hold it");
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
  auto by_fqn = std::make_shared<std::map<std::string, const frontend::WeightTensor*>>(
      tensors_by_fqn(loaded));
  auto archive = loaded.archive;
  loaded.program.read_stored =
      [archive, by_fqn](const std::string& target) -> std::optional<ir::ConstantData> {
    auto it = by_fqn->find(target);
    if (it == by_fqn->end()) return std::nullopt;
    const frontend::WeightTensor& w = *it->second;
    return ir::ConstantData{w.dtype, w.sizes, frontend::contiguous_bytes(w)};
  };
}

ir::ConstantData stored_constant(const frontend::LoadedProgram& loaded,
                                 const ir::ExportedProgram& program, size_t input) {
  const ir::InputSpec& spec = program.signature.inputs.at(input);
  if (auto c = program.constants.find(spec.target); c != program.constants.end()) return c->second;
  for (size_t i = 0; i < loaded.input_tensors.size(); ++i) {
    const frontend::WeightTensor* w = loaded.input_tensors[i];
    if (w == nullptr || loaded.program.signature.inputs[i].target != spec.target) continue;
    if (w->zero_filled) {
      size_t numel = 1;
      for (int64_t d : w->sizes)
        numel *= static_cast<size_t>(d);
      return ir::ConstantData{w->dtype, w->sizes,
                              std::vector<std::byte>(numel * ir::dtype_size(w->dtype))};
    }
    return ir::ConstantData{w->dtype, w->sizes, frontend::contiguous_bytes(*w)};
  }
  throw_missing(spec);
}

std::vector<std::optional<ref::Tensor>> stored_tensors(const frontend::LoadedProgram& loaded,
                                                       const ir::ExportedProgram& program) {
  const auto by_fqn = tensors_by_fqn(loaded);
  std::vector<std::optional<ref::Tensor>> out(program.signature.inputs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const ir::InputSpec& spec = program.signature.inputs[i];
    if (!is_stored(spec.kind)) continue;
    if (auto c = program.constants.find(spec.target); c != program.constants.end()) {
      out[i] = tensor_from_constant(c->second);
    } else if (auto w = by_fqn.find(spec.target); w != by_fqn.end()) {
      out[i] = decode(*w->second);
    } else {
      throw_missing(spec);
    }
  }
  return out;
}

}  // namespace kiln::passes
