#include "frontend/zip_archive.h"

#include <array>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <utility>

#include "util/error.h"

namespace kiln::frontend {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kZip64EocdSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kMaxCommentSize = 0xFFFF;
constexpr uint16_t kZip64ExtraTag = 0x0001;

// Callers check bounds before reading; these only assemble little-endian integers.
uint16_t u16(const std::byte* p) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[0]) |
                               (std::to_integer<uint16_t>(p[1]) << 8));
}
uint32_t u32(const std::byte* p) {
  return static_cast<uint32_t>(u16(p)) | (static_cast<uint32_t>(u16(p + 2)) << 16);
}
uint64_t u64(const std::byte* p) {
  return static_cast<uint64_t>(u32(p)) | (static_cast<uint64_t>(u32(p + 4)) << 32);
}

// [offset, offset + length) lies inside [0, limit), without overflow.
bool fits(uint64_t offset, uint64_t length, uint64_t limit) {
  return offset <= limit && length <= limit - offset;
}

// Entry names of a corrupt archive may hold any bytes; keep messages printable.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u != 0x7f) ? c : '?';
  }
  return out;
}

std::string hex(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << v;
  return out.str();
}

std::string_view method_name(uint16_t method) {
  switch (method) {
    case 0:
      return "stored";
    case 8:
      return "deflate";
    case 9:
      return "deflate64";
    case 12:
      return "bzip2";
    case 14:
      return "lzma";
    case 93:
      return "zstd";
    case 95:
      return "xz";
    default:
      return "unknown";
  }
}

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

}  // namespace

