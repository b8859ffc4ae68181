// Views as index maps: each view is a lazy tensor that reads its input at a transformed index,
// so a chain of views costs nothing until a consumer loads from it. Output sizes are the graph's
// declared ones (they come from the same shape rules); only as_strided needs memory, since it
// addresses elements by their offset.
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

int64_t wrap(const ops::Args& args, int64_t dim, size_t rank) {
  return ops::wrap_dim(dim, static_cast<int64_t>(rank), args);
}

// The declared output sizes of a view of `in`, in's dtype.
const Exprs& out_sizes(const Lowering& ctx, const ir::Node& node) {
  return ctx.output_type(node).sizes;
}

// ---- reshape family ---------------------------------------------------------------------------

// Consecutive dims of the input and of the output whose sizes have equal products: within such
// a group, row-major order maps one side to the other, and the groups are independent.
struct Group {
  size_t in_begin, in_end, out_begin, out_end;
};

// Whether the next dim to take into a group comes from the input side (the side whose product
// divides the other's). nullopt: undecidable over the symbols.
std::optional<bool> take_input(const sym::Expr& pin, const sym::Expr& pout) {
  if (pin == pout) return true;
  auto ci = pin.as_const(), co = pout.as_const();
  if (ci && co) return *ci < *co;
  if (is_known(sym::mod(pout, pin), 0)) return true;
  if (is_known(sym::mod(pin, pout), 0)) return false;
  return std::nullopt;
}

std::optional<std::vector<Group>> reshape_groups(const Exprs& in, const Exprs& out) {
  std::vector<Group> groups;
  size_t i = 0, j = 0;
  while (i < in.size() || j < out.size()) {
    Group g{i, i, j, j};
    sym::Expr pin = 1, pout = 1;
    do {
      bool in_left = i < in.size(), out_left = j < out.size();
      if (!in_left && !out_left) return std::nullopt;
      std::optional<bool> from_in = !in_left    ? std::optional(false)
                                    : !out_left ? std::optional(true)
                                                : take_input(pin, pout);
      if (!from_in) return std::nullopt;
      if (*from_in) {
        pin = pin * in[i++];
      } else {
        pout = pout * out[j++];
      }
    } while (pin != pout);
    g.in_end = i;
    g.out_end = j;
    groups.push_back(g);
  }
  return groups;
}

Exprs slice_of(const Exprs& v, size_t begin, size_t end) {
  return Exprs(v.begin() + static_cast<std::ptrdiff_t>(begin),
               v.begin() + static_cast<std::ptrdiff_t>(end));
}

// The row-major reinterpretation of `in_sizes` as `out_sizes`: out index -> in index.
IndexMap reshape_map(const Exprs& in_sizes, const Exprs& out_sizes) {
  std::optional<std::vector<Group>> groups = reshape_groups(in_sizes, out_sizes);
  if (!groups) {
    // Dims that no grouping proves equal: go through the flat offset of the whole tensor.
    return [in_sizes, out_sizes](const Index& idx) {
      return unravel(ravel(idx, out_sizes), in_sizes);
    };
  }
  return [in_sizes, out_sizes, groups = *groups](const Index& idx) {
    Index in;
    for (const Group& g : groups) {
      sym::Expr flat =
          ravel(slice_of(idx, g.out_begin, g.out_end), slice_of(out_sizes, g.out_begin, g.out_end));
      Index part = unravel(flat, slice_of(in_sizes, g.in_begin, g.in_end));
      in.insert(in.end(), part.begin(), part.end());
    }
    return in;
  };
}

void lower_reshape(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const Exprs& sizes = out_sizes(ctx, node);
  if (sizes == in.sizes()) {
    ctx.set_output(node, 0, in);
    return;
  }
  IndexMap map = reshape_map(in.sizes(), sizes);
  // Decided when a consumer loads: by then the input may have been computed into memory, and a
  // row-major buffer read under new sizes is read at the same flat offset.
  ctx.set_output(node, 0,
                 ctx.pointwise(
                     in.dtype(), sizes,
                     [in, sizes, map](BodyBuilder& b, const Index& idx) {
                       if (in.realized()) {
                         return b.load(in.buffer(), in.dtype(), ravel(idx, sizes));
                       }
                       return in.load(b, map(idx));
                     },
                     0));
}

// ---- dim reorders ----------------------------------------------------------------------------

// Output dim i reads input dim perm[i].
void set_permuted(Lowering& ctx, const ir::Node& node, const TensorRef& in,
                  const std::vector<int64_t>& perm) {
  Exprs sizes;
  for (int64_t p : perm)
    sizes.push_back(in.sizes()[static_cast<size_t>(p)]);
  check_sizes(ctx, node, sizes);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [perm](const Index& idx) {
                   Index out(idx.size());
                   for (size_t i = 0; i < perm.size(); ++i)
                     out[static_cast<size_t>(perm[i])] = idx[i];
                   return out;
                 }));
}

