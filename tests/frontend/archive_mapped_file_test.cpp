#include <gtest/gtest.h>
#include <unistd.h>

#include <utility>

#include "archive_test_support.h"
#include "util/mapped_file.h"

namespace kiln {
namespace {

using testing::as_string;
using testing::fresh_temp_dir;
using testing::write_bytes;
using util::MappedFile;

TEST(ArchiveMappedFile, MapsWholeFile) {
  auto dir = fresh_temp_dir("mapped");
  auto path = write_bytes(dir / "a.bin", std::string("hello\0world", 11));
  MappedFile f(path);
  EXPECT_EQ(f.size(), 11u);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(as_string(f.data()), std::string("hello\0world", 11));
}

TEST(ArchiveMappedFile, ZeroLengthFileIsEmpty) {
  auto dir = fresh_temp_dir("mapped");
  MappedFile f(write_bytes(dir / "empty", ""));
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.data().empty());
}

TEST(ArchiveMappedFile, MoveTransfersTheMapping) {
  auto dir = fresh_temp_dir("mapped");
  MappedFile a(write_bytes(dir / "a", "abc"));
  const std::byte* p = a.data().data();
  MappedFile b(std::move(a));
  EXPECT_EQ(b.data().data(), p);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  MappedFile c(write_bytes(dir / "c", "xy"));
  c = std::move(b);
  EXPECT_EQ(as_string(c.data()), "abc");
}

TEST(ArchiveMappedFile, MissingFileNamesPath) {
  auto dir = fresh_temp_dir("mapped");
  auto path = dir / "nope.pt2";
  EXPECT_KILN_ERROR(MappedFile(path), path.string(), "no such file");
}

TEST(ArchiveMappedFile, DirectoryNamesPath) {
  auto dir = fresh_temp_dir("mapped");
  EXPECT_KILN_ERROR(MappedFile(dir), dir.string(), "directory");
}

TEST(ArchiveMappedFile, DeviceIsNotARegularFile) {
  EXPECT_KILN_ERROR(MappedFile("/dev/null"), "/dev/null", "not a regular file");
}

TEST(ArchiveMappedFile, UnreadableFileNamesPath) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of permissions";
  auto dir = fresh_temp_dir("mapped");
  auto path = write_bytes(dir / "secret", "x");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  EXPECT_KILN_ERROR(MappedFile(path), path.string(), "cannot open");
}

}  // namespace
}  // namespace kiln
