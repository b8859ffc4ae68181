// Ops that place copies of their inputs: cat and stack, diff, padding,
// repeat/tile/repeat_interleave, and the slice/select scatters. Each is a lazy tensor whose body
// chooses the input (or the pad value) by comparing the output index against ranges, and reads it
// through an index map. Where a where discards a load, the load's index is still clamped into its
// input, so that a body whose branches are both evaluated never reads outside a buffer.
#include <limits>
#include <optional>

#include "lower/lower_shape_util.h"
#include "ops/common.h"
#include "util/error.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

bool is_known(const sym::Expr& e, int64_t v) {
  auto c = e.as_const();
  return c && *c == v;
}

bool known_at_most(const sym::Expr& e, int64_t v) {
  auto c = e.as_const();
  return c && *c <= v;
}

bool has_zero_dim(const Exprs& sizes) {
  for (const auto& s : sizes) {
    if (is_known(s, 0)) return true;
  }
  return false;
}

// A tensor of `sizes` that is `value` everywhere.
TensorRef filled(Lowering& ctx, ir::DType dtype, Exprs sizes, ops::Scalar value) {
  return ctx.pointwise(dtype, std::move(sizes), [dtype, value](BodyBuilder& b, const Index&) {
    return scalar_constant(b, value, dtype);
  });
}

const ops::Scalar kZero{ops::Scalar::Kind::kInt, 0, 0};

// ---- cat, stack ------------------------------------------------------------------------------

// One input of a cat: its values and its first index along the cat dim.
struct Piece {
  TensorRef t;
  sym::Expr offset;
};

// The pieces (none empty along dim d) joined along d, converted to dtype.
TensorRef joined(Lowering& ctx, std::vector<Piece> pieces, size_t d, ir::DType dtype, Exprs sizes) {
  // From the last piece backwards: where(i < end of this piece, this piece, the ones after).
  return ctx.pointwise(
      dtype, std::move(sizes), [pieces, d, dtype](BodyBuilder& b, const Index& idx) {
        const sym::Expr& i = idx[d];
        int32_t v = -1;
        for (size_t k = pieces.size(); k-- > 0;) {
          const Piece& p = pieces[k];
          const sym::Expr& len = p.t.sizes()[d];
          sym::Expr at = i - p.offset;
          if (k > 0) at = sym::max(at, 0);
          if (k + 1 < pieces.size()) at = sym::min(at, len - 1);
          Index src = idx;
          src[d] = at;
          int32_t x = to_compute(b, p.t.load(b, src), dtype);
          v = v < 0 ? x : b.where(index_compare(b, ScalarOp::kLt, i, p.offset + len), x, v);
        }
        return v;
      });
}

void lower_cat(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  std::vector<TensorRef> ins = ctx.tensors(args, "tensors");
  const ir::TensorType& out = ctx.output_type(node);
  std::optional<size_t> dim;
  std::vector<Piece> pieces;
  sym::Expr offset = 0;
  for (size_t k = 0; k < ins.size(); ++k) {
    const TensorRef& t = ins[k];
    if (t.rank() == 0) {
      args.fail("zero-dimensional tensor (at position ", k, ") cannot be concatenated");
    }
    // Legacy torch.cat: 1-D tensors of size 0 are skipped whatever the other inputs' rank.
    if (t.rank() == 1 && is_known(t.sizes()[0], 0)) continue;
    if (!dim) {
      dim = static_cast<size_t>(
          ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(t.rank()), args));
    }
    if (t.rank() != out.rank()) args.fail("cat: input ", k, " has rank ", t.rank());
    const sym::Expr& len = t.sizes()[*dim];
    if (!is_known(len, 0)) pieces.push_back({t, offset});
    offset = offset + len;
  }
  if (dim && offset != out.sizes[*dim]) {
    args.fail("cat: inputs span ", offset.str(), " along dim ", *dim, ", the graph declares ",
              out.str());
  }
  if (pieces.empty()) {
    ctx.set_output(node, 0, filled(ctx, out.dtype, out.sizes, kZero));
    return;
  }
  ctx.set_output(node, 0, joined(ctx, std::move(pieces), *dim, out.dtype, out.sizes));
}

