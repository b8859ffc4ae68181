#include "ir/dtype.h"

#include <gtest/gtest.h>

namespace kiln::ir {
namespace {

TEST(DType, SchemaTable) {
  struct Row {
    int64_t schema;
    DType dtype;
    const char* name;
    size_t size;
  };
  const Row rows[] = {
      {1, DType::kUInt8, "u8", 1},
      {2, DType::kInt8, "i8", 1},
      {3, DType::kInt16, "i16", 2},
      {4, DType::kInt32, "i32", 4},
      {5, DType::kInt64, "i64", 8},
      {6, DType::kFloat16, "f16", 2},
      {7, DType::kFloat32, "f32", 4},
      {8, DType::kFloat64, "f64", 8},
      {9, DType::kComplex32, "c32", 4},
      {10, DType::kComplex64, "c64", 8},
      {11, DType::kComplex128, "c128", 16},
      {12, DType::kBool, "b8", 1},
      {13, DType::kBFloat16, "bf16", 2},
      {28, DType::kUInt16, "u16", 2},
      {29, DType::kFloat8E4M3FN, "f8e4m3fn", 1},
      {30, DType::kFloat8E5M2, "f8e5m2", 1},
      {31, DType::kFloat8E4M3FNUZ, "f8e4m3fnuz", 1},
      {32, DType::kFloat8E5M2FNUZ, "f8e5m2fnuz", 1},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(dtype_from_schema(r.schema), r.dtype);
    EXPECT_EQ(dtype_name(r.dtype), r.name);
    EXPECT_EQ(dtype_from_name(r.name), r.dtype);
    EXPECT_EQ(dtype_size(r.dtype), r.size);
  }
  // UNKNOWN and the gaps of the schema's numbering are not dtypes.
  for (int64_t bad : {0, 14, 27, 33, -1})
    EXPECT_EQ(dtype_from_schema(bad), std::nullopt) << bad;
  EXPECT_EQ(dtype_from_name("float32"), std::nullopt);
}

TEST(DType, Classes) {
  EXPECT_TRUE(is_floating(DType::kBFloat16));
  EXPECT_TRUE(is_floating(DType::kFloat8E5M2));
  EXPECT_FALSE(is_floating(DType::kComplex64));
  EXPECT_FALSE(is_floating(DType::kInt32));
  EXPECT_TRUE(is_integral(DType::kUInt8));
  EXPECT_TRUE(is_integral(DType::kInt64));
  EXPECT_FALSE(is_integral(DType::kBool));
  EXPECT_FALSE(is_integral(DType::kFloat16));
}

TEST(DType, LayoutAndMemoryFormat) {
  EXPECT_EQ(layout_from_schema(7), Layout::kStrided);
  EXPECT_EQ(layout_from_schema(1), Layout::kSparse);
  EXPECT_EQ(layout_from_schema(5), Layout::kSparse);
  EXPECT_EQ(layout_from_schema(6), Layout::kOther);
  EXPECT_EQ(layout_from_schema(8), std::nullopt);
  EXPECT_EQ(layout_name(Layout::kStrided), "strided");

  EXPECT_EQ(memory_format_from_schema(1), MemoryFormat::kContiguous);
  EXPECT_EQ(memory_format_from_schema(2), MemoryFormat::kChannelsLast);
  EXPECT_EQ(memory_format_from_schema(3), MemoryFormat::kChannelsLast3d);
  EXPECT_EQ(memory_format_from_schema(4), MemoryFormat::kPreserve);
  EXPECT_EQ(memory_format_from_schema(0), std::nullopt);
  EXPECT_EQ(memory_format_name(MemoryFormat::kPreserve), "preserve_format");
}

TEST(Device, Str) {
  EXPECT_EQ(Device{}.str(), "cpu");
  EXPECT_EQ((Device{"cuda", 0}).str(), "cuda:0");
  EXPECT_EQ((Device{"cuda", -1}).str(), "cuda");
}

}  // namespace
}  // namespace kiln::ir
