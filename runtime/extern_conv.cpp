// extern_conv: PyTorch's convolution (forward and transposed, groups, stride, padding,
// dilation) over plain NC<spatial> layouts (see externs.h). f32 runs as a cached oneDNN
// (de)convolution primitive with the post-ops fused (extern_dnnl.cpp); where that cannot take
// the call, and for f16/bf16 (converted to f32 around it), as im2col + sgemm (col2im for
// transposed), with a direct loop for depthwise convolutions and no im2col for 1x1 ones; f64 and
// integer dtypes use a direct loop.
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <vector>

#include "extern_dnnl.h"
#include "externs.h"

namespace kiln::rt {
namespace {

constexpr const char* kKind = "conv";

// Every convolution as a 3-D one: missing leading spatial dims have size 1.
struct Conv {
  int64_t dtype = 0, batch = 0, cin = 0, cout = 0, groups = 1;
  bool transposed = false, has_bias = false;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};

  int64_t cin_g() const { return cin / groups; }
  int64_t cout_g() const { return cout / groups; }
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
  int64_t k_plane() const { return k[0] * k[1] * k[2]; }
  bool pointwise() const {
    for (int d = 0; d < 3; ++d) {
      if (k[d] != 1 || stride[d] != 1 || pad[d] != 0 || in[d] != out[d]) return false;
    }
    return true;
  }
  // Weight element (oc within group g's output channels, ic within its input channels, tap).
  int64_t weight_index(int64_t g, int64_t oc, int64_t ic, int64_t tap) const {
    return transposed ? ((g * cin_g() + ic) * cout_g() + oc) * k_plane() + tap
                      : ((g * cout_g() + oc) * cin_g() + ic) * k_plane() + tap;
  }
};

// The input position tap (kd, kh, kw) of output position (od, oh, ow) reads (forward), as a
// flat index in the input plane, or -1 when it falls in the padding. Transposed: the input
// position that writes to this output through this tap, or -1.
inline int64_t source(const Conv& c, const int64_t o[3], const int64_t t[3]) {
  int64_t flat = 0;
  for (int d = 0; d < 3; ++d) {
    int64_t i = 0;
    if (c.transposed) {
      int64_t v = o[d] + c.pad[d] - t[d] * c.dil[d];
      if (v < 0 || v % c.stride[d] != 0) return -1;
      i = v / c.stride[d];
    } else {
      i = o[d] * c.stride[d] - c.pad[d] + t[d] * c.dil[d];
    }
    if (i < 0 || i >= c.in[d]) return -1;
    flat = flat * c.in[d] + i;
  }
  return flat;
}

inline void unflat(int64_t flat, const int64_t sizes[3], int64_t out[3]) {
  out[2] = flat % sizes[2];
  flat /= sizes[2];
  out[1] = flat % sizes[1];
  out[0] = flat / sizes[1];
}

// The direct convolution with accumulator `Acc` (double or wrapping uint64), for any dtype.
template <typename Acc>
void conv_direct(const ExternArgs& args, const Conv& c) {
  const void* x = args.inputs[0];
  const void* w = args.inputs[1];
  const void* bias = c.has_bias ? args.inputs[2] : nullptr;
  void* y = args.outputs[0];
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
  constexpr bool kFloat = std::is_floating_point_v<Acc>;
  auto load = [&](const void* data, int64_t i) -> Acc {
    if constexpr (kFloat) {
      return ext::load_float(data, c.dtype, i);
    } else {
      return static_cast<Acc>(ext::load_int(data, c.dtype, i));
    }
  };
#pragma omp parallel for collapse(2) num_threads(args.num_threads) schedule(static)
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      const int64_t g = oc / c.cout_g(), ocg = oc % c.cout_g();
      for (int64_t of = 0; of < op; ++of) {
        int64_t o[3], t[3];
        unflat(of, c.out, o);
        Acc acc = bias != nullptr ? load(bias, oc) : Acc(0);
        for (int64_t ic = 0; ic < c.cin_g(); ++ic) {
          const int64_t x_base = (n * c.cin + g * c.cin_g() + ic) * ip;
          for (int64_t tap = 0; tap < kp; ++tap) {
            unflat(tap, c.k, t);
            int64_t src = source(c, o, t);
            if (src < 0) continue;
            acc += load(x, x_base + src) * load(w, c.weight_index(g, ocg, ic, tap));
          }
        }
        int64_t at = (n * c.cout + oc) * op + of;
        if constexpr (kFloat) {
          ext::store_float(y, c.dtype, at, acc);
        } else {
          ext::store_int(y, c.dtype, at, static_cast<int64_t>(acc));
        }
      }
    }
  }
}

