// Pooling: max (with and without indices), average, and the adaptive forms, over 1 or 2
// trailing spatial dims of a batched or unbatched input. Windows follow PyTorch's CPU kernels:
// max propagates NaN and reports the flat index within the input plane; padding never wins a
// max; average pooling divides by the padded window (count_include_pad), the valid window, or
// divisor_override.
#include <cmath>
#include <limits>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

struct PoolParams {
  size_t spatial = 0;
  std::vector<int64_t> kernel, stride, padding, dilation;
  bool ceil_mode = false;
};

PoolParams pool_params(const Args& a, size_t n, bool has_dilation) {
  PoolParams p;
  p.spatial = n;
  p.kernel = expand_param(a, "kernel_size", n);
  p.stride = a.ints("stride").empty() ? p.kernel : expand_param(a, "stride", n);
  p.padding = expand_param(a, "padding", n);
  p.dilation = has_dilation ? expand_param(a, "dilation", n) : std::vector<int64_t>(n, 1);
  p.ceil_mode = a.to_bool("ceil_mode");
  for (size_t d = 0; d < n; ++d) {
    if (p.kernel[d] <= 0) a.fail("kernel_size should be greater than zero");
    if (p.stride[d] <= 0) a.fail("stride should be greater than zero");
    if (p.dilation[d] <= 0) a.fail("dilation should be greater than zero");
    if (p.padding[d] < 0) a.fail("pad must be non-negative, but got pad: ", p.padding[d]);
    if (p.padding[d] > p.kernel[d] / 2) {
      a.fail("pad should be at most half of kernel size, but got pad=", p.padding[d],
             " and kernel_size=", p.kernel[d]);
    }
  }
  return p;
}

// PyTorch's pooling_output_shape: with ceil_mode the last window must still start inside the
// input or its left padding.
sym::Expr pooled_size(const sym::Expr& in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                      bool ceil_mode) {
  sym::Expr numer = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  sym::Expr out = sym::floor_div(numer, stride) + 1;
  if (ceil_mode) out = out - sym::le(in + pad, (out - 1) * stride);
  return out;
}

// The input's rank must be spatial + 1 (unbatched) or spatial + 2, with non-empty non-batch
// dims. Returns the index of the first spatial dim.
size_t check_pool_input(const ir::TensorType& x, size_t n, const Args& a) {
  if (x.rank() != n + 1 && x.rank() != n + 2) {
    a.fail("expected ", n + 1, "-D or ", n + 2, "-D (batch mode) input, but got ",
           shape_str(x.sizes));
  }
  size_t first = x.rank() - n;
  for (size_t d = x.rank() == n + 2 ? 1 : 0; d < x.rank(); ++d) {
    if (x.sizes[d] == sym::Expr(0)) {
      a.fail("expected input to have non-zero size for non-batch dims, but got ",
             shape_str(x.sizes));
    }
  }
  return first;
}

std::vector<sym::Expr> pool_sizes(const Args& a, const PoolParams& p) {
  const auto& x = a.type("self");
  size_t first = check_pool_input(x, p.spatial, a);
  std::vector<sym::Expr> out = dims(x, 0, first);
  for (size_t d = 0; d < p.spatial; ++d) {
    sym::Expr s = pooled_size(x.sizes[first + d], p.kernel[d], p.padding[d], p.stride[d],
                              p.dilation[d], p.ceil_mode);
    if (auto v = s.as_const(); v && *v <= 0) {
      a.fail("given input size ", shape_str(x.sizes), ", calculated output size ", s.str(),
             " at spatial dim ", d, " is too small");
    }
    out.push_back(s);
  }
  return out;
}

template <size_t N, bool kIndices>
std::vector<OutType> max_pool_shape(const Args& a) {
  const auto& x = a.type("self");
  if (N == 1) {
    check_floating(x.dtype, a, "max_pool1d");
  } else {
    check_numeric(x.dtype, a, "max_pool2d");
  }
  std::vector<sym::Expr> sizes = pool_sizes(a, pool_params(a, N, true));
  std::vector<OutType> out = {make_type(x.dtype, sizes, x.device)};
  if (kIndices) out.emplace_back(make_type(ir::DType::kInt64, sizes, x.device));
  return out;
}

