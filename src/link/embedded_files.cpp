#include "link/embedded_files.h"

#include <fstream>
#include <iterator>
#include <system_error>

#include "link/object_cache.h"
#include "link/sha256.h"
#include "util/error.h"

namespace kiln::link {
namespace fs = std::filesystem;
namespace {

bool file_equals(const fs::path& path, std::string_view text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return got == text;
}

bool intact(const fs::path& dir) {
  for (const EmbeddedFile& f : embedded_runtime_files()) {
    if (!file_equals(dir / f.path, f.text)) return false;
  }
  return true;
}

}  // namespace

const std::string& embedded_runtime_hash() {
  static const std::string hash = [] {
    Sha256 h;
    for (const EmbeddedFile& f : embedded_runtime_files()) {
      h.field(f.path);
      h.field(f.text);
    }
    return h.hex_digest();
  }();
  return hash;
}

fs::path materialize_runtime(const fs::path& cache_dir) {
  const fs::path root = cache_dir / "runtime";
  const fs::path dir = root / embedded_runtime_hash().substr(0, 32);
  if (intact(dir)) return dir;

  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw error("cannot create ", root.string(), ": ", ec.message());
  const fs::path fresh = unique_temp_path(dir);
  for (const EmbeddedFile& f : embedded_runtime_files()) {
    fs::create_directories((fresh / f.path).parent_path(), ec);
    std::ofstream out(fresh / f.path, std::ios::binary);
    out.write(f.text.data(), static_cast<std::streamsize>(f.text.size()));
    if (!out) throw error("cannot write ", (fresh / f.path).string());
  }
  // A damaged copy is moved aside first (renaming onto a non-empty directory fails).
  if (fs::exists(dir, ec)) {
    const fs::path aside = unique_temp_path(dir);
    fs::rename(dir, aside, ec);
    fs::remove_all(aside, ec);
  }
  fs::rename(fresh, dir, ec);
  if (ec) {
    // Another process put its copy in place first; use it if it is whole.
    fs::remove_all(fresh, ec);
    if (!intact(dir)) throw error("cannot write the runtime sources to ", dir.string());
  }
  return dir;
}

}  // namespace kiln::link
