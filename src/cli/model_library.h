#pragma once

// A compiled model library as the CLI uses it: opened with dlopen, its C ABI resolved, a
// container with RAII, and conversions between .npy files and the model's tensors.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "util/npy.h"

namespace kiln::cli {

// Whether `path` starts with the ELF magic (a shared library rather than a .pt2 archive).
bool is_elf_file(const std::string& path);

class ModelLibrary {
 public:
  // Throws kiln::Error naming the path: not loadable, not a kiln model, another ABI version.
  explicit ModelLibrary(const std::string& path);
  ~ModelLibrary();
  ModelLibrary(const ModelLibrary&) = delete;
  ModelLibrary& operator=(const ModelLibrary&) = delete;

  const std::string& path() const { return path_; }

  decltype(&kiln_options_init) options_init = nullptr;
  decltype(&kiln_abi_version) abi_version = nullptr;
  decltype(&kiln_container_create) container_create = nullptr;
  decltype(&kiln_container_delete) container_delete = nullptr;
  decltype(&kiln_run) run = nullptr;
  decltype(&kiln_num_inputs) num_inputs = nullptr;
  decltype(&kiln_num_outputs) num_outputs = nullptr;
  decltype(&kiln_input_info) input_info = nullptr;
  decltype(&kiln_output_info) output_info = nullptr;
  decltype(&kiln_output_shapes) output_shapes = nullptr;
  decltype(&kiln_last_error) last_error = nullptr;
  decltype(&kiln_model_info) model_info = nullptr;

 private:
  std::string path_;
  void* handle_ = nullptr;
};

struct TensorSpec {
  std::string name;
  DLDataType dtype{};
  std::vector<std::string> dims;
};

// Row-major host memory, 64-byte aligned, with a DLTensor over it.
class HostTensor {
 public:
  HostTensor(DLDataType dtype, std::vector<int64_t> shape);
  HostTensor(HostTensor&&) = default;
  HostTensor& operator=(HostTensor&&) = default;

  std::byte* data() { return data_.get(); }
  size_t nbytes() const { return nbytes_; }
  DLTensor* dl() { return &tensor_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::vector<int64_t> shape_;
  size_t nbytes_ = 0;
  std::unique_ptr<std::byte, Free> data_;
  DLTensor tensor_{};
};

class ModelContainer {
 public:
  // Throws kiln::Error with the model's message when creation fails.
  ModelContainer(const ModelLibrary& library, const KilnOptions& options);
  ~ModelContainer();
  ModelContainer(const ModelContainer&) = delete;
  ModelContainer& operator=(const ModelContainer&) = delete;

  const ModelLibrary& library() const { return library_; }
  KilnContainer* get() const { return container_; }
  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }

  // Throws kiln::Error carrying kiln_last_error() when `status` is not KILN_OK.
  void check(KilnStatus status) const;

  // Runs with kiln-allocated outputs; the returned tensors own their memory.
  std::vector<std::unique_ptr<DLManagedTensor, void (*)(DLManagedTensor*)>> run(
      std::vector<HostTensor>& inputs) const;
  // Output shapes for these inputs, for caller-provided outputs.
  std::vector<std::vector<int64_t>> output_shapes(std::vector<HostTensor>& inputs) const;

 private:
  const ModelLibrary& library_;
  KilnContainer* container_ = nullptr;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
};

// "float32", "bfloat16", "int64", "bool", ...
std::string dtype_text(DLDataType dtype);

// Reads one .npy file per model input (their number checked against the model's) and converts
// each to the input's dtype: bfloat16 inputs are given as float32 and rounded to nearest even;
// every other dtype must match exactly. Errors name the file and the input.
std::vector<HostTensor> read_inputs(const ModelContainer& container,
                                    const std::vector<std::string>& files);

// An output as .npy: bfloat16 widened to float32 (exactly), other dtypes as they are.
util::NpyArray npy_from_output(const DLTensor& tensor, size_t index);

}  // namespace kiln::cli