// y[n] channels of group g start with the bias (or zero).
void init_output(const Conv& c, const float* bias, float* y, int threads) {
  const int64_t op = c.out_plane();
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      float v = bias != nullptr ? bias[oc] : 0.0f;
      std::fill(y + (n * c.cout + oc) * op, y + (n * c.cout + oc + 1) * op, v);
    }
}

// The indices a in [0, count) whose position a * stride + offset lies in [0, size).
struct Span {
  int64_t lo = 0, hi = 0;
};
inline int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}
inline Span span(int64_t count, int64_t stride, int64_t offset, int64_t size) {
  Span r;
  r.lo = std::max<int64_t>(0, -floor_div(offset, stride));  // ceil(-offset / stride)
  r.hi = std::min<int64_t>(count, floor_div(size - 1 - offset, stride) + 1);
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

// Forward convolution with one input channel per group (depthwise, possibly with a channel
// multiplier): a direct loop whose innermost loop runs over the output positions a tap reads
// inside the input, without bounds checks.
void conv_f32_depthwise(const Conv& c, const float* x, const float* w, float* y, int threads) {
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      const int64_t g = oc / c.cout_g();
      const float* xp = x + (n * c.cin + g) * ip;
      const float* wp = w + oc * kp;
      float* yp = y + (n * c.cout + oc) * op;
      for (int64_t t0 = 0; t0 < c.k[0]; ++t0) {
        const Span s0 = span(c.out[0], c.stride[0], t0 * c.dil[0] - c.pad[0], c.in[0]);
        for (int64_t t1 = 0; t1 < c.k[1]; ++t1) {
          const Span s1 = span(c.out[1], c.stride[1], t1 * c.dil[1] - c.pad[1], c.in[1]);
          for (int64_t t2 = 0; t2 < c.k[2]; ++t2) {
            const int64_t off2 = t2 * c.dil[2] - c.pad[2];
            const Span s2 = span(c.out[2], c.stride[2], off2, c.in[2]);
            const float wv = wp[(t0 * c.k[1] + t1) * c.k[2] + t2];
            for (int64_t o0 = s0.lo; o0 < s0.hi; ++o0) {
              const int64_t i0 = o0 * c.stride[0] + t0 * c.dil[0] - c.pad[0];
              for (int64_t o1 = s1.lo; o1 < s1.hi; ++o1) {
                const int64_t i1 = o1 * c.stride[1] + t1 * c.dil[1] - c.pad[1];
                const float* xr = xp + (i0 * c.in[1] + i1) * c.in[2];
                float* yr = yp + (o0 * c.out[1] + o1) * c.out[2];
                const int64_t st = c.stride[2];
                if (st == 1) {
#pragma omp simd
                  for (int64_t o2 = s2.lo; o2 < s2.hi; ++o2)
                    yr[o2] += wv * xr[o2 + off2];
                } else {
                  for (int64_t o2 = s2.lo; o2 < s2.hi; ++o2)
                    yr[o2] += wv * xr[o2 * st + off2];
                }
              }
            }
          }
        }
      }
    }
  }
}

// col[(ic * kp + tap) * op + of] = the input value tap reads for output position of, or 0.
// Rows are filled in parallel when `threads` > 1.
void im2col(const Conv& c, const float* xg, float* col, int threads) {
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
  const int64_t rows = c.cin_g() * kp;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ic = r / kp, tap = r % kp;
    const int64_t t0 = tap / (c.k[1] * c.k[2]), t1 = tap / c.k[2] % c.k[1], t2 = tap % c.k[2];
    const float* xp = xg + ic * ip;
    float* row = col + r * op;
    const int64_t off2 = t2 * c.dil[2] - c.pad[2];
    const Span s2 = span(c.out[2], c.stride[2], off2, c.in[2]);
    const int64_t st = c.stride[2];
    for (int64_t o0 = 0; o0 < c.out[0]; ++o0) {
      const int64_t i0 = o0 * c.stride[0] + t0 * c.dil[0] - c.pad[0];
      for (int64_t o1 = 0; o1 < c.out[1]; ++o1) {
        const int64_t i1 = o1 * c.stride[1] + t1 * c.dil[1] - c.pad[1];
        float* dst = row + (o0 * c.out[1] + o1) * c.out[2];
        if (i0 < 0 || i0 >= c.in[0] || i1 < 0 || i1 >= c.in[1]) {
          std::fill(dst, dst + c.out[2], 0.0f);
          continue;
        }
        const float* src = xp + (i0 * c.in[1] + i1) * c.in[2];
        std::fill(dst, dst + s2.lo, 0.0f);
        if (st == 1) {
          std::copy(src + s2.lo + off2, src + s2.hi + off2, dst + s2.lo);
        } else {
          for (int64_t o2 = s2.lo; o2 < s2.hi; ++o2)
            dst[o2] = src[o2 * st + off2];
        }
        std::fill(dst + s2.hi, dst + c.out[2], 0.0f);
      }
    }
  }
}