std::vector<int64_t> identity_perm(size_t rank) {
  std::vector<int64_t> perm(rank);
  for (size_t i = 0; i < rank; ++i)
    perm[i] = static_cast<int64_t>(i);
  return perm;
}

void lower_permute(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  std::vector<int64_t> perm = args.ints("dims");
  if (perm.size() != in.rank()) args.fail("permute: ", perm.size(), " dims for rank ", in.rank());
  for (int64_t& d : perm)
    d = wrap(args, d, in.rank());
  set_permuted(ctx, node, in, perm);
}

void swap_dims(Lowering& ctx, const ir::Node& node, const TensorRef& in, int64_t d0, int64_t d1) {
  std::vector<int64_t> perm = identity_perm(in.rank());
  if (in.rank() > 0) std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
  set_permuted(ctx, node, in, perm);
}

void lower_transpose(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  swap_dims(ctx, node, in, wrap(args, args.to_int("dim0"), in.rank()),
            wrap(args, args.to_int("dim1"), in.rank()));
}

void lower_t(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  if (in.rank() > 2) args.fail("t() expects a tensor with <= 2 dimensions");
  if (in.rank() < 2) {
    ctx.set_output(node, 0, in);
    return;
  }
  swap_dims(ctx, node, in, 0, 1);
}

void lower_movedim(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  std::vector<int64_t> perm = identity_perm(in.rank());
  if (in.rank() > 0) {
    int64_t src = wrap(args, args.to_int("source"), in.rank());
    int64_t dst = wrap(args, args.to_int("destination"), in.rank());
    perm.erase(perm.begin() + src);
    perm.insert(perm.begin() + dst, src);
  }
  set_permuted(ctx, node, in, perm);
}

// ---- broadcasts and unit dims ----------------------------------------------------------------

void lower_expand(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const Exprs& sizes = out_sizes(ctx, node);
  if (sizes.size() < in.rank()) args.fail("expand: fewer sizes than the input's rank");
  size_t lead = sizes.size() - in.rank();
  // A size-1 input dim broadcasts (reads index 0); every other dim keeps its index.
  std::vector<bool> broadcast(in.rank());
  for (size_t k = 0; k < in.rank(); ++k)
    broadcast[k] = is_known(in.sizes()[k], 1);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [lead, broadcast](const Index& idx) {
                   Index out(broadcast.size());
                   for (size_t k = 0; k < broadcast.size(); ++k)
                     out[k] = broadcast[k] ? sym::Expr(0) : idx[lead + k];
                   return out;
                 }));
}

void lower_unsqueeze(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  auto dim = static_cast<size_t>(wrap(args, args.to_int("dim"), in.rank() + 1));
  Exprs sizes = in.sizes();
  sizes.insert(sizes.begin() + static_cast<std::ptrdiff_t>(dim), 1);
  check_sizes(ctx, node, sizes);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [dim](const Index& idx) {
                   Index out = idx;
                   out.erase(out.begin() + static_cast<std::ptrdiff_t>(dim));
                   return out;
                 }));
}

void lower_squeeze(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  std::vector<bool> listed(in.rank(), args.schema().index_of("dim") < 0);
  if (!listed.empty() && args.schema().index_of("dim") >= 0) {
    for (int64_t d : args.ints("dim"))
      listed[static_cast<size_t>(wrap(args, d, in.rank()))] = true;
  }
  // Only dims known to be 1 go, as in the shape rule; the dropped ones read index 0.
  std::vector<bool> drop(in.rank());
  Exprs sizes;
  for (size_t d = 0; d < in.rank(); ++d) {
    drop[d] = listed[d] && is_known(in.sizes()[d], 1);
    if (!drop[d]) sizes.push_back(in.sizes()[d]);
  }
  check_sizes(ctx, node, sizes);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [drop](const Index& idx) {
                   Index out;
                   size_t next = 0;
                   for (bool dropped : drop)
                     out.push_back(dropped ? sym::Expr(0) : idx[next++]);
                   return out;
                 }));
}

void lower_alias(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  ctx.set_output(node, 0, ctx.tensor(args, "self"));
}

// ---- slices ----------------------------------------------------------------------------------

// A slice bound clamped into [0, size] as the shape rule clamps it (negative counts from the
// end; a symbolic bound is taken to be non-negative).
sym::Expr clamp_bound(const sym::Expr& v, const sym::Expr& size) {
  auto c = v.as_const();
  if (!c) return sym::min(v, size);
  if (*c < 0) {
    if (auto s = size.as_const()) return std::max<int64_t>(*c + *s, 0);
    return sym::max(size + *c, 0);
  }
  if (*c == 0) return 0;
  if (*c >= std::numeric_limits<int64_t>::max() / 4) return size;  // "to the end"
  return sym::min(v, size);
}

