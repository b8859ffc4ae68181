#pragma once

// A structure-aware mutation for zip inputs. Raw byte flips of an archive mostly break the
// CRC-32 of the metadata entries, so the checks behind them (the JSON of models and weight
// configs, the weights' extents) would never be reached. This mutator unpacks the archive,
// changes one entry (its JSON structurally, its bytes, its name, its presence) and packs it
// again with correct CRCs, in one of the layouts the reader must accept. The remaining share of
// mutations flips raw bytes, for the zip structure itself.

#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/zip_archive.h"
#include "json_mutator.h"

namespace kiln::fuzz {

struct ZipEntryData {
  std::string name;
  std::string data;
  uint16_t method = 0;
};

enum class ZipStyle {
  kPyTorch,  // data descriptors, zero sizes in local headers, 64-byte aligned data, ZIP64 end
  kPlain,    // sizes in local headers, classic end record only
  kZip64,    // PyTorch style with every size and offset in ZIP64 extra fields
};

namespace detail {

inline uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t{static_cast<uint8_t>(s[at + i])} << (8 * i);
  return v;
}

inline void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

}  // namespace detail

// A lenient reader for the mutator's own use: nullopt for anything it does not understand.
inline std::optional<std::vector<ZipEntryData>> unpack_zip(std::string_view z) {
  using detail::get_le;
  const size_t n = z.size();
  if (n < 22) return std::nullopt;
  size_t eocd = std::string_view::npos;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 0xFFFF;) {
    if (get_le(z, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string_view::npos) return std::nullopt;
  uint64_t count = get_le(z, eocd + 10, 2), cd_size = get_le(z, eocd + 12, 4),
           cd_offset = get_le(z, eocd + 16, 4);
  if (eocd >= 20 && get_le(z, eocd - 20, 4) == 0x07064b50) {
    const uint64_t record = get_le(z, eocd - 12, 8);
    if (record > n || n - record < 56 || get_le(z, record, 4) != 0x06064b50) return std::nullopt;
    count = get_le(z, record + 32, 8);
    cd_size = get_le(z, record + 40, 8);
    cd_offset = get_le(z, record + 48, 8);
  }
  if (cd_offset > n || cd_size > n - cd_offset || count > cd_size / 46) return std::nullopt;
  std::vector<ZipEntryData> out;
  size_t pos = cd_offset;
  const size_t end = cd_offset + cd_size;
  for (uint64_t k = 0; k < count; ++k) {
    if (end - pos < 46 || get_le(z, pos, 4) != 0x02014b50) return std::nullopt;
    ZipEntryData e;
    e.method = static_cast<uint16_t>(get_le(z, pos + 10, 2));
    uint64_t size = get_le(z, pos + 24, 4);  // uncompressed; entries are read as stored
    uint64_t csize = get_le(z, pos + 20, 4);
    uint64_t offset = get_le(z, pos + 42, 4);
    const size_t name_len = get_le(z, pos + 28, 2), extra_len = get_le(z, pos + 30, 2),
                 comment_len = get_le(z, pos + 32, 2);
    if (end - pos - 46 < name_len + extra_len + comment_len) return std::nullopt;
    e.name = std::string(z.substr(pos + 46, name_len));
    // ZIP64 extra field: 8-byte values for the fields that hold 0xFFFFFFFF, in this order.
    const size_t x = pos + 46 + name_len;
    for (size_t at = 0; at + 4 <= extra_len;) {
      const uint64_t tag = get_le(z, x + at, 2), len = get_le(z, x + at + 2, 2);
      if (at + 4 + len > extra_len) return std::nullopt;
      if (tag == 1) {
        size_t used = 0;
        for (uint64_t* field : {&size, &csize, &offset}) {
          if (*field != 0xFFFFFFFF) continue;
          if (used + 8 > len) return std::nullopt;
          *field = get_le(z, x + at + 4 + used, 8);
          used += 8;
        }
      }
      at += 4 + len;
    }
    if (offset > n || n - offset < 30 || get_le(z, offset, 4) != 0x04034b50) return std::nullopt;
    const uint64_t data_at = offset + 30 + get_le(z, offset + 26, 2) + get_le(z, offset + 28, 2);
    if (data_at > n || size > n - data_at) return std::nullopt;
    e.data = std::string(z.substr(data_at, size));
    out.push_back(std::move(e));
    pos += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

inline std::string pack_zip(const std::vector<ZipEntryData>& entries, ZipStyle style) {
  using detail::put_le;
  const bool pt = style != ZipStyle::kPlain;
  const bool z64 = style == ZipStyle::kZip64;
  std::string out, cd;
  for (const ZipEntryData& e : entries) {
    const uint64_t offset = out.size();
    const uint32_t crc = frontend::crc32(std::as_bytes(std::span(e.data.data(), e.data.size())));
    const auto size32 = static_cast<uint32_t>(e.data.size());
    std::string extra;
    if (pt) {  // padding so that the data starts 64-byte aligned, as PyTorch writes it
      const size_t pad = (64 - (offset + 30 + e.name.size() + 4) % 64) % 64;
      put_le(extra, 0x4246, 2);
      put_le(extra, pad, 2);
      extra.append(pad, 'Z');
    }
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, pt ? 0x0808 : 0, 2);
    put_le(out, e.method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, pt ? 0 : crc, 4);
    put_le(out, pt ? 0 : size32, 4);
    put_le(out, pt ? 0 : size32, 4);
    put_le(out, e.name.size(), 2);
    put_le(out, extra.size(), 2);
    out += e.name + extra + e.data;
    if (pt) {
      put_le(out, 0x08074b50, 4);
      put_le(out, crc, 4);
      put_le(out, size32, 4);
      put_le(out, size32, 4);
    }
    std::string cextra;
    if (z64) {
      put_le(cextra, 1, 2);
      put_le(cextra, 24, 2);
      put_le(cextra, e.data.size(), 8);
      put_le(cextra, e.data.size(), 8);
      put_le(cextra, offset, 8);
    }
    put_le(cd, 0x02014b50, 4);
    put_le(cd, 45, 2);
    put_le(cd, 45, 2);
    put_le(cd, pt ? 0x0808 : 0, 2);
    put_le(cd, e.method, 2);
    put_le(cd, 0, 4);
    put_le(cd, crc, 4);
    put_le(cd, z64 ? 0xFFFFFFFF : size32, 4);
    put_le(cd, z64 ? 0xFFFFFFFF : size32, 4);
    put_le(cd, e.name.size(), 2);
    put_le(cd, cextra.size(), 2);
    put_le(cd, 0, 2);  // comment
    put_le(cd, 0, 2);  // disk
    put_le(cd, 0, 2);  // internal attributes
    put_le(cd, 0, 4);  // external attributes
    put_le(cd, z64 ? 0xFFFFFFFF : offset, 4);
    cd += e.name + cextra;
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  if (pt) {
    const uint64_t record = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, cd.size(), 8);
    put_le(out, cd_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, record, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);  // disks
  put_le(out, z64 ? 0xFFFF : entries.size(), 2);
  put_le(out, z64 ? 0xFFFF : entries.size(), 2);
  put_le(out, z64 ? 0xFFFFFFFF : cd.size(), 4);
  put_le(out, z64 ? 0xFFFFFFFF : cd_offset, 4);
  put_le(out, 0, 2);  // comment
  return out;
}

// Mutates the entry bytes in place, up to `cap` bytes long.
inline void mutate_bytes(std::string& s, size_t cap) {
  const size_t old = s.size();
  s.resize(std::max(cap, old));
  s.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(s.data()), old, s.size()));
}

// libFuzzer's custom mutator body. `raw_percent` of the calls flip raw bytes.
inline size_t mutate_zip(uint8_t* data, size_t size, size_t max_size, unsigned seed,
                         unsigned raw_percent) {
  std::mt19937_64 rng(seed);
  auto raw = [&] { return LLVMFuzzerMutate(data, size, max_size); };
  if (rng() % 100 < raw_percent) return raw();
  auto entries = unpack_zip(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!entries || entries->empty()) return raw();
  std::vector<ZipEntryData>& es = *entries;

  // JSON entries (models, weight configs) hold most of the logic; pick them more often.
  std::vector<size_t> json;
  for (size_t i = 0; i < es.size(); ++i) {
    if (es[i].name.ends_with(".json")) json.push_back(i);
  }
  const uint64_t action = rng() % 100;
  if (action < 55) {
    ZipEntryData& e =
        !json.empty() && rng() % 4 != 0 ? es[json[rng() % json.size()]] : es[rng() % es.size()];
    std::optional<std::string> j;
    if (rng() % 4 != 0) j = mutate_json(e.data, rng(), max_size);
    if (j) {
      e.data = std::move(*j);
    } else {
      mutate_bytes(e.data, std::min(max_size, e.data.size() + 64));
    }
  } else if (action < 65) {  // a weight file shorter or longer than its config says
    ZipEntryData& e = es[rng() % es.size()];
    if (rng() % 2 && !e.data.empty()) {
      e.data.resize(rng() % e.data.size());
    } else {
      e.data.append(rng() % 64 + 1, static_cast<char>(rng()));
    }
  } else if (action < 75) {  // renamed: another entry's name, a byte edit, another root
    ZipEntryData& e = es[rng() % es.size()];
    const uint64_t how = rng() % 3;
    if (how == 0) {
      e.name = es[rng() % es.size()].name;
    } else if (how == 1) {
      mutate_bytes(e.name, e.name.size() + 16);
    } else if (auto slash = e.name.find('/'); slash != std::string::npos) {
      e.name = "other" + e.name.substr(slash);
    }
  } else if (action < 85) {
    es.erase(es.begin() + static_cast<std::ptrdiff_t>(rng() % es.size()));
  } else if (action < 90) {
    es.push_back(es[rng() % es.size()]);
  } else if (action < 93) {
    es[rng() % es.size()].method = rng() % 2 ? 8 : static_cast<uint16_t>(rng());
  }  // else: only the layout changes
  const uint64_t s = rng() % 10;
  const ZipStyle style = s < 6 ? ZipStyle::kPyTorch : s < 8 ? ZipStyle::kPlain : ZipStyle::kZip64;
  const std::string packed = pack_zip(es, style);
  if (packed.size() > max_size) return raw();
  std::memcpy(data, packed.data(), packed.size());
  return packed.size();
}

}  // namespace kiln::fuzz
