#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace kiln::util {

// A NumPy .npy array: dtype, shape and the elements as contiguous little-endian bytes in
// row-major order (Fortran-order files are transposed on read).
struct NpyArray {
  ir::DType dtype = ir::DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;

  int64_t numel() const;
};

// Reads .npy format versions 1.0 to 3.0 with dtypes float16/32/64, int8/16/32/64, uint8/16
// and bool, little-endian or single-byte. Throws kiln::Error naming the file and the problem
// (bad magic, unsupported dtype, big-endian data, a header or data shorter than it says).
NpyArray read_npy(const std::filesystem::path& path);
NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& name);

// Writes format 1.0 (2.0 when the header needs it). bf16 has no NumPy dtype and is refused:
// convert it first.
void write_npy(const std::filesystem::path& path, const NpyArray& array);
std::vector<std::byte> serialize_npy(const NpyArray& array);

}  // namespace kiln::util