// y channels of one group += col2im(col), col [(oc * kp + tap), ip] for transposed convolution:
// input position i adds to output position i * stride - pad + tap * dilation.
void col2im(const Conv& c, const float* col, float* yg, int threads) {
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t oc = 0; oc < c.cout_g(); ++oc) {
    float* yp = yg + oc * op;
    for (int64_t tap = 0; tap < kp; ++tap) {
      const int64_t t0 = tap / (c.k[1] * c.k[2]), t1 = tap / c.k[2] % c.k[1], t2 = tap % c.k[2];
      const float* row = col + (oc * kp + tap) * ip;
      const int64_t off2 = t2 * c.dil[2] - c.pad[2];
      const Span s2 = span(c.in[2], c.stride[2], off2, c.out[2]);
      const int64_t st = c.stride[2];
      for (int64_t i0 = 0; i0 < c.in[0]; ++i0) {
        const int64_t o0 = i0 * c.stride[0] + t0 * c.dil[0] - c.pad[0];
        if (o0 < 0 || o0 >= c.out[0]) continue;
        for (int64_t i1 = 0; i1 < c.in[1]; ++i1) {
          const int64_t o1 = i1 * c.stride[1] + t1 * c.dil[1] - c.pad[1];
          if (o1 < 0 || o1 >= c.out[1]) continue;
          const float* src = row + (i0 * c.in[1] + i1) * c.in[2];
          float* dst = yp + (o0 * c.out[1] + o1) * c.out[2];
          for (int64_t i2 = s2.lo; i2 < s2.hi; ++i2)
            dst[i2 * st + off2] += src[i2];
        }
      }
    }
  }
}

// One image of a forward convolution through im2col + sgemm: y_g [cout_g, op] +=
// W_g [cout_g, cin_g * kp] col [cin_g * kp, op] for every group.
dnnl_status_t forward_image(const Conv& c, const float* xn, const float* w, float* yn, float* col,
                            int threads) {
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
  const int64_t kk = c.cin_g() * kp;
  for (int64_t g = 0; g < c.groups; ++g) {
    const float* xg = xn + g * c.cin_g() * ip;
    const float* cols = xg;
    if (!c.pointwise()) {
      im2col(c, xg, col, threads);
      cols = col;
    }
    if (kk > 0 && c.cout_g() > 0 && op > 0) {
      dnnl_status_t st = dnnl_sgemm('N', 'N', c.cout_g(), op, kk, 1.0f, w + g * c.cout_g() * kk, kk,
                                    cols, op, 1.0f, yn + g * c.cout_g() * op, op);
      if (st != dnnl_success) return st;
    }
  }
  return dnnl_success;
}

