// Strided views found without computing anything: the walk back through view ops (and clones)
// that lets a GEMM read a sliced, permuted or reshaped operand in place, including the two-level
// batch of a reshape that merges two dims no single stride can step through.
#include "lower/lower_nn_util.h"

#include <algorithm>

#include "ops/common.h"
#include "ops/op_table.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

bool is_const(const sym::Expr& e, int64_t v) {
  auto c = e.as_const();
  return c && *c == v;
}

bool same(const sym::Expr& a, const sym::Expr& b) {
  return a == b || is_const(a - b, 0);
}

// Consecutive input and output dims whose size products are equal: a reshape maps each such
// group row-major onto itself, independently of the others.
struct Group {
  size_t in_begin, in_end, out_begin, out_end;
};

std::optional<std::vector<Group>> reshape_groups(const Exprs& in, const Exprs& out) {
  std::vector<Group> groups;
  size_t i = 0, j = 0;
  while (i < in.size() || j < out.size()) {
    Group g{i, i, j, j};
    sym::Expr pin = 1, pout = 1;
    do {
      const bool in_left = i < in.size(), out_left = j < out.size();
      if (!in_left && !out_left) return std::nullopt;
      bool from_in = false;
      if (!out_left) {
        from_in = true;
      } else if (in_left) {
        // Take from the side whose product divides the other's; undecidable symbols stop here.
        auto ci = pin.as_const(), co = pout.as_const();
        if (same(pin, pout)) {
          from_in = true;
        } else if (ci && co) {
          from_in = *ci < *co;
        } else if (is_const(sym::mod(pout, pin), 0)) {
          from_in = true;
        } else if (!is_const(sym::mod(pin, pout), 0)) {
          return std::nullopt;
        }
      }
      if (from_in) {
        pin = pin * in[i++];
      } else {
        pout = pout * out[j++];
      }
    } while (!same(pin, pout));
    g.in_end = i;
    g.out_end = j;
    groups.push_back(g);
  }
  return groups;
}

// The input dims of a group without their size-1 dims, as (size, stride) outermost first.
std::vector<std::pair<sym::Expr, sym::Expr>> non_unit(const StridedOperand& in, const Group& g) {
  std::vector<std::pair<sym::Expr, sym::Expr>> dims;
  for (size_t d = g.in_begin; d < g.in_end; ++d) {
    if (!is_const(in.sizes[d], 1)) dims.emplace_back(in.sizes[d], in.strides[d]);
  }
  return dims;
}

// A reshape of a strided view. Each group must step through memory with one stride per output
// dim, as torch's view() requires; the exception is a leading group that merges two input dims
// into output dim 0 of the result, which becomes a two-level batch dim.
std::optional<StridedOperand> reshape_view(const StridedOperand& in, const Exprs& out_sizes) {
  if (in.split()) return std::nullopt;
  auto groups = reshape_groups(in.sizes, out_sizes);
  if (!groups) return std::nullopt;
  StridedOperand out;
  out.buffer = in.buffer;
  out.offset = in.offset;
  out.sizes = out_sizes;
  out.strides.assign(out_sizes.size(), sym::Expr(0));
  for (const Group& g : *groups) {
    auto dims = non_unit(in, g);
    bool chained = true;  // each dim's stride is the next one's times its size
    for (size_t d = 0; d + 1 < dims.size(); ++d)
      chained = chained && same(dims[d].second, dims[d + 1].second * dims[d + 1].first);
    if (chained) {
      sym::Expr stride = dims.empty() ? sym::Expr(1) : dims.back().second;
      for (size_t d = g.out_end; d-- > g.out_begin;) {
        out.strides[d] = stride;
        stride = stride * out_sizes[d];
      }
      continue;
    }
    if (g.out_begin != 0 || g.out_end != 1 || dims.size() != 2) return std::nullopt;
    out.strides[0] = dims[0].second;
    out.batch2 = dims[1].first;
    out.stride2 = dims[1].second;
  }
  return out;
}

