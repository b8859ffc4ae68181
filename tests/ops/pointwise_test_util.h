#pragma once

// Independent expectations for the pointwise tests: broadcasting done with an explicit
// multi-index per element, values combined by a closed form written in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "op_harness.h"
#include "ref/tensor.h"
#include "util/error.h"

namespace kiln::testing::pw {

// The test files take these (and the helpers below) unqualified through `using namespace pw`.
using ir::DType;
using V = std::vector<double>;
using I = std::vector<int64_t>;

inline std::vector<int64_t> broadcast_sizes(const std::vector<const ref::Tensor*>& in) {
  size_t rank = 0;
  for (const auto* t : in)
    rank = std::max(rank, t->sizes().size());
  std::vector<int64_t> out(rank, 1);
  for (const auto* t : in) {
    size_t offset = rank - t->sizes().size();
    for (size_t d = 0; d < t->sizes().size(); ++d) {
      if (t->sizes()[d] != 1) out[offset + d] = t->sizes()[d];
    }
  }
  return out;
}

// Element `index` (a multi-index of the broadcast result) of `t`.
inline int64_t element_of(const ref::Tensor& t, const std::vector<int64_t>& index) {
  size_t offset = index.size() - t.sizes().size();
  int64_t flat = 0;
  for (size_t d = 0; d < t.sizes().size(); ++d) {
    int64_t i = t.sizes()[d] == 1 ? 0 : index[offset + d];
    flat = flat * t.sizes()[d] + i;
  }
  return flat;
}

// Calls visit(flat, index) for each element of a tensor of `sizes`: its row-major position
// and its multi-index.
inline void for_each_index(const std::vector<int64_t>& sizes,
                           const std::function<void(int64_t, const std::vector<int64_t>&)>& visit) {
  int64_t numel = 1;
  for (int64_t s : sizes)
    numel *= s;
  std::vector<int64_t> index(sizes.size(), 0);
  for (int64_t flat = 0; flat < numel; ++flat) {
    int64_t rest = flat;
    for (size_t d = sizes.size(); d-- > 0;) {
      index[d] = rest % sizes[d];
      rest /= sizes[d];
    }
    visit(flat, index);
  }
}

// out[i] = fn(values of the inputs at i as doubles), stored (rounded) into `dtype`.
inline ref::Tensor expect_real(DType dtype, const std::vector<const ref::Tensor*>& in,
                               const std::function<double(const std::vector<double>&)>& fn) {
  std::vector<int64_t> sizes = broadcast_sizes(in);
  ref::Tensor out(dtype, sizes);
  std::vector<double> v(in.size());
  for_each_index(sizes, [&](int64_t flat, const std::vector<int64_t>& index) {
    for (size_t k = 0; k < in.size(); ++k)
      v[k] = in[k]->get(element_of(*in[k], index));
    out.set(flat, fn(v));
  });
  return out;
}

// The same over int64 values, stored wrapped into `dtype`.
inline ref::Tensor expect_int(DType dtype, const std::vector<const ref::Tensor*>& in,
                              const std::function<int64_t(const std::vector<int64_t>&)>& fn) {
  std::vector<int64_t> sizes = broadcast_sizes(in);
  ref::Tensor out(dtype, sizes);
  std::vector<int64_t> v(in.size());
  for_each_index(sizes, [&](int64_t flat, const std::vector<int64_t>& index) {
    for (size_t k = 0; k < in.size(); ++k)
      v[k] = in[k]->get_int(element_of(*in[k], index));
    out.set_int(flat, fn(v));
  });
  return out;
}

// A copy of t with every value rounded (or truncated and wrapped) to `dtype`.
inline ref::Tensor cast(const ref::Tensor& t, DType dtype) {
  ref::Tensor out(dtype, t.sizes());
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.is_floating()) {
      out.set(i, t.get(i));
    } else {
      out.set_int(i, t.get_int(i));
    }
  }
  return out;
}

// Shape pairs exercising broadcasting, size-1 dims and 0-dim tensors.
inline const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>& shape_pairs() {
  static const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> pairs = {
      {{3, 4}, {3, 4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {4}}, {{1}, {5}},
      {{}, {2, 3}},     {{2, 1, 3}, {}},  {{1, 1}, {1, 1}},
  };
  return pairs;
}

// A tensor whose entries are not 0 (for divisors), uniform in [lo, hi) otherwise.
inline ref::Tensor nonzero_tensor(DType dtype, std::vector<int64_t> sizes, std::mt19937& rng,
                                  double lo, double hi) {
  ref::Tensor t = random_tensor(dtype, std::move(sizes), rng, lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.get(i) == 0) t.set(i, hi > 1 ? 1 : lo);
  }
  return t;
}

// Expects the op to fail with kiln::Error whose message contains `text`.
template <typename Fn>
void expect_error(Fn fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

}  // namespace kiln::testing::pw
