#pragma once

// A header-only C++ wrapper over the C ABI of kiln.h, with RAII and exceptions. It loads a
// model library with dlopen, so a program needs only this header (and -ldl on glibc older
// than 2.34), never the model at link time:
//
//   kiln::Library lib("model.so");
//   kiln::Options options;
//   options.num_runners = 4;
//   kiln::Container model(lib, options);
//   std::vector<kiln::Tensor> out = model.run({&x, &y});  // DLTensor inputs, owned outputs
//
// Every failure throws kiln::Error with the C ABI's status and message. A Container and every
// Tensor it returns keep the library loaded, so they may outlive the Library object.

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.h"

namespace kiln {

class Error : public std::runtime_error {
 public:
  Error(KilnStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  KilnStatus status() const { return status_; }

 private:
  KilnStatus status_;
};

// Every function of the C ABI, resolved from one library.
struct Api {
  decltype(&kiln_options_init) options_init = nullptr;
  decltype(&kiln_abi_version) abi_version = nullptr;
  decltype(&kiln_container_create) container_create = nullptr;
  decltype(&kiln_container_delete) container_delete = nullptr;
  decltype(&kiln_run) run = nullptr;
  decltype(&kiln_num_inputs) num_inputs = nullptr;
  decltype(&kiln_num_outputs) num_outputs = nullptr;
  decltype(&kiln_num_constants) num_constants = nullptr;
  decltype(&kiln_input_info) input_info = nullptr;
  decltype(&kiln_output_info) output_info = nullptr;
  decltype(&kiln_constant_info) constant_info = nullptr;
  decltype(&kiln_output_shapes) output_shapes = nullptr;
  decltype(&kiln_update_constants) update_constants = nullptr;
  decltype(&kiln_last_error) last_error = nullptr;
  decltype(&kiln_model_info) model_info = nullptr;
};

// Releases a tensor kiln allocated through its DLPack deleter, keeping the library that holds
// the deleter loaded until then.
struct TensorDeleter {
  std::shared_ptr<void> library;
  void operator()(DLManagedTensor* t) const {
    if (t != nullptr && t->deleter != nullptr) t->deleter(t);
  }
};
using Tensor = std::unique_ptr<DLManagedTensor, TensorDeleter>;

struct TensorInfo {
  std::string name;
  DLDataType dtype{};
  std::vector<std::string> dims;  // each dim's expression: "s0", "2*s0", "224"
  std::vector<int64_t> dim_min;
  std::vector<int64_t> dim_max;  // -1: no upper bound
  int32_t ndim() const { return static_cast<int32_t>(dims.size()); }
};

struct Options {
  int32_t num_runners = 1;
  int32_t num_threads = 0;  // 0: every core
  std::string device = "cpu";
  std::string weights_path;  // empty: the file beside the library
};

class Library {
 public:
  // Loads the model library at `path`. Throws Error(KILN_ERROR_LOAD) when it cannot be
  // loaded, lacks a kiln_* function, or was built for another ABI version than this header.
  explicit Library(const std::string& path) : path_(path) {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw Error(KILN_ERROR_LOAD,
                  "cannot load model library '" + path + "': " + (why ? why : "unknown error"));
    }
    handle_ = std::shared_ptr<void>(handle, [](void* h) { ::dlclose(h); });
    resolve(api_.options_init, "kiln_options_init");
    resolve(api_.abi_version, "kiln_abi_version");
    resolve(api_.container_create, "kiln_container_create");
    resolve(api_.container_delete, "kiln_container_delete");
    resolve(api_.run, "kiln_run");
    resolve(api_.num_inputs, "kiln_num_inputs");
    resolve(api_.num_outputs, "kiln_num_outputs");
    resolve(api_.num_constants, "kiln_num_constants");
    resolve(api_.input_info, "kiln_input_info");
    resolve(api_.output_info, "kiln_output_info");
    resolve(api_.constant_info, "kiln_constant_info");
    resolve(api_.output_shapes, "kiln_output_shapes");
    resolve(api_.update_constants, "kiln_update_constants");
    resolve(api_.last_error, "kiln_last_error");
    resolve(api_.model_info, "kiln_model_info");
    const uint32_t version = api_.abi_version();
    if (version != KILN_ABI_VERSION) {
      throw Error(KILN_ERROR_LOAD, "model library '" + path + "' has kiln ABI version " +
                                       std::to_string(version) + ", but this kiln.hpp is for " +
                                       std::to_string(KILN_ABI_VERSION));
    }
  }

  const std::string& path() const { return path_; }
  const Api& api() const { return api_; }
  const std::shared_ptr<void>& handle() const { return handle_; }

  // kiln_model_info as text, and parsed into its keys ("model", "target_cpu", ...).
  std::string model_info() const { return api_.model_info(); }
  std::map<std::string, std::string> model_info_map() const {
    std::map<std::string, std::string> out;
    const std::string text = model_info();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(start, end - start);
      const size_t eq = line.find('=');
      if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
      start = end + 1;
    }
    return out;
  }

 private:
  template <typename F>
  void resolve(F& fn, const char* name) {
    void* p = ::dlsym(handle_.get(), name);
    if (p == nullptr) {
      throw Error(KILN_ERROR_LOAD,
                  "model library '" + path_ + "' lacks " + name + " (is it a kiln model library?)");
    }
    fn = reinterpret_cast<F>(p);
  }

  std::string path_;
  std::shared_ptr<void> handle_;
  Api api_;
};

