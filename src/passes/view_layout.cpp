#include "passes/view_layout.h"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>

#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

bool is_one(const sym::Expr& e, const sym::RangeMap& ranges) {
  return provably_equal(e, 1, ranges);
}

bool all_const(const std::vector<sym::Expr>& v) {
  return std::all_of(v.begin(), v.end(), [](const sym::Expr& e) { return e.is_const(); });
}

}  // namespace

bool is_reshape_op(std::string_view target) {
  return target == "aten.view.default" || target == "aten.reshape.default" ||
         target == "aten._unsafe_view.default" || target == "aten.view_as.default" ||
         target == "aten.flatten.using_ints";
}

bool provably_equal(const sym::Expr& a, const sym::Expr& b, const sym::RangeMap& ranges) {
  if (a == b) return true;
  sym::Range r = sym::bounds(a - b, ranges);
  return r.min && r.max && *r.min == 0 && *r.max == 0;
}

bool provably_different(const sym::Expr& a, const sym::Expr& b, const sym::RangeMap& ranges) {
  if (a == b) return false;
  std::set<std::string> symbols = a.free_symbols();
  for (const auto& s : b.free_symbols())
    symbols.insert(s);
  for (const auto& s : symbols) {
    auto it = ranges.find(s);
    if (it == ranges.end() || !it->second.min || !it->second.max) return false;
  }
  // Each symbol at its min, its max, and the midpoint; a few mixed assignments besides.
  for (int pick = 0; pick < 5; ++pick) {
    std::unordered_map<std::string, int64_t> at;
    int k = 0;
    for (const auto& s : symbols) {
      const sym::Range& r = ranges.at(s);
      int64_t lo = *r.min, hi = *r.max, mid = lo + (hi - lo) / 2;
      int choice = pick < 3 ? pick : (pick + k++) % 3;
      at[s] = choice == 0 ? lo : choice == 1 ? hi : mid;
    }
    try {
      if (a.eval(at) != b.eval(at)) return true;
    } catch (const Error&) {
      return false;  // overflow at a huge bound: nothing proven
    }
  }
  return false;
}

bool is_contiguous_layout(const ir::TensorType& t, const sym::RangeMap& ranges) {
  if (t.strides.size() != t.sizes.size()) return false;
  sym::Expr expected = 1;
  for (size_t d = t.sizes.size(); d-- > 0;) {
    if (is_one(t.sizes[d], ranges)) continue;
    if (!provably_equal(t.strides[d], expected, ranges)) return false;
    expected = expected * t.sizes[d];
  }
  return true;
}

std::optional<std::vector<sym::Expr>> view_strides(const std::vector<sym::Expr>& sizes,
                                                   const std::vector<sym::Expr>& strides,
                                                   const std::vector<sym::Expr>& new_sizes,
                                                   const sym::RangeMap& ranges) {
  size_t rank = new_sizes.size();
  std::vector<sym::Expr> out(rank, 1);
  if (sizes.empty()) return out;
  bool empty =
      std::any_of(sizes.begin(), sizes.end(), [](const sym::Expr& e) { return e == sym::Expr(0); });
  if (empty) {
    if (sizes == new_sizes) return strides;
    return ir::TensorType::contiguous_strides(new_sizes);
  }
  // Walk the old dims from the innermost, in chunks the old layout keeps adjacent; each chunk
  // must be covered exactly by consecutive new dims, which then stride through it row-major.
  auto eq = [&](const sym::Expr& a, const sym::Expr& b) { return provably_equal(a, b, ranges); };
  int64_t view_d = static_cast<int64_t>(rank) - 1;
  sym::Expr chunk_base_stride = strides.back();
  sym::Expr tensor_numel = 1, view_numel = 1;
  for (size_t td = sizes.size(); td-- > 0;) {
    tensor_numel = tensor_numel * sizes[td];
    bool boundary = td == 0 || (!is_one(sizes[td - 1], ranges) &&
                                !eq(strides[td - 1], tensor_numel * chunk_base_stride));
    if (!boundary) continue;
    while (view_d >= 0 && (!eq(view_numel, tensor_numel) ||
                           is_one(new_sizes[static_cast<size_t>(view_d)], ranges))) {
      out[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
      view_numel = view_numel * new_sizes[static_cast<size_t>(view_d)];
      --view_d;
    }
    if (!eq(view_numel, tensor_numel)) return std::nullopt;
    if (td > 0) {
      chunk_base_stride = strides[td - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

ReshapeKind reshape_kind(std::string_view target, const ir::TensorType& in,
                         const std::vector<sym::Expr>& new_sizes, const sym::RangeMap& ranges) {
  // view and view_as must be views (export checked it); _unsafe_view views the fresh copy
  // that reshape's decomposition made.
  if (target != "aten.reshape.default" && target != "aten.flatten.using_ints") {
    return ReshapeKind::kView;
  }
  if (is_contiguous_layout(in, ranges)) return ReshapeKind::kView;
  if (view_strides(in.sizes, in.strides, new_sizes, ranges)) return ReshapeKind::kView;
  if (all_const(in.sizes) && all_const(in.strides) && all_const(new_sizes)) {
    return ReshapeKind::kCopy;
  }
  return ReshapeKind::kUnknown;
}

bool refresh_view_layout(ir::Graph& g, const ir::Node& n, const sym::RangeMap& ranges) {
  const ops::OpDef* op = ops::find_op(n.target);
  if (op == nullptr || !op->is_view) return false;
  std::vector<ir::TensorType> types;
  auto outs = ir::node_outputs(n);
  if (is_reshape_op(n.target)) {
    int self = ir::input_index(n, "self");
    auto in_ids = self < 0 ? std::vector<ir::ValueId>{}
                           : ir::argument_values(n.inputs[static_cast<size_t>(self)].arg);
    if (in_ids.size() != 1 || outs.size() != 1) return false;
    const ir::TensorType& in = g.values[static_cast<size_t>(in_ids[0])].type;
    ir::TensorType t = g.values[static_cast<size_t>(outs[0])].type;
    if (auto strides = view_strides(in.sizes, in.strides, t.sizes, ranges)) {
      t.strides = *strides;
      t.storage_offset = in.storage_offset;
    } else {
      t.strides = ir::TensorType::contiguous_strides(t.sizes);
      t.storage_offset = 0;
    }
    types.push_back(std::move(t));
  } else {
    ops::GraphValueSource source(g);
    for (const ops::OutType& t : op->shape(ops::Args(*op, n, source))) {
      if (t.kind == ir::ValueKind::kTensor) types.push_back(t.tensor);
    }
  }
  if (types.size() != outs.size()) return false;
  bool changed = false;
  for (size_t k = 0; k < outs.size(); ++k) {
    ir::TensorType& t = g.values[static_cast<size_t>(outs[k])].type;
    if (t.strides == types[k].strides && t.storage_offset == types[k].storage_offset) continue;
    t.strides = types[k].strides;
    t.storage_offset = types[k].storage_offset;
    changed = true;
  }
  return changed;
}

}  // namespace kiln::passes
