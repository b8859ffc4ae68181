// Pooling as kernel-IR reductions over a window tensor [out..., K_0, ..., K_n-1] whose element
// is the input at tap (k_0, ...) of the output position's window. Taps outside the window (its
// padding, or beyond an adaptive window's end) read a clamped tap of the same window instead,
// so every load stays in range and a max never sees padding; sums mask them to zero.
//
// Max pooling with indices matches the reference exactly (ops/nn_pool.cpp): the index is the
// first position (row-major) holding the max, or the last NaN when the window has one. A second
// reduction finds it by maximizing a key over the window: plane_size - position for taps equal
// to the max, the position for NaN taps when the max is NaN, -1 otherwise.
#include <functional>

#include "ir/graph_edit.h"
#include "lower/families.h"
#include "lower/lower_nn_util.h"
#include "ops/nn_util.h"

namespace kiln::lower {
namespace {

using ir::DType;
using Exprs = std::vector<sym::Expr>;
using ExprFn = std::function<sym::Expr(const sym::Expr& o, const sym::Expr& t)>;
using CountFn = std::function<sym::Expr(const sym::Expr& o)>;

sym::Expr clamp_index(const sym::Expr& x, const sym::Expr& size) {
  return sym::max(sym::min(x, size - 1), 0);
}

// One spatial dim of a window: output index o, tap t in [0, taps).
struct DimWindow {
  sym::Expr taps;
  ExprFn pos;    // the position read, always in [0, in)
  ExprFn valid;  // 1 when t is a tap of the window, 0 when pos repeats another tap
  CountFn padded_count, valid_count;  // average pooling's divisors
};

// Max pooling: taps start + t * dil, start = o * stride - pad, those inside the input.
DimWindow max_window(const sym::Expr& in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  DimWindow w;
  w.taps = k;
  auto start = [=](const sym::Expr& o) { return o * stride - pad; };
  auto lo = [=](const sym::Expr& o) { return sym::max(0, sym::ceil_div(-start(o), dil)); };
  auto hi = [=](const sym::Expr& o) {
    return sym::min(k - 1, sym::floor_div(in - 1 - start(o), dil));
  };
  w.pos = [=](const sym::Expr& o, const sym::Expr& t) {
    // Without dilation the nearest input position is a tap of the same window (padding is at
    // most k / 2, and a window starts inside the input or its leading padding): a plain clamp.
    if (dil == 1) return clamp_index(start(o) + t, in);
    sym::Expr tc = sym::min(sym::max(t, lo(o)), hi(o));
    return clamp_index(start(o) + tc * dil, in);
  };
  w.valid = [=](const sym::Expr& o, const sym::Expr& t) {
    return sym::logical_and(sym::le(lo(o), t), sym::le(t, hi(o)));
  };
  return w;
}

// Average pooling: taps start + t, the padded window ending at in + pad.
DimWindow avg_window(const sym::Expr& in, int64_t k, int64_t stride, int64_t pad) {
  DimWindow w;
  w.taps = k;
  auto start = [=](const sym::Expr& o) { return o * stride - pad; };
  w.pos = [=](const sym::Expr& o, const sym::Expr& t) { return clamp_index(start(o) + t, in); };
  w.valid = [=](const sym::Expr& o, const sym::Expr& t) {
    return sym::logical_and(sym::le(0, start(o) + t), sym::lt(start(o) + t, in));
  };
  w.padded_count = [=](const sym::Expr& o) { return sym::min(start(o) + k, in + pad) - start(o); };
  w.valid_count = [=](const sym::Expr& o) {
    return sym::min(start(o) + k, in) - sym::max(start(o), 0);
  };
  return w;
}

// Adaptive pooling: window o of `out` over `in` is [floor(o*in/out), ceil((o+1)*in/out)).
DimWindow adaptive_window(const sym::Expr& in, const sym::Expr& out) {
  DimWindow w;
  auto ci = in.as_const(), co = out.as_const();
  if (ci && co && *co > 0) {
    int64_t widest = 0;
    for (int64_t o = 0; o < *co; ++o) {
      widest = std::max(widest, ((o + 1) * *ci + *co - 1) / *co - o * *ci / *co);
    }
    w.taps = widest;
  } else {
    w.taps = sym::ceil_div(in, out) + 1;
  }
  auto start = [=](const sym::Expr& o) { return sym::floor_div(o * in, out); };
  auto end = [=](const sym::Expr& o) { return sym::floor_div((o + 1) * in + out - 1, out); };
  w.pos = [=](const sym::Expr& o, const sym::Expr& t) {
    return clamp_index(sym::min(start(o) + t, end(o) - 1), in);
  };
  w.valid = [=](const sym::Expr& o, const sym::Expr& t) { return sym::lt(start(o) + t, end(o)); };
  w.valid_count = [=](const sym::Expr& o) { return end(o) - start(o); };
  w.padded_count = w.valid_count;
  return w;
}

// The pooled op's geometry: leading dims, then one window per spatial dim.
struct Pool {
  TensorRef x;
  size_t lead = 0;
  Exprs out_sizes;  // the node's declared output sizes
  std::vector<DimWindow> dims;

