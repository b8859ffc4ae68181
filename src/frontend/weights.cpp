#include "frontend/weights.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "frontend/json_depth.h"
#include "frontend/zip_archive.h"
#include "util/error.h"
#include "util/float_formats.h"
#include "util/mapped_file.h"

namespace kiln::frontend {
namespace {

using Json = nlohmann::ordered_json;  // keeps the config's FQN order (the state_dict order)

std::string join(const std::vector<int64_t>& v) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i)
    out << (i ? ", " : "") << v[i];
  out << "]";
  return out.str();
}

// Location prefix for messages: "<archive>: weight 'lin.weight' (<config entry>)".
struct Context {
  std::string archive;
  std::string config_entry;
  bool is_constant;
  std::string fqn;

  template <typename... Parts>
  Error fail(const Parts&... parts) const {
    return error(archive, ": ", is_constant ? "constant '" : "weight '", fqn, "' (", config_entry,
                 "): ", parts...);
  }
};

// A SymInt that must be a plain integer for a stored tensor: {"as_int": n}.
int64_t as_int(const Json& j, const Context& ctx, std::string_view what) {
  if (j.is_object() && j.contains("as_int") && j["as_int"].is_number_integer()) {
    return j["as_int"].get<int64_t>();
  }
  if (j.is_object() && j.contains("as_expr")) {
    throw ctx.fail(what, " is symbolic (", j.dump(), "); stored tensors must have static shapes");
  }
  throw ctx.fail(what, " is not an integer: ", j.dump());
}

std::vector<int64_t> int_list(const Json& meta, const char* key, const Context& ctx) {
  if (!meta.contains(key) || !meta[key].is_array()) {
    throw ctx.fail("tensor_meta has no '", key, "' list");
  }
  std::vector<int64_t> out;
  for (const Json& item : meta[key])
    out.push_back(as_int(item, ctx, key));
  return out;
}

bool supported_dtype(ir::DType t) {
  switch (t) {
    case ir::DType::kUndefined:
    case ir::DType::kComplex32:
    case ir::DType::kComplex64:
    case ir::DType::kComplex128:
      return false;
    default:
      return true;
  }
}

ir::Device parse_device(const Json& meta, const Context& ctx) {
  ir::Device device;
  if (!meta.contains("device") || meta["device"].is_null()) return device;
  const Json& d = meta["device"];
  if (!d.is_object() || !d.contains("type") || !d["type"].is_string()) {
    throw ctx.fail("malformed device: ", d.dump());
  }
  device.type = d["type"].get<std::string>();
  if (d.contains("index") && !d["index"].is_null()) {
    if (!d["index"].is_number_integer()) throw ctx.fail("malformed device index: ", d.dump());
    device.index = d["index"].get<int>();
  }
  return device;
}

// Checks the tensor's geometry against its file and sets zero_filled.
void check_extent(WeightTensor& w, const Context& ctx) {
  if (w.sizes.size() != w.strides.size()) {
    throw ctx.fail("sizes ", join(w.sizes), " and strides ", join(w.strides), " differ in length");
  }
  if (w.storage_offset < 0) throw ctx.fail("negative storage_offset ", w.storage_offset);
  const auto esize = static_cast<int64_t>(w.element_size());
  int64_t numel = 1;
  int64_t last = w.storage_offset;  // index of the furthest element
  for (size_t i = 0; i < w.sizes.size(); ++i) {
    if (w.sizes[i] < 0) throw ctx.fail("negative size in ", join(w.sizes));
    if (w.strides[i] < 0) throw ctx.fail("negative stride in ", join(w.strides));
    int64_t step = 0;
    if (__builtin_mul_overflow(numel, w.sizes[i], &numel) ||
        (w.sizes[i] > 0 && (__builtin_mul_overflow(w.sizes[i] - 1, w.strides[i], &step) ||
                            __builtin_add_overflow(last, step, &last)))) {
      throw ctx.fail("sizes ", join(w.sizes), " with strides ", join(w.strides), " overflow");
    }
  }
  int64_t nbytes = 0, needed = 0;
  if (__builtin_mul_overflow(numel, esize, &nbytes) || __builtin_add_overflow(last, 1, &needed) ||
      __builtin_mul_overflow(needed, esize, &needed)) {
    throw ctx.fail("tensor of sizes ", join(w.sizes), ", strides ", join(w.strides),
                   " and storage_offset ", w.storage_offset, " is too large");
  }
  const uint64_t have = w.storage.size();
  if (have % static_cast<uint64_t>(esize) != 0) {
    throw ctx.fail("file '", w.file, "' holds ", have, " bytes, not a multiple of the ",
                   ir::dtype_name(w.dtype), " element size ", esize);
  }
  if (numel == 0) return;
  // torch.export.save writes empty/fake tensors as 0-byte files; the loader makes zeros.
  if (have == 0) {
    w.zero_filled = true;
    return;
  }
  if (static_cast<uint64_t>(needed) > have) {
    throw ctx.fail("file '", w.file, "' holds ", have, " bytes but the tensor needs ", needed,
                   " bytes (", ir::dtype_name(w.dtype), ", sizes ", join(w.sizes), ", strides ",
                   join(w.strides), ", storage_offset ", w.storage_offset,
                   "); the weight file is truncated or the config is wrong");
  }
}

