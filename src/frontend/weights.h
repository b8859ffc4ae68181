#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/dtype.h"

namespace kiln::util {
class MappedFile;
}

namespace kiln::frontend {

class ZipArchive;

// One tensor of a PayloadConfig (`data/weights/<model>_weights_config.json` or
// `data/constants/<model>_constants_config.json`), backed by its raw storage file. Element
// (i0..ik) is storage[storage_offset + sum(i_j * strides[j])], in elements of dtype.
struct WeightTensor {
  std::string fqn;  // "lin.weight"
  bool is_param = false;
  bool is_constant = false;  // from the constants config (lifted constants, non-persistent buffers)
  ir::DType dtype = ir::DType::kFloat32;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t storage_offset = 0;
  ir::Device device;  // where the tensor lived at export; the bytes are host bytes regardless
  bool requires_grad = false;
  std::string file;                    // the zip entry, "<root>/data/weights/weight_0"
  std::span<const std::byte> storage;  // the whole storage file, zero-copy into the mapping
  size_t storage_id = 0;               // equal for FQNs that share one file (tied weights)
  bool zero_filled = false;            // 0-byte file for a non-empty tensor: the values are 0
  std::shared_ptr<const util::MappedFile> backing;  // keeps `storage` valid

  int64_t numel() const;
  size_t element_size() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  // Row-major dense strides (size-1 dims ignored), as torch's is_contiguous: the logical bytes
  // are then storage[storage_offset * element_size(), + nbytes()).
  bool is_contiguous() const;
};

// Reads one PayloadConfig entry of `zip` and checks every tensor against its file (exists, dtype
// supported, size a multiple of the element size, furthest element inside the file). Storage ids
// are assigned through `storage_ids` (entry name -> id), shared across configs of an archive.
// A missing config entry gives an empty list.
std::vector<WeightTensor> read_payload_config(const ZipArchive& zip,
                                              const std::string& config_entry,
                                              const std::string& data_dir, bool is_constant,
                                              std::map<std::string, size_t>& storage_ids);

// The logical elements in row-major order, as contiguous little-endian bytes (zeros for a
// zero_filled tensor). This is what `t.contiguous().view(torch.uint8)` holds.
std::vector<std::byte> contiguous_bytes(const WeightTensor& w);

// FNV-1a 64-bit over contiguous_bytes(w), computed without materialising them.
uint64_t weight_fnv1a64(const WeightTensor& w);

// Sum of the elements in row-major order, accumulated in double (f16, bf16 and float8 decoded
// exactly; bool counts true elements).
double weight_sum(const WeightTensor& w);

}  // namespace kiln::frontend
