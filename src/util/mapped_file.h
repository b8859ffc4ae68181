#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace kiln::util {

// A whole file mapped read-only into memory. Move-only; the mapping lives until destruction.
// Weights are served as spans into the mapping, so nothing is copied until codegen needs it.
// (As with any mmap, a file truncated by another process while mapped faults on access.)
class MappedFile {
 public:
  // Throws kiln::Error naming the path if it is missing, a directory, not a regular file or
  // unreadable. A zero-length file gives an empty span.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> data() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln::util
