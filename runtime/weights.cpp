#include "weights.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "checksum.h"
#include "kiln/kiln.h"

namespace kiln::rt {
namespace {

// Any object of the runtime: dladdr on it names the library the runtime was linked into.
const char kAnchor = 0;

// Closes a file descriptor on every path out of load().
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string default_weights_path() {
  Dl_info info{};
  if (dladdr(&kAnchor, &info) == 0 || info.dli_fname == nullptr || info.dli_fname[0] == '\0') {
    return {};
  }
  return std::string(info.dli_fname) + ".weights";
}

WeightsBlob::~WeightsBlob() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

bool WeightsBlob::load(const ModelDesc& desc, const char* path, ErrorSink* err) {
  if (desc.embedded_weights != nullptr) {
    data_ = desc.embedded_weights;
    size_ = desc.weights_size;
    return true;
  }
  path_ = path != nullptr ? std::string(path) : default_weights_path();
  if (path_.empty()) {
    return fail(err, KILN_ERROR_LOAD,
                "the model's weights are external, and the library's own path cannot be found "
                "to look beside it; set KilnOptions::weights_path");
  }
  FdCloser file{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    return fail(err, KILN_ERROR_LOAD, "weights file '%s' cannot be opened: %s", path_.c_str(),
                std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    return fail(err, KILN_ERROR_LOAD, "weights file '%s' cannot be read: %s", path_.c_str(),
                std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(err, KILN_ERROR_LOAD, "weights file '%s' is not a regular file", path_.c_str());
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size != desc.weights_size) {
    return fail(err, KILN_ERROR_LOAD,
                "weights file '%s' has %" PRIu64 " bytes, but the model expects %" PRIu64
                "; it belongs to another model or build",
                path_.c_str(), file_size, desc.weights_size);
  }
  if (file_size > 0) {
    void* p = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (p == MAP_FAILED) {
      return fail(err, KILN_ERROR_LOAD, "weights file '%s' cannot be mapped: %s", path_.c_str(),
                  std::strerror(errno));
    }
    mapping_ = p;
    mapping_size_ = file_size;
    data_ = static_cast<const uint8_t*>(p);
  }
  size_ = file_size;
  const uint64_t sum = weights_checksum(data_, size_);
  if (sum != desc.weights_checksum) {
    return fail(err, KILN_ERROR_LOAD,
                "weights file '%s' does not match the model: checksum %016" PRIx64
                ", expected %016" PRIx64 "; it is corrupt or belongs to another build",
                path_.c_str(), sum, desc.weights_checksum);
  }
  return true;
}

}  // namespace kiln::rt
