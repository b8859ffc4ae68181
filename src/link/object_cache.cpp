#include "link/object_cache.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

#include "util/error.h"

namespace kiln::link {
namespace fs = std::filesystem;

fs::path resolve_cache_dir(const fs::path& explicit_dir) {
  if (!explicit_dir.empty()) return explicit_dir;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v == nullptr ? "" : v;
  };
  if (std::string d = env("KILN_CACHE_DIR"); !d.empty()) return d;
  if (std::string d = env("XDG_CACHE_HOME"); !d.empty()) return fs::path(d) / "kiln";
  if (std::string d = env("HOME"); !d.empty()) return fs::path(d) / ".cache" / "kiln";
  throw error("no cache directory: pass --cache-dir or set KILN_CACHE_DIR");
}

fs::path unique_temp_path(const fs::path& final_path) {
  static std::atomic<uint64_t> counter{0};
  return fs::path(final_path.string() + ".tmp." + std::to_string(::getpid()) + "." +
                  std::to_string(counter++));
}

void write_file_atomic(const fs::path& path, const void* data, size_t size) {
  fs::path tmp = unique_temp_path(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw error("cannot write ", tmp.string(), ": ", std::strerror(errno));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw error("cannot write ", tmp.string(), " (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw error("cannot move ", tmp.string(), " to ", path.string(), ": ", ec.message());
  }
}

void write_file_atomic(const fs::path& path, std::string_view data) {
  write_file_atomic(path, data.data(), data.size());
}

bool is_valid_object(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec || size < 64) return false;
  std::ifstream in(path, std::ios::binary);
  unsigned char h[64];
  if (!in.read(reinterpret_cast<char*>(h), sizeof h)) return false;
  if (std::memcmp(h,
                  "\x7f"
                  "ELF",
                  4) != 0)
    return false;
  if (h[4] != 2 || h[5] != 1) return false;  // 64-bit, little-endian
  auto read_le = [&](int offset, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
      v = (v << 8) | h[offset + i];
    return v;
  };
  if (read_le(16, 2) != 1) return false;  // ET_REL
  const uint64_t shoff = read_le(40, 8);
  const uint64_t shentsize = read_le(58, 2);
  const uint64_t shnum = read_le(60, 2);
  if (shentsize != 64 || shnum == 0) return false;
  return shoff <= size && shnum * shentsize <= size - shoff;
}

ObjectCache::ObjectCache(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_ / "objects", ec);
  if (!ec) fs::create_directories(dir_ / "tmp", ec);
  if (ec) throw error("cannot create the cache directory ", dir_.string(), ": ", ec.message());
}

fs::path ObjectCache::object_path(const std::string& key) const {
  return dir_ / "objects" / key.substr(0, 2) / (key + ".o");
}

std::optional<fs::path> ObjectCache::find(const std::string& key) const {
  fs::path p = object_path(key);
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  if (is_valid_object(p)) return p;
  fs::remove(p, ec);  // never trusted: rebuilt by the caller
  return std::nullopt;
}

fs::path ObjectCache::insert(const fs::path& built, const std::string& key) const {
  fs::path p = object_path(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  // Rename within the cache's file system is atomic; a concurrent process may win, with the
  // same bytes.
  fs::rename(built, p, ec);
  if (ec)
    throw error("cannot store ", built.string(), " in the cache as ", p.string(), ": ",
                ec.message());
  return p;
}

fs::path ObjectCache::scratch_dir(const std::string& tag) const {
  fs::path d = unique_temp_path(dir_ / "tmp" / tag);
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) throw error("cannot create ", d.string(), ": ", ec.message());
  return d;
}

void ObjectCache::remove_stale_scratch() const {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(24);
  for (fs::directory_iterator it(dir_ / "tmp", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (fs::last_write_time(it->path(), entry_ec) < cutoff && !entry_ec) {
      fs::remove_all(it->path(), entry_ec);
    }
  }
}

}  // namespace kiln::link