WeightTensor parse_entry(const ZipArchive& zip, const std::string& data_dir, const Json& item,
                         const Context& ctx, std::map<std::string, size_t>& storage_ids) {
  if (!item.is_object()) throw ctx.fail("config entry is not an object");
  WeightTensor w;
  w.fqn = ctx.fqn;
  w.is_constant = ctx.is_constant;
  auto flag = [&](const char* key) {
    if (!item.contains(key) || item[key].is_null()) return false;
    if (!item[key].is_boolean()) throw ctx.fail("'", key, "' is not a boolean");
    return item[key].get<bool>();
  };
  w.is_param = flag("is_param");
  if (!item.contains("path_name") || !item["path_name"].is_string()) {
    throw ctx.fail("config entry has no path_name");
  }
  w.file = data_dir + item["path_name"].get<std::string>();
  if (flag("use_pickle")) {
    throw ctx.fail("'", w.file,
                   "' is a pickled payload (use_pickle): a tensor subclass or a custom "
                   "(TorchBind) object, which kiln does not support");
  }
  if (!item.contains("tensor_meta") || !item["tensor_meta"].is_object()) {
    throw ctx.fail("config entry has no tensor_meta");
  }
  const Json& meta = item["tensor_meta"];

  if (!meta.contains("dtype") || !meta["dtype"].is_number_integer()) {
    throw ctx.fail("tensor_meta has no integer dtype");
  }
  const auto code = meta["dtype"].get<int64_t>();
  const auto dtype = ir::dtype_from_schema(code);
  if (!dtype) throw ctx.fail("unknown dtype code ", code);
  if (!supported_dtype(*dtype)) {
    throw ctx.fail("dtype ", ir::dtype_name(*dtype), " (code ", code, ") is not supported");
  }
  w.dtype = *dtype;
  if (meta.contains("layout") && !meta["layout"].is_null()) {
    const auto layout_code =
        meta["layout"].is_number_integer() ? meta["layout"].get<int64_t>() : -1;
    const auto layout = ir::layout_from_schema(layout_code);
    if (!layout || *layout != ir::Layout::kStrided) {
      throw ctx.fail("layout ", meta["layout"].dump(),
                     " is not strided; only dense tensors are "
                     "supported");
    }
  }
  w.sizes = int_list(meta, "sizes", ctx);
  w.strides = int_list(meta, "strides", ctx);
  w.storage_offset = meta.contains("storage_offset") && !meta["storage_offset"].is_null()
                         ? as_int(meta["storage_offset"], ctx, "storage_offset")
                         : 0;
  w.device = parse_device(meta, ctx);
  w.requires_grad = meta.contains("requires_grad") && meta["requires_grad"].is_boolean() &&
                    meta["requires_grad"].get<bool>();

  const ZipEntry* entry = zip.find(w.file);
  if (entry == nullptr) throw ctx.fail("storage file '", w.file, "' is missing from the archive");
  w.storage = zip.read(*entry);
  w.backing = zip.file();
  w.storage_id = storage_ids.emplace(w.file, storage_ids.size()).first->second;
  check_extent(w, ctx);
  return w;
}

// Calls f(index) for every element's storage index, in row-major order.
template <typename F>
void for_each_index(const WeightTensor& w, F&& f) {
  const size_t rank = w.sizes.size();
  if (w.numel() == 0) return;
  std::vector<int64_t> idx(rank, 0);
  int64_t at = w.storage_offset;
  while (true) {
    f(at);
    size_t d = rank;
    while (d > 0) {
      --d;
      if (++idx[d] < w.sizes[d]) {
        at += w.strides[d];
        break;
      }
      at -= (w.sizes[d] - 1) * w.strides[d];
      idx[d] = 0;
      if (d == 0) return;
    }
    if (rank == 0) return;
  }
}

