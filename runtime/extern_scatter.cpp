// extern_scatter and extern_index_put: copy the base tensor, then write (or add) values at
// data-dependent positions, every index checked (see externs.h). Writes run in index order, so
// the last of duplicate targets wins; sums accumulate in double / wrapping int64 and round once.
#include <cinttypes>
#include <cstring>
#include <string>
#include <vector>

#include "externs.h"

namespace kiln::rt {
namespace {

using Sizes = std::vector<int64_t>;

int64_t numel(const Sizes& s) {
  int64_t n = 1;
  for (int64_t v : s)
    n *= v;
  return n;
}

void unravel(int64_t flat, const Sizes& sizes, Sizes& out) {
  out.resize(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    out[d] = sizes[d] == 0 ? 0 : flat % sizes[d];
    flat = sizes[d] == 0 ? 0 : flat / sizes[d];
  }
}

int64_t ravel(const Sizes& index, const Sizes& sizes) {
  int64_t flat = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    flat = flat * sizes[d] + index[d];
  return flat;
}

std::string shape_str(const Sizes& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

// Reads `count` sizes from the int parameters at `*at`, advancing it; false when they run out.
bool read_sizes(const ExternArgs& args, int32_t* at, int64_t count, Sizes& out) {
  if (count < 0 || *at + count > args.num_ints) return false;
  out.assign(args.ints + *at, args.ints + *at + count);
  *at += static_cast<int32_t>(count);
  for (int64_t v : out) {
    if (v < 0) return false;
  }
  return true;
}

// Per-target accumulators for the summing modes: double for floats, wrapping int64 otherwise.
struct Sums {
  bool floating = true;
  std::vector<double> f;
  std::vector<uint64_t> i;

  Sums(const void* base, int64_t dtype, int64_t n) : floating(ext::is_floating(dtype)) {
    if (floating) {
      f.resize(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k)
        f[static_cast<size_t>(k)] = ext::load_float(base, dtype, k);
    } else {
      i.resize(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k)
        i[static_cast<size_t>(k)] = static_cast<uint64_t>(ext::load_int(base, dtype, k));
    }
  }
  void add(int64_t to, const void* src, int64_t dtype, int64_t from) {
    if (floating) {
      f[static_cast<size_t>(to)] += ext::load_float(src, dtype, from);
    } else {
      i[static_cast<size_t>(to)] += static_cast<uint64_t>(ext::load_int(src, dtype, from));
    }
  }
  void store(void* out, int64_t dtype) const {
    if (floating) {
      for (size_t k = 0; k < f.size(); ++k)
        ext::store_float(out, dtype, static_cast<int64_t>(k), f[k]);
    } else {
      for (size_t k = 0; k < i.size(); ++k)
        ext::store_int(out, dtype, static_cast<int64_t>(k), static_cast<int64_t>(i[k]));
    }
  }
};

void copy_element(const void* from, int64_t i, void* to, int64_t j, int64_t dtype) {
  const size_t size = ext::dtype_size(dtype);
  std::memcpy(static_cast<char*>(to) + j * static_cast<int64_t>(size),
              static_cast<const char*>(from) + i * static_cast<int64_t>(size), size);
}

}  // namespace

bool extern_scatter(const ExternArgs& args) {
  constexpr const char* kKind = "scatter";
  if (!ext::check_counts(args, kKind, 2, 3, 1, 6, 0)) return false;
  const int64_t dtype = args.ints[0], index_dtype = args.ints[1], mode = args.ints[2];
  const int64_t rank = args.ints[3], dim = args.ints[4], value_int = args.ints[5];
  if (mode < 0 || mode > 2) return ext::error(args, kKind, "unknown mode %" PRId64, mode);
  if (index_dtype != kExtInt64 && index_dtype != kExtInt32) {
    return ext::error(args, kKind, "index must be int32 or int64, got %s",
                      ext::dtype_name(index_dtype));
  }
  if (mode != 0 && args.num_inputs < 3) return ext::error(args, kKind, "missing src");
  if (mode == 0 && ext::is_floating(dtype) && args.num_floats < 1) {
    return ext::error(args, kKind, "missing the value");
  }
  int32_t at = 6;
  Sizes self_sizes, index_sizes, src_sizes;
  if (!read_sizes(args, &at, rank, self_sizes) || !read_sizes(args, &at, rank, index_sizes) ||
      (mode != 0 && !read_sizes(args, &at, rank, src_sizes))) {
    return ext::error(args, kKind, "malformed size parameters");
  }
  if (dim < 0 || dim >= rank) {
    return ext::error(args, kKind, "dim %" PRId64 " out of range for rank %" PRId64, dim, rank);
  }
  const void* self = args.inputs[0];
  const void* index = args.inputs[1];
  const void* src = mode != 0 ? args.inputs[2] : nullptr;
  void* out = args.outputs[0];
  const int64_t n = numel(self_sizes);
  if (n > 0) std::memcpy(out, self, static_cast<size_t>(n) * ext::dtype_size(dtype));
  std::vector<Sums> sums;
  if (mode == 2) sums.emplace_back(self, dtype, n);
  Sizes pos;
  const auto d = static_cast<size_t>(dim);
  const int64_t count = numel(index_sizes);
  for (int64_t i = 0; i < count; ++i) {
    unravel(i, index_sizes, pos);
    const int64_t from = mode != 0 ? ravel(pos, src_sizes) : 0;
    const int64_t v = ext::load_int(index, index_dtype, i);
    if (v < 0 || v >= self_sizes[d]) {
      return ext::error(args, kKind,
                        "index %" PRId64 " is out of bounds for dimension %" PRId64
                        " with size %" PRId64,
                        v, dim, self_sizes[d]);
    }
    pos[d] = v;
    const int64_t to = ravel(pos, self_sizes);
    if (mode == 2) {
      sums[0].add(to, src, dtype, from);
    } else if (mode == 1) {
      copy_element(src, from, out, to, dtype);
    } else if (ext::is_floating(dtype)) {
      ext::store_float(out, dtype, to, args.floats[0]);
    } else {
      ext::store_int(out, dtype, to, value_int);
    }
  }
  if (mode == 2) sums[0].store(out, dtype);
  return true;
}

namespace {

// One dim's index for index_put: every position (none), or a list with its own shape.
struct DimIndex {
  bool none = true;
  Sizes sizes;
  std::vector<int64_t> positions;
};

bool broadcast(const Sizes& x, const Sizes& y, Sizes& out) {
  Sizes r(std::max(x.size(), y.size()));
  for (size_t i = 0; i < r.size(); ++i) {
    int64_t p = i < x.size() ? x[x.size() - 1 - i] : 1;
    int64_t q = i < y.size() ? y[y.size() - 1 - i] : 1;
    if (p != q && p != 1 && q != 1) return false;
    r[r.size() - 1 - i] = p == 1 ? q : p;
  }
  out = r;
  return true;
}

// The flat index into a tensor of `sizes` broadcast (right-aligned) to an index of `into`.
int64_t broadcast_flat(const Sizes& idx, const Sizes& into, const Sizes& sizes) {
  int64_t flat = 0;
  const size_t off = into.size() - sizes.size();
  for (size_t d = 0; d < sizes.size(); ++d)
    flat = flat * sizes[d] + (sizes[d] == 1 ? 0 : idx[off + d]);
  return flat;
}

}  // namespace

bool extern_index_put(const ExternArgs& args) {
  constexpr const char* kKind = "index_put";
  if (!ext::check_counts(args, kKind, 2, 1 << 20, 1, 3, 0)) return false;
  const int64_t dtype = args.ints[0];
  const bool accumulate = args.ints[1] != 0;
  int32_t at = 3;
  Sizes shape, values_sizes;
  // Reads a count, then that many sizes.
  auto read_counted = [&](Sizes& out) {
    if (at >= args.num_ints) return false;
    int64_t count = args.ints[at++];
    return read_sizes(args, &at, count, out);
  };
  if (!read_sizes(args, &at, args.ints[2], shape) || !read_counted(values_sizes) ||
      at >= args.num_ints) {
    return ext::error(args, kKind, "malformed size parameters");
  }
  const int64_t entries = args.ints[at++];
  std::vector<DimIndex> dims(shape.size());
  size_t d = 0;
  int32_t next_input = 2;
  for (int64_t e = 0; e < entries; ++e) {
    if (at >= args.num_ints) return ext::error(args, kKind, "malformed index entries");
    const int64_t kind = args.ints[at++];
    Sizes sizes;
    if (!read_counted(sizes)) {
      return ext::error(args, kKind, "malformed index entry %" PRId64, e);
    }
    if (kind == 0) {
      ++d;
      continue;
    }
    if (kind < 0 || kind > 4) return ext::error(args, kKind, "unknown index kind %" PRId64, kind);
    if (next_input >= args.num_inputs) return ext::error(args, kKind, "missing index tensors");
    const void* t = args.inputs[next_input++];
    const bool mask = kind >= 3;
    const size_t span = mask ? sizes.size() : 1;
    if (d + span > shape.size()) {
      return ext::error(args, kKind, "too many indices for tensor of dimension %zu", shape.size());
    }
    const int64_t idtype = kind == 1 ? kExtInt64 : kind == 2 ? kExtInt32 : kExtUInt8;
    const int64_t n = numel(sizes);
    if (mask) {
      for (size_t j = 0; j < span; ++j) {
        if (sizes[j] != shape[d + j]) {
          return ext::error(args, kKind,
                            "the shape of the mask %s at index %zu does not match the shape of "
                            "the indexed tensor %s at index %zu",
                            shape_str(sizes).c_str(), j, shape_str(shape).c_str(), d + j);
        }
        dims[d + j].none = false;
      }
      Sizes p;
      for (int64_t i = 0; i < n; ++i) {
        if (ext::load_int(t, idtype, i) == 0) continue;
        unravel(i, sizes, p);
        for (size_t j = 0; j < span; ++j)
          dims[d + j].positions.push_back(p[j]);
      }
      for (size_t j = 0; j < span; ++j)
        dims[d + j].sizes = {static_cast<int64_t>(dims[d + j].positions.size())};
    } else {
      dims[d].none = false;
      dims[d].sizes = sizes;
      for (int64_t i = 0; i < n; ++i)
        dims[d].positions.push_back(ext::load_int(t, idtype, i));
    }
    d += span;
  }
  Sizes bshape;
  std::vector<size_t> adv;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].none) continue;
    if (!broadcast(bshape, dims[i].sizes, bshape)) {
      return ext::error(args, kKind,
                        "shape mismatch: indexing tensors could not be broadcast together");
    }
    adv.push_back(i);
  }
  if (adv.empty()) return ext::error(args, kKind, "needs at least one index tensor");
  const bool adjacent = adv.back() - adv.front() + 1 == adv.size();
  const size_t bpos = adjacent ? adv.front() : 0;
  std::vector<size_t> none_dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (dims[i].none) none_dims.push_back(i);
  }
  Sizes result;
  for (size_t i = 0; i < bpos; ++i)
    result.push_back(shape[none_dims[i]]);
  result.insert(result.end(), bshape.begin(), bshape.end());
  for (size_t i = bpos; i < none_dims.size(); ++i)
    result.push_back(shape[none_dims[i]]);
  bool fits = values_sizes.size() <= result.size();
  for (size_t i = 0; fits && i < values_sizes.size(); ++i) {
    int64_t v = values_sizes[values_sizes.size() - 1 - i];
    fits = v == 1 || v == result[result.size() - 1 - i];
  }
  if (!fits) {
    return ext::error(args, kKind,
                      "shape mismatch: value tensor of shape %s cannot be broadcast to indexing "
                      "result of shape %s",
                      shape_str(values_sizes).c_str(), shape_str(result).c_str());
  }
  const void* self = args.inputs[0];
  const void* values = args.inputs[1];
  void* out = args.outputs[0];
  const int64_t n = numel(shape);
  if (n > 0) std::memcpy(out, self, static_cast<size_t>(n) * ext::dtype_size(dtype));
  std::vector<Sums> sums;
  if (accumulate) sums.emplace_back(self, dtype, n);
  const int64_t rn = numel(result);
  Sizes ridx, bidx(bshape.size()), sidx(shape.size());
  for (int64_t r = 0; r < rn; ++r) {
    unravel(r, result, ridx);
    for (size_t i = 0; i < bshape.size(); ++i)
      bidx[i] = ridx[bpos + i];
    size_t next_none = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (dims[i].none) {
        sidx[i] = ridx[next_none < bpos ? next_none : next_none + bshape.size()];
        ++next_none;
        continue;
      }
      const int64_t p =
          dims[i].positions[static_cast<size_t>(broadcast_flat(bidx, bshape, dims[i].sizes))];
      if (p < -shape[i] || p >= shape[i]) {
        return ext::error(args, kKind,
                          "index %" PRId64 " is out of bounds for dimension %zu with size %" PRId64,
                          p, i, shape[i]);
      }
      sidx[i] = p < 0 ? p + shape[i] : p;
    }
    const int64_t dst = ravel(sidx, shape);
    const int64_t src = broadcast_flat(ridx, result, values_sizes);
    if (accumulate) {
      sums[0].add(dst, values, dtype, src);
    } else {
      copy_element(values, src, out, dst, dtype);
    }
  }
  if (accumulate) sums[0].store(out, dtype);
  return true;
}

}  // namespace kiln::rt
