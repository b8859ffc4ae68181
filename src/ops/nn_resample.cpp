// Resampling: nearest (1-d, 2-d), nearest-exact (2-d) and bilinear (2-d) upsampling over the
// trailing spatial dims of [N, C, ...] inputs. Source coordinates follow PyTorch's CPU kernels
// (aten/src/ATen/native/UpSample.h): the scale is 1/scale_factor when one was given, else
// in/out; nearest indices are computed in float, as there.
#include <algorithm>
#include <cmath>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

enum class Mode : uint8_t { kNearest, kNearestExact, kBilinear };

struct Resample {
  std::vector<sym::Expr> out;                // output spatial sizes
  std::vector<std::optional<double>> scale;  // the given scale factors, per spatial dim
};

// floor(in * scale) over a symbolic size: exact when scale is a dyadic rational m / 2^e with
// a small e (2.0, 1.5, 0.25, ...); other scales have no closed form over a symbol.
std::optional<sym::Expr> scaled_size(const sym::Expr& in, double scale) {
  if (auto c = in.as_const())
    return sym::Expr(static_cast<int64_t>(static_cast<double>(*c) * scale));
  double m = scale;
  int64_t denom = 1;
  while (m != std::floor(m) && denom < (int64_t{1} << 20)) {
    m *= 2;
    denom *= 2;
  }
  if (m != std::floor(m) || std::fabs(m) > 1e9) return std::nullopt;
  return sym::floor_div(in * static_cast<int64_t>(m), denom);
}

// The ".vec" overloads: exactly one of output_size and scale_factors.
Resample vec_params(const Args& a, size_t n) {
  const auto& x = a.type("input");
  Resample r;
  bool has_size = !a.is_none("output_size");
  auto factors = a.optional_doubles("scale_factors");
  if (has_size == factors.has_value()) {
    a.fail("must specify exactly one of output_size and scale_factors");
  }
  if (has_size) {
    r.out = a.syms("output_size");
    if (r.out.size() != n) a.fail("expected output_size to have ", n, " elements");
    r.scale.assign(n, std::nullopt);
  } else {
    if (factors->size() != n) a.fail("expected scale_factors to have ", n, " elements");
    if (x.rank() != n + 2) a.fail("expected a ", n + 2, "-D input, got ", shape_str(x.sizes));
    auto recorded = recorded_output(a, 0);
    for (size_t d = 0; d < n; ++d) {
      auto size = scaled_size(x.sizes[2 + d], (*factors)[d]);
      if (!size && recorded && recorded->rank() == n + 2) size = recorded->sizes[2 + d];
      if (!size) {
        a.fail("cannot express the output size floor(", x.sizes[2 + d].str(), " * ", (*factors)[d],
               ") over a symbolic input size");
      }
      r.out.push_back(*size);
      r.scale.emplace_back((*factors)[d]);
    }
  }
  return r;
}

// The ".default" 2-d overloads: output_size, with optional scales_h / scales_w for the indices.
Resample default_params(const Args& a) {
  Resample r;
  r.out = a.syms("output_size");
  if (r.out.size() != 2) a.fail("expected output_size to have 2 elements");
  r.scale = {a.optional_double("scales_h"), a.optional_double("scales_w")};
  return r;
}

std::vector<OutType> resample_shape(const Args& a, const ir::TensorType& x, const Resample& r,
                                    Mode mode) {
  size_t n = r.out.size();
  if (x.rank() != n + 2) a.fail("expected a ", n + 2, "-D input, got ", shape_str(x.sizes));
  if (mode == Mode::kBilinear) {
    check_floating(x.dtype, a, "upsample_bilinear2d");
  } else if (!ir::is_floating(x.dtype) && x.dtype != ir::DType::kUInt8) {
    a.fail("nearest upsampling is not implemented for dtype ", ir::dtype_name(x.dtype));
  }
  for (size_t d = 0; d < n; ++d) {
    auto in = x.sizes[2 + d].as_const();
    auto out = r.out[d].as_const();
    if ((in && *in <= 0) || (out && *out <= 0)) {
      a.fail("input and output sizes should be greater than 0, but got input ",
             shape_str(dims(x, 2, x.rank())), " and output ", shape_str(r.out));
    }
  }
  std::vector<sym::Expr> sizes = {x.sizes[0], x.sizes[1]};
  sizes.insert(sizes.end(), r.out.begin(), r.out.end());
  return {make_type(x.dtype, std::move(sizes), x.device)};
}

// compute_scales_value: 1/scale_factor when one was given, else in/out.
double source_scale(const std::optional<double>& scale, int64_t in, int64_t out) {
  return scale && *scale > 0 ? 1.0 / *scale : static_cast<double>(in) / static_cast<double>(out);
}

// The source index of output index i, for the nearest modes (float arithmetic, as PyTorch).
int64_t nearest_source(int64_t i, int64_t in, int64_t out, const std::optional<double>& scale,
                       bool exact) {
  float s = static_cast<float>(source_scale(scale, in, out));
  float pos = exact ? static_cast<float>((static_cast<double>(i) + 0.5) * static_cast<double>(s))
                    : static_cast<float>(i) * s;
  return std::min(static_cast<int64_t>(std::floor(pos)), in - 1);
}

// Bilinear taps along one dim: the two source indices and their weights.
struct Taps {
  int64_t i0 = 0, i1 = 0;
  double w0 = 1, w1 = 0;
};

