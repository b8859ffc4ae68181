#include <gtest/gtest.h>

#include <random>

#include "archive_test_support.h"
#include "frontend/zip_archive.h"

namespace kiln {
namespace {

using frontend::ZipArchive;
using testing::as_string;
using testing::fresh_temp_dir;
using testing::put32;
using testing::put64;
using testing::read_bytes;
using testing::sample_path;
using testing::TinyZip;
using testing::write_bytes;

const char* const kFixture = "export_fixture_torch211.pt2";

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Offsets of the records at the end of a PyTorch archive.
struct Tail {
  size_t eocd, locator, zip64_record, cd_offset;
};
Tail tail_of(const std::string& z) {
  Tail t{};
  t.eocd = z.size() - 22;
  t.locator = t.eocd - 20;
  t.zip64_record = z.rfind(std::string("PK\x06\x06", 4));
  uint64_t cd = 0;
  for (int i = 7; i >= 0; --i)
    cd = (cd << 8) | static_cast<uint8_t>(z[t.zip64_record + 48 + i]);
  t.cd_offset = cd;
  return t;
}

TEST(ArchiveZip, Crc32KnownValues) {
  EXPECT_EQ(frontend::crc32(bytes_of("")), 0u);
  EXPECT_EQ(frontend::crc32(bytes_of("123456789")), 0xCBF43926u);
  EXPECT_EQ(frontend::crc32(bytes_of("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
  // Incremental use gives the same result.
  EXPECT_EQ(frontend::crc32(bytes_of("6789"), frontend::crc32(bytes_of("12345"))), 0xCBF43926u);
}

TEST(ArchiveZip, ReadsTorchSample) {
  ZipArchive zip(sample_path(kFixture));
  ASSERT_EQ(zip.entries().size(), 13u);
  EXPECT_EQ(zip.entries().front().name, "export_fixture/data/weights/weight_0");
  for (const auto& e : zip.entries()) {
    EXPECT_EQ(e.method, 0) << e.name;
    EXPECT_EQ(e.data_offset % 64, 0u) << e.name;  // PyTorch aligns every entry's data
    EXPECT_NO_THROW(zip.verify_crc(e)) << e.name;
  }
  EXPECT_EQ(zip.read_text("export_fixture/archive_format"), "pt2");
  EXPECT_EQ(zip.read_text("export_fixture/byteorder"), "little");
  EXPECT_EQ(zip.read("export_fixture/data/weights/weight_0").size(), 48u);
  const auto* e = zip.find("export_fixture/models/model.json");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, 10072u);
  EXPECT_EQ(zip.read(*e).front(), std::byte{'{'});
  // Zero copy: the span points into the mapping.
  EXPECT_EQ(zip.read(*e).data(), zip.file()->data().data() + e->data_offset);
  EXPECT_EQ(zip.find("export_fixture/nope"), nullptr);
  EXPECT_KILN_ERROR(zip.read("export_fixture/nope"), "export_fixture/nope", "no entry");
}

TEST(ArchiveZip, ReadsPlainZip) {
  auto dir = fresh_temp_dir("zip");
  auto path =
      write_bytes(dir / "plain.zip",
                  TinyZip(TinyZip::Style::kPlain).add("a.txt", "alpha").add("b/c", "").bytes());
  ZipArchive zip(path);
  ASSERT_EQ(zip.entries().size(), 2u);
  EXPECT_EQ(zip.read_text("a.txt"), "alpha");
  EXPECT_TRUE(zip.read("b/c").empty());
}

TEST(ArchiveZip, ReadsZip64Placeholders) {
  auto dir = fresh_temp_dir("zip");
  std::string big(5000, 'x');
  auto bytes =
      TinyZip().force_zip64().add("r/one", "first").add("r/big", big).add("r/e", "").bytes();
  // The central directory really holds the placeholders.
  EXPECT_NE(bytes.find(std::string("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8)), std::string::npos);
  ZipArchive zip(write_bytes(dir / "z64.zip", bytes));
  ASSERT_EQ(zip.entries().size(), 3u);
  EXPECT_EQ(zip.read_text("r/one"), "first");
  EXPECT_EQ(as_string(zip.read_checked("r/big")), big);
  EXPECT_EQ(zip.find("r/big")->size, 5000u);
  EXPECT_EQ(zip.find("r/big")->compressed_size, 5000u);
  EXPECT_TRUE(zip.read("r/e").empty());
}

TEST(ArchiveZip, Zip64ExtraFieldTooShort) {
  auto dir = fresh_temp_dir("zip");
  auto bytes = TinyZip().force_zip64().add("r/one", "first").bytes();
  // Shrink the extra field's declared length from 24 to 8: only the size fits.
  size_t extra = bytes.find(std::string("\x01\x00\x18\x00", 4));
  ASSERT_NE(extra, std::string::npos);
  bytes[extra + 2] = 8;
  auto path = write_bytes(dir / "short64.zip", bytes);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "r/one", "ZIP64 extra field too short");
}

TEST(ArchiveZip, Zip64HugeOffsetInExtraField) {
  auto dir = fresh_temp_dir("zip");
  auto bytes = TinyZip().force_zip64().add("r/one", "first").bytes();
  size_t extra = bytes.find(std::string("\x01\x00\x18\x00", 4));
  put64(bytes, extra + 20, 0xFFFFFFFFFFFFFFF0ull);  // local header offset near 2^64
  auto path = write_bytes(dir / "huge64.zip", bytes);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "r/one", "outside the file");
}

TEST(ArchiveZip, Zip64HugeSizeInExtraField) {
  auto dir = fresh_temp_dir("zip");
  auto bytes = TinyZip().force_zip64().add("r/one", "first").bytes();
  size_t extra = bytes.find(std::string("\x01\x00\x18\x00", 4));
  put64(bytes, extra + 4, 0xFFFFFFFFFFFFFF00ull);
  put64(bytes, extra + 12, 0xFFFFFFFFFFFFFF00ull);
  auto path = write_bytes(dir / "hugesize.zip", bytes);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "r/one", "past the end of the file");
}

TEST(ArchiveZip, CompressedEntryNamedOnRead) {
  auto dir = fresh_temp_dir("zip");
  auto path = write_bytes(dir / "deflate.zip",
                          TinyZip().add("r/ok", "fine").add("r/packed", "\x01\x02\x03", 8).bytes());
  ZipArchive zip(path);  // listing works; only reading the entry fails
  EXPECT_EQ(zip.read_text("r/ok"), "fine");
  EXPECT_KILN_ERROR(zip.read("r/packed"), path.string(), "r/packed", "compressed", "method 8",
                    "deflate");
}

TEST(ArchiveZip, CrcMismatchNamesEntry) {
  auto dir = fresh_temp_dir("zip");
  auto bytes = TinyZip().add("r/meta.json", "{\"a\": 1}").bytes();
  bytes[bytes.find("{\"a\"") + 6] = '2';  // change the data, not the recorded CRC
  auto path = write_bytes(dir / "crc.zip", bytes);
  ZipArchive zip(path);
  EXPECT_EQ(as_string(zip.read("r/meta.json")), "{\"a\": 2}");  // unchecked read still works
  EXPECT_KILN_ERROR(zip.read_text("r/meta.json"), path.string(), "r/meta.json", "CRC-32");
}

TEST(ArchiveZip, DuplicateNames) {
  auto dir = fresh_temp_dir("zip");
  auto path = write_bytes(dir / "dup.zip", TinyZip().add("r/a", "1").add("r/a", "2").bytes());
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "r/a", "duplicate");
}

TEST(ArchiveZip, EmptyAndTinyFiles) {
  auto dir = fresh_temp_dir("zip");
  auto empty = write_bytes(dir / "empty.pt2", "");
  EXPECT_KILN_ERROR(ZipArchive{empty}, empty.string(), "empty");
  auto tiny = write_bytes(dir / "tiny.pt2", "PK\x05\x06");
  EXPECT_KILN_ERROR(ZipArchive{tiny}, tiny.string(), "too short");
  auto text = write_bytes(dir / "text.pt2", std::string(100, 'a'));
  EXPECT_KILN_ERROR(ZipArchive{text}, text.string(), "not a zip archive");
}

TEST(ArchiveZip, EmptyZipHasNoEntries) {
  auto dir = fresh_temp_dir("zip");
  ZipArchive zip(write_bytes(dir / "none.zip", TinyZip().bytes()));
  EXPECT_TRUE(zip.entries().empty());
}

TEST(ArchiveZip, WrongLocalHeaderMagic) {
  auto dir = fresh_temp_dir("zip");
  auto z = read_bytes(sample_path(kFixture));
  z[0] = 'X';
  auto path = write_bytes(dir / "magic.pt2", z);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "export_fixture/data/weights/weight_0",
                    "bad signature");
}

TEST(ArchiveZip, WrongEocdMagic) {
  auto dir = fresh_temp_dir("zip");
  auto z = read_bytes(sample_path(kFixture));
  z[z.size() - 22] = 'X';
  auto path = write_bytes(dir / "eocd.pt2", z);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "end-of-central-directory");
}

TEST(ArchiveZip, WrongCentralDirectoryMagic) {
  auto dir = fresh_temp_dir("zip");
  auto z = read_bytes(sample_path(kFixture));
  z[tail_of(z).cd_offset] = 'X';
  auto path = write_bytes(dir / "cd.pt2", z);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "central directory entry 0");
}

