#include "ref/npy_io.h"

#include "util/error.h"

namespace kiln::ref {

Tensor tensor_from_npy(const util::NpyArray& a) {
  std::vector<int64_t> strides(a.shape.size());
  int64_t running = 1;
  for (size_t d = a.shape.size(); d-- > 0;) {
    strides[d] = running;
    running *= a.shape[d];
  }
  return tensor_from_bytes(a.dtype, a.shape, strides, 0, a.data);
}

RValue value_from_npy(const util::NpyArray& a, const ir::Value& v, const std::string& file) {
  if (v.kind == ir::ValueKind::kSymInt) {
    if (!a.shape.empty() || !ir::is_integral(a.dtype)) {
      throw error(file, ": input '", v.name, "' is an int; give a 0-d integer array");
    }
    return tensor_from_bytes(a.dtype, {}, {}, 0, a.data).get_int(0);
  }
  Tensor t = tensor_from_npy(a);
  if (v.kind == ir::ValueKind::kTensor && v.type.dtype == ir::DType::kBFloat16 &&
      a.dtype == ir::DType::kFloat32) {
    Tensor cast(ir::DType::kBFloat16, a.shape);
    for (int64_t i = 0; i < t.numel(); ++i)
      cast.set(i, t.get(i));
    return cast;
  }
  return t;
}

util::NpyArray npy_from_value(const RValue& value, size_t index) {
  util::NpyArray a;
  if (const auto* t = std::get_if<Tensor>(&value)) {
    a.shape = t->sizes();
    if (t->dtype() == ir::DType::kBFloat16) {  // .npy has no bf16: widen, exactly
      Tensor wide(ir::DType::kFloat32, t->sizes());
      for (int64_t i = 0; i < t->numel(); ++i)
        wide.set(i, t->get(i));
      a.dtype = ir::DType::kFloat32;
      a.data = tensor_to_bytes(wide);
    } else {
      a.dtype = t->dtype();
      a.data = tensor_to_bytes(*t);
    }
    return a;
  }
  Tensor scalar;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    scalar = Tensor(ir::DType::kInt64, {});
    scalar.set_int(0, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    scalar = Tensor(ir::DType::kFloat64, {});
    scalar.set(0, *d);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    scalar = Tensor(ir::DType::kBool, {});
    scalar.set_int(0, *b);
  } else {
    throw error("output ", index, " is None, which .npy cannot hold");
  }
  a.dtype = scalar.dtype();
  a.data = tensor_to_bytes(scalar);
  return a;
}

}  // namespace kiln::ref