// Calls f(span) over the logical bytes in row-major order, in as few chunks as it can.
template <typename F>
void for_each_chunk(const WeightTensor& w, F&& f) {
  const size_t esize = w.element_size();
  if (w.numel() == 0) return;
  if (w.zero_filled) {
    static constexpr std::array<std::byte, 4096> kZeros{};
    for (size_t left = w.nbytes(); left > 0;) {
      const size_t n = std::min(left, kZeros.size());
      f(std::span<const std::byte>(kZeros.data(), n));
      left -= n;
    }
  } else if (w.is_contiguous()) {
    f(w.storage.subspan(static_cast<size_t>(w.storage_offset) * esize, w.nbytes()));
  } else {
    for_each_index(w,
                   [&](int64_t i) { f(w.storage.subspan(static_cast<size_t>(i) * esize, esize)); });
  }
}

uint64_t load_le(const std::byte* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= std::to_integer<uint64_t>(p[i]) << (8 * i);
  return v;
}

double element_to_double(ir::DType t, const std::byte* p) {
  using ir::DType;
  switch (t) {
    case DType::kBool:
      return std::to_integer<uint8_t>(p[0]) != 0 ? 1.0 : 0.0;
    case DType::kUInt8:
      return static_cast<double>(load_le(p, 1));
    case DType::kInt8:
      return static_cast<int8_t>(load_le(p, 1));
    case DType::kInt16:
      return static_cast<int16_t>(load_le(p, 2));
    case DType::kUInt16:
      return static_cast<double>(load_le(p, 2));
    case DType::kInt32:
      return static_cast<int32_t>(load_le(p, 4));
    case DType::kInt64:
      return static_cast<double>(static_cast<int64_t>(load_le(p, 8)));
    case DType::kFloat16:
      return util::half_bits_to_double(static_cast<uint16_t>(load_le(p, 2)));
    case DType::kBFloat16:
      return util::bfloat16_bits_to_double(static_cast<uint16_t>(load_le(p, 2)));
    case DType::kFloat32:
      return std::bit_cast<float>(static_cast<uint32_t>(load_le(p, 4)));
    case DType::kFloat64:
      return std::bit_cast<double>(load_le(p, 8));
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E5M2:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2FNUZ:
      return util::float8_bits_to_double(t, std::to_integer<uint8_t>(p[0]));
    default:
      throw error("weight_sum: dtype ", ir::dtype_name(t), " has no real value");
  }
}

}  // namespace

int64_t WeightTensor::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes)
    n *= s;  // overflow was ruled out when the config was read
  return n;
}

size_t WeightTensor::element_size() const {
  return ir::dtype_size(dtype);
}

bool WeightTensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 0) return true;
    if (sizes[d] != 1 && strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

std::vector<WeightTensor> read_payload_config(const ZipArchive& zip,
                                              const std::string& config_entry,
                                              const std::string& data_dir, bool is_constant,
                                              std::map<std::string, size_t>& storage_ids) {
  std::vector<WeightTensor> out;
  if (!zip.contains(config_entry)) return out;
  const std::string archive = zip.path().string();
  const std::string_view text = zip.read_text(config_entry);
  check_json_depth(text, archive + ": " + config_entry);
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::exception& e) {
    throw error(archive, ": ", config_entry, " is not valid JSON: ", e.what());
  }
  if (!doc.is_object() || !doc.contains("config") || !doc["config"].is_object()) {
    throw error(archive, ": ", config_entry, " has no \"config\" object");
  }
  for (const auto& [fqn, item] : doc["config"].items()) {
    Context ctx{archive, config_entry, is_constant, fqn};
    try {
      out.push_back(parse_entry(zip, data_dir, item, ctx, storage_ids));
    } catch (const Json::exception& e) {
      throw ctx.fail("malformed config entry: ", e.what());
    }
  }
  return out;
}

std::vector<std::byte> contiguous_bytes(const WeightTensor& w) {
  std::vector<std::byte> out;
  out.reserve(w.nbytes());
  for_each_chunk(w,
                 [&](std::span<const std::byte> c) { out.insert(out.end(), c.begin(), c.end()); });
  return out;
}

uint64_t weight_fnv1a64(const WeightTensor& w) {
  uint64_t h = 0xcbf29ce484222325ull;
  for_each_chunk(w, [&](std::span<const std::byte> c) {
    for (std::byte b : c)
      h = (h ^ std::to_integer<uint64_t>(b)) * 0x100000001b3ull;
  });
  return h;
}

double weight_sum(const WeightTensor& w) {
  if (w.zero_filled) return 0.0;
  const size_t esize = w.element_size();
  double sum = 0.0;
  for_each_index(w, [&](int64_t i) {
    sum += element_to_double(w.dtype, w.storage.data() + static_cast<size_t>(i) * esize);
  });
  return sum;
}

}  // namespace kiln::frontend