bool conv_f32(const ExternArgs& args, const Conv& c, const float* x, const float* w,
              const float* bias, float* y) {
  const int threads = args.num_threads;
  init_output(c, bias, y, threads);
  const int64_t op = c.out_plane(), ip = c.in_plane(), kp = c.k_plane();
  if (!c.transposed && c.cin_g() == 1) {
    conv_f32_depthwise(c, x, w, y, threads);
    return true;
  }
  ext::set_threads(threads);
  // im2col / col2im buffers, one per thread of a per-image loop, kept across calls in the
  // container's state so that steady-state runs allocate nothing.
  ext::ScratchLease lease(args);
  const bool per_image = !c.transposed && c.batch >= threads && threads > 1;
  if (!lease.reserve(per_image ? threads : 1)) return ext::error(args, kKind, "out of memory");
  bool ok = true;
  if (!c.transposed) {
    const size_t col_bytes =
        c.pointwise() ? 0 : static_cast<size_t>(c.cin_g() * kp * op) * sizeof(float);
    if (per_image) {
      // A batch at least as large as the thread count: one image per thread, each with its
      // own im2col buffer and a sequential sgemm (oneDNN runs single-threaded inside).
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t n = 0; n < c.batch; ++n) {
        auto* col = static_cast<float*>(lease.get(omp_get_thread_num(), col_bytes));
        if (col == nullptr ||
            forward_image(c, x + n * c.cin * ip, w, y + n * c.cout * op, col, 1) != dnnl_success) {
#pragma omp atomic write
          ok = false;
        }
      }
    } else {
      auto* col = static_cast<float*>(lease.get(0, col_bytes));
      if (col == nullptr) return ext::error(args, kKind, "out of memory for im2col");
      for (int64_t n = 0; n < c.batch && ok; ++n) {
        ok = forward_image(c, x + n * c.cin * ip, w, y + n * c.cout * op, col, threads) ==
             dnnl_success;
      }
    }
    if (!ok) return ext::error(args, kKind, "oneDNN sgemm failed or out of memory");
    return true;
  }
  auto* col =
      static_cast<float*>(lease.get(0, static_cast<size_t>(c.cout_g() * kp * ip) * sizeof(float)));
  if (col == nullptr) return ext::error(args, kKind, "out of memory for col2im");
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t g = 0; g < c.groups; ++g) {
      const float* xg = x + (n * c.cin + g * c.cin_g()) * ip;
      float* yg = y + (n * c.cout + g * c.cout_g()) * op;
      // col [cout_g * kp, ip] = W_g^T x_g, with W_g [cin_g, cout_g * kp].
      const float* wg = w + g * c.cin_g() * c.cout_g() * kp;
      const int64_t m = c.cout_g() * kp;
      if (c.cin_g() == 0 || m == 0 || ip == 0) continue;
      dnnl_status_t st = dnnl_sgemm('T', 'N', m, ip, c.cin_g(), 1.0f, wg, m, xg, ip, 0.0f, col, ip);
      if (st != dnnl_success) return ext::error(args, kKind, "oneDNN sgemm failed");
      col2im(c, col, yg, threads);
    }
  }
  return true;
}

std::vector<float> widen(const void* data, int64_t dtype, int64_t count, int threads) {
  std::vector<float> out(static_cast<size_t>(count));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < count; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(ext::load_float(data, dtype, i));
  return out;
}

// [batch, channels, plane] <-> [batch, plane, channels].
void transpose_planes(const float* from, float* to, int64_t batch, int64_t channels, int64_t plane,
                      bool to_channels_last, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t ch = 0; ch < channels; ++ch) {
      const int64_t base = b * channels * plane;
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t plain = base + ch * plane + i, last = base + i * channels + ch;
        if (to_channels_last) {
          to[last] = from[plain];
        } else {
          to[plain] = from[last];
        }
      }
    }
  }
}

// The plain routine over channels-last activations (when oneDNN takes no such call): through
// plain copies of the input and output; post-ops run on the channels-last result.
bool conv_f32_channels_last(const ExternArgs& args, const Conv& c, const ext::Epilogue& ep) {
  const int t = args.num_threads;
  std::vector<float> x(static_cast<size_t>(c.batch * c.cin * c.in_plane()));
  std::vector<float> y(static_cast<size_t>(c.batch * c.cout * c.out_plane()));
  transpose_planes(static_cast<const float*>(args.inputs[0]), x.data(), c.batch, c.cin,
                   c.in_plane(), false, t);
  if (!conv_f32(args, c, x.data(), static_cast<const float*>(args.inputs[1]),
                c.has_bias ? static_cast<const float*>(args.inputs[2]) : nullptr, y.data())) {
    return false;
  }
  auto* out = static_cast<float*>(args.outputs[0]);
  transpose_planes(y.data(), out, c.batch, c.cout, c.out_plane(), true, t);
  ext::apply_post_ops(args, ep, out, c.batch * c.out_plane(), c.cout, 1);
  return true;
}

}  // namespace

