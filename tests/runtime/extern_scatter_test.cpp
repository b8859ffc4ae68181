// extern_scatter and extern_index_put against naive loops: value/src/add modes, duplicates,
// int32 indices, None entries, negative indices, masks, broadcast values, and the errors.
#include <cstring>
#include <optional>

#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

using Sizes = std::vector<int64_t>;

int64_t numel(const Sizes& s) {
  int64_t n = 1;
  for (int64_t v : s)
    n *= v;
  return n;
}

Sizes unravel(int64_t flat, const Sizes& sizes) {
  Sizes idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

int64_t ravel(const Sizes& idx, const Sizes& sizes) {
  int64_t f = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    f = f * sizes[d] + idx[d];
  return f;
}

// mode 0 value, 1 src, 2 add.
void run_scatter(int64_t dtype, int64_t index_dtype, int mode, const Sizes& self_sizes,
                 const Sizes& index_sizes, const Sizes& src_sizes, int64_t dim, std::mt19937& rng) {
  const bool fl = ext::is_floating(dtype);
  Buf self = random_buf(dtype, numel(self_sizes), rng, -5, 5);
  Buf src = random_buf(dtype, numel(src_sizes), rng, -5, 5);
  Buf index(index_dtype, numel(index_sizes));
  std::uniform_int_distribution<int64_t> pick(0, self_sizes[static_cast<size_t>(dim)] - 1);
  for (int64_t i = 0; i < index.count; ++i)
    index.set_int(i, pick(rng));
  const double value = 2.75;
  const int64_t value_int = -3;
  Buf out = poisoned(dtype, self.count);
  auto rank = static_cast<int64_t>(self_sizes.size());
  std::vector<int64_t> ints = {dtype, index_dtype, mode, rank, dim, value_int};
  ints.insert(ints.end(), self_sizes.begin(), self_sizes.end());
  ints.insert(ints.end(), index_sizes.begin(), index_sizes.end());
  if (mode != 0) ints.insert(ints.end(), src_sizes.begin(), src_sizes.end());
  std::vector<const Buf*> inputs = {&self, &index};
  if (mode != 0) inputs.push_back(&src);
  CallResult r = call(extern_scatter, inputs, {&out}, ints, {value});
  std::string what = "scatter mode " + std::to_string(mode) + " " + ext::dtype_name(dtype);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << what;
  std::vector<double> want(static_cast<size_t>(self.count));
  std::vector<int64_t> iwant(static_cast<size_t>(self.count));
  for (int64_t i = 0; i < self.count; ++i) {
    want[static_cast<size_t>(i)] = self.get(i);
    iwant[static_cast<size_t>(i)] = self.get_int(i);
  }
  for (int64_t i = 0; i < index.count; ++i) {
    Sizes pos = unravel(i, index_sizes);
    int64_t from = mode != 0 ? ravel(pos, src_sizes) : 0;
    pos[static_cast<size_t>(dim)] = index.get_int(i);
    auto to = static_cast<size_t>(ravel(pos, self_sizes));
    if (mode == 2) {
      want[to] += src.get(from);
      iwant[to] += src.get_int(from);
    } else if (mode == 1) {
      want[to] = src.get(from);
      iwant[to] = src.get_int(from);
    } else {
      want[to] = value;
      iwant[to] = value_int;
    }
  }
  if (fl) {
    Buf rounded(dtype, self.count);
    for (int64_t i = 0; i < self.count; ++i)
      rounded.set(i, want[static_cast<size_t>(i)]);
    for (int64_t i = 0; i < self.count; ++i)
      ASSERT_EQ(out.get(i), rounded.get(i)) << what << " at " << i;
  } else {
    expect_ints(out, iwant, what);
  }
}

TEST(ExternScatter, ModesShapesAndDtypes) {
  std::mt19937 rng(41);
  for (int mode : {0, 1, 2}) {
    for (int64_t dtype : {kExtFloat32, kExtFloat16, kExtFloat64, kExtInt64, kExtInt32}) {
      for (int64_t idt : {kExtInt64, kExtInt32}) {
        // Index smaller than self and src; duplicates are likely with these sizes.
        run_scatter(dtype, idt, mode, {4, 5}, {3, 5}, {4, 6}, 0, rng);
        run_scatter(dtype, idt, mode, {4, 5}, {2, 7}, {3, 8}, 1, rng);
        run_scatter(dtype, idt, mode, {3, 1, 6}, {3, 1, 9}, {3, 1, 9}, 2, rng);
        run_scatter(dtype, idt, mode, {1}, {4}, {4}, 0, rng);
      }
    }
  }
}

TEST(ExternScatter, LastDuplicateWins) {
  Buf self(kExtFloat32, 3), index(kExtInt64, 4), src(kExtFloat32, 4), out(kExtFloat32, 3);
  for (int i = 0; i < 4; ++i) {
    index.set_int(i, i % 2);
    src.set(i, 10 + i);
  }
  CallResult r = call(extern_scatter, {&self, &index, &src}, {&out},
                      {kExtFloat32, kExtInt64, 1, 1, 0, 0, 3, 4, 4});
  ASSERT_TRUE(r.ok) << r.sink.message;
  EXPECT_EQ(out.get(0), 12);
  EXPECT_EQ(out.get(1), 13);
  EXPECT_EQ(out.get(2), 0);
}

TEST(ExternScatter, OutOfRangeIndexFails) {
  Buf self(kExtFloat32, 5), index(kExtInt64, 2), out(kExtFloat32, 5);
  index.set_int(0, 1);
  index.set_int(1, 7);
  CallResult r = call(extern_scatter, {&self, &index}, {&out},
                      {kExtFloat32, kExtInt64, 0, 1, 0, 0, 5, 2}, {1.0});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sink.status, 4);
  EXPECT_STREQ(r.sink.message, "scatter: index 7 is out of bounds for dimension 0 with size 5");
  index.set_int(1, -1);
  r = call(extern_scatter, {&self, &index}, {&out}, {kExtFloat32, kExtInt64, 0, 1, 0, 0, 5, 2},
           {1.0});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "index -1 is out of bounds"), nullptr);
}

