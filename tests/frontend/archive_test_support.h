#pragma once

// Helpers shared by the archive tests: a tiny zip writer (PyTorch-style or plain, optionally
// with ZIP64 placeholders), sample paths, and error-message assertions.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/zip_archive.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {

// The committed copy of a torch 2.11 sample, else the shared one beside the checkout.
inline std::filesystem::path sample_path(const std::string& name) {
  auto committed = fixture_dir() / "samples" / name;
  if (std::filesystem::exists(committed)) return committed;
  return source_dir() / ".." / "shared" / "samples" / name;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::filesystem::path write_bytes(const std::filesystem::path& path,
                                         std::string_view bytes) {
  // Unlink first: rewriting a file in place with O_TRUNC makes ext4 flush it on close, which
  // turns the truncation sweeps into seconds of I/O wait.
  std::filesystem::remove(path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::string as_string(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline void put16(std::string& s, size_t at, uint16_t v) {
  s[at] = static_cast<char>(v & 0xFF);
  s[at + 1] = static_cast<char>(v >> 8);
}
inline void put32(std::string& s, size_t at, uint32_t v) {
  put16(s, at, static_cast<uint16_t>(v));
  put16(s, at + 2, static_cast<uint16_t>(v >> 16));
}
inline void put64(std::string& s, size_t at, uint64_t v) {
  put32(s, at, static_cast<uint32_t>(v));
  put32(s, at + 4, static_cast<uint32_t>(v >> 32));
}

// Writes small zips the way PyTorchStreamWriter does (data descriptors, zero sizes in local
// headers, 64-byte aligned data, ZIP64 end records) or the way Python's zipfile does.
class TinyZip {
 public:
  enum class Style { kPyTorch, kPlain };
  explicit TinyZip(Style style = Style::kPyTorch) : style_(style) {}

  // Every size/offset field of the central directory and EOCD becomes 0xFFFF.. with the real
  // value in a ZIP64 extra field / record, as for archives over 4 GiB.
  TinyZip& force_zip64(bool on = true) {
    force_zip64_ = on;
    return *this;
  }
  TinyZip& add(std::string name, std::string data, uint16_t method = 0) {
    entries_.push_back({std::move(name), std::move(data), method});
    return *this;
  }

  std::string bytes() const {
    std::string out, cd;
    const bool pt = style_ == Style::kPyTorch;
    for (const Entry& e : entries_) {
      const uint64_t offset = out.size();
      const uint32_t crc = frontend::crc32(
          std::span(reinterpret_cast<const std::byte*>(e.data.data()), e.data.size()));
      // Local header.
      std::string lh(30, '\0');
      put32(lh, 0, 0x04034b50);
      put16(lh, 4, 20);
      put16(lh, 6, pt ? 0x0808 : 0);
      put16(lh, 8, e.method);
      if (!pt) {
        put32(lh, 14, crc);
        put32(lh, 18, static_cast<uint32_t>(e.data.size()));
        put32(lh, 22, static_cast<uint32_t>(e.data.size()));
      }
      put16(lh, 26, static_cast<uint16_t>(e.name.size()));
      std::string extra;
      if (pt) {  // "FB" padding field so that the data starts 64-byte aligned
        size_t pad = (64 - (offset + 30 + e.name.size() + 4) % 64) % 64;
        extra.resize(4 + pad, 'Z');
        put16(extra, 0, 0x4246);
        put16(extra, 2, static_cast<uint16_t>(pad));
      }
      put16(lh, 28, static_cast<uint16_t>(extra.size()));
      out += lh + e.name + extra + e.data;
      if (pt) {
        std::string dd(16, '\0');
        put32(dd, 0, 0x08074b50);
        put32(dd, 4, crc);
        put32(dd, 8, static_cast<uint32_t>(e.data.size()));
        put32(dd, 12, static_cast<uint32_t>(e.data.size()));
        out += dd;
      }
      // Central directory header.
      std::string ch(46, '\0');
      put32(ch, 0, 0x02014b50);
      put16(ch, 4, 45);
      put16(ch, 6, 45);
      put16(ch, 8, pt ? 0x0808 : 0);
      put16(ch, 10, e.method);
      put32(ch, 16, crc);
      std::string cextra;
      if (force_zip64_) {
        put32(ch, 20, 0xFFFFFFFF);
        put32(ch, 24, 0xFFFFFFFF);
        put32(ch, 42, 0xFFFFFFFF);
        cextra.resize(4 + 24);
        put16(cextra, 0, 0x0001);
        put16(cextra, 2, 24);
        put64(cextra, 4, e.data.size());   // uncompressed
        put64(cextra, 12, e.data.size());  // compressed
        put64(cextra, 20, offset);
      } else {
        put32(ch, 20, static_cast<uint32_t>(e.data.size()));
        put32(ch, 24, static_cast<uint32_t>(e.data.size()));
        put32(ch, 42, static_cast<uint32_t>(offset));
      }
      put16(ch, 28, static_cast<uint16_t>(e.name.size()));
      put16(ch, 30, static_cast<uint16_t>(cextra.size()));
      cd += ch + e.name + cextra;
    }
    const uint64_t cd_offset = out.size();
    out += cd;
    if (pt || force_zip64_) {
      const uint64_t record = out.size();
      std::string z(56, '\0');
      put32(z, 0, 0x06064b50);
      put64(z, 4, 44);
      put16(z, 12, 45);
      put16(z, 14, 45);
      put64(z, 24, entries_.size());
      put64(z, 32, entries_.size());
      put64(z, 40, cd.size());
      put64(z, 48, cd_offset);
      std::string loc(20, '\0');
      put32(loc, 0, 0x07064b50);
      put64(loc, 8, record);
      put32(loc, 16, 1);
      out += z + loc;
    }
    std::string eocd(22, '\0');
    put32(eocd, 0, 0x06054b50);
    const bool ff = force_zip64_;
    put16(eocd, 8, ff ? 0xFFFF : static_cast<uint16_t>(entries_.size()));
    put16(eocd, 10, ff ? 0xFFFF : static_cast<uint16_t>(entries_.size()));
    put32(eocd, 12, ff ? 0xFFFFFFFF : static_cast<uint32_t>(cd.size()));
    put32(eocd, 16, ff ? 0xFFFFFFFF : static_cast<uint32_t>(cd_offset));
    return out + eocd;
  }

 private:
  struct Entry {
    std::string name;
    std::string data;
    uint16_t method;
  };
  Style style_;
  bool force_zip64_ = false;
  std::vector<Entry> entries_;
};

// Rebuilds a zip entry by entry. `edit(name, data)` may change both, or return false to drop
// the entry; `extra` entries are appended.
inline std::string rebuild(const std::filesystem::path& zip_path,
                           const std::function<bool(std::string&, std::string&)>& edit,
                           const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  frontend::ZipArchive zip(zip_path);
  TinyZip out;
  for (const auto& e : zip.entries()) {
    std::string name = e.name, data = as_string(zip.read(e));
    if (edit(name, data)) out.add(name, data);
  }
  for (const auto& [name, data] : extra)
    out.add(name, data);
  return out.bytes();
}

// Raw little-endian bytes of values (the test hosts are little-endian, like the format).
template <typename T>
std::string raw(std::initializer_list<T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

inline uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : bytes)
    h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// One entry of a synthetic PayloadConfig.
struct FakeTensor {
  std::string fqn;
  std::string path_name;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int dtype = 7;  // schema FLOAT
  int64_t storage_offset = 0;
  bool is_param = true;
  bool use_pickle = false;
  nlohmann::json device = {{"type", "cpu"}, {"index", nullptr}};
  nlohmann::json layout = 7;
};

inline std::string payload_config(const std::vector<FakeTensor>& tensors) {
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  for (const FakeTensor& t : tensors) {
    nlohmann::ordered_json sizes = nlohmann::ordered_json::array(),
                           strides = nlohmann::ordered_json::array();
    for (int64_t s : t.sizes)
      sizes.push_back({{"as_int", s}});
    for (int64_t s : t.strides)
      strides.push_back({{"as_int", s}});
    config[t.fqn] = {{"path_name", t.path_name},
                     {"is_param", t.is_param},
                     {"use_pickle", t.use_pickle},
                     {"tensor_meta",
                      {{"dtype", t.dtype},
                       {"sizes", sizes},
                       {"requires_grad", t.is_param},
                       {"device", t.device},
                       {"strides", strides},
                       {"storage_offset", {{"as_int", t.storage_offset}}},
                       {"layout", t.layout}}}};
  }
  return nlohmann::ordered_json{{"config", config}}.dump();
}

// A synthetic torch.export.save archive: records, one model "model" with empty configs, under
// root "archive". Files are relative to the root.
class Pt2Builder {
 public:
  Pt2Builder() {
    file("models/model.json", "{}");
    file("data/weights/model_weights_config.json", "{\"config\": {}}");
    file("data/constants/model_constants_config.json", "{\"config\": {}}");
    file("archive_format", "pt2");
    file("archive_version", "0");
    file(".data/version", "6\n");
    file("byteorder", "little");
  }
  Pt2Builder& root(std::string r) {
    root_ = std::move(r);
    return *this;
  }
  Pt2Builder& file(const std::string& rel, std::string data) {
    for (auto& [name, bytes] : files_) {
      if (name == rel) {
        bytes = std::move(data);
        return *this;
      }
    }
    files_.emplace_back(rel, std::move(data));
    return *this;
  }
  Pt2Builder& remove(const std::string& rel) {
    std::erase_if(files_, [&](const auto& f) { return f.first == rel; });
    return *this;
  }
  Pt2Builder& weights(const std::vector<FakeTensor>& t, const std::string& model = "model") {
    return file("data/weights/" + model + "_weights_config.json", payload_config(t));
  }
  Pt2Builder& constants(const std::vector<FakeTensor>& t, const std::string& model = "model") {
    return file("data/constants/" + model + "_constants_config.json", payload_config(t));
  }
  std::string bytes() const {
    TinyZip zip;
    for (const auto& [name, data] : files_)
      zip.add(root_ + "/" + name, data);
    return zip.bytes();
  }
  std::filesystem::path write(const std::filesystem::path& path) const {
    return write_bytes(path, bytes());
  }

 private:
  std::string root_ = "archive";
  std::vector<std::pair<std::string, std::string>> files_;
};

// The message of the kiln::Error `fn` throws; fails the test if it throws nothing or another
// exception type.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kiln::Error, got another exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected kiln::Error, nothing was thrown";
  return "<no error>";
}

inline bool contains(std::string_view message, std::string_view part) {
  return message.find(part) != std::string_view::npos;
}

}  // namespace kiln::testing

// Checks that `stmt` throws kiln::Error whose message holds every one of the given parts.
#define EXPECT_KILN_ERROR(stmt, ...)                                                        \
  do {                                                                                      \
    const std::string kiln_msg_ = ::kiln::testing::error_of([&] { (void)(stmt); });         \
    for (const std::string& kiln_part_ : std::initializer_list<std::string>{__VA_ARGS__}) { \
      EXPECT_TRUE(::kiln::testing::contains(kiln_msg_, kiln_part_))                         \
          << "message lacks \"" << kiln_part_ << "\": " << kiln_msg_;                       \
    }                                                                                       \
  } while (0)
