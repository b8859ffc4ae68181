// Decompositions of shape ops: the factories into full, the *_as views, flatten / unflatten
// into reshape, stack into cat, the list-returning splits into slices and selects, repeat and
// repeat_interleave into unsqueeze / expand / reshape, diff into slices and sub, and the
// whole-tensor max / min into amax / amin.
#include "ops/common.h"
#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::DType;
using ir::ValueId;
using Values = std::vector<ValueId>;

// ---- Factories: full of the node's result dtype and device ----

// The sizes given, or those of `self` for the *_like ops.
std::vector<ir::SymIntArg> factory_sizes(Decomposer& d, const Args& a) {
  if (a.schema().index_of("size") >= 0) return sym_list(a, "size");
  return d.sizes(tensor_id(a, "self"));
}

template <int64_t kValue>
Values constant_factory(Decomposer& d, const Args& a) {
  ir::TensorType out = result_type(a);
  return {d.full(factory_sizes(d, a), kValue, out.dtype, out.device)};
}

Values fill_factory(Decomposer& d, const Args& a) {
  ir::TensorType out = result_type(a);
  return {d.full(factory_sizes(d, a), number(a, "fill_value"), out.dtype, out.device)};
}

// ---- Views as reshapes and expands ----

Values expand_as(Decomposer& d, const Args& a) {
  return {d.expand(tensor_id(a, "self"), d.sizes(tensor_id(a, "other")))};
}

Values view_as(Decomposer& d, const Args& a) {
  return {d.reshape(tensor_id(a, "self"), d.sizes(tensor_id(a, "other")))};
}

// Dims [start, end] merged into one.
Values flatten(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  int64_t rank = d.rank(self);
  if (rank == 0) return {d.reshape(self, {literal(1)})};
  int64_t start = wrap_dim(a.to_int("start_dim"), rank, a);
  int64_t end = wrap_dim(a.to_int("end_dim"), rank, a);
  std::vector<int64_t> merged;
  for (int64_t k = start; k <= end; ++k)
    merged.push_back(k);
  std::vector<ir::SymIntArg> sizes;
  for (int64_t k = 0; k < start; ++k)
    sizes.push_back(d.dim(self, k));
  sizes.push_back(d.count(self, merged));
  for (int64_t k = end + 1; k < rank; ++k)
    sizes.push_back(d.dim(self, k));
  return {d.reshape(self, sizes)};
}

// Dim `dim` split into `sizes` (one of which may be -1).
Values unflatten(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  int64_t rank = d.rank(self);
  int64_t dim = wrap_dim(a.to_int("dim"), rank, a);
  std::vector<ir::SymIntArg> sizes;
  for (int64_t k = 0; k < rank; ++k) {
    if (k != dim) {
      sizes.push_back(d.dim(self, k));
      continue;
    }
    for (const ir::SymIntArg& s : sym_list(a, "sizes"))
      sizes.push_back(s);
  }
  return {d.reshape(self, sizes)};
}

Values stack(Decomposer& d, const Args& a) {
  std::vector<std::optional<ValueId>> ids = a.tensor_ids("tensors");
  if (ids.empty() || !ids[0]) a.fail("stack expects a non-empty list of tensors");
  int64_t dim = wrap_dim(a.to_int("dim"), d.rank(*ids[0]) + 1, a);
  std::vector<ir::TensorArg> parts;
  for (const auto& id : ids) {
    if (!id) a.fail("stack expects tensors, got None");
    parts.push_back(tensor_arg(d.unsqueeze(*id, dim)));
  }
  return {d.emit("aten.cat.default", {{"tensors", parts}, {"dim", dim}})};
}

// ---- Splits: consecutive slices with the lengths of the shape rule's outputs ----

// Consecutive pieces of self along `dim` with the given lengths: slices where the dim's size
// is known, else narrows (a slice's bounds are clamped to a symbolic size, which its type keeps,
// where narrow's length is exact).
Values pieces(Decomposer& d, ValueId self, int64_t dim, const std::vector<ir::SymIntArg>& lengths) {
  const sym::Expr size = d.size(self, dim);
  if (lengths.size() == 1 && d.expr(lengths[0]) == size) return {self};
  Values out;
  ir::SymIntArg start = literal(0);
  for (const ir::SymIntArg& len : lengths) {
    ir::SymIntArg end = d.add(start, len);
    if (size.is_const() && !start.value && !len.value) {
      out.push_back(d.slice(self, dim, start, end));
    } else {
      out.push_back(d.emit("aten.narrow.default", {{"self", tensor_arg(self)},
                                                   {"dim", dim},
                                                   {"start", int_arg(start)},
                                                   {"length", int_arg(len)}}));
    }
    start = end;
  }
  return out;
}

Values split(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  int64_t dim = wrap_dim(a.to_int("dim"), d.rank(self), a);
  if (a.schema().index_of("split_sizes") >= 0) {
    return pieces(d, self, dim, sym_list(a, "split_sizes"));
  }
  std::vector<OutType> outs = a.op().shape(a);
  if (outs.size() == 1) return {self};
  // split and chunk know their pieces' lengths when compiling (the shape rule requires it).
  std::vector<ir::SymIntArg> lengths;
  for (const OutType& o : outs) {
    const sym::Expr& len = o.tensor.sizes.at(static_cast<size_t>(dim));
    auto c = len.as_const();
    if (!c) a.fail("a piece has the symbolic length ", len.str(), " along dim ", dim);
    lengths.push_back(literal(*c));
  }
  return pieces(d, self, dim, lengths);
}