template <size_t N>
std::vector<OutType> avg_pool_shape(const Args& a) {
  const auto& x = a.type("self");
  check_numeric(x.dtype, a, N == 1 ? "avg_pool1d" : "avg_pool2d");
  if (N == 2) {
    if (auto d = a.optional_int("divisor_override"); d && *d == 0) {
      a.fail("divisor must be not zero");
    }
  }
  return {make_type(x.dtype, pool_sizes(a, pool_params(a, N, false)), x.device)};
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t s : v)
    p *= s;
  return p;
}

// Walks every (plane, output position) of a pooling op; `fn` gets the plane's flat offset in
// the input, the output's flat index, and the output position.
template <typename Fn>
void for_each_output(const ref::Tensor& x, const std::vector<int64_t>& out_sp, size_t n, Fn fn) {
  std::vector<int64_t> in_sp(x.sizes().end() - static_cast<std::ptrdiff_t>(n), x.sizes().end());
  int64_t in_plane = product(in_sp), out_plane = product(out_sp);
  int64_t planes = in_plane == 0 ? 0 : x.numel() / in_plane;
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t o = 0; o < out_plane; ++o)
      fn(pl * in_plane, pl * out_plane + o, unravel(o, out_sp), in_sp);
  }
}

// The window's taps along each dim: [lo, hi) stepping by step, within the input.
struct Window {
  std::vector<int64_t> lo, hi, step;
};