TEST(ArchiveZip, CentralDirectoryPastEnd) {
  auto dir = fresh_temp_dir("zip");
  auto z = read_bytes(sample_path(kFixture));
  const Tail t = tail_of(z);
  auto z1 = z;
  put64(z1, t.zip64_record + 48, z.size() + 1000);  // cd offset
  auto p1 = write_bytes(dir / "cdoff.pt2", z1);
  EXPECT_KILN_ERROR(ZipArchive{p1}, p1.string(), "central directory", "outside the file");
  auto z2 = z;
  put64(z2, t.zip64_record + 40, 0xFFFFFFFFFFFFFFF0ull);  // cd size: offset + size overflows
  auto p2 = write_bytes(dir / "cdsize.pt2", z2);
  EXPECT_KILN_ERROR(ZipArchive{p2}, p2.string(), "central directory", "outside the file");
  auto z3 = z;
  put64(z3, t.zip64_record + 32, 1000000);  // entry count
  auto p3 = write_bytes(dir / "cdcount.pt2", z3);
  EXPECT_KILN_ERROR(ZipArchive{p3}, p3.string(), "1000000 entries");
  auto z4 = z;
  put64(z4, t.locator + 8, z.size() + 5);  // locator -> ZIP64 record
  auto p4 = write_bytes(dir / "locator.pt2", z4);
  EXPECT_KILN_ERROR(ZipArchive{p4}, p4.string(), "ZIP64", "outside the file");
}