void lower_stack(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  std::vector<TensorRef> ins = ctx.tensors(args, "tensors");
  const ir::TensorType& out = ctx.output_type(node);
  if (ins.empty()) args.fail("stack expects a non-empty list of tensors");
  auto d = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(ins[0].rank()) + 1, args));
  ir::DType dtype = out.dtype;
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes, [ins, d, dtype](BodyBuilder& b, const Index& idx) {
                   Index src = idx;
                   src.erase(src.begin() + static_cast<std::ptrdiff_t>(d));
                   int32_t v = -1;
                   for (size_t k = ins.size(); k-- > 0;) {
                     int32_t x = to_compute(b, ins[k].load(b, src), dtype);
                     auto at = static_cast<int64_t>(k);
                     v = v < 0 ? x : b.where(index_compare(b, ScalarOp::kEq, idx[d], at), x, v);
                   }
                   return v;
                 }));
}

// ---- diff -----------------------------------------------------------------------------------

// n-th differences along dim of [prepend, self, append], each step rounded to the dtype as the
// reference stores it.
void lower_diff(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  const ir::TensorType& out = ctx.output_type(node);
  int64_t n = args.to_int("n");
  if (self.rank() == 0) args.fail("diff expects input to be at least one-dimensional");
  if (n < 0) args.fail("order must be non-negative but got ", n);
  if (n == 0) {
    // self unchanged (prepend and append are ignored), under the declared sizes, which the
    // shape rule may spell differently (max(s, 0)).
    ctx.set_output(node, 0,
                   out.sizes == self.sizes()
                       ? self
                       : remap(ctx, self, out.sizes, [](const Index& idx) { return idx; }));
    return;
  }
  auto d = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args));
  ir::DType dtype = out.dtype;
  std::vector<Piece> pieces;
  sym::Expr len = 0;
  for (const char* name : {"prepend", "self", "append"}) {
    if (args.is_none(name)) continue;
    TensorRef t = ctx.tensor(args, name);
    if (t.rank() != self.rank())
      args.fail("diff expects prepend or append to be the same dimension as input");
    if (!is_known(t.sizes()[d], 0)) pieces.push_back({t, len});
    len = len + t.sizes()[d];
  }
  if (has_zero_dim(out.sizes) || pieces.empty()) {
    ctx.set_output(node, 0, filled(ctx, dtype, out.sizes, kZero));
    return;
  }
  Exprs sizes = self.sizes();
  sizes[d] = len;
  TensorRef cur = joined(ctx, std::move(pieces), d, dtype, sizes);
  for (int64_t step = 0; step < n; ++step) {
    sizes[d] = step + 1 == n ? out.sizes[d] : sym::max(len - (step + 1), 0);
    // Steps inline into one body two at a time; deeper ones read memory, bounding its size.
    if (step > 0 && step % 2 == 0) ctx.realize(cur, ctx.label(node));
    cur = ctx.pointwise(dtype, sizes, [cur, d, dtype](BodyBuilder& b, const Index& idx) {
      Index next = idx;
      next[d] = idx[d] + 1;
      int32_t hi = cur.load(b, next), lo = cur.load(b, idx);
      if (dtype == ir::DType::kBool) return b.binary(ScalarOp::kNe, hi, lo);
      return to_compute(b, b.cast(b.binary(ScalarOp::kSub, hi, lo), dtype), dtype);
    });
  }
  ctx.set_output(node, 0, cur);
}

// ---- padding ---------------------------------------------------------------------------------

enum class PadMode : uint8_t { kConstant, kReflect, kReplicate, kCircular };

PadMode pad_mode(const ops::Args& args) {
  if (args.schema().index_of("mode") < 0) return PadMode::kConstant;
  std::string mode = args.str("mode");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "replicate") return PadMode::kReplicate;
  if (mode == "circular") return PadMode::kCircular;
  args.fail("unsupported padding mode '", mode, "'");
}

// The input index that output index o of a dim padded by (l, r) reads, for the index-map
// modes; PyTorch's formulas, which also hold for negative pads.
sym::Expr pad_source(PadMode mode, const sym::Expr& o, const sym::Expr& l, const sym::Expr& r,
                     const sym::Expr& size) {
  sym::Expr i = o - l;
  switch (mode) {
    case PadMode::kReflect: {
      sym::Expr a = sym::max(i, -i);           // reflect about 0 ...
      return sym::min(a, 2 * (size - 1) - a);  // ... and about size - 1
    }
    case PadMode::kReplicate:
      return clamp_index(i, size);
    case PadMode::kCircular: {
      // The negative sides are cropped first; the kept part wraps.
      sym::Expr lo = sym::max(-l, 0);
      sym::Expr kept = size - lo - sym::max(-r, 0);
      return lo + sym::mod(o - sym::max(l, 0), kept);
    }
    case PadMode::kConstant:
      break;
  }
  return i;
}