uint32_t crc32(std::span<const std::byte> data, uint32_t crc) {
  crc = ~crc;
  for (std::byte b : data)
    crc = kCrcTable[(crc ^ std::to_integer<uint32_t>(b)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

ZipArchive::ZipArchive(const std::filesystem::path& path)
    : ZipArchive(std::make_shared<const util::MappedFile>(path)) {}

ZipArchive::ZipArchive(std::shared_ptr<const util::MappedFile> file) : file_(std::move(file)) {
  parse();
}

void ZipArchive::parse() {
  const std::string where = path().string();
  auto corrupt = [&where](const auto&... parts) -> Error {
    return error(where, ": corrupt zip archive: ", parts...);
  };
  const std::byte* base = file_->data().data();
  const uint64_t n = file_->size();
  if (n == 0) throw error(where, ": empty file (0 bytes), not a zip archive");
  if (n < kEocdSize) throw error(where, ": too short to be a zip archive (", n, " bytes)");

  // The end-of-central-directory record sits at the very end, after a comment of at most 64 KiB.
  // Requiring the comment to end exactly at the end of the file keeps a truncated archive from
  // being mistaken for a nested zip (sample inputs are themselves zips).
  uint64_t eocd = n;
  const uint64_t lowest = n > kEocdSize + kMaxCommentSize ? n - kEocdSize - kMaxCommentSize : 0;
  for (uint64_t i = n - kEocdSize + 1; i-- > lowest;) {
    if (u32(base + i) == kEocdSig && i + kEocdSize + u16(base + i + 20) == n) {
      eocd = i;
      break;
    }
  }
  if (eocd == n) {
    throw error(where,
                ": not a zip archive, or truncated: no end-of-central-directory record at the "
                "end of the file (",
                n, " bytes)");
  }
  const std::byte* e = base + eocd;
  uint64_t disk = u16(e + 4), cd_disk = u16(e + 6);
  uint64_t count = u16(e + 10);
  uint64_t cd_size = u32(e + 12);
  uint64_t cd_offset = u32(e + 16);
  uint64_t cd_limit = eocd;  // the central directory ends before the records that describe it

  // ZIP64: a locator right before the EOCD points at the ZIP64 EOCD record, whose 64-bit
  // fields replace the 16/32-bit ones. PyTorch writes them even for tiny files.
  if (eocd >= kZip64LocatorSize && u32(e - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint64_t locator = eocd - kZip64LocatorSize;
    const uint64_t record = u64(base + locator + 8);
    if (!fits(record, kZip64EocdSize, locator)) {
      throw corrupt("ZIP64 end-of-central-directory locator points to offset ", record,
                    ", outside the file (", n, " bytes)");
    }
    const std::byte* z = base + record;
    if (u32(z) != kZip64EocdSig) {
      throw corrupt("no ZIP64 end-of-central-directory record at offset ", record);
    }
    disk = u32(z + 16);
    cd_disk = u32(z + 20);
    count = u64(z + 32);
    cd_size = u64(z + 40);
    cd_offset = u64(z + 48);
    cd_limit = record;
  } else if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    throw corrupt("end-of-central-directory record has ZIP64 placeholders but no ZIP64 locator");
  }
  if (disk != 0 || cd_disk != 0) throw error(where, ": multi-disk zip archives are not supported");
  if (!fits(cd_offset, cd_size, cd_limit)) {
    throw corrupt("central directory (offset ", cd_offset, ", ", cd_size,
                  " bytes) lies outside the file (", n, " bytes)");
  }
  if (count > cd_size / kCentralHeaderSize) {
    throw corrupt("central directory claims ", count, " entries but holds only ", cd_size,
                  " bytes");
  }

  entries_.reserve(count);
  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t k = 0; k < count; ++k) {
    if (!fits(pos, kCentralHeaderSize, cd_end) || u32(base + pos) != kCentralHeaderSig) {
      throw corrupt("central directory entry ", k, " at offset ", pos, " is missing or damaged");
    }
    const std::byte* c = base + pos;
    ZipEntry entry;
    entry.flags = u16(c + 8);
    entry.method = u16(c + 10);
    entry.crc32 = u32(c + 16);
    entry.compressed_size = u32(c + 20);
    entry.size = u32(c + 24);
    const uint64_t name_len = u16(c + 28), extra_len = u16(c + 30), comment_len = u16(c + 32);
    uint64_t start_disk = u16(c + 34);
    entry.local_header_offset = u32(c + 42);
    if (!fits(pos, kCentralHeaderSize + name_len + extra_len + comment_len, cd_end)) {
      throw corrupt("central directory entry ", k, " runs past the end of the directory");
    }
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralHeaderSize), name_len);
    const std::string label = "entry " + std::to_string(k) + " '" + printable(entry.name) + "'";

    // ZIP64 extra field: 8-byte values, present only for the fields that hold 0xFFFFFFFF.
    bool need64 = entry.size == 0xFFFFFFFF || entry.compressed_size == 0xFFFFFFFF ||
                  entry.local_header_offset == 0xFFFFFFFF || start_disk == 0xFFFF;
    bool found64 = false;
    const std::byte* x = c + kCentralHeaderSize + name_len;
    for (uint64_t at = 0; at + 4 <= extra_len;) {
      const uint16_t tag = u16(x + at);
      const uint64_t len = u16(x + at + 2);
      if (!fits(at + 4, len, extra_len)) throw corrupt(label, ": extra field runs past its end");
      if (tag == kZip64ExtraTag && need64) {
        const std::byte* f = x + at + 4;
        uint64_t used = 0;
        auto take = [&](uint64_t& field, uint64_t placeholder, int width) {
          if (field != placeholder) return;
          if (used + width > len) throw corrupt(label, ": ZIP64 extra field too short");
          field = width == 8 ? u64(f + used) : u32(f + used);
          used += width;
        };
        take(entry.size, 0xFFFFFFFF, 8);
        take(entry.compressed_size, 0xFFFFFFFF, 8);
        take(entry.local_header_offset, 0xFFFFFFFF, 8);
        take(start_disk, 0xFFFF, 4);
        found64 = true;
      }
      at += 4 + len;
    }
    if (need64 && !found64) {
      throw corrupt(label, ": 0xFFFFFFFF size or offset without a ZIP64 extra field");
    }
    if (start_disk != 0) throw corrupt(label, ": starts on disk ", start_disk);

    // The data starts after the LOCAL header, whose name/extra lengths differ from the central
    // ones (PyTorch pads the local extra field to align data to 64 bytes).
    const uint64_t lh = entry.local_header_offset;
    if (!fits(lh, kLocalHeaderSize, n)) {
      throw corrupt(label, ": local header offset ", lh, " is outside the file (", n, " bytes)");
    }
    if (u32(base + lh) != kLocalHeaderSig) {
      throw corrupt(label, ": no local header at offset ", lh, " (bad signature)");
    }
    const uint64_t local_name_len = u16(base + lh + 26), local_extra_len = u16(base + lh + 28);
    if (!fits(lh, kLocalHeaderSize + local_name_len + local_extra_len, n)) {
      throw corrupt(label, ": local header at offset ", lh, " runs past the end of the file");
    }
    if (std::string_view(reinterpret_cast<const char*>(base + lh + kLocalHeaderSize),
                         local_name_len) != entry.name) {
      throw corrupt(label, ": local header at offset ", lh, " names a different entry");
    }
    entry.data_offset = lh + kLocalHeaderSize + local_name_len + local_extra_len;
    if (!fits(entry.data_offset, entry.compressed_size, n)) {
      throw corrupt(label, ": data (offset ", entry.data_offset, ", ", entry.compressed_size,
                    " bytes) runs past the end of the file (", n, " bytes)");
    }
    if (entry.method == 0 && entry.compressed_size != entry.size) {
      throw corrupt(label, ": stored entry with compressed size ", entry.compressed_size,
                    " != size ", entry.size);
    }
    if (!by_name_.emplace(entry.name, entries_.size()).second) {
      throw corrupt(label, ": duplicate entry name");
    }
    entries_.push_back(std::move(entry));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::read(std::string_view name) const {
  const ZipEntry* entry = find(name);
  if (entry == nullptr) throw error(path().string(), ": no entry '", name, "'");
  return read(*entry);
}

std::span<const std::byte> ZipArchive::read(const ZipEntry& entry) const {
  if (entry.flags & 1) {
    throw error(path().string(), ": entry '", printable(entry.name),
                "' is encrypted, which kiln does not support");
  }
  if (entry.method != 0) {
    throw error(path().string(), ": entry '", printable(entry.name), "' is compressed (method ",
                entry.method, ", ", method_name(entry.method),
                "); kiln reads only stored (uncompressed) entries, as torch.export.save writes "
                "them. Repack the archive without compression (zip -0)");
  }
  // Bounds were checked at open.
  return file_->data().subspan(entry.data_offset, entry.size);
}

std::span<const std::byte> ZipArchive::read_checked(std::string_view name) const {
  const ZipEntry* entry = find(name);
  if (entry == nullptr) throw error(path().string(), ": no entry '", name, "'");
  auto data = read(*entry);
  verify_crc(*entry);
  return data;
}

std::string_view ZipArchive::read_text(std::string_view name) const {
  auto data = read_checked(name);
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

void ZipArchive::verify_crc(const ZipEntry& entry) const {
  const uint32_t actual = crc32(read(entry));
  if (actual != entry.crc32) {
    throw error(path().string(), ": corrupt zip archive: entry '", printable(entry.name),
                "' fails its CRC-32 check (recorded ", hex(entry.crc32), ", computed ", hex(actual),
                ")");
  }
}

}  // namespace kiln::frontend