// The view op's output as a strided view of `in`, or nullopt when strides cannot express it.
std::optional<StridedOperand> apply_view(const ops::Args& args, const StridedOperand& in,
                                         const Exprs& out_sizes) {
  const std::string& target = args.node().target;
  const size_t rank = in.sizes.size();
  auto wrap = [&](int64_t d, size_t r) {
    return static_cast<size_t>(ops::wrap_dim(d, static_cast<int64_t>(r), args));
  };
  const bool reshape = target == "aten.view.default" || target == "aten.reshape.default" ||
                       target == "aten._unsafe_view.default";
  // A two-level dim 0 survives only views that leave dim 0 alone.
  if (in.split() && !(reshape && in.sizes == out_sizes) && target != "aten.alias.default" &&
      target != "aten.detach.default") {
    return std::nullopt;
  }
  StridedOperand out = in;
  if (target == "aten.alias.default" || target == "aten.detach.default") {
    // Unchanged.
  } else if (target == "aten.permute.default") {
    std::vector<int64_t> dims = args.ints("dims");
    if (dims.size() != rank) return std::nullopt;
    for (size_t i = 0; i < rank; ++i) {
      const size_t p = wrap(dims[i], rank);
      out.sizes[i] = in.sizes[p];
      out.strides[i] = in.strides[p];
    }
  } else if (target == "aten.t.default") {
    if (rank == 2) {
      std::swap(out.sizes[0], out.sizes[1]);
      std::swap(out.strides[0], out.strides[1]);
    }
  } else if (target == "aten.transpose.int") {
    if (rank > 0) {
      const size_t a = wrap(args.to_int("dim0"), rank), b = wrap(args.to_int("dim1"), rank);
      std::swap(out.sizes[a], out.sizes[b]);
      std::swap(out.strides[a], out.strides[b]);
    }
  } else if (target == "aten.unsqueeze.default") {
    const size_t d = wrap(args.to_int("dim"), rank + 1);
    out.sizes.insert(out.sizes.begin() + static_cast<std::ptrdiff_t>(d), sym::Expr(1));
    out.strides.insert(out.strides.begin() + static_cast<std::ptrdiff_t>(d), sym::Expr(0));
  } else if (target == "aten.expand.default") {
    if (out_sizes.size() < rank) return std::nullopt;
    const size_t lead = out_sizes.size() - rank;
    out.sizes = out_sizes;
    out.strides.assign(out_sizes.size(), sym::Expr(0));
    for (size_t d = 0; d < rank; ++d) {
      if (same(in.sizes[d], out_sizes[lead + d])) {
        out.strides[lead + d] = in.strides[d];
      } else if (!is_const(in.sizes[d], 1)) {
        return std::nullopt;
      }
    }
  } else if (target == "aten.slice.Tensor") {
    if (rank == 0) return std::nullopt;
    const size_t d = wrap(args.to_int("dim"), rank);
    const sym::Expr step = args.sym("step");
    sym::Expr start = args.is_none("start") ? sym::Expr(0) : args.sym("start");
    auto c = start.as_const();
    if (!c) return std::nullopt;  // a symbolic start may be negative or past the end
    if (*c < 0) {
      auto size = in.sizes[d].as_const();
      if (!size) return std::nullopt;
      start = std::max<int64_t>(*c + *size, 0);
    }
    if (out_sizes.size() != rank) return std::nullopt;
    out.offset = in.offset + start * in.strides[d];
    out.strides[d] = in.strides[d] * step;
    out.sizes[d] = out_sizes[d];  // the shape rule's length, end clamped
  } else if (target == "aten.select.int") {
    if (rank == 0) return std::nullopt;
    const size_t d = wrap(args.to_int("dim"), rank);
    sym::Expr index = args.sym("index");
    if (auto c = index.as_const(); c && *c < 0) index = in.sizes[d] + *c;
    out.offset = in.offset + index * in.strides[d];
    out.sizes.erase(out.sizes.begin() + static_cast<std::ptrdiff_t>(d));
    out.strides.erase(out.strides.begin() + static_cast<std::ptrdiff_t>(d));
  } else if (reshape) {
    if (in.sizes != out_sizes) {
      auto r = reshape_view(in, out_sizes);
      if (!r) return std::nullopt;
      out = *r;
    }
  } else {
    return std::nullopt;
  }
  if (out.sizes.size() != out_sizes.size()) return std::nullopt;
  for (size_t d = 0; d < out_sizes.size(); ++d) {
    if (!same(out.sizes[d], out_sizes[d])) return std::nullopt;
  }
  out.sizes = out_sizes;
  return out;
}

std::optional<StridedOperand> walk(Lowering& ctx, ir::ValueId v, int depth) {
  TensorRef t = ctx.tensor(v);
  if (t.realized()) {
    StridedOperand s;
    s.buffer = t.buffer();
    s.sizes = t.sizes();
    s.strides = ir::TensorType::contiguous_strides(s.sizes);
    return s;
  }
  const ir::Graph& g = ctx.graph();
  const int p = g.values[v].producer;
  const ops::OpDef* op = p >= 0 ? ops::find_op(g.nodes[p].target) : nullptr;
  // A clone (resolve_views puts one before a reshape that cannot view its input) holds the
  // same values as its input, which nothing mutates after functionalization: read the input.
  const bool clone = op != nullptr && op->target == "aten.clone.default";
  if (op == nullptr || !(op->is_view || clone) || depth >= 64) return std::nullopt;
  const ir::Node& node = g.nodes[p];
  ops::GraphValueSource source(g);
  ops::Args args(*op, node, source);
  const auto ids = args.tensor_ids("self");
  if (ids.size() != 1 || !ids[0]) return std::nullopt;
  auto in = walk(ctx, *ids[0], depth + 1);
  if (!in || clone) return in;
  return apply_view(args, *in, g.values[v].type.sizes);
}

}  // namespace

std::optional<StridedOperand> find_strided_view(Lowering& ctx, ir::ValueId v) {
  return walk(ctx, v, 0);
}

}  // namespace kiln::lower
