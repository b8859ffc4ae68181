#include "compiled_model.h"

#include <dlfcn.h>

#include <cstring>

#include "codegen/cpu_backend.h"
#include "link/build.h"
#include "passes/stored_tensors.h"
#include "util/error.h"

namespace kiln::testing {

std::filesystem::path test_cache_dir() {
  return std::filesystem::temp_directory_path() / "kiln-test-cache";
}

std::filesystem::path compile_model(const frontend::LoadedProgram& loaded,
                                    const std::filesystem::path& so_path, bool external_weights) {
  codegen::CpuBackendOptions options;
  options.external_weights = external_weights;
  const codegen::GeneratedModel model = codegen::generate_cpu_model(loaded, options);
  link::LinkOptions lo;
  lo.output = so_path;
  lo.external_weights = external_weights;
  lo.cache_dir = test_cache_dir();
  lo.opt_level = "-O1";
  link::build_shared_library(model, lo);
  return so_path;
}

struct CompiledModel::Api {
  decltype(&kiln_container_create) create;
  decltype(&kiln_container_delete) destroy;
  decltype(&kiln_run) run;
  decltype(&kiln_last_error) last_error;
  decltype(&kiln_num_inputs) num_inputs;
  decltype(&kiln_input_info) input_info;
  decltype(&kiln_options_init) options_init;
};

namespace {

template <typename F>
F resolve(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  if (!p) throw error("model library lacks ", name);
  return reinterpret_cast<F>(p);
}

}  // namespace

CompiledModel::CompiledModel(const std::filesystem::path& so_path, int runners)
    : api_(std::make_unique<Api>()) {
  // RTLD_NODELETE: the library's OpenMP worker threads outlive dlclose, so its code stays
  // mapped.
  handle_ = dlopen(so_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle_) throw error("dlopen ", so_path.string(), ": ", dlerror());
  api_->create = resolve<decltype(api_->create)>(handle_, "kiln_container_create");
  api_->destroy = resolve<decltype(api_->destroy)>(handle_, "kiln_container_delete");
  api_->run = resolve<decltype(api_->run)>(handle_, "kiln_run");
  api_->last_error = resolve<decltype(api_->last_error)>(handle_, "kiln_last_error");
  api_->num_inputs = resolve<decltype(api_->num_inputs)>(handle_, "kiln_num_inputs");
  api_->input_info = resolve<decltype(api_->input_info)>(handle_, "kiln_input_info");
  api_->options_init = resolve<decltype(api_->options_init)>(handle_, "kiln_options_init");
  KilnOptions options;
  api_->options_init(&options);
  options.num_runners = runners;
  if (api_->create(&container_, &options) != KILN_OK) {
    throw error("kiln_container_create: ", api_->last_error());
  }
}

CompiledModel::~CompiledModel() {
  if (container_) api_->destroy(container_);
  if (handle_) dlclose(handle_);
}

std::string CompiledModel::last_error() const { return api_->last_error(); }
size_t CompiledModel::num_inputs() const { return api_->num_inputs(container_); }
KilnTensorInfo CompiledModel::input_info(size_t i) const {
  KilnTensorInfo info{};
  if (api_->input_info(container_, i, &info) != KILN_OK) throw error(api_->last_error());
  return info;
}

ir::DType dtype_of(DLDataType t) {
  switch (t.code) {
    case kDLBool: return ir::DType::kBool;
    case kDLUInt: return t.bits == 8 ? ir::DType::kUInt8 : ir::DType::kUInt16;
    case kDLInt:
      return t.bits == 8 ? ir::DType::kInt8
             : t.bits == 16 ? ir::DType::kInt16
             : t.bits == 32 ? ir::DType::kInt32
                            : ir::DType::kInt64;
    case kDLBfloat: return ir::DType::kBFloat16;
    case kDLFloat:
      return t.bits == 16 ? ir::DType::kFloat16 : t.bits == 32 ? ir::DType::kFloat32 : ir::DType::kFloat64;
    default: throw error("unexpected DLPack dtype code ", static_cast<int>(t.code));
  }
}

namespace {

DLDataType dl_dtype(ir::DType t) {
  switch (t) {
    case ir::DType::kBool: return {kDLBool, 8, 1};
    case ir::DType::kUInt8: return {kDLUInt, 8, 1};
    case ir::DType::kInt8: return {kDLInt, 8, 1};
    case ir::DType::kInt16: return {kDLInt, 16, 1};
    case ir::DType::kInt32: return {kDLInt, 32, 1};
    case ir::DType::kInt64: return {kDLInt, 64, 1};
    case ir::DType::kFloat16: return {kDLFloat, 16, 1};
    case ir::DType::kBFloat16: return {kDLBfloat, 16, 1};
    case ir::DType::kFloat32: return {kDLFloat, 32, 1};
    case ir::DType::kFloat64: return {kDLFloat, 64, 1};
    default: throw error("dtype ", ir::dtype_name(t), " has no DLPack type here");
  }
}

}  // namespace

std::unique_ptr<DlHolder> to_dlpack(const ref::Tensor& t) {
  auto h = std::make_unique<DlHolder>();
  const ir::ConstantData data = passes::constant_from_tensor(t);
  h->bytes = data.bytes;
  h->shape = t.sizes();
  h->tensor.data = h->bytes.empty() ? nullptr : h->bytes.data();
  h->tensor.device = {kDLCPU, 0};
  h->tensor.ndim = static_cast<int32_t>(h->shape.size());
  h->tensor.dtype = dl_dtype(t.dtype());
  h->tensor.shape = h->shape.data();
  h->tensor.strides = nullptr;
  h->tensor.byte_offset = 0;
  return h;
}

ref::Tensor from_dlpack(const DLTensor& t, ir::DType dtype) {
  ir::ConstantData data;
  data.dtype = dtype;
  data.sizes.assign(t.shape, t.shape + t.ndim);
  int64_t n = 1;
  for (int64_t s : data.sizes) n *= s;
  data.bytes.resize(static_cast<size_t>(n) * ir::dtype_size(dtype));
  if (n) std::memcpy(data.bytes.data(), static_cast<const char*>(t.data) + t.byte_offset, data.bytes.size());
  return passes::tensor_from_constant(data);
}

std::vector<ref::Tensor> CompiledModel::run(const std::vector<ref::Tensor>& inputs) const {
  std::vector<std::unique_ptr<DlHolder>> holders;
  std::vector<const DLTensor*> ptrs;
  for (const auto& t : inputs) {
    holders.push_back(to_dlpack(t));
    ptrs.push_back(&holders.back()->tensor);
  }
  size_t n_out = 0;
  {
    auto num_outputs = resolve<decltype(&kiln_num_outputs)>(handle_, "kiln_num_outputs");
    n_out = num_outputs(container_);
  }
  std::vector<DLManagedTensor*> managed(n_out, nullptr);
  if (api_->run(container_, ptrs.data(), ptrs.size(), nullptr, managed.data(), n_out, nullptr) != KILN_OK) {
    throw error("kiln_run: ", api_->last_error());
  }
  std::vector<ref::Tensor> out;
  for (DLManagedTensor* m : managed) {
    out.push_back(from_dlpack(m->dl_tensor, dtype_of(m->dl_tensor.dtype)));
    m->deleter(m);
  }
  return out;
}

KilnStatus CompiledModel::run_raw(const std::vector<const DLTensor*>& inputs) const {
  auto num_outputs = resolve<decltype(&kiln_num_outputs)>(handle_, "kiln_num_outputs");
  const size_t n_out = num_outputs(container_);
  std::vector<DLManagedTensor*> managed(n_out, nullptr);
  const KilnStatus s =
      api_->run(container_, inputs.data(), inputs.size(), nullptr, managed.data(), n_out, nullptr);
  if (s == KILN_OK) {
    for (DLManagedTensor* m : managed) m->deleter(m);
  }
  return s;
}

}  // namespace kiln::testing