// ---- index_put ----

// An index entry: None (empty sizes and kind 0), integer positions, or a mask.
struct Entry {
  int64_t kind = 0;  // 0 None, 1 int64, 2 int32, 3 bool, 4 uint8
  Sizes sizes;
  std::vector<int64_t> data;
};

// The naive index_put for integer entries only (masks are converted to positions by the test).
std::vector<double> naive_index_put(
    const Buf& self, const Sizes& shape, const Buf& values, const Sizes& values_sizes,
    const std::vector<std::optional<std::pair<Sizes, std::vector<int64_t>>>>& per_dim,
    bool accumulate) {
  std::vector<double> out(static_cast<size_t>(self.count));
  for (int64_t i = 0; i < self.count; ++i)
    out[static_cast<size_t>(i)] = self.get(i);
  // Broadcast shape of the index lists, and the result shape.
  Sizes bshape;
  std::vector<size_t> adv;
  for (size_t d = 0; d < per_dim.size(); ++d) {
    if (!per_dim[d]) continue;
    const Sizes& s = per_dim[d]->first;
    Sizes r(std::max(bshape.size(), s.size()));
    for (size_t i = 0; i < r.size(); ++i) {
      int64_t p = i < bshape.size() ? bshape[bshape.size() - 1 - i] : 1;
      int64_t q = i < s.size() ? s[s.size() - 1 - i] : 1;
      r[r.size() - 1 - i] = p == 1 ? q : p;
    }
    bshape = r;
    adv.push_back(d);
  }
  bool adjacent = adv.back() - adv.front() + 1 == adv.size();
  size_t bpos = adjacent ? adv.front() : 0;
  Sizes nones;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d >= per_dim.size() || !per_dim[d]) nones.push_back(static_cast<int64_t>(d));
  }
  Sizes result;
  for (size_t i = 0; i < bpos; ++i)
    result.push_back(shape[static_cast<size_t>(nones[i])]);
  result.insert(result.end(), bshape.begin(), bshape.end());
  for (size_t i = bpos; i < nones.size(); ++i)
    result.push_back(shape[static_cast<size_t>(nones[i])]);
  for (int64_t r = 0; r < numel(result); ++r) {
    Sizes ri = unravel(r, result);
    Sizes sidx(shape.size());
    size_t nn = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (d >= per_dim.size() || !per_dim[d]) {
        sidx[d] = ri[nn < bpos ? nn : nn + bshape.size()];
        ++nn;
        continue;
      }
      const Sizes& s = per_dim[d]->first;
      int64_t flat = 0;
      for (size_t k = 0; k < s.size(); ++k)
        flat = flat * s[k] + (s[k] == 1 ? 0 : ri[bpos + bshape.size() - s.size() + k]);
      int64_t p = per_dim[d]->second[static_cast<size_t>(flat)];
      sidx[d] = p < 0 ? p + shape[d] : p;
    }
    int64_t vflat = 0;
    for (size_t k = 0; k < values_sizes.size(); ++k) {
      vflat = vflat * values_sizes[k] +
              (values_sizes[k] == 1 ? 0 : ri[result.size() - values_sizes.size() + k]);
    }
    auto dst = static_cast<size_t>(ravel(sidx, shape));
    out[dst] = accumulate ? out[dst] + values.get(vflat) : values.get(vflat);
  }
  return out;
}