class Container {
 public:
  explicit Container(const Library& library, const Options& options = {})
      : api_(library.api()), library_(library.handle()) {
    KilnOptions o;
    api_.options_init(&o);
    o.num_runners = options.num_runners;
    o.num_threads = options.num_threads;
    o.device = options.device.c_str();
    o.weights_path = options.weights_path.empty() ? nullptr : options.weights_path.c_str();
    KilnContainer* c = nullptr;
    check(api_.container_create(&c, &o));
    container_ = c;
  }
  ~Container() {
    if (container_ != nullptr) api_.container_delete(container_);
  }
  Container(Container&& other) noexcept
      : api_(other.api_),
        library_(std::move(other.library_)),
        container_(std::exchange(other.container_, nullptr)) {}
  Container& operator=(Container&& other) noexcept {
    if (this != &other) {
      if (container_ != nullptr) api_.container_delete(container_);
      api_ = other.api_;
      library_ = std::move(other.library_);
      container_ = std::exchange(other.container_, nullptr);
    }
    return *this;
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  KilnContainer* get() const { return container_; }

  size_t num_inputs() const { return api_.num_inputs(container_); }
  size_t num_outputs() const { return api_.num_outputs(container_); }
  size_t num_constants() const { return api_.num_constants(container_); }
  std::vector<TensorInfo> inputs() const { return infos(api_.input_info, num_inputs()); }
  std::vector<TensorInfo> outputs() const { return infos(api_.output_info, num_outputs()); }
  std::vector<TensorInfo> constants() const { return infos(api_.constant_info, num_constants()); }

  // Runs with kiln allocating the outputs.
  std::vector<Tensor> run(const std::vector<const DLTensor*>& inputs) const {
    std::vector<DLManagedTensor*> raw(num_outputs(), nullptr);
    check(api_.run(container_, inputs.data(), inputs.size(), nullptr, raw.data(), raw.size(),
                   nullptr));
    std::vector<Tensor> out;
    out.reserve(raw.size());
    for (DLManagedTensor* t : raw)
      out.emplace_back(t, TensorDeleter{library_});
    return out;
  }
  std::vector<Tensor> run(std::initializer_list<const DLTensor*> inputs) const {
    return run(std::vector<const DLTensor*>(inputs));
  }
  std::vector<Tensor> run(const std::vector<DLTensor>& inputs) const {
    return run(pointers(inputs));
  }

  // Runs into caller-provided outputs (right dtype and shape, compact row-major).
  void run(const std::vector<const DLTensor*>& inputs,
           const std::vector<DLTensor*>& outputs) const {
    check(api_.run(container_, inputs.data(), inputs.size(), outputs.data(), nullptr,
                   outputs.size(), nullptr));
  }
  void run(const std::vector<DLTensor>& inputs, std::vector<DLTensor>& outputs) const {
    std::vector<DLTensor*> out;
    out.reserve(outputs.size());
    for (DLTensor& t : outputs)
      out.push_back(&t);
    run(pointers(inputs), out);
  }

  // Output shapes for the given input shapes, without running.
  std::vector<std::vector<int64_t>> output_shapes(
      const std::vector<std::vector<int64_t>>& input_shapes) const {
    std::vector<const int64_t*> in;
    in.reserve(input_shapes.size());
    for (const auto& s : input_shapes)
      in.push_back(s.data());
    const std::vector<TensorInfo> outs = outputs();
    std::vector<std::vector<int64_t>> result;
    std::vector<int64_t*> out;
    result.reserve(outs.size());
    for (const TensorInfo& o : outs)
      result.emplace_back(static_cast<size_t>(o.ndim()), 0);
    for (auto& r : result)
      out.push_back(r.data());
    check(api_.output_shapes(container_, in.data(), in.size(), out.data(), out.size()));
    return result;
  }

  // Replaces constants by name (all or none); waits for runs in flight.
  void update_constants(const std::vector<std::pair<std::string, const DLTensor*>>& values) {
    std::vector<const char*> names;
    std::vector<const DLTensor*> tensors;
    for (const auto& [name, t] : values) {
      names.push_back(name.c_str());
      tensors.push_back(t);
    }
    check(api_.update_constants(container_, names.data(), tensors.data(), values.size()));
  }

 private:
  using InfoFn = KilnStatus (*)(const KilnContainer*, size_t, KilnTensorInfo*);

  static std::vector<const DLTensor*> pointers(const std::vector<DLTensor>& tensors) {
    std::vector<const DLTensor*> p;
    p.reserve(tensors.size());
    for (const DLTensor& t : tensors)
      p.push_back(&t);
    return p;
  }

  std::vector<TensorInfo> infos(InfoFn fn, size_t count) const {
    std::vector<TensorInfo> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      KilnTensorInfo raw{};
      check(fn(container_, i, &raw));
      TensorInfo info;
      info.name = raw.name != nullptr ? raw.name : "";
      info.dtype = raw.dtype;
      for (int32_t d = 0; d < raw.ndim; ++d) {
        info.dims.emplace_back(raw.dims != nullptr && raw.dims[d] != nullptr ? raw.dims[d] : "");
        info.dim_min.push_back(raw.dim_min != nullptr ? raw.dim_min[d] : 0);
        info.dim_max.push_back(raw.dim_max != nullptr ? raw.dim_max[d] : -1);
      }
      out.push_back(std::move(info));
    }
    return out;
  }

  void check(KilnStatus status) const {
    if (status != KILN_OK) throw Error(status, api_.last_error());
  }

  Api api_;
  std::shared_ptr<void> library_;  // keeps the library loaded while the container lives
  KilnContainer* container_ = nullptr;
};

}  // namespace kiln
