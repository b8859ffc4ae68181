#pragma once

// SHA-256, for content-addressed cache keys: a collision would hand back the wrong object file,
// so the key is a cryptographic hash, not a quick checksum.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::link {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // A length-prefixed field, so ("ab", "c") and ("a", "bc") hash differently.
  void field(std::string_view text);
  // The digest as 64 lowercase hex digits. The object is spent afterwards.
  std::string hex_digest();

 private:
  void blocks(const uint8_t* p, size_t count);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view text);

// The compression function, exposed so tests can hold the accelerated one to the portable one.
namespace sha256_detail {
// Whether this CPU has the SHA extensions (and compress uses them).
bool accelerated();
// Runs `blocks` 64-byte blocks through `state` (8 words), portably or with the fastest code.
void compress(uint32_t* state, const uint8_t* p, size_t blocks, bool portable);
}  // namespace sha256_detail

}  // namespace kiln::link
