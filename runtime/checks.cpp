#include "checks.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "kiln/kiln.h"

namespace kiln::rt {
namespace {

// Prefixes the message with the subject: "input 'x' (#0): ...".
__attribute__((format(printf, 4, 5))) bool fail_at(ErrorSink* err, int status, const Subject& s,
                                                   const char* format, ...) {
  if (err == nullptr) return false;
  err->status = status;
  const char* name = s.name != nullptr ? s.name : "?";
  int n = s.index >= 0
              ? std::snprintf(err->message, sizeof(err->message), "%s '%s' (#%d): ", s.kind, name,
                              static_cast<int>(s.index))
              : std::snprintf(err->message, sizeof(err->message), "%s '%s': ", s.kind, name);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(err->message)) return false;
  va_list args;
  va_start(args, format);
  std::vsnprintf(err->message + n, sizeof(err->message) - static_cast<size_t>(n), format, args);
  va_end(args);
  return false;
}

const char* device_name(int32_t type) {
  switch (type) {
    case kDLCPU:
      return "cpu";
    case kDLCUDA:
      return "cuda";
    case kDLCUDAHost:
      return "cuda_host";
    case kDLOpenCL:
      return "opencl";
    case kDLVulkan:
      return "vulkan";
    case kDLMetal:
      return "metal";
    case kDLVPI:
      return "vpi";
    case kDLROCM:
      return "rocm";
    case kDLROCMHost:
      return "rocm_host";
    case kDLExtDev:
      return "ext_dev";
    case kDLCUDAManaged:
      return "cuda_managed";
    case kDLOneAPI:
      return "oneapi";
    case kDLWebGPU:
      return "webgpu";
    case kDLHexagon:
      return "hexagon";
    default:
      return nullptr;
  }
}

// "[2, 8, 1]" into buf (shortened with "..." when it does not fit).
void format_list(const int64_t* values, int32_t n, char* buf, size_t size) {
  size_t used = 0;
  auto put = [&](const char* text) {
    int w = std::snprintf(buf + used, size - used, "%s", text);
    if (w > 0) used = std::min(size - 1, used + static_cast<size_t>(w));
  };
  put("[");
  for (int32_t i = 0; i < n; ++i) {
    if (used + 24 >= size) {
      put("...");
      break;
    }
    char item[32];
    std::snprintf(item, sizeof(item), i == 0 ? "%" PRId64 : ", %" PRId64, values[i]);
    put(item);
  }
  put("]");
}

// The most recent first bindings of symbol slots on this thread, so a mismatch can say where
// the symbol got its value. Plain data: no thread-local destructor.
struct Binding {
  const int64_t* slot;
  const char* name;
  int32_t index;
  int32_t dim;
  int64_t value;
};
constexpr int kBindings = 32;
thread_local Binding t_bindings[kBindings];
thread_local int t_next_binding = 0;

void remember(const int64_t* slot, const char* name, int32_t index, int32_t dim, int64_t value) {
  t_bindings[t_next_binding] = {slot, name, index, dim, value};
  t_next_binding = (t_next_binding + 1) % kBindings;
}

const Binding* recall(const int64_t* slot, int64_t value) {
  for (int k = 1; k <= kBindings; ++k) {
    const Binding& b = t_bindings[(t_next_binding - k + kBindings) % kBindings];
    if (b.slot == slot) return b.value == value ? &b : nullptr;
  }
  return nullptr;
}

}  // namespace