bool extern_conv(const ExternArgs& args) {
  if (!ext::check_counts(args, kKind, 2, 3 + ext::kMaxPostOps, 1, 8, 0)) return false;
  const int64_t* p = args.ints;
  Conv c;
  c.dtype = p[0];
  const int64_t spatial = p[1];
  if (spatial < 1 || spatial > 3) {
    return ext::error(args, kKind, "expected 1 to 3 spatial dims, got %lld",
                      static_cast<long long>(spatial));
  }
  if (args.num_ints < 8 + 6 * spatial) {
    return ext::error(args, kKind, "expected %lld int parameters, got %d",
                      static_cast<long long>(8 + 6 * spatial), args.num_ints);
  }
  c.batch = p[2];
  c.cin = p[3];
  c.cout = p[4];
  c.groups = p[5];
  c.transposed = p[6] != 0;
  c.has_bias = p[7] != 0;
  if (c.has_bias && args.num_inputs < 3) return ext::error(args, kKind, "has_bias without bias");
  if (c.groups <= 0 || c.cin % c.groups != 0 || c.cout % c.groups != 0) {
    return ext::error(args, kKind, "channels %lld -> %lld are not divisible into %lld groups",
                      static_cast<long long>(c.cin), static_cast<long long>(c.cout),
                      static_cast<long long>(c.groups));
  }
  for (int64_t d = 0; d < spatial; ++d) {
    const int64_t* q = p + 8 + 6 * d;
    int64_t at = 3 - spatial + d;
    c.in[at] = q[0];
    c.out[at] = q[1];
    c.k[at] = q[2];
    c.stride[at] = q[3];
    c.pad[at] = q[4];
    c.dil[at] = q[5];
    if (q[3] <= 0 || q[5] <= 0 || q[0] < 0 || q[1] < 0 || q[2] < 0) {
      return ext::error(args, kKind, "bad geometry at spatial dim %lld", static_cast<long long>(d));
    }
  }
  if (c.dtype == kExtBool) return ext::error(args, kKind, "bool is not supported");
  ext::Epilogue ep;
  if (!ext::parse_epilogue(args, kKind, static_cast<int32_t>(8 + 6 * spatial), 0,
                           c.has_bias ? 3 : 2, &ep)) {
    return false;
  }
  if (ep.count == 0 && args.num_inputs > (c.has_bias ? 3 : 2)) {
    return ext::error(args, kKind, "%d inputs, but no post-op reads the extra ones",
                      args.num_inputs);
  }
  if (c.batch == 0 || c.cout == 0 || c.out_plane() == 0) return true;
  switch (c.dtype) {
    case kExtFloat32: {
      if (c.cin > 0 && c.in_plane() > 0 && c.k_plane() > 0) {
        ext::ConvShape s;
        s.spatial = spatial, s.batch = c.batch, s.cin = c.cin, s.cout = c.cout;
        s.groups = c.groups, s.transposed = c.transposed, s.has_bias = c.has_bias;
        for (int64_t d = 0; d < spatial; ++d) {
          const int64_t at = 3 - spatial + d;
          s.in[d] = c.in[at], s.out[d] = c.out[at], s.k[d] = c.k[at];
          s.stride[d] = c.stride[at], s.pad[d] = c.pad[at], s.dil[d] = c.dil[at];
        }
        const int r = ext::dnnl_conv(args, s, ep);
        if (r != 0) return r > 0;
      }
      if (ep.channels_last) return conv_f32_channels_last(args, c, ep);
      auto* y = static_cast<float*>(args.outputs[0]);
      if (!conv_f32(args, c, static_cast<const float*>(args.inputs[0]),
                    static_cast<const float*>(args.inputs[1]),
                    c.has_bias ? static_cast<const float*>(args.inputs[2]) : nullptr, y)) {
        return false;
      }
      ext::apply_post_ops(args, ep, y, c.batch, c.cout, c.out_plane());
      return true;
    }
    case kExtFloat16:
    case kExtBFloat16: {
      const int t = args.num_threads;
      const int64_t wn =
          c.transposed ? c.cin * c.cout_g() * c.k_plane() : c.cout * c.cin_g() * c.k_plane();
      std::vector<float> x = widen(args.inputs[0], c.dtype, c.batch * c.cin * c.in_plane(), t);
      std::vector<float> w = widen(args.inputs[1], c.dtype, wn, t);
      std::vector<float> b;
      if (c.has_bias) b = widen(args.inputs[2], c.dtype, c.cout, t);
      std::vector<float> y(static_cast<size_t>(c.batch * c.cout * c.out_plane()));
      if (!conv_f32(args, c, x.data(), w.data(), c.has_bias ? b.data() : nullptr, y.data())) {
        return false;
      }
      const auto total = static_cast<int64_t>(y.size());
#pragma omp parallel for num_threads(t) schedule(static)
      for (int64_t i = 0; i < total; ++i)
        ext::store_float(args.outputs[0], c.dtype, i, y[static_cast<size_t>(i)]);
      return true;
    }
    case kExtFloat64:
      conv_direct<double>(args, c);
      return true;
    default:
      conv_direct<uint64_t>(args, c);
      return true;
  }
}

}  // namespace kiln::rt
