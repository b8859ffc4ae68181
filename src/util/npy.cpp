#include "util/npy.h"

#include <cstring>
#include <fstream>
#include <limits>

#include "util/error.h"

namespace kiln::util {
namespace {

struct DescrEntry {
  const char* descr;  // without the byte-order character
  ir::DType dtype;
};

constexpr DescrEntry kDescrs[] = {
    {"f2", ir::DType::kFloat16}, {"f4", ir::DType::kFloat32}, {"f8", ir::DType::kFloat64},
    {"i1", ir::DType::kInt8},    {"i2", ir::DType::kInt16},   {"i4", ir::DType::kInt32},
    {"i8", ir::DType::kInt64},   {"u1", ir::DType::kUInt8},   {"u2", ir::DType::kUInt16},
    {"b1", ir::DType::kBool},
};

// The value text of `key` in the header dict ("'descr': '<f4', ..."), up to the next
// top-level comma or the closing brace.
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& name) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) throw error(name, ": .npy header has no '", key, "'");
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) throw error(name, ": malformed .npy header");
  size_t start = colon + 1;
  int depth = 0;
  size_t end = start;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    if (depth < 0) break;
  }
  std::string v = header.substr(start, end - start);
  size_t a = v.find_first_not_of(" \t");
  size_t b = v.find_last_not_of(" \t");
  return a == std::string::npos ? "" : v.substr(a, b - a + 1);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& name) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    throw error(name, ": malformed .npy shape ", text);
  }
  std::vector<int64_t> shape;
  std::string inner = text.substr(1, text.size() - 2);
  size_t pos = 0;
  while (pos < inner.size()) {
    size_t comma = inner.find(',', pos);
    std::string item =
        inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? inner.size() : comma + 1;
    size_t a = item.find_first_not_of(" ");
    if (a == std::string::npos) continue;
    item = item.substr(a, item.find_last_not_of(" ") - a + 1);
    int64_t v = 0;
    for (char c : item) {
      if (c < '0' || c > '9' || v > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        throw error(name, ": bad .npy dim '", item, "'");
      }
      v = v * 10 + (c - '0');
    }
    shape.push_back(v);
  }
  return shape;
}

const char* descr_of(ir::DType dtype) {
  for (const auto& e : kDescrs) {
    if (e.dtype == dtype) return e.descr;
  }
  throw error(".npy has no dtype for ", ir::dtype_name(dtype));
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& name) {
  static const unsigned char kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    throw error(name, ": not a .npy file (bad magic)");
  }
  auto byte_at = [&](size_t i) { return static_cast<uint32_t>(bytes[i]); };
  uint32_t major = byte_at(6);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = byte_at(8) | (byte_at(9) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw error(name, ": truncated .npy header");
    header_len = byte_at(8) | (byte_at(9) << 8) | (byte_at(10) << 16) | (byte_at(11) << 24);
    header_start = 12;
  } else {
    throw error(name, ": unsupported .npy format version ", major);
  }
  if (header_len > bytes.size() - header_start) throw error(name, ": truncated .npy header");
  std::string header(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);

  std::string descr = header_value(header, "descr", name);
  if (descr.size() < 4 || (descr.front() != '\'' && descr.front() != '"')) {
    throw error(name, ": unsupported .npy dtype ", descr);
  }
  descr = descr.substr(1, descr.size() - 2);
  char order = descr[0];
  std::string code = descr.substr(1);
  NpyArray a;
  bool found = false;
  for (const auto& e : kDescrs) {
    if (code == e.descr) {
      a.dtype = e.dtype;
      found = true;
    }
  }
  if (!found) throw error(name, ": unsupported .npy dtype '", descr, "'");
  if (order == '>' && ir::dtype_size(a.dtype) > 1) {
    throw error(name, ": big-endian .npy data ('", descr, "') is not supported");
  }
  if (order != '<' && order != '|' && order != '=' && order != '>') {
    throw error(name, ": unsupported .npy dtype '", descr, "'");
  }
  std::string fortran = header_value(header, "fortran_order", name);
  if (fortran != "False" && fortran != "True") throw error(name, ": bad fortran_order ", fortran);
  a.shape = parse_shape(header_value(header, "shape", name), name);

  const size_t esize = ir::dtype_size(a.dtype);
  // NpyArray::numel() multiplies the dims in int64 in order, so the product of the nonzero
  // dims must fit too: a 0 after huge dims would overflow on the way to an empty array.
  constexpr auto kMaxBytes = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t nonzero = 1;
  size_t count = 1;
  for (int64_t s : a.shape) {
    const auto dim = static_cast<uint64_t>(s);  // parse_shape reads digits only: s >= 0
    if (dim != 0 && nonzero > kMaxBytes / esize / dim) {
      throw error(name, ": .npy shape is too large");
    }
    nonzero *= dim != 0 ? dim : 1;
    count *= static_cast<size_t>(dim);
  }
  size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < count * esize) {
    throw error(name, ": .npy data is ", bytes.size() - data_start, " bytes, the header needs ",
                count * esize);
  }
  auto data = bytes.subspan(data_start, count * esize);
  if (fortran == "False" || a.shape.size() < 2) {
    a.data.assign(data.begin(), data.end());
    return a;
  }
  // Fortran order: element (i0..ik) is at sum(i_j * prod(shape[0..j-1])).
  a.data.resize(count * esize);
  std::vector<int64_t> index(a.shape.size(), 0);
  for (size_t flat = 0; flat < count; ++flat) {
    size_t src = 0, stride = 1;
    for (size_t d = 0; d < a.shape.size(); ++d) {
      src += static_cast<size_t>(index[d]) * stride;
      stride *= static_cast<size_t>(a.shape[d]);
    }
    std::memcpy(a.data.data() + flat * esize, data.data() + src * esize, esize);
    for (size_t d = a.shape.size(); d-- > 0;) {
      if (++index[d] < a.shape[d]) break;
      index[d] = 0;
    }
  }
  return a;
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path.string(), ": cannot open");
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(std::as_bytes(std::span(raw)), path.string());
}

std::vector<std::byte> serialize_npy(const NpyArray& array) {
  const char* code = descr_of(array.dtype);
  char order = ir::dtype_size(array.dtype) == 1 ? '|' : '<';
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    shape += std::to_string(array.shape[i]);
    if (array.shape.size() == 1 || i + 1 < array.shape.size()) shape += ",";
    if (i + 1 < array.shape.size()) shape += " ";
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + order + code +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  bool v2 = header.size() + 11 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<std::byte> out(prefix + header.size() + array.data.size());
  const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  std::memcpy(out.data(), magic, 6);
  out[6] = std::byte{static_cast<unsigned char>(v2 ? 2 : 1)};
  out[7] = std::byte{0};
  size_t len = header.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i)
    out[8 + i] = std::byte{static_cast<unsigned char>(len >> (8 * i))};
  std::memcpy(out.data() + prefix, header.data(), header.size());
  if (!array.data.empty()) {
    std::memcpy(out.data() + prefix + header.size(), array.data.data(), array.data.size());
  }
  return out;
}

void write_npy(const std::filesystem::path& path, const NpyArray& array) {
  auto bytes = serialize_npy(array);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw error(path.string(), ": cannot write");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw error(path.string(), ": write failed");
}

}  // namespace kiln::util