void format_dtype(DLDataType dtype, char* buf, size_t size) {
  const char* base = nullptr;
  switch (dtype.code) {
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
    case kDLComplex:
      base = "complex";
      break;
    case kDLOpaqueHandle:
      base = "handle";
      break;
    case kDLBool:
      base = "bool";
      break;
    default:
      break;
  }
  int n = 0;
  if (base == nullptr) {
    n = std::snprintf(buf, size, "dtype(code=%u, bits=%u)", static_cast<unsigned>(dtype.code),
                      static_cast<unsigned>(dtype.bits));
  } else if (dtype.code == kDLBool && dtype.bits == 8) {
    n = std::snprintf(buf, size, "bool");
  } else {
    n = std::snprintf(buf, size, "%s%u", base, static_cast<unsigned>(dtype.bits));
  }
  if (dtype.lanes != 1 && n > 0 && static_cast<size_t>(n) < size) {
    std::snprintf(buf + n, size - static_cast<size_t>(n), "x%u",
                  static_cast<unsigned>(dtype.lanes));
  }
}

bool checked_numel(const int64_t* shape, int32_t ndim, int64_t* numel) {
  int64_t n = 1;
  bool overflow = false;
  for (int32_t d = 0; d < ndim; ++d) {
    if (shape[d] == 0) {
      *numel = 0;
      return true;
    }
    if (__builtin_mul_overflow(n, shape[d], &n)) overflow = true;
  }
  *numel = n;
  return !overflow;
}

bool check_tensor_as(const DLTensor* t, const Subject& s, DLDataType dtype, int32_t ndim,
                     int status, ErrorSink* err) {
  if (t == nullptr) return fail_at(err, status, s, "tensor is NULL");
  // Read as a plain integer: a device type newer than this header is outside the enum's range,
  // and loading such a value as DLDeviceType would be undefined behaviour.
  int32_t device_type = 0;
  static_assert(sizeof(device_type) == sizeof(t->device.device_type));
  std::memcpy(&device_type, &t->device.device_type, sizeof(device_type));
  if (device_type != kDLCPU) {
    const char* dev = device_name(device_type);
    if (dev == nullptr) {
      return fail_at(err, status, s, "on device type %d, expected cpu",
                     static_cast<int>(device_type));
    }
    return fail_at(err, status, s, "on %s:%d, expected cpu", dev,
                   static_cast<int>(t->device.device_id));
  }
  // DLPack gives CPU memory device id 0; any other id is a malformed or foreign tensor.
  if (t->device.device_id != 0) {
    return fail_at(err, status, s, "on cpu:%d, expected cpu:0",
                   static_cast<int>(t->device.device_id));
  }
  if (!same_dtype(t->dtype, dtype)) {
    char got[48], want[48];
    format_dtype(t->dtype, got, sizeof(got));
    format_dtype(dtype, want, sizeof(want));
    return fail_at(err, status, s, "dtype %s, expected %s", got, want);
  }
  if (t->ndim != ndim) {
    return fail_at(err, status, s, "rank %d, expected %d", static_cast<int>(t->ndim),
                   static_cast<int>(ndim));
  }
  if (ndim > 0 && t->shape == nullptr) return fail_at(err, status, s, "shape is NULL");
  for (int32_t d = 0; d < ndim; ++d) {
    if (t->shape[d] < 0) {
      return fail_at(err, status, s, "dim %d is %" PRId64 ", negative", static_cast<int>(d),
                     t->shape[d]);
    }
  }
  int64_t numel = 0;
  if (!checked_numel(t->shape, ndim, &numel)) {
    return fail_at(err, status, s, "too many elements (the product of its dims overflows int64)");
  }
  if (numel == 0) return true;  // nothing is read or written: data and strides do not matter
  if (t->strides != nullptr) {
    int64_t expected = 1;
    for (int32_t d = ndim - 1; d >= 0; --d) {
      // A size-1 dim is never stepped over, so its stride is free (torch gives such dims
      // arbitrary strides after unsqueeze or slicing).
      if (t->shape[d] != 1 && t->strides[d] != expected) {
        char strides[256];
        format_list(t->strides, ndim, strides, sizeof(strides));
        return fail_at(err, status, s,
                       "not compact row-major: dim %d has stride %" PRId64 ", expected %" PRId64
                       " (strides %s); make it contiguous first",
                       static_cast<int>(d), t->strides[d], expected, strides);
      }
      expected *= t->shape[d];
    }
  }
  if (t->data == nullptr) return fail_at(err, status, s, "data is NULL");
  // Kernels load whole elements; a misaligned pointer would be undefined behaviour.
  uint64_t align = element_bytes(dtype);
  align = align & (~align + 1);  // largest power of two dividing the element size
  if (align > 8) align = 8;
  const uintptr_t address = reinterpret_cast<uintptr_t>(t->data) + t->byte_offset;
  if (align > 1 && address % align != 0) {
    return fail_at(err, status, s,
                   "data (%p + byte_offset %" PRIu64 ") is not aligned to %" PRIu64 " bytes",
                   t->data, t->byte_offset, align);
  }
  return true;
}

