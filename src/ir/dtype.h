#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::ir {

// Element types. The numbering is kiln's own; conversions from the export schema's and
// c10's numberings go through explicit tables.
enum class DType : uint8_t {
  kUndefined,
  kBool,
  kUInt8,
  kInt8,
  kInt16,
  kUInt16,
  kInt32,
  kInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kComplex32,
  kComplex64,
  kComplex128,
  kFloat8E4M3FN,
  kFloat8E5M2,
  kFloat8E4M3FNUZ,
  kFloat8E5M2FNUZ,
};

size_t dtype_size(DType t);
// Short names as PyTorch prints them: "f32", "bf16", "i64", "b8", ...
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
bool is_floating(DType t);
bool is_integral(DType t);  // bool excluded
// From the export schema's ScalarType integer (torch/_export/serde/schema.py).
std::optional<DType> dtype_from_schema(int64_t schema_value);

enum class Layout : uint8_t { kStrided, kSparse, kOther };
std::optional<Layout> layout_from_schema(int64_t schema_value);
std::string_view layout_name(Layout l);

enum class MemoryFormat : uint8_t { kContiguous, kChannelsLast, kChannelsLast3d, kPreserve };
std::optional<MemoryFormat> memory_format_from_schema(int64_t schema_value);
std::string_view memory_format_name(MemoryFormat f);

struct Device {
  std::string type = "cpu";  // "cpu", "cuda", "meta", ...
  int index = -1;            // -1: unspecified
  std::string str() const;   // "cpu", "cuda:0"
  bool operator==(const Device&) const = default;
};

}  // namespace kiln::ir