TEST(ArchiveZip, PlainEocdPastEnd) {
  auto dir = fresh_temp_dir("zip");
  auto z = TinyZip(TinyZip::Style::kPlain).add("a", "1").bytes();
  put32(z, z.size() - 22 + 16, 0x7FFFFFF0);
  auto path = write_bytes(dir / "plain_eocd.zip", z);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "central directory", "outside the file");
}

TEST(ArchiveZip, CentralDirectoryEntryWithHugeOffset) {
  auto dir = fresh_temp_dir("zip");
  auto z = read_bytes(sample_path(kFixture));
  // Walk to the third central directory entry and point it far past the end.
  size_t at = tail_of(z).cd_offset;
  for (int k = 0; k < 2; ++k) {
    auto len = [&](size_t o) {
      return static_cast<uint8_t>(z[o]) | (static_cast<uint8_t>(z[o + 1]) << 8);
    };
    at += 46 + len(at + 28) + len(at + 30) + len(at + 32);
  }
  put32(z, at + 42, 0x7FFFFF00);
  auto path = write_bytes(dir / "huge.pt2", z);
  EXPECT_KILN_ERROR(ZipArchive{path}, path.string(), "entry 2",
                    "export_fixture/data/weights/weight_2", "outside the file");
}

// Truncations of a real archive are errors naming the file, never a crash or a read past the
// end (the sanitizer build checks the latter): every length from just before the central
// directory to the end, and a coarse sweep (every 11th length) over the data before it.
TEST(ArchiveZip, TruncatedSweep) {
  auto dir = fresh_temp_dir("zip");
  const auto z = read_bytes(sample_path(kFixture));
  const size_t fine_from = tail_of(z).cd_offset - 64;
  const auto path = dir / "truncated.pt2";
  for (size_t len = 0; len < z.size(); len += len < fine_from ? 11 : 1) {
    write_bytes(path, std::string_view(z).substr(0, len));
    const std::string msg = testing::error_of([&] { ZipArchive zip(path); });
    ASSERT_TRUE(testing::contains(msg, path.string())) << "length " << len << ": " << msg;
  }
}

// Random byte corruption anywhere in the end records and central directory: either the archive
// still reads, or a kiln::Error comes back. Nothing else.
TEST(ArchiveZip, RandomCorruptionOfDirectory) {
  auto dir = fresh_temp_dir("zip");
  const auto z = read_bytes(sample_path(kFixture));
  const size_t cd = tail_of(z).cd_offset;
  const auto path = dir / "fuzz.pt2";
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 1500; ++iter) {
    auto m = z;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = cd + rng() % (z.size() - cd);
      m[at] = static_cast<char>(rng() % 3 == 0 ? 0xFF : rng());
    }
    write_bytes(path, m);
    try {
      ZipArchive zip(path);
      for (const auto& e : zip.entries()) {
        try {
          (void)zip.read_checked(e.name);
        } catch (const Error&) {
        }
      }
    } catch (const Error& e) {
      ASSERT_TRUE(testing::contains(e.what(), path.string())) << e.what();
    }
  }
}

}  // namespace
}  // namespace kiln
