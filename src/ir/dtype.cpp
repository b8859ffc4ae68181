#include "ir/dtype.h"

#include <array>

namespace kiln::ir {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
  int64_t schema;  // the export schema's ScalarType value; -1: none
};

// One row per DType, in enum order (checked by a static_assert below).
constexpr std::array<DTypeInfo, 19> kDTypes = {{
    {DType::kUndefined, "undefined", 0, 0},
    {DType::kBool, "b8", 1, 12},
    {DType::kUInt8, "u8", 1, 1},
    {DType::kInt8, "i8", 1, 2},
    {DType::kInt16, "i16", 2, 3},
    {DType::kUInt16, "u16", 2, 28},
    {DType::kInt32, "i32", 4, 4},
    {DType::kInt64, "i64", 8, 5},
    {DType::kFloat16, "f16", 2, 6},
    {DType::kBFloat16, "bf16", 2, 13},
    {DType::kFloat32, "f32", 4, 7},
    {DType::kFloat64, "f64", 8, 8},
    {DType::kComplex32, "c32", 4, 9},
    {DType::kComplex64, "c64", 8, 10},
    {DType::kComplex128, "c128", 16, 11},
    {DType::kFloat8E4M3FN, "f8e4m3fn", 1, 29},
    {DType::kFloat8E5M2, "f8e5m2", 1, 30},
    {DType::kFloat8E4M3FNUZ, "f8e4m3fnuz", 1, 31},
    {DType::kFloat8E5M2FNUZ, "f8e5m2fnuz", 1, 32},
}};

constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}
static_assert(rows_in_enum_order());

const DTypeInfo& info(DType t) {
  auto i = static_cast<size_t>(t);
  return i < kDTypes.size() ? kDTypes[i] : kDTypes[0];
}

}  // namespace

size_t dtype_size(DType t) {
  return info(t).size;
}

std::string_view dtype_name(DType t) {
  return info(t).name;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& row : kDTypes) {
    if (row.name == name) return row.dtype;
  }
  return std::nullopt;
}

bool is_floating(DType t) {
  switch (t) {
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E5M2:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2FNUZ:
      return true;
    default:
      return false;
  }
}

bool is_integral(DType t) {
  switch (t) {
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kInt64:
      return true;
    default:
      return false;
  }
}

std::optional<DType> dtype_from_schema(int64_t schema_value) {
  // UNKNOWN (0) is not a dtype a tensor can have.
  if (schema_value == 0) return std::nullopt;
  for (const auto& row : kDTypes) {
    if (row.schema == schema_value) return row.dtype;
  }
  return std::nullopt;
}

std::optional<Layout> layout_from_schema(int64_t schema_value) {
  // Unknown=0, SparseCoo..SparseBsc=1..5, _mkldnn=6, Strided=7.
  if (schema_value == 7) return Layout::kStrided;
  if (schema_value >= 1 && schema_value <= 5) return Layout::kSparse;
  if (schema_value == 0 || schema_value == 6) return Layout::kOther;
  return std::nullopt;
}

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::kStrided:
      return "strided";
    case Layout::kSparse:
      return "sparse";
    case Layout::kOther:
      return "other";
  }
  return "?";
}

std::optional<MemoryFormat> memory_format_from_schema(int64_t schema_value) {
  switch (schema_value) {
    case 1:
      return MemoryFormat::kContiguous;
    case 2:
      return MemoryFormat::kChannelsLast;
    case 3:
      return MemoryFormat::kChannelsLast3d;
    case 4:
      return MemoryFormat::kPreserve;
    default:
      return std::nullopt;  // 0 is Unknown: no format to apply
  }
}

std::string_view memory_format_name(MemoryFormat f) {
  switch (f) {
    case MemoryFormat::kContiguous:
      return "contiguous_format";
    case MemoryFormat::kChannelsLast:
      return "channels_last";
    case MemoryFormat::kChannelsLast3d:
      return "channels_last_3d";
    case MemoryFormat::kPreserve:
      return "preserve_format";
  }
  return "?";
}

std::string Device::str() const {
  if (index < 0) return type;
  return type + ":" + std::to_string(index);
}

}  // namespace kiln::ir