  size_t out_rank() const { return out_sizes.size(); }
  Exprs window_sizes() const {
    Exprs s = out_sizes;
    for (const DimWindow& d : dims)
      s.push_back(d.taps);
    return s;
  }
  std::vector<int64_t> tap_dims() const {
    std::vector<int64_t> r;
    for (size_t d = 0; d < dims.size(); ++d)
      r.push_back(static_cast<int64_t>(out_rank() + d));
    return r;
  }
  // The input index a window element reads.
  Index input_index(const Index& idx) const {
    Index in(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(lead));
    for (size_t d = 0; d < dims.size(); ++d)
      in.push_back(dims[d].pos(idx[lead + d], idx[out_rank() + d]));
    return in;
  }
  // The flat position within the input plane (the reference's index), and the plane's size.
  sym::Expr plane_position(const Index& idx) const {
    Index in = input_index(idx);
    Exprs sp(x.sizes().begin() + static_cast<std::ptrdiff_t>(lead), x.sizes().end());
    return ravel(Index(in.begin() + static_cast<std::ptrdiff_t>(lead), in.end()), sp);
  }
  sym::Expr plane_size() const {
    sym::Expr n = 1;
    for (size_t d = lead; d < x.rank(); ++d)
      n = n * x.sizes()[d];
    return n;
  }
  sym::Expr all_valid(const Index& idx) const {
    sym::Expr v = 1;
    for (size_t d = 0; d < dims.size(); ++d)
      v = sym::logical_and(v, dims[d].valid(idx[lead + d], idx[out_rank() + d]));
    return v;
  }
};

Pool make_pool(Lowering& ctx, const ir::Node& node, const ops::Args& args, size_t n) {
  Pool p;
  p.x = ctx.tensor(args, "self");
  if (p.x.rank() != n + 1 && p.x.rank() != n + 2) {
    args.fail("expected a ", n + 1, "-D or ", n + 2, "-D input");
  }
  p.lead = p.x.rank() - n;
  p.out_sizes = ctx.output_type(node).sizes;
  return p;
}

// Windows of at most this many taps are maxed inline, as a lazy elementwise tensor.
constexpr int64_t kInlineWindowTaps = 16;

// The window's values, reduced by max: the first output. A small window is a lazy max over its
// taps, so the pooled value is computed inside its consumer's kernel, in that kernel's order
// (for a convolution's input, channels-last), rather than by a reduction kernel of its own.
TensorRef max_values(Lowering& ctx, const ir::Node& node, const Pool& p) {
  std::vector<int64_t> taps;
  int64_t count = 1;
  for (const DimWindow& d : p.dims) {
    auto c = d.taps.as_const();
    if (!c || *c <= 0) {
      count = kInlineWindowTaps + 1;
      break;
    }
    taps.push_back(*c);
    count *= *c;
  }
  if (count <= kInlineWindowTaps) {
    return ctx.pointwise(
        p.x.dtype(), p.out_sizes,
        [p, taps, count](BodyBuilder& b, const Index& idx) {
          int32_t best = -1;
          for (int64_t flat = 0; flat < count; ++flat) {
            Index full = idx;
            full.resize(p.out_rank() + taps.size());
            int64_t rest = flat;
            for (size_t d = taps.size(); d-- > 0;) {
              full[p.out_rank() + d] = rest % taps[d];
              rest /= taps[d];
            }
            const int32_t v = p.x.load(b, p.input_index(full));
            best = best < 0 ? v : b.binary(ScalarOp::kMax, best, v);
          }
          return best;
        },
        static_cast<int>(2 * count));
  }
  TensorRef window = ctx.pointwise(
      p.x.dtype(), p.window_sizes(),
      [p](BodyBuilder& b, const Index& idx) { return p.x.load(b, p.input_index(idx)); }, 0);
  return ctx.reduce(window, p.tap_dims(), false, ReduceOp::kMax, p.x.dtype(), ctx.label(node));
}

// The flat plane index of each window's max, as the reference picks it (see the file comment).
TensorRef max_indices(Lowering& ctx, const ir::Node& node, const Pool& p, const TensorRef& values) {
  const bool floating = ir::is_floating(p.x.dtype());
  const size_t out_rank = p.out_rank();
  TensorRef keys = ctx.pointwise(
      DType::kInt64, p.window_sizes(),
      [p, values, floating, out_rank](BodyBuilder& b, const Index& idx) {
        Index o(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(out_rank));
        int32_t m = values.load(b, o);
        int32_t v = p.x.load(b, p.input_index(idx));
        sym::Expr pos = p.plane_position(idx);
        int32_t none = b.constant(-1, DType::kInt64);
        int32_t first =
            b.where(b.binary(ScalarOp::kEq, v, m), b.index_value(p.plane_size() - pos), none);
        if (!floating) return first;
        int32_t last_nan = b.where(b.unary(ScalarOp::kIsNan, v), b.index_value(pos), none);
        return b.where(b.unary(ScalarOp::kIsNan, m), last_nan, first);
      });
  TensorRef best =
      ctx.reduce(keys, p.tap_dims(), false, ReduceOp::kMax, DType::kInt64, ctx.label(node));
  return ctx.pointwise(DType::kInt64, p.out_sizes,
                       [p, best, values, floating](BodyBuilder& b, const Index& idx) {
                         int32_t k = best.load(b, idx);
                         int32_t first = b.binary(ScalarOp::kSub, b.index_value(p.plane_size()), k);
                         if (!floating) return first;
                         return b.where(b.unary(ScalarOp::kIsNan, values.load(b, idx)), k, first);
                       });
}

void set_max_outputs(Lowering& ctx, const ir::Node& node, const Pool& p, bool with_indices) {
  TensorRef values = max_values(ctx, node, p);
  ctx.set_output(node, 0, values);
  if (!with_indices) return;
  const auto outs = ir::node_outputs(node);
  if (outs.size() > 1 && is_used(ctx.graph(), outs[1])) {
    ctx.set_output(node, 1, max_indices(ctx, node, p, values));
  } else {
    // Nothing reads the indices: a placeholder that costs nothing unless loaded.
    ctx.set_output(
        node, 1,
        ctx.pointwise(
            DType::kInt64, p.out_sizes,
            [](BodyBuilder& b, const Index&) { return b.constant(-1, DType::kInt64); }, 0));
  }
}

template <size_t N, bool kIndices>
void lower_max_pool(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Pool p = make_pool(ctx, node, args, N);
  auto k = ops::nn::expand_param(args, "kernel_size", N);
  auto s = args.ints("stride").empty() ? k : ops::nn::expand_param(args, "stride", N);
  auto pad = ops::nn::expand_param(args, "padding", N);
  auto dil = ops::nn::expand_param(args, "dilation", N);
  for (size_t d = 0; d < N; ++d) {
    if (k[d] <= 0 || s[d] <= 0 || dil[d] <= 0 || pad[d] < 0) {
      args.fail("kernel_size, stride and dilation must be positive and padding non-negative");
    }
    p.dims.push_back(max_window(p.x.sizes()[p.lead + d], k[d], s[d], pad[d], dil[d]));
  }
  set_max_outputs(ctx, node, p, kIndices);
}

template <size_t N>
void lower_adaptive_max(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Pool p = make_pool(ctx, node, args, N);
  for (size_t d = 0; d < N; ++d) {
    p.dims.push_back(adaptive_window(p.x.sizes()[p.lead + d], p.out_sizes[p.lead + d]));
  }
  set_max_outputs(ctx, node, p, true);
}

// sum(window) / divisor (never 0), with the reference's dtype rules: floats sum in their compute
// dtype and divide there; integers sum in int64 and divide truncating; an empty window gives 0.
void set_average(Lowering& ctx, const ir::Node& node, const Pool& p,
                 std::function<sym::Expr(const Index&)> divisor,
                 std::function<sym::Expr(const Index&)> valid_total) {
  const DType dtype = p.x.dtype();
  const bool floating = ir::is_floating(dtype);
  const DType acc = floating ? compute_dtype(dtype) : DType::kInt64;
  TensorRef window =
      ctx.pointwise(acc, p.window_sizes(), [p, acc](BodyBuilder& b, const Index& idx) {
        int32_t v = b.cast(p.x.load(b, p.input_index(idx)), acc);
        sym::Expr valid = p.all_valid(idx);
        if (auto c = valid.as_const()) return *c != 0 ? v : b.constant(0, acc);
        return b.where(b.index_value(valid), v, b.constant(0, acc));
      });
  TensorRef sum = ctx.reduce(window, p.tap_dims(), false, ReduceOp::kSum, acc, ctx.label(node));
  ctx.set_output(
      node, 0,
      ctx.pointwise(dtype, p.out_sizes,
                    [sum, acc, dtype, divisor, valid_total](BodyBuilder& b, const Index& idx) {
                      int32_t s = sum.load(b, idx);
                      int32_t div = b.cast(b.index_value(divisor(idx)), acc);
                      int32_t r = b.binary(ScalarOp::kDiv, s, div);
                      sym::Expr empty = sym::eq(valid_total(idx), 0);
                      if (auto c = empty.as_const(); !c || *c != 0) {
                        r = c ? b.constant(0, acc)
                              : b.where(b.index_value(empty), b.constant(0, acc), r);
                      }
                      if (dtype == DType::kFloat16 || dtype == DType::kBFloat16) {
                        r = b.cast(r, dtype);
                      }
                      return b.cast(r, compute_dtype(dtype));
                    }));
}

template <size_t N>
void lower_avg_pool(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Pool p = make_pool(ctx, node, args, N);
  auto k = ops::nn::expand_param(args, "kernel_size", N);
  auto s = args.ints("stride").empty() ? k : ops::nn::expand_param(args, "stride", N);
  auto pad = ops::nn::expand_param(args, "padding", N);
  for (size_t d = 0; d < N; ++d) {
    if (k[d] <= 0 || s[d] <= 0 || pad[d] < 0) {
      args.fail("kernel_size and stride must be positive and padding non-negative");
    }
    p.dims.push_back(avg_window(p.x.sizes()[p.lead + d], k[d], s[d], pad[d]));
  }
  const bool include_pad = args.to_bool("count_include_pad");
  std::optional<int64_t> override_div;
  if (args.schema().index_of("divisor_override") >= 0) {
    override_div = args.optional_int("divisor_override");
    if (override_div && *override_div == 0) args.fail("divisor must be not zero");
  }
  const size_t lead = p.lead;
  const auto dims = p.dims;
  auto count = [lead, dims](const Index& idx, bool padded) {
    sym::Expr c = 1;
    for (size_t d = 0; d < dims.size(); ++d) {
      c = c * (padded ? dims[d].padded_count(idx[lead + d]) : dims[d].valid_count(idx[lead + d]));
    }
    return c;
  };
  set_average(
      ctx, node, p,
      [=](const Index& idx) {
        // An empty window (count 0) gives 0 below; max keeps the division defined.
        return override_div ? sym::Expr(*override_div) : sym::max(count(idx, include_pad), 1);
      },
      [=](const Index& idx) { return count(idx, false); });
}

template <size_t N>
void lower_adaptive_avg(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Pool p = make_pool(ctx, node, args, N);
  for (size_t d = 0; d < N; ++d) {
    p.dims.push_back(adaptive_window(p.x.sizes()[p.lead + d], p.out_sizes[p.lead + d]));
  }
  const size_t lead = p.lead;
  const auto dims = p.dims;
  auto count = [lead, dims](const Index& idx) {
    sym::Expr c = 1;
    for (size_t d = 0; d < dims.size(); ++d)
      c = c * dims[d].valid_count(idx[lead + d]);
    return c;
  };
  set_average(ctx, node, p, count, count);
}

}  // namespace

std::vector<LowerEntry> nn_pool_lowerings() {
  return {
      {"aten.max_pool1d.default", lower_max_pool<1, false>},
      {"aten.max_pool2d.default", lower_max_pool<2, false>},
      {"aten.max_pool2d_with_indices.default", lower_max_pool<2, true>},
      {"aten.avg_pool1d.default", lower_avg_pool<1>},
      {"aten.avg_pool2d.default", lower_avg_pool<2>},
      {"aten.adaptive_avg_pool1d.default", lower_adaptive_avg<1>},
      {"aten.adaptive_avg_pool2d.default", lower_adaptive_avg<2>},
      {"aten._adaptive_avg_pool2d.default", lower_adaptive_avg<2>},
      {"aten.adaptive_max_pool1d.default", lower_adaptive_max<1>},
      {"aten.adaptive_max_pool2d.default", lower_adaptive_max<2>},
  };
}

}  // namespace kiln::lower