CallResult call_index_put(const Buf& self, const Sizes& shape, const Buf& values,
                          const Sizes& values_sizes, const std::vector<Entry>& entries,
                          std::vector<Buf>& index_bufs, bool accumulate, Buf& out) {
  std::vector<int64_t> ints = {self.dtype, accumulate, static_cast<int64_t>(shape.size())};
  ints.insert(ints.end(), shape.begin(), shape.end());
  ints.push_back(static_cast<int64_t>(values_sizes.size()));
  ints.insert(ints.end(), values_sizes.begin(), values_sizes.end());
  ints.push_back(static_cast<int64_t>(entries.size()));
  index_bufs.clear();
  index_bufs.reserve(entries.size());
  for (const Entry& e : entries) {
    ints.push_back(e.kind);
    ints.push_back(static_cast<int64_t>(e.sizes.size()));
    ints.insert(ints.end(), e.sizes.begin(), e.sizes.end());
    if (e.kind == 0) continue;
    int64_t dt = e.kind == 1   ? kExtInt64
                 : e.kind == 2 ? kExtInt32
                 : e.kind == 3 ? kExtBool
                               : kExtUInt8;
    Buf b(dt, static_cast<int64_t>(e.data.size()));
    for (size_t i = 0; i < e.data.size(); ++i)
      b.set_int(static_cast<int64_t>(i), e.data[i]);
    index_bufs.push_back(std::move(b));
  }
  std::vector<const Buf*> inputs = {&self, &values};
  for (const Buf& b : index_bufs)
    inputs.push_back(&b);
  return call(extern_index_put, inputs, {&out}, ints);
}

TEST(ExternIndexPut, IntegerIndicesNoneEntriesAndBroadcastValues) {
  std::mt19937 rng(42);
  const Sizes shape = {4, 5, 3};
  for (int64_t dtype : {kExtFloat32, kExtFloat64, kExtInt64}) {
    for (bool accumulate : {false, true}) {
      Buf self = random_buf(dtype, numel(shape), rng, -5, 5);
      // x[idx0, :, idx2] with idx0 [2, 3] (negatives included) and idx2 [3]: not adjacent, so
      // the index shape [2, 3] leads the result [2, 3, 5]; values [3, 1] broadcast... to
      // [2, 3, 5] only from the right: use values [1, 5].
      std::vector<int64_t> i0 = {0, -1, 2, 3, -4, 1}, i2 = {2, 0, -3};
      Sizes values_sizes = {1, 5};
      Buf values = random_buf(dtype, numel(values_sizes), rng, -5, 5);
      std::vector<Entry> entries = {{1, {2, 3}, i0}, {0, {}, {}}, {2, {3}, i2}};
      std::vector<Buf> bufs;
      Buf out = poisoned(dtype, self.count);
      CallResult r =
          call_index_put(self, shape, values, values_sizes, entries, bufs, accumulate, out);
      ASSERT_TRUE(r.ok) << r.sink.message;
      std::vector<std::optional<std::pair<Sizes, std::vector<int64_t>>>> per_dim = {
          std::make_pair(Sizes{2, 3}, i0), std::nullopt, std::make_pair(Sizes{3}, i2)};
      std::vector<double> want =
          naive_index_put(self, shape, values, values_sizes, per_dim, accumulate);
      if (ext::is_floating(dtype)) {
        expect_close(out, want, "index_put");
      } else {
        expect_ints(out, std::vector<int64_t>(want.begin(), want.end()), "index_put");
      }
      // Adjacent indexed dims: x[:, idx1] with idx1 [2, 2] -> result [4, 2, 2, 3].
      std::vector<int64_t> i1 = {4, 0, 1, 4};
      Sizes vs2 = {2, 1, 3};
      Buf values2 = random_buf(dtype, numel(vs2), rng, -5, 5);
      entries = {{0, {}, {}}, {1, {2, 2}, i1}};
      r = call_index_put(self, shape, values2, vs2, entries, bufs, accumulate, out);
      ASSERT_TRUE(r.ok) << r.sink.message;
      per_dim = {std::nullopt, std::make_pair(Sizes{2, 2}, i1)};
      want = naive_index_put(self, shape, values2, vs2, per_dim, accumulate);
      if (ext::is_floating(dtype)) {
        expect_close(out, want, "index_put adjacent");
      } else {
        expect_ints(out, std::vector<int64_t>(want.begin(), want.end()), "index_put adjacent");
      }
    }
  }
}

