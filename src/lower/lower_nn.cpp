// The nn family's lowering table, and the helpers its parts share: operands of runtime routines
// as strided views of realized buffers, found by walking back through the graph's view ops.
#include <algorithm>
#include <set>

#include "ir/graph_edit.h"
#include "lower/families.h"
#include "lower/lower_nn_util.h"
#include "ops/common.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::lower {

std::vector<LowerEntry> nn_lowerings() {
  register_nn_extern_evaluators();
  std::vector<LowerEntry> all;
  for (auto part : {nn_gemm_lowerings, nn_conv_lowerings, nn_pool_lowerings, nn_resample_lowerings,
                    nn_scatter_lowerings}) {
    auto entries = part();
    all.insert(all.end(), entries.begin(), entries.end());
  }
  return all;
}

namespace {

using Exprs = std::vector<sym::Expr>;

bool is_one(const sym::Expr& e) {
  auto c = e.as_const();
  return c && *c == 1;
}

bool known_equal(const sym::Expr& a, const sym::Expr& b) {
  if (a == b) return true;
  auto d = (a - b).as_const();
  return d && *d == 0;
}

StridedOperand contiguous(BufferId id, const Exprs& sizes) {
  StridedOperand s;
  s.buffer = id;
  s.sizes = sizes;
  s.strides = ir::TensorType::contiguous_strides(sizes);
  return s;
}

// Whether the view reads its buffer in row-major order (size-1 dims may have any stride).
bool is_contiguous(const StridedOperand& s) {
  sym::Expr expected = 1;
  for (size_t d = s.sizes.size(); d-- > 0;) {
    if (is_one(s.sizes[d])) continue;
    if (!known_equal(s.strides[d], expected)) return false;
    expected = expected * s.sizes[d];
  }
  return true;
}

// The view op's output as a strided view of `in`, or nullopt when strides cannot express it.
std::optional<StridedOperand> apply_view(const ops::Args& args, const StridedOperand& in,
                                         const Exprs& out_sizes) {
  const std::string& target = args.node().target;
  const size_t rank = in.sizes.size();
  StridedOperand out = in;
  auto wrap = [&](int64_t d, size_t r) {
    return static_cast<size_t>(ops::wrap_dim(d, static_cast<int64_t>(r), args));
  };
  if (target == "aten.alias.default" || target == "aten.detach.default") {
    // Unchanged.
  } else if (target == "aten.permute.default") {
    std::vector<int64_t> dims = args.ints("dims");
    if (dims.size() != rank) return std::nullopt;
    for (size_t i = 0; i < rank; ++i) {
      size_t p = wrap(dims[i], rank);
      out.sizes[i] = in.sizes[p];
      out.strides[i] = in.strides[p];
    }
  } else if (target == "aten.t.default") {
    // Swaps the two dims of a matrix; fewer dims are left as they are.
    if (rank == 2) {
      std::swap(out.sizes[0], out.sizes[1]);
      std::swap(out.strides[0], out.strides[1]);
    }
  } else if (target == "aten.transpose.int") {
    if (rank > 0) {
      size_t a = wrap(args.to_int("dim0"), rank), b = wrap(args.to_int("dim1"), rank);
      std::swap(out.sizes[a], out.sizes[b]);
      std::swap(out.strides[a], out.strides[b]);
    }
  } else if (target == "aten.unsqueeze.default") {
    size_t d = wrap(args.to_int("dim"), rank + 1);
    out.sizes.insert(out.sizes.begin() + static_cast<std::ptrdiff_t>(d), sym::Expr(1));
    out.strides.insert(out.strides.begin() + static_cast<std::ptrdiff_t>(d), sym::Expr(0));
  } else if (target == "aten.squeeze.dim" || target == "aten.squeeze.dims" ||
             target == "aten.squeeze.default") {
    std::set<size_t> drop;
    if (target == "aten.squeeze.default") {
      for (size_t d = 0; d < rank; ++d) {
        if (is_one(in.sizes[d])) drop.insert(d);
      }
    } else {
      std::vector<int64_t> dims = target == "aten.squeeze.dim"
                                      ? std::vector<int64_t>{args.to_int("dim")}
                                      : args.ints("dim");
      for (int64_t d : dims) {
        size_t w = wrap(d, std::max<size_t>(rank, 1));
        if (w < rank && is_one(in.sizes[w])) drop.insert(w);
      }
    }
    out.sizes.clear();
    out.strides.clear();
    for (size_t d = 0; d < rank; ++d) {
      if (drop.count(d) != 0) continue;
      out.sizes.push_back(in.sizes[d]);
      out.strides.push_back(in.strides[d]);
    }
  } else if (target == "aten.expand.default") {
    if (out_sizes.size() < rank) return std::nullopt;
    const size_t lead = out_sizes.size() - rank;
    out.sizes = out_sizes;
    out.strides.assign(out_sizes.size(), sym::Expr(0));
    for (size_t d = 0; d < rank; ++d) {
      if (known_equal(in.sizes[d], out_sizes[lead + d])) {
        out.strides[lead + d] = in.strides[d];
      } else if (!is_one(in.sizes[d])) {
        return std::nullopt;
      }
    }
  } else if (target == "aten.view.default" || target == "aten.reshape.default" ||
             target == "aten._unsafe_view.default") {
    if (in.sizes != out_sizes) {
      if (!is_contiguous(in)) return std::nullopt;
      out.sizes = out_sizes;
      out.strides = ir::TensorType::contiguous_strides(out_sizes);
    }
  } else {
    return std::nullopt;
  }
  if (out.sizes.size() != out_sizes.size()) return std::nullopt;
  for (size_t d = 0; d < out_sizes.size(); ++d) {
    if (!known_equal(out.sizes[d], out_sizes[d])) return std::nullopt;
  }
  out.sizes = out_sizes;
  return out;
}

StridedOperand walk(Lowering& ctx, ir::ValueId v, const std::string& comment, int depth) {
  TensorRef t = ctx.tensor(v);
  if (t.realized()) return contiguous(t.buffer(), t.sizes());
  const ir::Graph& g = ctx.graph();
  const int p = g.values[v].producer;
  const ops::OpDef* op = p >= 0 ? ops::find_op(g.nodes[p].target) : nullptr;
  if (op != nullptr && op->is_view && depth < 64) {
    const ir::Node& node = g.nodes[p];
    ops::GraphValueSource source(g);
    ops::Args args(*op, node, source);
    const auto ids = args.tensor_ids("self");
    if (ids.size() == 1 && ids[0]) {
      StridedOperand in = walk(ctx, *ids[0], comment, depth + 1);
      if (auto out = apply_view(args, in, g.values[v].type.sizes)) return *out;
    }
  }
  return contiguous(ctx.realize(t, comment), t.sizes());
}

}  // namespace

StridedOperand strided_operand(Lowering& ctx, ir::ValueId v, const std::string& comment) {
  return walk(ctx, v, comment, 0);
}

StridedOperand strided_operand(Lowering& ctx, const ops::Args& args, std::string_view name,
                               const std::string& comment) {
  return strided_operand(ctx, tensor_id(args, name), comment);
}

ir::ValueId tensor_id(const ops::Args& args, std::string_view name) {
  const auto ids = args.tensor_ids(name);
  if (ids.size() != 1 || !ids[0]) args.fail("argument '", name, "' is not a tensor");
  return *ids[0];
}

bool is_used(const ir::Graph& graph, ir::ValueId v) {
  for (const ir::Node& n : graph.nodes) {
    for (const ir::NamedArgument& a : n.inputs) {
      for (ir::ValueId u : ir::argument_values(a.arg)) {
        if (u == v) return true;
      }
    }
  }
  for (const ir::Argument& a : graph.outputs) {
    for (ir::ValueId u : ir::argument_values(a)) {
      if (u == v) return true;
    }
  }
  return false;
}

BufferId realized(Lowering& ctx, const TensorRef& t, const ir::Node& node) {
  return ctx.realize(t, ctx.label(node));
}

}  // namespace kiln::lower
