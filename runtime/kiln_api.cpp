// The C ABI of include/kiln/kiln.h over the model this library holds (kiln_rt_model()). Each
// entry point checks its arguments, catches every exception (none may cross a C boundary)
// and turns a failure into a status and the calling thread's last error.

#include <cinttypes>
#include <cstdio>
#include <new>
#include <string>

#include "container.h"
#include "errors.h"
#include "kiln/kiln.h"
#include "model_interface.h"

using kiln::rt::ErrorSink;
using kiln::rt::report;

namespace {

// Runs `body` (which fills a sink and returns success); exceptions become errors.
template <typename Body>
KilnStatus guarded(const char* function, Body&& body) {
  try {
    ErrorSink sink;
    if (body(&sink)) return KILN_OK;
    return report(sink, KILN_ERROR_RUNTIME);
  } catch (const std::bad_alloc&) {
    return report(KILN_ERROR_RUNTIME, "%s: out of memory", function);
  } catch (const std::exception& e) {
    return report(KILN_ERROR_RUNTIME, "%s: %s", function, e.what());
  } catch (...) {
    return report(KILN_ERROR_RUNTIME, "%s: unknown exception", function);
  }
}

KilnOptions default_options() {
  KilnOptions o;
  o.num_runners = 1;
  o.num_threads = 0;
  o.device = "cpu";
  o.weights_path = nullptr;
  return o;
}

KilnStatus null_container(const char* function) {
  return report(KILN_ERROR_INVALID_ARGUMENT, "%s: container is NULL", function);
}

KilnStatus tensor_info(const char* function, const KilnContainer* c, size_t index,
                       KilnTensorInfo* info, int kind) {
  if (c == nullptr) return null_container(function);
  if (info == nullptr) return report(KILN_ERROR_INVALID_ARGUMENT, "%s: info is NULL", function);
  const kiln::rt::ModelDesc& d = c->desc();
  static const char* const kKinds[] = {"input", "output", "constant"};
  const int32_t counts[] = {d.num_inputs, d.num_outputs, d.num_constants};
  if (index >= static_cast<size_t>(counts[kind])) {
    return report(KILN_ERROR_INVALID_ARGUMENT,
                  "%s: index %zu is out of range (the model has %d %ss)", function, index,
                  static_cast<int>(counts[kind]), kKinds[kind]);
  }
  if (kind == 2) {
    c->constant_info(index, info);
    return KILN_OK;
  }
  const kiln::rt::TensorInfo& t = kind == 0 ? d.inputs[index] : d.outputs[index];
  info->name = t.name;
  info->dtype = t.dtype;
  info->ndim = t.ndim;
  info->dims = t.dims;
  info->dim_min = t.dim_min;
  info->dim_max = t.dim_max;
  return KILN_OK;
}

}  // namespace

extern "C" {

KILN_API void kiln_options_init(KilnOptions* options) {
  if (options != nullptr) *options = default_options();
}

KILN_API uint32_t kiln_abi_version(void) {
  return KILN_ABI_VERSION;
}

KILN_API KilnStatus kiln_container_create(KilnContainer** out, const KilnOptions* options) {
  if (out == nullptr) {
    return report(KILN_ERROR_INVALID_ARGUMENT, "kiln_container_create: out is NULL");
  }
  *out = nullptr;
  // Internal calls go to internal functions, so another model library loaded with RTLD_GLOBAL
  // can never interpose on them.
  const KilnOptions defaults = default_options();
  return guarded("kiln_container_create", [&](ErrorSink* sink) {
    *out = KilnContainer::create(kiln_rt_model(), options != nullptr ? *options : defaults, sink);
    return *out != nullptr;
  });
}

KILN_API KilnStatus kiln_container_delete(KilnContainer* container) {
  delete container;
  return KILN_OK;
}

KILN_API KilnStatus kiln_run(KilnContainer* container, const DLTensor* const* inputs,
                             size_t num_inputs, DLTensor* const* outputs,
                             DLManagedTensor** managed_outputs, size_t num_outputs, void* stream) {
  if (container == nullptr) return null_container("kiln_run");
  return guarded("kiln_run", [&](ErrorSink* sink) {
    return container->run(inputs, num_inputs, outputs, managed_outputs, num_outputs, stream, sink);
  });
}

KILN_API size_t kiln_num_inputs(const KilnContainer* container) {
  return container != nullptr ? static_cast<size_t>(container->desc().num_inputs) : 0;
}

KILN_API size_t kiln_num_outputs(const KilnContainer* container) {
  return container != nullptr ? static_cast<size_t>(container->desc().num_outputs) : 0;
}

KILN_API size_t kiln_num_constants(const KilnContainer* container) {
  return container != nullptr ? static_cast<size_t>(container->desc().num_constants) : 0;
}

KILN_API KilnStatus kiln_input_info(const KilnContainer* container, size_t index,
                                    KilnTensorInfo* info) {
  return tensor_info("kiln_input_info", container, index, info, 0);
}

KILN_API KilnStatus kiln_output_info(const KilnContainer* container, size_t index,
                                     KilnTensorInfo* info) {
  return tensor_info("kiln_output_info", container, index, info, 1);
}

KILN_API KilnStatus kiln_constant_info(const KilnContainer* container, size_t index,
                                       KilnTensorInfo* info) {
  return tensor_info("kiln_constant_info", container, index, info, 2);
}

KILN_API KilnStatus kiln_output_shapes(const KilnContainer* container,
                                       const int64_t* const* input_shapes, size_t num_inputs,
                                       int64_t* const* output_shapes, size_t num_outputs) {
  if (container == nullptr) return null_container("kiln_output_shapes");
  return guarded("kiln_output_shapes", [&](ErrorSink* sink) {
    return container->output_shapes(input_shapes, num_inputs, output_shapes, num_outputs, sink);
  });
}

KILN_API KilnStatus kiln_update_constants(KilnContainer* container, const char* const* names,
                                          const DLTensor* const* values, size_t count) {
  if (container == nullptr) return null_container("kiln_update_constants");
  return guarded("kiln_update_constants", [&](ErrorSink* sink) {
    return container->update_constants(names, values, count, sink);
  });
}

KILN_API const char* kiln_last_error(void) {
  return kiln::rt::last_error();
}

KILN_API const char* kiln_model_info(void) {
  // Built once; the model description is constant for the library's lifetime.
  static const std::string info = [] {
    const kiln::rt::ModelDesc* d = kiln_rt_model();
    if (d == nullptr) return std::string("model=\n");
    auto text = [](const char* s) { return s != nullptr ? s : ""; };
    char checksum[32];
    std::snprintf(checksum, sizeof(checksum), "%016" PRIx64, d->weights_checksum);
    std::string s;
    s += "model=" + std::string(text(d->model_name)) + "\n";
    s += "kiln_version=" + std::string(text(d->kiln_version)) + "\n";
    s += "abi_version=" + std::to_string(KILN_ABI_VERSION) + "\n";
    s += "target_cpu=" + std::string(text(d->target_cpu)) + "\n";
    s += "weights_checksum=" + std::string(checksum) + "\n";
    s +=
        std::string("weights=") + (d->embedded_weights != nullptr ? "embedded" : "external") + "\n";
    return s;
  }();
  return info.c_str();
}

}  // extern "C"