TEST(ExternIndexPut, MasksAndDuplicates) {
  std::mt19937 rng(43);
  const Sizes shape = {3, 4};
  Buf self = random_buf(kExtFloat32, 12, rng);
  // A 2-D bool mask over both dims: its true positions, row-major.
  std::vector<int64_t> mask(12);
  std::bernoulli_distribution coin(0.5);
  std::vector<int64_t> rows, cols;
  for (int64_t i = 0; i < 12; ++i) {
    mask[static_cast<size_t>(i)] = i == 0 ? 0 : i == 1 ? 1 : coin(rng);
    if (mask[static_cast<size_t>(i)] != 0) {
      rows.push_back(i / 4);
      cols.push_back(i % 4);
    }
  }
  for (int64_t kind : {3, 4}) {
    Buf values = random_buf(kExtFloat32, 1, rng);
    std::vector<Entry> entries = {{kind, {3, 4}, mask}};
    std::vector<Buf> bufs;
    Buf out = poisoned(kExtFloat32, 12);
    CallResult r = call_index_put(self, shape, values, {1}, entries, bufs, false, out);
    ASSERT_TRUE(r.ok) << r.sink.message;
    auto n = static_cast<int64_t>(rows.size());
    std::vector<std::optional<std::pair<Sizes, std::vector<int64_t>>>> per_dim = {
        std::make_pair(Sizes{n}, rows), std::make_pair(Sizes{n}, cols)};
    expect_close(out, naive_index_put(self, shape, values, {1}, per_dim, false), "mask");
  }
  // Duplicates: the last write wins without accumulate; all add up with it.
  Buf values = random_buf(kExtFloat32, 3, rng);
  std::vector<Entry> entries = {{1, {3}, {1, 1, 1}}};
  std::vector<Buf> bufs;
  Buf out(kExtFloat32, 12);
  Buf row_values = random_buf(kExtFloat32, 4, rng);
  CallResult r = call_index_put(self, shape, row_values, {4}, entries, bufs, false, out);
  ASSERT_TRUE(r.ok) << r.sink.message;
  for (int j = 0; j < 4; ++j)
    EXPECT_EQ(out.get(4 + j), row_values.get(j));
  r = call_index_put(self, shape, row_values, {4}, entries, bufs, true, out);
  ASSERT_TRUE(r.ok) << r.sink.message;
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(out.get(4 + j), static_cast<float>(self.get(4 + j) + 3 * row_values.get(j)));
  }
}

TEST(ExternIndexPut, Errors) {
  Buf self(kExtFloat32, 12), values(kExtFloat32, 1), out(kExtFloat32, 12);
  std::vector<Buf> bufs;
  CallResult r = call_index_put(self, {3, 4}, values, {1}, {{1, {2}, {0, 3}}}, bufs, false, out);
  EXPECT_FALSE(r.ok);
  EXPECT_STREQ(r.sink.message, "index_put: index 3 is out of bounds for dimension 0 with size 3");
  Buf values3(kExtFloat32, 3);
  r = call_index_put(self, {3, 4}, values3, {3}, {{1, {2}, {0, 1}}}, bufs, false, out);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message,
                        "value tensor of shape [3] cannot be broadcast to "
                        "indexing result of shape [2, 4]"),
            nullptr)
      << r.sink.message;
  r = call_index_put(self, {3, 4}, values, {1}, {{1, {2}, {0, 1}}, {1, {3}, {0, 1, 2}}}, bufs,
                     false, out);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "could not be broadcast together"), nullptr);
  r = call_index_put(self, {3, 4}, values, {1}, {{3, {3, 3}, {1, 0, 0, 0, 0, 0, 0, 0, 0}}}, bufs,
                     false, out);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "the shape of the mask [3, 3] at index 1"), nullptr)
      << r.sink.message;
}

}  // namespace
}  // namespace kiln::rt::test
