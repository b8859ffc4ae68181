#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "util/error.h"

namespace kiln::util {
namespace {

// strerror is not thread-safe; the error category's message is.
std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Closes the descriptor on every path out of the constructor.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) throw error(path.string(), ": no such file");
    throw error(path.string(), ": cannot open: ", errno_text(err));
  }
  FdCloser closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) throw error(path.string(), ": cannot stat: ", errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw error(path.string(), ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw error(path.string(), ": not a regular file");
  if (st.st_size < 0) throw error(path.string(), ": invalid file size");
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) return;  // mmap rejects length 0; an empty span is the right answer.

  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    size_ = 0;
    throw error(path.string(), ": cannot map ", st.st_size, " bytes: ", errno_text(err));
  }
  data_ = static_cast<const std::byte*>(p);
}

MappedFile::~MappedFile() {
  release();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace kiln::util
