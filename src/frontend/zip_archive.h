#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/mapped_file.h"

namespace kiln::frontend {

// One entry of the central directory, with ZIP64 fields already applied.
struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = STORED; the only method kiln reads
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // from the local header's own name/extra lengths
};

// A minimal zip reader over a memory-mapped file. PyTorch's archives are always STORED (no
// compression), use data descriptors and ZIP64 records, and align data to 64 bytes; entries are
// served as spans into the mapping. Every offset and size is checked against the file at open,
// so a corrupt or truncated archive is a kiln::Error naming the file and the record or entry,
// never an out-of-bounds read.
class ZipArchive {
 public:
  explicit ZipArchive(const std::filesystem::path& path);
  // Shares an existing mapping (the spans handed out point into it).
  explicit ZipArchive(std::shared_ptr<const util::MappedFile> file);

  const std::filesystem::path& path() const { return file_->path(); }
  const std::shared_ptr<const util::MappedFile>& file() const { return file_; }

  // In central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }

  // The entry's bytes, zero-copy. Throws if the entry is missing or not STORED.
  std::span<const std::byte> read(std::string_view name) const;
  std::span<const std::byte> read(const ZipEntry& entry) const;
  // Same, but also checks the CRC-32 (meant for small metadata entries).
  std::span<const std::byte> read_checked(std::string_view name) const;
  std::string_view read_text(std::string_view name) const;  // read_checked, as text

  void verify_crc(const ZipEntry& entry) const;

 private:
  void parse();

  std::shared_ptr<const util::MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// The zip/PNG CRC-32 (reflected, polynomial 0xEDB88320). Pass a previous result to continue.
uint32_t crc32(std::span<const std::byte> data, uint32_t crc = 0);

}  // namespace kiln::frontend
