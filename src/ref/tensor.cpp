#include "ref/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "util/error.h"
#include "util/float_formats.h"

namespace kiln::ref {
namespace {

int64_t checked_numel(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s < 0) throw error("negative tensor dim ", s);
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) throw error("tensor too large");
    n *= s;
  }
  return n;
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

double round_to_dtype(ir::DType dtype, double v) {
  return ir::is_floating(dtype) ? util::round_to_float_format(dtype, v) : v;
}

int64_t wrap_to_dtype(ir::DType dtype, int64_t v) {
  switch (dtype) {
    case ir::DType::kBool:
      return v != 0;
    case ir::DType::kUInt8:
      return static_cast<uint8_t>(v);
    case ir::DType::kInt8:
      return static_cast<int8_t>(v);
    case ir::DType::kInt16:
      return static_cast<int16_t>(v);
    case ir::DType::kUInt16:
      return static_cast<uint16_t>(v);
    case ir::DType::kInt32:
      return static_cast<int32_t>(v);
    default:
      return v;
  }
}

Tensor::Tensor(ir::DType dtype, std::vector<int64_t> sizes)
    : dtype_(dtype),
      sizes_(std::move(sizes)),
      numel_(checked_numel(sizes_)),
      floating_(ir::is_floating(dtype)) {
  if (!floating_ && !ir::is_integral(dtype) && dtype != ir::DType::kBool) {
    throw error("the reference interpreter has no ", ir::dtype_name(dtype), " tensors");
  }
  if (floating_) {
    f_.assign(static_cast<size_t>(numel_), 0.0);
  } else {
    i_.assign(static_cast<size_t>(numel_), 0);
  }
}

std::vector<int64_t> Tensor::strides() const {
  std::vector<int64_t> s(sizes_.size());
  int64_t running = 1;
  for (size_t d = sizes_.size(); d-- > 0;) {
    s[d] = running;
    running *= sizes_[d] == 0 ? 1 : sizes_[d];
  }
  return s;
}

std::string Tensor::str() const {
  std::string s(ir::dtype_name(dtype_));
  s += '[';
  for (size_t d = 0; d < sizes_.size(); ++d)
    s += (d ? ", " : "") + std::to_string(sizes_[d]);
  return s + ']';
}

int64_t Tensor::get_int(int64_t i) const {
  if (!floating_) return i_[static_cast<size_t>(i)];
  double v = f_[static_cast<size_t>(i)];
  if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) return 0;
  return static_cast<int64_t>(v);
}

void Tensor::set_other(int64_t i, double v) {
  if (floating_) {
    f_[static_cast<size_t>(i)] = round_to_dtype(dtype_, v);
  } else if (dtype_ == ir::DType::kBool) {
    i_[static_cast<size_t>(i)] = v != 0;
  } else {
    int64_t t = (!std::isfinite(v) || std::fabs(v) >= 9.2e18) ? 0 : static_cast<int64_t>(v);
    i_[static_cast<size_t>(i)] = wrap_to_dtype(dtype_, t);
  }
}

void Tensor::set_int(int64_t i, int64_t v) {
  if (floating_) {
    f_[static_cast<size_t>(i)] = round_to_dtype(dtype_, static_cast<double>(v));
  } else {
    i_[static_cast<size_t>(i)] = wrap_to_dtype(dtype_, v);
  }
}

Tensor Tensor::reshaped(std::vector<int64_t> sizes) const {
  if (checked_numel(sizes) != numel_) {
    throw error("cannot reshape ", str(), " to ", checked_numel(sizes), " elements");
  }
  Tensor t = *this;
  t.sizes_ = std::move(sizes);
  return t;
}

namespace {

// Whether elements lie one after another in row-major order (size-1 dims have any stride).
bool row_major(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  int64_t expected = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] != 1 && strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

}  // namespace

