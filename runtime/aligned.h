#pragma once

// 64-byte aligned heap memory for arenas, outputs and replaced constants: kernels vectorize
// with aligned loads, and 64 bytes covers a cache line and an AVX-512 register.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace kiln::rt {

constexpr size_t kAlignment = 64;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

using AlignedBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

// Null when out of memory; never null for a size of 0 (one aligned block is returned), so a
// pointer to an empty tensor is still a valid, distinct pointer.
inline uint8_t* aligned_alloc_bytes(uint64_t size) {
  if (size > UINT64_MAX - kAlignment) return nullptr;
  uint64_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  if (rounded > SIZE_MAX) return nullptr;
  return static_cast<uint8_t*>(std::aligned_alloc(kAlignment, static_cast<size_t>(rounded)));
}

inline AlignedBuffer make_aligned(uint64_t size) {
  return AlignedBuffer(aligned_alloc_bytes(size));
}

}  // namespace kiln::rt