// Output index o of dim `dim` reads input index start + step * o.
void set_strided_dim(Lowering& ctx, const ir::Node& node, const TensorRef& in, size_t dim,
                     const sym::Expr& start, const sym::Expr& step) {
  ctx.set_output(node, 0,
                 remap(ctx, in, out_sizes(ctx, node), [dim, start, step](const Index& idx) {
                   Index out = idx;
                   out[dim] = start + step * idx[dim];
                   return out;
                 }));
}

size_t dim_arg(const ops::Args& args, const TensorRef& in, const char* op) {
  if (in.rank() == 0) args.fail(op, "() cannot be applied to a 0-dim tensor");
  return static_cast<size_t>(wrap(args, args.to_int("dim"), in.rank()));
}

void lower_slice(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  size_t dim = dim_arg(args, in, "slice");
  const sym::Expr& size = in.sizes()[dim];
  sym::Expr step = args.sym("step");
  if (step.as_const().value_or(1) <= 0) args.fail("slice step must be positive");
  sym::Expr start = args.is_none("start") ? sym::Expr(0) : clamp_bound(args.sym("start"), size);
  set_strided_dim(ctx, node, in, dim, start, step);
}

void lower_narrow(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  size_t dim = dim_arg(args, in, "narrow");
  sym::Expr start = args.sym("start");
  if (auto c = start.as_const(); c && *c < 0) start = in.sizes()[dim] + *c;
  set_strided_dim(ctx, node, in, dim, start, 1);
}

void lower_select(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  size_t dim = dim_arg(args, in, "select");
  sym::Expr index = args.sym("index");
  const sym::Expr& size = in.sizes()[dim];
  if (auto c = index.as_const()) {
    if (auto s = size.as_const(); s && (*c < -*s || *c >= *s)) {
      args.fail("select(): index ", *c, " out of range for a dim of size ", *s);
    }
    if (*c < 0) index = size + *c;
  }
  Exprs sizes = in.sizes();
  sizes.erase(sizes.begin() + static_cast<std::ptrdiff_t>(dim));
  check_sizes(ctx, node, sizes);
  ctx.set_output(node, 0, remap(ctx, in, sizes, [dim, index](const Index& idx) {
                   Index out = idx;
                   out.insert(out.begin() + static_cast<std::ptrdiff_t>(dim), index);
                   return out;
                 }));
}

// ---- as_strided ------------------------------------------------------------------------------

// Element offsets into self's dense row-major layout, as the reference kernel reads them: the
// input is computed into memory and read by the view's strides.
void lower_as_strided(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef in = ctx.tensor(args, "self");
  const ir::TensorType& self = args.type("self");
  const ir::TensorType& out = ctx.output_type(node);
  sym::Expr base = out.storage_offset - self.storage_offset;
  sym::Expr numel = 1;
  for (const auto& s : in.sizes())
    numel = numel * s;
  // The last element read, where everything is known: it must lie inside self.
  sym::Expr last = base;
  bool empty = false;
  for (size_t d = 0; d < out.rank(); ++d) {
    empty = empty || is_known(out.sizes[d], 0);
    last = last + (out.sizes[d] - 1) * out.strides[d];
  }
  auto lo = base.as_const(), hi = last.as_const(), n = numel.as_const();
  if (!empty && ((lo && *lo < 0) || (hi && n && *hi >= *n))) {
    args.fail("as_strided reads elements [", base.str(), ", ", last.str(), "] of an input of ",
              numel.str(), " elements");
  }
  BufferId buffer = ctx.realize(in, ctx.label(node));
  ir::DType dtype = in.dtype();
  Exprs strides = out.strides;
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes,
                               [buffer, dtype, base, strides](BodyBuilder& b, const Index& idx) {
                                 sym::Expr flat = base;
                                 for (size_t d = 0; d < idx.size(); ++d)
                                   flat = flat + idx[d] * strides[d];
                                 return b.load(buffer, dtype, flat);
                               }));
}

}  // namespace

std::vector<LowerEntry> shape_view_lowerings() {
  return {
      {"aten.view.default", lower_reshape},
      {"aten.reshape.default", lower_reshape},
      {"aten._unsafe_view.default", lower_reshape},
      {"aten.view_as.default", lower_reshape},
      {"aten.flatten.using_ints", lower_reshape},
      {"aten.unflatten.int", lower_reshape},
      {"aten.permute.default", lower_permute},
      {"aten.transpose.int", lower_transpose},
      {"aten.t.default", lower_t},
      {"aten.movedim.int", lower_movedim},
      {"aten.expand.default", lower_expand},
      {"aten.expand_as.default", lower_expand},
      {"aten.unsqueeze.default", lower_unsqueeze},
      {"aten.squeeze.default", lower_squeeze},
      {"aten.squeeze.dim", lower_squeeze},
      {"aten.squeeze.dims", lower_squeeze},
      {"aten.alias.default", lower_alias},
      {"aten.detach.default", lower_alias},
      {"aten.slice.Tensor", lower_slice},
      {"aten.narrow.default", lower_narrow},
      {"aten.select.int", lower_select},
      {"aten.as_strided.default", lower_as_strided},
  };
}

}  // namespace kiln::lower