void lower_pad(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const ir::TensorType& out = ctx.output_type(node);
  PadMode mode = pad_mode(args);
  Exprs pad = args.syms("pad");
  if (pad.size() % 2 != 0 || pad.size() / 2 > in.rank()) {
    args.fail("pad: ", pad.size(), " pad values for a tensor of rank ", in.rank());
  }
  ops::Scalar value = kZero;
  if (mode == PadMode::kConstant) {
    if (args.schema().index_of("mode") < 0) {
      value = args.scalar("value");
    } else if (!args.is_none("value")) {
      value = ops::Scalar{ops::Scalar::Kind::kFloat, 0, args.to_double("value")};
    }
  }
  ir::DType dtype = in.dtype();
  size_t rank = in.rank();
  size_t npad = pad.size() / 2;
  if (mode == PadMode::kConstant && has_zero_dim(in.sizes())) {
    ctx.set_output(node, 0, filled(ctx, dtype, out.sizes, value));
    return;
  }
  Exprs sizes = in.sizes();
  ctx.set_output(
      node, 0,
      ctx.pointwise(
          dtype, out.sizes,
          [in, pad, sizes, mode, value, dtype, rank, npad](BodyBuilder& b, const Index& idx) {
            Index src = idx;
            std::vector<int32_t> inside;
            for (size_t k = 0; k < npad; ++k) {
              size_t d = rank - 1 - k;
              const sym::Expr& l = pad[2 * k];
              const sym::Expr& r = pad[2 * k + 1];
              if (mode != PadMode::kConstant) {
                src[d] = pad_source(mode, idx[d], l, r, sizes[d]);
                continue;
              }
              // A side padded by <= 0 only crops: its bound needs no test.
              sym::Expr i = idx[d] - l;
              bool low = !known_at_most(l, 0), high = !known_at_most(r, 0);
              if (low) inside.push_back(index_compare(b, ScalarOp::kGe, i, 0));
              if (high) inside.push_back(index_compare(b, ScalarOp::kLt, i, sizes[d]));
              if (low) i = sym::max(i, 0);
              if (high) i = sym::min(i, sizes[d] - 1);
              src[d] = i;
            }
            int32_t x = in.load(b, src);
            if (inside.empty()) return x;
            return b.where(all_of(b, inside), x, scalar_constant(b, value, dtype));
          }));
}

// ---- repeat, tile, repeat_interleave ---------------------------------------------------------

// Output dims end with the input's dims, each a whole number of copies of it.
void lower_repeat(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const Exprs& sizes = ctx.output_type(node).sizes;
  if (sizes.size() < in.rank()) args.fail("repeat: fewer repeats than the input's rank");
  size_t lead = sizes.size() - in.rank();
  Exprs in_sizes = in.sizes();
  ctx.set_output(node, 0, remap(ctx, in, sizes, [lead, in_sizes, sizes](const Index& idx) {
                   Index src(in_sizes.size());
                   for (size_t k = 0; k < in_sizes.size(); ++k) {
                     const sym::Expr& o = idx[lead + k];
                     src[k] = is_known(in_sizes[k], 1)         ? sym::Expr(0)
                              : sizes[lead + k] == in_sizes[k] ? o
                                                               : sym::mod(o, in_sizes[k]);
                   }
                   return src;
                 }));
}

// Each element repeated `repeats` times in place, along dim (or over the flattened input).
void lower_repeat_interleave(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const ir::TensorType& out = ctx.output_type(node);
  sym::Expr repeats = args.sym("repeats");
  if (is_known(repeats, 0) || has_zero_dim(out.sizes)) {
    ctx.set_output(node, 0, filled(ctx, in.dtype(), out.sizes, kZero));
    return;
  }
  bool flat = args.is_none("dim") || in.rank() == 0;
  size_t d = flat ? 0
                  : static_cast<size_t>(
                        ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(in.rank()), args));
  // An output_size other than the repeated length fails in the reference; refuse it here when
  // it provably differs.
  sym::Expr in_len = 1;
  if (flat) {
    for (const auto& s : in.sizes())
      in_len = in_len * s;
  } else {
    in_len = in.sizes()[d];
  }
  if ((out.sizes.at(d) - in_len * repeats).as_const().value_or(0) != 0) {
    args.fail("repeat_interleave: output_size ", out.sizes.at(d).str(), " is not ", in_len.str(),
              " * ", repeats.str());
  }
  Exprs in_sizes = in.sizes();
  if (flat) {
    // Over the flattened input: output element j reads flat element j // repeats.
    ctx.set_output(node, 0, remap(ctx, in, out.sizes, [in_sizes, repeats](const Index& idx) {
                     return unravel(sym::floor_div(idx[0], repeats), in_sizes);
                   }));
    return;
  }
  ctx.set_output(node, 0, remap(ctx, in, out.sizes, [d, repeats](const Index& idx) {
                   Index src = idx;
                   src[d] = sym::floor_div(idx[d], repeats);
                   return src;
                 }));
}

