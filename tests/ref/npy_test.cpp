#include "util/npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "op_harness.h"
#include "ref/npy_io.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

TEST(Npy, RoundTripsEveryDtypeAtSeveralShapes) {
  std::mt19937 rng(11);
  for (ir::DType dtype : {ir::DType::kFloat32, ir::DType::kFloat64, ir::DType::kFloat16,
                          ir::DType::kInt8, ir::DType::kInt16, ir::DType::kInt32, ir::DType::kInt64,
                          ir::DType::kUInt8, ir::DType::kBool}) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {1}, {5}, {2, 3, 1}, {0, 4}}) {
      ref::Tensor t = random_tensor(dtype, shape, rng, -50, 50);
      util::NpyArray a = ref::npy_from_value(t, 0);
      auto bytes = util::serialize_npy(a);
      EXPECT_EQ((bytes.size() - a.data.size()) % 64, 0u) << "header is 64-byte aligned";
      ref::Tensor back = ref::tensor_from_npy(util::parse_npy(bytes, "mem.npy"));
      EXPECT_TRUE(same_values(back, t)) << ir::dtype_name(dtype);
    }
  }
}

TEST(Npy, BFloat16WidensToFloat32Exactly) {
  std::mt19937 rng(12);
  ref::Tensor t = random_tensor(ir::DType::kBFloat16, {3, 2}, rng);
  util::NpyArray a = ref::npy_from_value(t, 0);
  EXPECT_EQ(a.dtype, ir::DType::kFloat32);
  ref::Tensor back = ref::tensor_from_npy(a);
  for (int64_t i = 0; i < t.numel(); ++i)
    EXPECT_EQ(back.get(i), t.get(i));
}

TEST(Npy, ReadsFortranOrder) {
  // A 2x3 float32 array in Fortran order holds columns: [[0,1,2],[3,4,5]] as 0,3,1,4,2,5.
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::vector<std::byte> bytes(10 + header.size() + 24);
  const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::memcpy(bytes.data(), magic, 8);
  bytes[8] = std::byte{static_cast<unsigned char>(header.size())};
  std::memcpy(bytes.data() + 10, header.data(), header.size());
  float col_major[] = {0, 3, 1, 4, 2, 5};
  std::memcpy(bytes.data() + 10 + header.size(), col_major, sizeof col_major);
  ref::Tensor t = ref::tensor_from_npy(util::parse_npy(bytes, "f.npy"));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(t.get(i), static_cast<double>(i));
}

TEST(Npy, RefusesBadFilesWithTheirName) {
  std::mt19937 rng(13);
  auto good =
      util::serialize_npy(ref::npy_from_value(random_tensor(ir::DType::kFloat32, {4}, rng), 0));
  auto expect_error = [](std::vector<std::byte> bytes, const char* what) {
    try {
      util::parse_npy(bytes, "bad.npy");
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos) << e.what();
    }
  };
  for (size_t n = 0; n < good.size(); n += 7) {
    expect_error(std::vector<std::byte>(good.begin(), good.begin() + static_cast<long>(n)),
                 "truncated");
  }
  auto wrong_magic = good;
  wrong_magic[1] = std::byte{'X'};
  expect_error(wrong_magic, "magic");
  auto big_endian = good;
  std::string text(reinterpret_cast<const char*>(big_endian.data()), big_endian.size());
  auto at = text.find("<f4");
  big_endian[at] = std::byte{'>'};
  expect_error(big_endian, "big endian");
  auto complex = good;
  complex[at + 1] = std::byte{'c'};
  expect_error(complex, "complex");
  EXPECT_THROW(util::read_npy(fresh_temp_dir("npy") / "missing.npy"), Error);
}

// A zero dim after huge ones passed the size check, and numel() then overflowed int64 while
// multiplying the dims (found by fuzzing).
TEST(Npy, RefusesShapesWhoseDimsOverflow) {
  auto with_shape = [](const std::string& shape) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::vector<std::byte> bytes(10 + header.size());
    const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    std::memcpy(bytes.data(), magic, 8);
    bytes[8] = std::byte{static_cast<unsigned char>(header.size() & 0xFF)};
    bytes[9] = std::byte{static_cast<unsigned char>(header.size() >> 8)};
    std::memcpy(bytes.data() + 10, header.data(), header.size());
    return bytes;
  };
  for (const char* shape :
       {"(5, 7009, 4900, 4979, 490, 497, 9, 9, 0)", "(4294967296, 4294967296, 0)",
        "(2305843009213693952, 0)", "(3037000500, 3037000500)"}) {
    try {
      util::parse_npy(with_shape(shape), "huge.npy");
      ADD_FAILURE() << "no error for shape " << shape;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("huge.npy: .npy shape is too large"), std::string::npos)
          << e.what();
    }
  }
  // Empty arrays with ordinary dims are fine, whatever their order.
  std::mt19937 rng(17);
  for (int i = 0; i < 20; ++i) {
    std::vector<int64_t> dims = {static_cast<int64_t>(rng() % 5000), 0,
                                 static_cast<int64_t>(rng() % 5000)};
    std::shuffle(dims.begin(), dims.end(), rng);
    const std::string shape = "(" + std::to_string(dims[0]) + ", " + std::to_string(dims[1]) +
                              ", " + std::to_string(dims[2]) + ")";
    util::NpyArray a = util::parse_npy(with_shape(shape), "empty.npy");
    EXPECT_EQ(a.shape, dims);
    EXPECT_EQ(a.numel(), 0);
    EXPECT_TRUE(a.data.empty());
  }
}

}  // namespace
}  // namespace kiln::testing