// Visits the window's positions in row-major order with their flat index in the plane.
template <typename Fn>
void for_each_tap(const Window& w, const std::vector<int64_t>& in_sp, Fn fn) {
  size_t n = in_sp.size();
  for (size_t d = 0; d < n; ++d) {
    if (w.lo[d] >= w.hi[d]) return;
  }
  std::vector<int64_t> pos = w.lo;
  while (true) {
    fn(ravel(pos, in_sp));
    size_t d = n;
    while (d-- > 0) {
      pos[d] += w.step[d];
      if (pos[d] < w.hi[d]) break;
      pos[d] = w.lo[d];
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

// The max of a window: NaN wins, ties keep the first; the index is the first tap when every
// value is the lowest (-inf).
template <typename Fn>
void window_max(const ref::Tensor& x, int64_t base, const Window& w,
                const std::vector<int64_t>& in_sp, Fn store) {
  double best = x.is_floating() ? -std::numeric_limits<double>::infinity()
                                : static_cast<double>(std::numeric_limits<int64_t>::lowest());
  int64_t best_i = -1, best_int = std::numeric_limits<int64_t>::lowest();
  for_each_tap(w, in_sp, [&](int64_t i) {
    if (best_i < 0) best_i = i;
    if (x.is_floating()) {
      double v = x.get(base + i);
      if (v > best || std::isnan(v)) {
        best = v;
        best_i = i;
      }
    } else if (int64_t v = x.get_int(base + i); v > best_int) {
      best_int = v;
      best_i = i;
    }
  });
  store(best, best_int, best_i);
}

template <size_t N, bool kIndices>
std::vector<ref::RValue> max_pool_ref(const Args& a) {
  PoolParams p = pool_params(a, N, true);
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_output(a, 0);
  ref::Tensor indices(ir::DType::kInt64, out.sizes());
  std::vector<int64_t> out_sp(out.sizes().end() - N, out.sizes().end());
  for_each_output(
      x, out_sp, N,
      [&](int64_t base, int64_t oi, const std::vector<int64_t>& o,
          const std::vector<int64_t>& in_sp) {
        Window w;
        for (size_t d = 0; d < N; ++d) {
          int64_t start = o[d] * p.stride[d] - p.padding[d];
          int64_t end = std::min(start + (p.kernel[d] - 1) * p.dilation[d] + 1, in_sp[d]);
          while (start < 0)
            start += p.dilation[d];
          w.lo.push_back(start);
          w.hi.push_back(end);
          w.step.push_back(p.dilation[d]);
        }
        window_max(x, base, w, in_sp, [&](double best, int64_t best_int, int64_t best_i) {
          if (x.is_floating()) {
            out.set(oi, best);
          } else {
            out.set_int(oi, best_int);
          }
          indices.set_int(oi, best_i);
        });
      });
  if (kIndices) return {out, indices};
  return ref::single_result(std::move(out));
}

template <size_t N>
std::vector<ref::RValue> avg_pool_ref(const Args& a) {
  PoolParams p = pool_params(a, N, false);
  bool count_include_pad = a.to_bool("count_include_pad");
  std::optional<int64_t> divisor = N == 2 ? a.optional_int("divisor_override") : std::nullopt;
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_output(a);
  std::vector<int64_t> out_sp(out.sizes().end() - N, out.sizes().end());
  for_each_output(
      x, out_sp, N,
      [&](int64_t base, int64_t oi, const std::vector<int64_t>& o,
          const std::vector<int64_t>& in_sp) {
        Window w;
        int64_t padded_count = 1, valid_count = 1;
        for (size_t d = 0; d < N; ++d) {
          int64_t start = o[d] * p.stride[d] - p.padding[d];
          int64_t end = std::min(start + p.kernel[d], in_sp[d] + p.padding[d]);
          padded_count *= end - start;
          start = std::max<int64_t>(start, 0);
          end = std::min(end, in_sp[d]);
          valid_count *= std::max<int64_t>(end - start, 0);
          w.lo.push_back(start);
          w.hi.push_back(end);
          w.step.push_back(1);
        }
        if (valid_count == 0) return;  // PyTorch writes 0 for an empty window
        int64_t div = divisor ? *divisor : count_include_pad ? padded_count : valid_count;
        Sum sum(x.is_floating());
        for_each_tap(w, in_sp, [&](int64_t i) { sum.add(x, base + i); });
        if (x.is_floating()) {
          out.set(oi, sum.value() / static_cast<double>(div));
        } else {
          out.set_int(oi, sum.int_value() / div);  // integral averages truncate, as in C
        }
      });
  return ref::single_result(std::move(out));
}

// Adaptive pooling: window o of n over a dim of size in is [floor(o*in/n), ceil((o+1)*in/n)).
template <size_t N>
std::vector<sym::Expr> adaptive_sizes(const Args& a, const char* op) {
  const auto& x = a.type("self");
  check_floating(x.dtype, a, op);
  size_t first = check_pool_input(x, N, a);
  std::vector<sym::Expr> size = a.syms("output_size");
  if (size.size() == 1 && N != 1) size.assign(N, size[0]);
  if (size.size() != N) a.fail(op, ": output_size must have ", N, " elements");
  for (const sym::Expr& s : size) {
    if (auto v = s.as_const(); v && *v < 0) {
      a.fail(op, ": elements of output_size must be greater than or equal to 0, got ",
             shape_str(size));
    }
  }
  std::vector<sym::Expr> out = dims(x, 0, first);
  out.insert(out.end(), size.begin(), size.end());
  return out;
}

template <size_t N>
std::vector<OutType> adaptive_avg_shape(const Args& a) {
  const auto& x = a.type("self");
  return {make_type(x.dtype, adaptive_sizes<N>(a, "adaptive_avg_pool"), x.device)};
}

template <size_t N>
std::vector<OutType> adaptive_max_shape(const Args& a) {
  const auto& x = a.type("self");
  std::vector<sym::Expr> sizes = adaptive_sizes<N>(a, "adaptive_max_pool");
  return {make_type(x.dtype, sizes, x.device), make_type(ir::DType::kInt64, sizes, x.device)};
}

Window adaptive_window(const std::vector<int64_t>& o, const std::vector<int64_t>& out_sp,
                       const std::vector<int64_t>& in_sp) {
  Window w;
  for (size_t d = 0; d < o.size(); ++d) {
    w.lo.push_back(o[d] * in_sp[d] / out_sp[d]);
    w.hi.push_back(((o[d] + 1) * in_sp[d] + out_sp[d] - 1) / out_sp[d]);
    w.step.push_back(1);
  }
  return w;
}

template <size_t N>
std::vector<ref::RValue> adaptive_avg_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_output(a);
  std::vector<int64_t> out_sp(out.sizes().end() - N, out.sizes().end());
  for_each_output(x, out_sp, N,
                  [&](int64_t base, int64_t oi, const std::vector<int64_t>& o,
                      const std::vector<int64_t>& in_sp) {
                    Window w = adaptive_window(o, out_sp, in_sp);
                    int64_t count = 1;
                    for (size_t d = 0; d < N; ++d)
                      count *= w.hi[d] - w.lo[d];
                    Sum sum(true);
                    for_each_tap(w, in_sp, [&](int64_t i) { sum.add(x, base + i); });
                    out.set(oi, sum.value() / static_cast<double>(count));
                  });
  return ref::single_result(std::move(out));
}

template <size_t N>
std::vector<ref::RValue> adaptive_max_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  ref::Tensor out = alloc_output(a);
  ref::Tensor indices(ir::DType::kInt64, out.sizes());
  std::vector<int64_t> out_sp(out.sizes().end() - N, out.sizes().end());
  for_each_output(x, out_sp, N,
                  [&](int64_t base, int64_t oi, const std::vector<int64_t>& o,
                      const std::vector<int64_t>& in_sp) {
                    window_max(x, base, adaptive_window(o, out_sp, in_sp), in_sp,
                               [&](double best, int64_t, int64_t best_i) {
                                 out.set(oi, best);
                                 indices.set_int(oi, best_i);
                               });
                  });
  return {out, indices};
}

const OpDef kOps[] = {
    {"aten.max_pool1d.default",
     "max_pool1d(Tensor self, int[1] kernel_size, int[1] stride=[], int[1] padding=[0], int[1] "
     "dilation=[1], bool ceil_mode=False) -> Tensor",
     max_pool_shape<1, false>, max_pool_ref<1, false>},
    {"aten.max_pool2d.default",
     "max_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] "
     "dilation=1, bool ceil_mode=False) -> Tensor",
     max_pool_shape<2, false>, max_pool_ref<2, false>},
    {"aten.max_pool2d_with_indices.default",
     "max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] "
     "padding=0, int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
     max_pool_shape<2, true>, max_pool_ref<2, true>},
    {"aten.avg_pool1d.default",
     "avg_pool1d(Tensor self, int[1] kernel_size, int[1] stride=[], int[1] padding=[0], bool "
     "ceil_mode=False, bool count_include_pad=True) -> Tensor",
     avg_pool_shape<1>, avg_pool_ref<1>},
    {"aten.avg_pool2d.default",
     "avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool "
     "ceil_mode=False, bool count_include_pad=True, int? divisor_override=None) -> Tensor",
     avg_pool_shape<2>, avg_pool_ref<2>},
    {"aten.adaptive_avg_pool1d.default",
     "adaptive_avg_pool1d(Tensor self, int[1] output_size) -> Tensor", adaptive_avg_shape<1>,
     adaptive_avg_ref<1>},
    {"aten.adaptive_avg_pool2d.default",
     "adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor", adaptive_avg_shape<2>,
     adaptive_avg_ref<2>},
    {"aten._adaptive_avg_pool2d.default",
     "_adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor", adaptive_avg_shape<2>,
     adaptive_avg_ref<2>},
    {"aten.adaptive_max_pool1d.default",
     "adaptive_max_pool1d(Tensor self, int[1] output_size) -> (Tensor, Tensor)",
     adaptive_max_shape<1>, adaptive_max_ref<1>},
    {"aten.adaptive_max_pool2d.default",
     "adaptive_max_pool2d(Tensor self, int[2] output_size) -> (Tensor, Tensor)",
     adaptive_max_shape<2>, adaptive_max_ref<2>},
};

}  // namespace

std::span<const OpDef> pool_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
