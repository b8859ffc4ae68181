#include "cli/model_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "util/error.h"

namespace kiln::cli {
namespace {

// The .npy dtype a model dtype is read from and written as (bfloat16 travels as float32).
ir::DType npy_dtype(DLDataType t, const std::string& what) {
  if (t.lanes == 1) {
    switch (t.code) {
      case kDLFloat:
        if (t.bits == 16) return ir::DType::kFloat16;
        if (t.bits == 32) return ir::DType::kFloat32;
        if (t.bits == 64) return ir::DType::kFloat64;
        break;
      case kDLBfloat:
        if (t.bits == 16) return ir::DType::kFloat32;
        break;
      case kDLInt:
        if (t.bits == 8) return ir::DType::kInt8;
        if (t.bits == 16) return ir::DType::kInt16;
        if (t.bits == 32) return ir::DType::kInt32;
        if (t.bits == 64) return ir::DType::kInt64;
        break;
      case kDLUInt:
        if (t.bits == 8) return ir::DType::kUInt8;
        if (t.bits == 16) return ir::DType::kUInt16;
        break;
      case kDLBool:
        if (t.bits == 8) return ir::DType::kBool;
        break;
      default:
        break;
    }
  }
  throw error(what, " has dtype ", dtype_text(t), ", which .npy files cannot carry");
}

bool is_bf16(DLDataType t) {
  return t.code == kDLBfloat && t.bits == 16 && t.lanes == 1;
}

uint16_t float_to_bf16(uint32_t bits) {
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

std::vector<TensorSpec> specs(const ModelLibrary& lib, KilnContainer* c, bool inputs) {
  size_t n = inputs ? lib.num_inputs(c) : lib.num_outputs(c);
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < n; ++i) {
    KilnTensorInfo info{};
    KilnStatus s = inputs ? lib.input_info(c, i, &info) : lib.output_info(c, i, &info);
    if (s != KILN_OK) throw error(lib.path(), ": ", lib.last_error());
    TensorSpec spec;
    spec.name = info.name != nullptr ? info.name : "";
    spec.dtype = info.dtype;
    for (int32_t d = 0; d < info.ndim; ++d)
      spec.dims.push_back(info.dims[d]);
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace

bool is_elf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic,
                                          "\x7f"
                                          "ELF",
                                          4) == 0;
}

ModelLibrary::ModelLibrary(const std::string& path) : path_(path) {
  // A path without a slash would be searched in the library path instead of opened.
  std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  // RTLD_NODELETE: the library's OpenMP worker threads outlive dlclose, so its code stays
  // mapped.
  handle_ = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle_ == nullptr) {
    const char* why = ::dlerror();
    throw error("cannot load the model library ", path, ": ", why != nullptr ? why : "unknown");
  }
  auto resolve = [&](auto& fn, const char* name) {
    void* sym = ::dlsym(handle_, name);
    if (sym == nullptr) {
      ::dlclose(handle_);
      handle_ = nullptr;
      throw error(path, " is not a kiln model library (it has no ", name, ")");
    }
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
  };
  resolve(abi_version, "kiln_abi_version");
  resolve(options_init, "kiln_options_init");
  resolve(container_create, "kiln_container_create");
  resolve(container_delete, "kiln_container_delete");
  resolve(run, "kiln_run");
  resolve(num_inputs, "kiln_num_inputs");
  resolve(num_outputs, "kiln_num_outputs");
  resolve(input_info, "kiln_input_info");
  resolve(output_info, "kiln_output_info");
  resolve(output_shapes, "kiln_output_shapes");
  resolve(last_error, "kiln_last_error");
  resolve(model_info, "kiln_model_info");
  if (uint32_t v = abi_version(); v != KILN_ABI_VERSION) {
    ::dlclose(handle_);
    handle_ = nullptr;
    throw error(path, " was built for kiln ABI version ", v, "; this kiln uses version ",
                KILN_ABI_VERSION);
  }
}

ModelLibrary::~ModelLibrary() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

void HostTensor::Free::operator()(std::byte* p) const {
  std::free(p);
}

HostTensor::HostTensor(DLDataType dtype, std::vector<int64_t> shape) : shape_(std::move(shape)) {
  size_t numel = 1;
  for (int64_t d : shape_)
    numel *= static_cast<size_t>(d);
  nbytes_ = numel * ((dtype.bits * dtype.lanes + 7u) / 8u);
  // aligned_alloc needs a multiple of the alignment, and a non-zero size to return memory.
  size_t alloc = (nbytes_ + 63) / 64 * 64;
  data_.reset(static_cast<std::byte*>(std::aligned_alloc(64, alloc == 0 ? 64 : alloc)));
  if (!data_) throw error("out of memory allocating ", nbytes_, " bytes");
  tensor_.data = data_.get();
  tensor_.device = {kDLCPU, 0};
  tensor_.ndim = static_cast<int32_t>(shape_.size());
  tensor_.dtype = dtype;
  tensor_.shape = shape_.data();
  tensor_.strides = nullptr;
  tensor_.byte_offset = 0;
}

ModelContainer::ModelContainer(const ModelLibrary& library, const KilnOptions& options)
    : library_(library) {
  if (library.container_create(&container_, &options) != KILN_OK) {
    container_ = nullptr;
    throw error(library.path(), ": ", library.last_error());
  }
  inputs_ = specs(library, container_, true);
  outputs_ = specs(library, container_, false);
}

ModelContainer::~ModelContainer() {
  library_.container_delete(container_);
}

void ModelContainer::check(KilnStatus status) const {
  if (status != KILN_OK) throw Error(library_.last_error());
}

std::vector<std::unique_ptr<DLManagedTensor, void (*)(DLManagedTensor*)>> ModelContainer::run(
    std::vector<HostTensor>& inputs) const {
  std::vector<const DLTensor*> in;
  for (auto& t : inputs)
    in.push_back(t.dl());
  std::vector<DLManagedTensor*> managed(outputs_.size(), nullptr);
  check(library_.run(container_, in.data(), in.size(), nullptr, managed.data(), managed.size(),
                     nullptr));
  std::vector<std::unique_ptr<DLManagedTensor, void (*)(DLManagedTensor*)>> out;
  for (DLManagedTensor* m : managed) {
    out.emplace_back(m, [](DLManagedTensor* t) {
      if (t != nullptr && t->deleter != nullptr) t->deleter(t);
    });
  }
  return out;
}

std::vector<std::vector<int64_t>> ModelContainer::output_shapes(
    std::vector<HostTensor>& inputs) const {
  std::vector<const int64_t*> in;
  for (auto& t : inputs)
    in.push_back(t.dl()->shape);
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t*> out;
  for (const auto& spec : outputs_)
    shapes.emplace_back(spec.dims.size(), 0);
  for (auto& s : shapes)
    out.push_back(s.data());
  check(library_.output_shapes(container_, in.data(), in.size(), out.data(), out.size()));
  return shapes;
}

std::string dtype_text(DLDataType t) {
  std::string base;
  switch (t.code) {
    case kDLInt:
      base = "int";
      break;
    case kDLUInt:
      base = "uint";
      break;
    case kDLFloat:
      base = "float";
      break;
    case kDLBfloat:
      base = "bfloat";
      break;
    case kDLBool:
      return t.lanes == 1 ? "bool" : "bool x" + std::to_string(t.lanes);
    default:
      base = "code" + std::to_string(t.code) + "_";
      break;
  }
  base += std::to_string(t.bits);
  if (t.lanes != 1) base += " x" + std::to_string(t.lanes);
  return base;
}

std::vector<HostTensor> read_inputs(const ModelContainer& container,
                                    const std::vector<std::string>& files) {
  const auto& specs = container.inputs();
  if (files.size() != specs.size()) {
    std::string names;
    for (const auto& s : specs)
      names += (names.empty() ? "" : ", ") + s.name;
    throw error(container.library().path(), " takes ", specs.size(), " input",
                specs.size() == 1 ? "" : "s", " (", names, ") but ", files.size(), " were given");
  }
  std::vector<HostTensor> tensors;
  for (size_t i = 0; i < files.size(); ++i) {
    const TensorSpec& spec = specs[i];
    const std::string what = "input '" + spec.name + "' (#" + std::to_string(i) + ")";
    util::NpyArray a = util::read_npy(files[i]);
    const ir::DType want = npy_dtype(spec.dtype, what);
    if (a.dtype != want) {
      throw error(files[i], " holds ", ir::dtype_name(a.dtype), " but ", what, " takes ",
                  ir::dtype_name(want), is_bf16(spec.dtype) ? " (bfloat16, given as float32)" : "");
    }
    HostTensor t(spec.dtype, a.shape);
    if (is_bf16(spec.dtype)) {
      auto* out = reinterpret_cast<uint16_t*>(t.data());
      for (int64_t k = 0; k < a.numel(); ++k) {
        uint32_t bits;
        std::memcpy(&bits, a.data.data() + 4 * k, 4);
        out[k] = float_to_bf16(bits);
      }
    } else {
      std::memcpy(t.data(), a.data.data(), a.data.size());
    }
    tensors.push_back(std::move(t));
  }
  return tensors;
}

util::NpyArray npy_from_output(const DLTensor& t, size_t index) {
  util::NpyArray a;
  a.dtype = npy_dtype(t.dtype, "output #" + std::to_string(index));
  a.shape.assign(t.shape, t.shape + t.ndim);
  const int64_t n = a.numel();
  const auto* src = static_cast<const std::byte*>(t.data) + t.byte_offset;
  if (is_bf16(t.dtype)) {
    a.data.resize(static_cast<size_t>(n) * 4);
    for (int64_t k = 0; k < n; ++k) {
      uint16_t h;
      std::memcpy(&h, src + 2 * k, 2);
      uint32_t bits = uint32_t{h} << 16;
      std::memcpy(a.data.data() + 4 * k, &bits, 4);
    }
  } else {
    a.data.assign(src, src + static_cast<size_t>(n) * ir::dtype_size(a.dtype));
  }
  return a;
}

}  // namespace kiln::cli
