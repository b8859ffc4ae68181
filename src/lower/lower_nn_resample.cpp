// Resampling as pointwise tensors: each output element computes its source indices from its own
// index, in the float arithmetic of PyTorch's CPU kernels (ops/nn_resample.cpp): nearest and
// nearest-exact in float32, bilinear in double with the corner weights summed in the
// reference's order. Computed indices become index variables through BodyBuilder::indirect;
// they are clamped into range first, so the check never fails.
#include "lower/families.h"
#include "lower/lower_nn_util.h"

namespace kiln::lower {
namespace {

using ir::DType;
using Exprs = std::vector<sym::Expr>;

enum class Mode : uint8_t { kNearest, kNearestExact, kBilinear };

struct Resample {
  std::vector<std::optional<double>> scales;  // the given scale factor per spatial dim
  bool align_corners = false;
};

// compute_scales_value: 1/scale_factor when one was given, else in/out (in double).
int32_t source_scale(BodyBuilder& b, const std::optional<double>& scale, const sym::Expr& in,
                     const sym::Expr& out) {
  if (scale && *scale > 0) return b.constant(1.0 / *scale, DType::kFloat64);
  auto ci = in.as_const(), co = out.as_const();
  if (ci && co) {
    return b.constant(static_cast<double>(*ci) / static_cast<double>(*co), DType::kFloat64);
  }
  return b.binary(ScalarOp::kDiv, b.cast(b.index_value(in), DType::kFloat64),
                  b.cast(b.index_value(out), DType::kFloat64));
}

// min(node, in - 1) for an int64 node.
int32_t clamp_high(BodyBuilder& b, int32_t v, const sym::Expr& in) {
  return b.binary(ScalarOp::kMin, v, b.index_value(in - 1));
}

// `computed` where in != out, the output index itself where they are equal (PyTorch's 2-d
// kernels copy such a dim, whatever the scale).
int32_t unless_same(BodyBuilder& b, bool copy_rule, const sym::Expr& in, const sym::Expr& out,
                    const sym::Expr& i, int32_t computed) {
  if (!copy_rule) return computed;
  sym::Expr same = sym::eq(in, out);
  if (auto c = same.as_const()) return *c != 0 ? b.index_value(i) : computed;
  return b.where(b.index_value(same), b.index_value(i), computed);
}

// The nearest source index of output index i along a dim.
int32_t nearest_source(BodyBuilder& b, const sym::Expr& i, const sym::Expr& in,
                       const sym::Expr& out, const std::optional<double>& scale, bool exact) {
  int32_t s = b.cast(source_scale(b, scale, in, out), DType::kFloat32);
  int32_t pos = 0;
  if (exact) {
    int32_t fi = b.cast(b.index_value(i), DType::kFloat64);
    int32_t half = b.binary(ScalarOp::kAdd, fi, b.constant(0.5, DType::kFloat64));
    pos = b.cast(b.binary(ScalarOp::kMul, half, b.cast(s, DType::kFloat64)), DType::kFloat32);
  } else {
    pos = b.binary(ScalarOp::kMul, b.cast(b.index_value(i), DType::kFloat32), s);
  }
  int32_t fl = b.cast(b.unary(ScalarOp::kFloor, pos), DType::kInt64);
  return clamp_high(b, fl, in);
}

// Bilinear taps of output index i along a dim: two source indices and their weights (double).
struct Taps {
  int32_t i0, i1, w0, w1;
};

Taps linear_taps(BodyBuilder& b, const sym::Expr& i, const sym::Expr& in, const sym::Expr& out,
                 const std::optional<double>& scale, bool align_corners, bool copy_rule) {
  const DType f64 = DType::kFloat64;
  int32_t fi = b.cast(b.index_value(i), f64);
  int32_t src = 0;
  if (align_corners) {
    // (in - 1) / (out - 1) * i when out > 1, else 0.
    int32_t ratio = b.binary(ScalarOp::kDiv, b.cast(b.index_value(in - 1), f64),
                             b.cast(b.index_value(sym::max(out - 1, 1)), f64));
    int32_t v = b.binary(ScalarOp::kMul, ratio, fi);
    sym::Expr wide = sym::lt(1, out);
    if (auto c = wide.as_const()) {
      src = *c != 0 ? v : b.constant(0, f64);
    } else {
      src = b.where(b.index_value(wide), v, b.constant(0, f64));
    }
  } else {
    int32_t s = source_scale(b, scale, in, out);
    int32_t centre = b.binary(ScalarOp::kAdd, fi, b.constant(0.5, f64));
    src = b.binary(ScalarOp::kSub, b.binary(ScalarOp::kMul, s, centre), b.constant(0.5, f64));
    src = b.binary(ScalarOp::kMax, src, b.constant(0, f64));
  }
  Taps t;
  t.i0 = clamp_high(b, b.cast(b.unary(ScalarOp::kFloor, src), DType::kInt64), in);
  int32_t frac = b.binary(ScalarOp::kSub, src, b.cast(t.i0, f64));
  frac = b.binary(ScalarOp::kMin, b.binary(ScalarOp::kMax, frac, b.constant(0, f64)),
                  b.constant(1, f64));
  t.w1 = frac;
  t.w0 = b.binary(ScalarOp::kSub, b.constant(1, f64), frac);
  int32_t has_next = b.binary(ScalarOp::kLt, t.i0, b.index_value(in - 1));
  t.i1 = b.binary(ScalarOp::kAdd, t.i0,
                  b.where(has_next, b.constant(1, DType::kInt64), b.constant(0, DType::kInt64)));
  if (copy_rule) {
    sym::Expr same = sym::eq(in, out);
    auto c = same.as_const();
    if (c && *c != 0) {
      int32_t idx = b.index_value(i);
      return {idx, idx, b.constant(1, f64), b.constant(0, f64)};
    }
    if (!c) {
      int32_t cond = b.index_value(same);
      int32_t idx = b.index_value(i);
      t.i0 = b.where(cond, idx, t.i0);
      t.i1 = b.where(cond, idx, t.i1);
      t.w0 = b.where(cond, b.constant(1, f64), t.w0);
      t.w1 = b.where(cond, b.constant(0, f64), t.w1);
    }
  }
  return t;
}

// The value as a tensor of `dtype` holds it: 16-bit floats rounded, in the compute dtype.
int32_t finish(BodyBuilder& b, int32_t v, DType dtype) {
  if (dtype == DType::kFloat16 || dtype == DType::kBFloat16) v = b.cast(v, dtype);
  return b.cast(v, compute_dtype(dtype));
}

void set_resampled(Lowering& ctx, const ir::Node& node, const TensorRef& x, Mode mode,
                   const Resample& r) {
  const Exprs out_sizes = ctx.output_type(node).sizes;
  const size_t n = out_sizes.size() - 2;
  if (x.rank() != n + 2 || r.scales.size() != n) {
    throw error("internal: resampling of ", ctx.label(node), " with mismatched ranks");
  }
  const bool copy_rule = n == 2;
  const DType dtype = x.dtype();
  ctx.set_output(node, 0, ctx.pointwise(dtype, out_sizes, [=](BodyBuilder& b, const Index& idx) {
    const Exprs& in = x.sizes();
    if (mode != Mode::kBilinear) {
      Index src = {idx[0], idx[1]};
      for (size_t d = 0; d < n; ++d) {
        int32_t s = nearest_source(b, idx[2 + d], in[2 + d], out_sizes[2 + d], r.scales[d],
                                   mode == Mode::kNearestExact);
        s = unless_same(b, copy_rule, in[2 + d], out_sizes[2 + d], idx[2 + d], s);
        src.push_back(b.indirect(s, in[2 + d]));
      }
      return x.load(b, src);
    }
    std::vector<Taps> taps;
    for (size_t d = 0; d < n; ++d) {
      taps.push_back(linear_taps(b, idx[2 + d], in[2 + d], out_sizes[2 + d], r.scales[d],
                                 r.align_corners, copy_rule));
    }
    // Sum over the 2^n corners in the reference's order; a zero weight skips its corner
    // (so an inf or NaN there does not leak through 0 * x).
    const DType f64 = DType::kFloat64;
    int32_t acc = b.constant(0, f64);
    for (size_t corner = 0; corner < (size_t{1} << n); ++corner) {
      int32_t w = b.constant(1, f64);
      Index src = {idx[0], idx[1]};
      for (size_t d = 0; d < n; ++d) {
        bool hi = ((corner >> (n - 1 - d)) & 1) != 0;
        w = b.binary(ScalarOp::kMul, w, hi ? taps[d].w1 : taps[d].w0);
        src.push_back(b.indirect(hi ? taps[d].i1 : taps[d].i0, in[2 + d]));
      }
      int32_t v = b.cast(x.load(b, src), f64);
      int32_t term = b.where(b.binary(ScalarOp::kNe, w, b.constant(0, f64)),
                             b.binary(ScalarOp::kMul, w, v), b.constant(0, f64));
      acc = b.binary(ScalarOp::kAdd, acc, term);
    }
    return finish(b, acc, dtype);
  }));
}

// The ".vec" overloads: output_size or scale_factors (the output sizes are the graph's).
template <size_t N, Mode M>
void lower_vec(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Resample r;
  r.align_corners = M == Mode::kBilinear && args.to_bool("align_corners");
  auto factors = args.optional_doubles("scale_factors");
  if (factors && factors->size() != N) args.fail("expected scale_factors to have ", N, " elements");
  for (size_t d = 0; d < N; ++d)
    r.scales.push_back(factors ? std::optional<double>((*factors)[d]) : std::nullopt);
  set_resampled(ctx, node, ctx.tensor(args, "input"), M, r);
}

// The ".default" 2-d overloads: output_size, with optional scales_h / scales_w.
template <Mode M>
void lower_default(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Resample r;
  r.align_corners = M == Mode::kBilinear && args.to_bool("align_corners");
  r.scales = {args.optional_double("scales_h"), args.optional_double("scales_w")};
  set_resampled(ctx, node, ctx.tensor(args, "self"), M, r);
}

}  // namespace

std::vector<LowerEntry> nn_resample_lowerings() {
  return {
      {"aten.upsample_nearest1d.vec", lower_vec<1, Mode::kNearest>},
      {"aten.upsample_nearest2d.vec", lower_vec<2, Mode::kNearest>},
      {"aten.upsample_nearest2d.default", lower_default<Mode::kNearest>},
      {"aten._upsample_nearest_exact2d.vec", lower_vec<2, Mode::kNearestExact>},
      {"aten.upsample_bilinear2d.vec", lower_vec<2, Mode::kBilinear>},
      {"aten.upsample_bilinear2d.default", lower_default<Mode::kBilinear>},
  };
}

}  // namespace kiln::lower