Taps linear_taps(int64_t i, int64_t in, int64_t out, const std::optional<double>& scale,
                 bool align_corners) {
  double src = 0;
  if (align_corners) {
    src = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) * i : 0.0;
  } else {
    src = source_scale(scale, in, out) * (static_cast<double>(i) + 0.5) - 0.5;
    src = std::max(src, 0.0);
  }
  Taps t;
  t.i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  t.w1 = std::clamp(src - static_cast<double>(t.i0), 0.0, 1.0);
  t.w0 = 1 - t.w1;
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  return t;
}

std::vector<ref::RValue> resample_ref(const Args& a, const ref::Tensor& x, const Resample& r,
                                      Mode mode, bool align_corners) {
  ref::Tensor out = alloc_output(a);
  size_t n = r.out.size();
  std::vector<int64_t> in_sp(x.sizes().begin() + 2, x.sizes().end());
  std::vector<int64_t> out_sp(out.sizes().begin() + 2, out.sizes().end());
  // Per dim, per output index: the taps. PyTorch's 2-d CPU kernels copy a dim whose size does
  // not change, whatever the scale factor; the 1-d kernel does not.
  std::vector<std::vector<Taps>> taps(n);
  for (size_t d = 0; d < n; ++d) {
    for (int64_t i = 0; i < out_sp[d]; ++i) {
      Taps t;
      if (n == 2 && in_sp[d] == out_sp[d]) {
        t.i0 = t.i1 = i;
      } else if (mode == Mode::kBilinear) {
        t = linear_taps(i, in_sp[d], out_sp[d], r.scale[d], align_corners);
      } else {
        t.i0 = t.i1 =
            nearest_source(i, in_sp[d], out_sp[d], r.scale[d], mode == Mode::kNearestExact);
      }
      taps[d].push_back(t);
    }
  }
  int64_t in_plane = 1, out_plane = 1;
  for (size_t d = 0; d < n; ++d) {
    in_plane *= in_sp[d];
    out_plane *= out_sp[d];
  }
  int64_t planes = x.size(0) * x.size(1);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t o = 0; o < out_plane; ++o) {
      std::vector<int64_t> pos = unravel(o, out_sp);
      // Sum over the 2^n corner combinations of the taps.
      double v = 0;
      for (int corner = 0; corner < (1 << n); ++corner) {
        double w = 1;
        int64_t src = 0;
        for (size_t d = 0; d < n; ++d) {
          const Taps& t = taps[d][static_cast<size_t>(pos[d])];
          bool hi = (corner >> (n - 1 - d)) & 1;
          w *= hi ? t.w1 : t.w0;
          src = src * in_sp[d] + (hi ? t.i1 : t.i0);
        }
        if (w != 0) v += w * x.get(p * in_plane + src);
      }
      out.set(p * out_plane + o, v);
    }
  }
  return ref::single_result(std::move(out));
}

template <size_t N, Mode M>
std::vector<OutType> vec_shape(const Args& a) {
  const auto& x = a.type("input");
  if (x.rank() != N + 2) a.fail("expected a ", N + 2, "-D input, got ", shape_str(x.sizes));
  return resample_shape(a, x, vec_params(a, N), M);
}
template <size_t N, Mode M>
std::vector<ref::RValue> vec_ref(const Args& a) {
  bool align = M == Mode::kBilinear && a.to_bool("align_corners");
  return resample_ref(a, a.tensor("input"), vec_params(a, N), M, align);
}
template <Mode M>
std::vector<OutType> default_shape(const Args& a) {
  return resample_shape(a, a.type("self"), default_params(a), M);
}
template <Mode M>
std::vector<ref::RValue> default_ref(const Args& a) {
  bool align = M == Mode::kBilinear && a.to_bool("align_corners");
  return resample_ref(a, a.tensor("self"), default_params(a), M, align);
}

const OpDef kOps[] = {
    {"aten.upsample_nearest1d.vec",
     "upsample_nearest1d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> "
     "Tensor",
     vec_shape<1, Mode::kNearest>, vec_ref<1, Mode::kNearest>},
    {"aten.upsample_nearest2d.vec",
     "upsample_nearest2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> "
     "Tensor",
     vec_shape<2, Mode::kNearest>, vec_ref<2, Mode::kNearest>},
    {"aten.upsample_nearest2d.default",
     "upsample_nearest2d(Tensor self, SymInt[2] output_size, float? scales_h=None, float? "
     "scales_w=None) -> Tensor",
     default_shape<Mode::kNearest>, default_ref<Mode::kNearest>},
    {"aten._upsample_nearest_exact2d.vec",
     "_upsample_nearest_exact2d.vec(Tensor input, SymInt[]? output_size, float[]? "
     "scale_factors) -> Tensor",
     vec_shape<2, Mode::kNearestExact>, vec_ref<2, Mode::kNearestExact>},
    {"aten.upsample_bilinear2d.vec",
     "upsample_bilinear2d.vec(Tensor input, SymInt[]? output_size, bool align_corners, "
     "float[]? scale_factors) -> Tensor",
     vec_shape<2, Mode::kBilinear>, vec_ref<2, Mode::kBilinear>},
    {"aten.upsample_bilinear2d.default",
     "upsample_bilinear2d(Tensor self, SymInt[2] output_size, bool align_corners, float? "
     "scales_h=None, float? scales_w=None) -> Tensor",
     default_shape<Mode::kBilinear>, default_ref<Mode::kBilinear>},
};

}  // namespace

std::span<const OpDef> resample_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
