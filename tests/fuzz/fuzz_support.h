#pragma once

// Shared by the fuzz targets: inputs as files, and the rule for what counts as a finding.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace kiln::fuzz {

// The input as an anonymous in-memory file, named by a /proc path, for readers that only open
// paths (they mmap the file, as they do for real archives). No disk I/O per input.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("kiln-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) die("memfd_create failed");
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) die("write to memfd failed");
      done += static_cast<size_t>(n);
    }
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

  [[noreturn]] static void die(const char* what) {
    std::perror(what);
    std::abort();
  }

 private:
  int fd_ = -1;
};

// A property the target checks failed: report it and abort, so libFuzzer saves the input.
[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ PROPERTY FAILED: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace kiln::fuzz
