#pragma once

// The content-addressed store of compiled objects, shared by concurrent kiln processes: every
// write goes to a unique temporary file that is then renamed into place, and an entry is checked
// before it is used.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::link {

// --cache-dir when given, else $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln.
std::filesystem::path resolve_cache_dir(const std::filesystem::path& explicit_dir);

// A name beside `final_path` that no other thread or process uses.
std::filesystem::path unique_temp_path(const std::filesystem::path& final_path);

// Writes `data` to `path` through a temporary file and a rename, so readers see the old file or
// the whole new one. Throws kiln::Error naming the path.
void write_file_atomic(const std::filesystem::path& path, std::string_view data);
void write_file_atomic(const std::filesystem::path& path, const void* data, size_t size);

// Whether `path` is a complete ELF relocatable object: magic, 64-bit class, and a section header
// table that lies inside the file (a truncated file fails that).
bool is_valid_object(const std::filesystem::path& path);

class ObjectCache {
 public:
  // Creates the directory when missing. Throws kiln::Error when it cannot.
  explicit ObjectCache(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path object_path(const std::string& key) const;

  // The intact object stored under `key`; a corrupt or unreadable entry is removed and nullopt
  // returned, so it is rebuilt.
  std::optional<std::filesystem::path> find(const std::string& key) const;

  // Moves a freshly built object into the store (atomically) and returns its final path.
  std::filesystem::path insert(const std::filesystem::path& built, const std::string& key) const;

  // A fresh empty directory for one compile's inputs and outputs, on the cache's file system.
  std::filesystem::path scratch_dir(const std::string& tag) const;

  // Removes scratch files and directories older than a day: what killed processes left behind,
  // and the sources kept from failed compiles.
  void remove_stale_scratch() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace kiln::link
