#pragma once

// The weights checksum, shared by the compiler (which records it in the model) and the
// runtime (which checks external weights against it): FNV-1a over 64-bit little-endian words,
// then over the remaining bytes, seeded with the length.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kiln::rt {

inline uint64_t weights_checksum(const uint8_t* data, size_t size) {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = 0xcbf29ce484222325ULL ^ static_cast<uint64_t>(size);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * kPrime;
  }
  for (; i < size; ++i) h = (h ^ data[i]) * kPrime;
  return h;
}

}  // namespace kiln::rt