// ---- slice_scatter, select_scatter -----------------------------------------------------------

sym::Expr clamp_bound(const sym::Expr& v, const sym::Expr& size) {
  auto c = v.as_const();
  if (!c) return sym::min(v, size);
  if (*c < 0) {
    if (auto s = size.as_const()) return std::max<int64_t>(*c + *s, 0);
    return sym::max(size + *c, 0);
  }
  if (*c == 0) return 0;
  if (*c >= std::numeric_limits<int64_t>::max() / 4) return size;
  return sym::min(v, size);
}

// self, with the elements a slice of it selects replaced by src's.
void lower_slice_scatter(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef src = ctx.tensor(args, "src");
  const ir::TensorType& out = ctx.output_type(node);
  if (self.rank() == 0) args.fail("slice_scatter() cannot be applied to a 0-dim tensor");
  auto d = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args));
  sym::Expr step = args.sym("step");
  if (step.as_const().value_or(1) <= 0) args.fail("slice step must be positive");
  sym::Expr start =
      args.is_none("start") ? sym::Expr(0) : clamp_bound(args.sym("start"), self.sizes()[d]);
  if (src.rank() != self.rank()) args.fail("slice_scatter: src has rank ", src.rank());
  sym::Expr len = src.sizes()[d];
  ir::DType dtype = out.dtype;
  if (has_zero_dim(src.sizes())) {
    ctx.set_output(node, 0, self);
    return;
  }
  ctx.set_output(
      node, 0,
      ctx.pointwise(dtype, out.sizes,
                    [self, src, d, start, step, len, dtype](BodyBuilder& b, const Index& idx) {
                      sym::Expr j = idx[d] - start;
                      std::vector<int32_t> in{index_compare(b, ScalarOp::kGe, j, 0),
                                              index_compare(b, ScalarOp::kLt, j, len * step)};
                      if (!is_known(step, 1)) {
                        in.push_back(index_compare(b, ScalarOp::kEq, sym::mod(j, step), 0));
                      }
                      Index at = idx;
                      at[d] = clamp_index(sym::floor_div(j, step), len);
                      int32_t x = to_compute(b, src.load(b, at), dtype);
                      return b.where(all_of(b, in), x, self.load(b, idx));
                    }));
}

void lower_select_scatter(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef self = ctx.tensor(args, "self");
  TensorRef src = ctx.tensor(args, "src");
  const ir::TensorType& out = ctx.output_type(node);
  if (self.rank() == 0) args.fail("select_scatter() cannot be applied to a 0-dim tensor");
  auto d = static_cast<size_t>(
      ops::wrap_dim(args.to_int("dim"), static_cast<int64_t>(self.rank()), args));
  sym::Expr index = args.sym("index");
  if (auto c = index.as_const(); c && *c < 0) index = self.sizes()[d] + *c;
  ir::DType dtype = out.dtype;
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes,
                               [self, src, d, index, dtype](BodyBuilder& b, const Index& idx) {
                                 Index at = idx;
                                 at.erase(at.begin() + static_cast<std::ptrdiff_t>(d));
                                 int32_t x = to_compute(b, src.load(b, at), dtype);
                                 return b.where(index_compare(b, ScalarOp::kEq, idx[d], index), x,
                                                self.load(b, idx));
                               }));
}

}  // namespace

std::vector<LowerEntry> shape_concat_lowerings() {
  return {
      {"aten.cat.default", lower_cat},
      {"aten.concat.default", lower_cat},
      {"aten.stack.default", lower_stack},
      {"aten.constant_pad_nd.default", lower_pad},
      {"aten.pad.default", lower_pad},
      {"aten.diff.default", lower_diff},
      {"aten.repeat.default", lower_repeat},
      {"aten.tile.default", lower_repeat},
      {"aten.repeat_interleave.self_int", lower_repeat_interleave},
      {"aten.slice_scatter.default", lower_slice_scatter},
      {"aten.select_scatter.default", lower_select_scatter},
  };
}

}  // namespace kiln::lower
