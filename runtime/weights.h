#pragma once

// The weights blob a container reads its constants from: the bytes embedded in the model
// library (used in place), or an external file mapped read-only and checked against the
// size and checksum the compiler recorded.

#include <cstdint>
#include <string>

#include "model_interface.h"

namespace kiln::rt {

class WeightsBlob {
 public:
  WeightsBlob() = default;
  WeightsBlob(const WeightsBlob&) = delete;
  WeightsBlob& operator=(const WeightsBlob&) = delete;
  ~WeightsBlob();

  // Points at the model's weights: embedded ones as they are, external ones from `path` (null:
  // the file beside the library). Fails with KILN_ERROR_LOAD naming the file.
  bool load(const ModelDesc& desc, const char* path, ErrorSink* err);

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool external() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;
  uint64_t mapping_size_ = 0;
  std::string path_;
};

// "<path of the library holding the runtime>.weights", or "" when it cannot be found.
std::string default_weights_path();

}  // namespace kiln::rt