Tensor tensor_from_bytes(ir::DType dtype, const std::vector<int64_t>& sizes,
                         const std::vector<int64_t>& strides, int64_t storage_offset,
                         std::span<const std::byte> storage) {
  Tensor t(dtype, sizes);
  const size_t esize = ir::dtype_size(dtype);
  if (dtype == ir::DType::kFloat32 && row_major(sizes, strides)) {  // the common weight
    const std::byte* p = storage.data() + static_cast<size_t>(storage_offset) * esize;
    for (int64_t flat = 0; flat < t.numel(); ++flat)
      t.set(flat, load<float>(p + static_cast<size_t>(flat) * esize));
    return t;
  }
  std::vector<int64_t> index(sizes.size(), 0);
  for (int64_t flat = 0; flat < t.numel(); ++flat) {
    int64_t element = storage_offset;
    for (size_t d = 0; d < sizes.size(); ++d)
      element += index[d] * strides[d];
    const std::byte* p = storage.data() + static_cast<size_t>(element) * esize;
    switch (dtype) {
      case ir::DType::kBool:
      case ir::DType::kUInt8:
        t.set_int(flat, load<uint8_t>(p));
        break;
      case ir::DType::kInt8:
        t.set_int(flat, load<int8_t>(p));
        break;
      case ir::DType::kInt16:
        t.set_int(flat, load<int16_t>(p));
        break;
      case ir::DType::kUInt16:
        t.set_int(flat, load<uint16_t>(p));
        break;
      case ir::DType::kInt32:
        t.set_int(flat, load<int32_t>(p));
        break;
      case ir::DType::kInt64:
        t.set_int(flat, load<int64_t>(p));
        break;
      case ir::DType::kFloat16:
        t.set(flat, util::half_bits_to_double(load<uint16_t>(p)));
        break;
      case ir::DType::kBFloat16:
        t.set(flat, util::bfloat16_bits_to_double(load<uint16_t>(p)));
        break;
      case ir::DType::kFloat32:
        t.set(flat, load<float>(p));
        break;
      case ir::DType::kFloat64:
        t.set(flat, load<double>(p));
        break;
      case ir::DType::kFloat8E4M3FN:
      case ir::DType::kFloat8E5M2:
      case ir::DType::kFloat8E4M3FNUZ:
      case ir::DType::kFloat8E5M2FNUZ:
        t.set(flat, util::float8_bits_to_double(dtype, load<uint8_t>(p)));
        break;
      default:
        throw error("cannot decode ", ir::dtype_name(dtype), " elements");
    }
    for (size_t d = sizes.size(); d-- > 0;) {
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
    }
  }
  return t;
}

std::vector<std::byte> tensor_to_bytes(const Tensor& t) {
  const ir::DType dtype = t.dtype();
  const size_t esize = ir::dtype_size(dtype);
  std::vector<std::byte> out(static_cast<size_t>(t.numel()) * esize);
  if (dtype == ir::DType::kFloat32) {
    for (int64_t i = 0; i < t.numel(); ++i)
      store(out.data() + static_cast<size_t>(i) * esize, static_cast<float>(t.get(i)));
    return out;
  }
  for (int64_t i = 0; i < t.numel(); ++i) {
    std::byte* p = out.data() + static_cast<size_t>(i) * esize;
    switch (dtype) {
      case ir::DType::kBool:
      case ir::DType::kUInt8:
        store(p, static_cast<uint8_t>(t.get_int(i)));
        break;
      case ir::DType::kInt8:
        store(p, static_cast<int8_t>(t.get_int(i)));
        break;
      case ir::DType::kInt16:
        store(p, static_cast<int16_t>(t.get_int(i)));
        break;
      case ir::DType::kUInt16:
        store(p, static_cast<uint16_t>(t.get_int(i)));
        break;
      case ir::DType::kInt32:
        store(p, static_cast<int32_t>(t.get_int(i)));
        break;
      case ir::DType::kInt64:
        store(p, t.get_int(i));
        break;
      case ir::DType::kFloat16:
        store(p, util::double_to_half_bits(t.get(i)));
        break;
      case ir::DType::kBFloat16:
        store(p, util::double_to_bfloat16_bits(t.get(i)));
        break;
      case ir::DType::kFloat32:
        store(p, static_cast<float>(t.get(i)));
        break;
      case ir::DType::kFloat64:
        store(p, t.get(i));
        break;
      case ir::DType::kFloat8E4M3FN:
      case ir::DType::kFloat8E5M2:
      case ir::DType::kFloat8E4M3FNUZ:
      case ir::DType::kFloat8E5M2FNUZ:
        store(p, util::double_to_float8_bits(dtype, t.get(i)));
        break;
      default:
        throw error("cannot encode ", ir::dtype_name(dtype), " elements");
    }
  }
  return out;
}

}  // namespace kiln::ref