Values unbind(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  int64_t dim = wrap_dim(a.to_int("dim"), d.rank(self), a);
  size_t count = a.op().shape(a).size();
  Values out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(
        d.emit("aten.select.int",
               {{"self", tensor_arg(self)}, {"dim", dim}, {"index", static_cast<int64_t>(i)}}));
  }
  return out;
}

// ---- Repeats ----

// self tiled repeats[i] times along dim i: each repeated dim k becomes [r, s] (the copies
// outermost), expanded from [1, s], then merged to r * s.
Values repeat(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  std::vector<ir::SymIntArg> reps = sym_list(a, "repeats");
  int64_t rank = d.rank(self);
  auto lead = static_cast<int64_t>(reps.size()) - rank;
  std::vector<ir::SymIntArg> sizes(static_cast<size_t>(lead), literal(1));
  for (const ir::SymIntArg& s : d.sizes(self))
    sizes.push_back(s);
  std::vector<ir::SymIntArg> spread, expanded, merged;
  for (size_t k = 0; k < reps.size(); ++k) {
    const ir::SymIntArg& r = reps[k];
    if (!r.value && r.literal == 1) {
      spread.push_back(sizes[k]);
      expanded.push_back(sizes[k]);
    } else {
      spread.push_back(literal(1));
      spread.push_back(sizes[k]);
      expanded.push_back(r);
      expanded.push_back(sizes[k]);
    }
    merged.push_back(d.mul(r, sizes[k]));
  }
  ValueId x = d.reshape(self, spread);
  return {d.reshape(d.expand(x, expanded), merged)};
}

// Each element of dim `dim` (of the flattened self when dim is None) repeated `repeats` times
// in place: [.., s, ..] -> [.., s, r, ..] -> [.., s * r, ..].
Values repeat_interleave(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  std::vector<ir::SymIntArg> reps = sym_list(a, "repeats");
  ir::SymIntArg r = reps.at(0);
  int64_t dim = 0;
  if (a.is_none("dim")) {
    std::vector<int64_t> all;
    for (int64_t k = 0; k < d.rank(self); ++k)
      all.push_back(k);
    self = d.reshape(self, {d.count(self, all)});
  } else {
    dim = wrap_dim(a.to_int("dim"), d.rank(self), a);
  }
  std::vector<ir::SymIntArg> sizes = d.sizes(self);
  std::vector<ir::SymIntArg> expanded = sizes, merged = sizes;
  expanded.insert(expanded.begin() + dim + 1, r);
  merged[static_cast<size_t>(dim)] = d.mul(sizes[static_cast<size_t>(dim)], r);
  ValueId x = d.expand(d.unsqueeze(self, dim + 1), expanded);
  return {d.reshape(x, merged)};
}

// ---- diff: n differences of neighbours along dim ----

Values diff(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "self");
  int64_t n = a.to_int("n");
  if (n == 0) return {x};  // prepend and append are ignored then, as in PyTorch
  int64_t dim = wrap_dim(a.to_int("dim"), d.rank(x), a);
  auto prepend = optional_tensor_id(a, "prepend");
  auto append = optional_tensor_id(a, "append");
  if (prepend || append) {
    std::vector<ir::TensorArg> parts;
    if (prepend) parts.push_back(tensor_arg(*prepend));
    parts.push_back(tensor_arg(x));
    if (append) parts.push_back(tensor_arg(*append));
    x = d.emit("aten.cat.default", {{"tensors", parts}, {"dim", dim}});
  }
  const bool logical = d.dtype(x) == DType::kBool;
  for (int64_t step = 0; step < n; ++step) {
    ValueId hi = d.slice(x, dim, literal(1), std::nullopt);
    ValueId lo = d.slice(x, dim, literal(0), literal(-1));
    x = logical ? d.binary("aten.logical_xor.default", hi, tensor_arg(lo)) : d.sub(hi, lo);
  }
  return {x};
}

// ---- Whole-tensor extremes ----

template <bool kMax>
Values extreme(Decomposer& d, const Args& a) {
  ValueId self = tensor_id(a, "self");
  std::vector<int64_t> all;
  for (int64_t k = 0; k < d.rank(self); ++k)
    all.push_back(k);
  if (all.empty()) return {self};  // a 0-dim tensor is its own extreme
  return {d.emit(kMax ? "aten.amax.default" : "aten.amin.default",
                 {{"self", tensor_arg(self)}, {"dim", all}, {"keepdim", false}})};
}

const Decomposition kDecompositions[] = {
    {"aten.ones.default", constant_factory<1>},
    {"aten.zeros.default", constant_factory<0>},
    {"aten.empty.memory_format", constant_factory<0>},
    {"aten.ones_like.default", constant_factory<1>},
    {"aten.zeros_like.default", constant_factory<0>},
    {"aten.empty_like.default", constant_factory<0>},
    {"aten.new_ones.default", constant_factory<1>},
    {"aten.new_zeros.default", constant_factory<0>},
    {"aten.new_empty.default", constant_factory<0>},
    {"aten.full_like.default", fill_factory},
    {"aten.new_full.default", fill_factory},
    {"aten.expand_as.default", expand_as},
    {"aten.view_as.default", view_as},
    {"aten.flatten.using_ints", flatten},
    {"aten.unflatten.int", unflatten},
    {"aten.stack.default", stack},
    {"aten.chunk.default", split},
    {"aten.split.Tensor", split},
    {"aten.split_with_sizes.default", split},
    {"aten.unbind.int", unbind},
    {"aten.repeat.default", repeat},
    {"aten.repeat_interleave.self_int", repeat_interleave},
    {"aten.diff.default", diff},
    {"aten.max.default", extreme<true>},
    {"aten.min.default", extreme<false>},
};

}  // namespace

std::span<const Decomposition> shape_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