bool check_dim_as(const Subject& s, int32_t dim, int64_t actual, int64_t expected, const char* text,
                  int status, ErrorSink* err) {
  if (actual == expected) return true;
  char number[32];
  std::snprintf(number, sizeof(number), "%" PRId64, expected);
  if (text != nullptr && std::strcmp(text, number) != 0) {
    return fail_at(err, status, s, "dim %d is %" PRId64 ", expected %" PRId64 " (%s)",
                   static_cast<int>(dim), actual, expected, text);
  }
  return fail_at(err, status, s, "dim %d is %" PRId64 ", expected %" PRId64, static_cast<int>(dim),
                 actual, expected);
}

bool check_tensor(const DLTensor* t, int32_t index, const TensorInfo& info, ErrorSink* err) {
  return check_tensor_as(t, Subject{"input", info.name, index}, info.dtype, info.ndim,
                         KILN_ERROR_BAD_INPUT, err);
}

bool bind_symbol(const TensorInfo& info, int32_t index, int32_t dim, int64_t actual,
                 const SymbolInfo& symbol, int64_t* slot, ErrorSink* err) {
  const Subject s{"input", info.name, index};
  if (*slot == INT64_MIN) {
    if (actual < symbol.min || (symbol.max >= 0 && actual > symbol.max)) {
      if (symbol.max < 0) {
        return fail_at(err, KILN_ERROR_BAD_INPUT, s,
                       "dim %d is %" PRId64 ", outside the range [%" PRId64 ", inf) of %s",
                       static_cast<int>(dim), actual, symbol.min, symbol.name);
      }
      return fail_at(err, KILN_ERROR_BAD_INPUT, s,
                     "dim %d is %" PRId64 ", outside the range [%" PRId64 ", %" PRId64 "] of %s",
                     static_cast<int>(dim), actual, symbol.min, symbol.max, symbol.name);
    }
    *slot = actual;
    remember(slot, info.name, index, dim, actual);
    return true;
  }
  if (*slot == actual) return true;
  if (const Binding* b = recall(slot, *slot)) {
    return fail_at(err, KILN_ERROR_BAD_INPUT, s,
                   "dim %d is %" PRId64 ", but %s = %" PRId64 " from input '%s' (#%d) dim %d",
                   static_cast<int>(dim), actual, symbol.name, *slot, b->name ? b->name : "?",
                   static_cast<int>(b->index), static_cast<int>(b->dim));
  }
  return fail_at(err, KILN_ERROR_BAD_INPUT, s,
                 "dim %d is %" PRId64 ", but %s = %" PRId64 " from an earlier dim",
                 static_cast<int>(dim), actual, symbol.name, *slot);
}

bool check_dim(const TensorInfo& info, int32_t index, int32_t dim, int64_t actual, int64_t expected,
               ErrorSink* err) {
  const char* text = info.dims != nullptr && dim >= 0 && dim < info.ndim ? info.dims[dim] : nullptr;
  return check_dim_as(Subject{"input", info.name, index}, dim, actual, expected, text,
                      KILN_ERROR_BAD_INPUT, err);
}

}  // namespace kiln::rt
