#pragma once

// Test support for compiled models: compile a loaded program into a .so (through the same
// library calls as `kiln compile`), load it, and run it on reference tensors through the C ABI.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "frontend/load.h"
#include "kiln/kiln.h"
#include "ref/tensor.h"

namespace kiln::testing {

// The object cache the tests share (under the system temp dir).
std::filesystem::path test_cache_dir();

// Compiles `loaded` for the CPU into `so_path`; returns the path.
std::filesystem::path compile_model(const frontend::LoadedProgram& loaded,
                                    const std::filesystem::path& so_path,
                                    bool external_weights = false);

// A dlopened model library and one container.
class CompiledModel {
 public:
  explicit CompiledModel(const std::filesystem::path& so_path, int runners = 1);
  ~CompiledModel();
  CompiledModel(const CompiledModel&) = delete;
  CompiledModel& operator=(const CompiledModel&) = delete;

  // Runs with kiln-allocated outputs. Throws kiln::Error with kiln_last_error() on failure.
  std::vector<ref::Tensor> run(const std::vector<ref::Tensor>& inputs) const;
  // The raw status of a run on DLTensors (for bad-input tests); outputs are released.
  KilnStatus run_raw(const std::vector<const DLTensor*>& inputs) const;
  std::string last_error() const;

  KilnContainer* container() const { return container_; }
  size_t num_inputs() const;
  KilnTensorInfo input_info(size_t i) const;

 private:
  struct Api;
  void* handle_ = nullptr;
  std::unique_ptr<Api> api_;
  KilnContainer* container_ = nullptr;
};

// A DLTensor over a byte buffer holding t's elements in t's dtype (kept alive by the holder).
struct DlHolder {
  std::vector<std::byte> bytes;
  std::vector<int64_t> shape;
  DLTensor tensor{};
};
std::unique_ptr<DlHolder> to_dlpack(const ref::Tensor& t);
ref::Tensor from_dlpack(const DLTensor& t, ir::DType dtype);
ir::DType dtype_of(DLDataType t);

}  // namespace kiln::testing
