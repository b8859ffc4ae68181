// Ops that build a larger tensor from copies of their inputs: cat/stack, padding, repeat,
// repeat_interleave and tile.
#include <algorithm>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

// ---- cat, stack ------------------------------------------------------------------------------

std::vector<ir::TensorType> tensor_list(const Args& a, const char* op) {
  std::vector<ir::TensorType> out;
  for (const auto& t : a.types("tensors")) {
    if (!t) a.fail(op, ": the tensor list holds a None");
    out.push_back(*t);
  }
  if (out.empty()) a.fail(op, "(): expected a non-empty list of Tensors");
  return out;
}

ir::DType promoted(const std::vector<ir::TensorType>& ts) {
  ir::DType d = ts[0].dtype;
  for (const auto& t : ts)
    d = promote_types(d, t.dtype);
  return d;
}

// Legacy behaviour kept by torch.cat: 1-D tensors of size 0 are skipped whatever their shape.
bool is_skipped(const ir::TensorType& t) {
  return t.rank() == 1 && is_known(t.sizes[0], 0);
}

// The dim cat concatenates along (wrapped), or nullopt when every tensor is skipped.
std::optional<size_t> cat_dim(const Args& a, const std::vector<ir::TensorType>& ts) {
  for (size_t i = 0; i < ts.size(); ++i) {
    if (ts[i].rank() == 0) {
      a.fail("zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    }
  }
  for (const auto& t : ts) {
    if (!is_skipped(t)) {
      return static_cast<size_t>(wrap_dim(a.to_int("dim"), static_cast<int64_t>(t.rank()), a));
    }
  }
  return std::nullopt;
}

std::vector<OutType> cat_shape(const Args& a) {
  std::vector<ir::TensorType> ts = tensor_list(a, "torch.cat");
  ir::DType dtype = promoted(ts);
  std::optional<size_t> dim = cat_dim(a, ts);
  if (!dim) return {make_type(dtype, {0}, ts[0].device)};
  const ir::TensorType* first = nullptr;
  Exprs sizes;
  sym::Expr total = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const ir::TensorType& t = ts[i];
    if (is_skipped(t)) continue;
    if (first == nullptr) {
      first = &t;
      sizes = t.sizes;
    } else if (t.rank() != first->rank()) {
      a.fail("Tensors must have same number of dimensions: got ", first->rank(), " and ", t.rank());
    }
    for (size_t d = 0; d < t.rank(); ++d) {
      if (d == *dim) continue;
      if (known_unequal(t.sizes[d], sizes[d])) {
        a.fail("Sizes of tensors must match except in dimension ", *dim, ". Expected size ",
               sizes[d].str(), " but got size ", t.sizes[d].str(), " for tensor number ", i,
               " in the list.");
      }
      if (!sizes[d].is_const()) sizes[d] = t.sizes[d];
    }
    total = total + t.sizes[*dim];
  }
  sizes[*dim] = total;
  return {make_type(dtype, std::move(sizes), first->device)};
}

std::vector<ref::RValue> cat_ref(const Args& a) {
  std::vector<const ref::Tensor*> ins = a.tensors("tensors");
  ref::Tensor out = allocate_output(a);
  std::vector<ir::TensorType> ts = tensor_list(a, "torch.cat");
  std::optional<size_t> dim = cat_dim(a, ts);
  if (!dim) return {std::move(out)};
  int64_t offset = 0;
  for (size_t k = 0; k < ins.size(); ++k) {
    const ref::Tensor& t = *ins[k];
    if (is_skipped(ts[k])) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, t.sizes());
      idx[*dim] += offset;
      copy_element(out, ravel(idx, out.sizes()), t, i);
    }
    offset += t.size(static_cast<int64_t>(*dim));
  }
  return {std::move(out)};
}

size_t stack_dim(const Args& a, const std::vector<ir::TensorType>& ts) {
  for (size_t i = 1; i < ts.size(); ++i) {
    bool same = ts[i].rank() == ts[0].rank();
    for (size_t d = 0; same && d < ts[0].rank(); ++d)
      same = !known_unequal(ts[i].sizes[d], ts[0].sizes[d]);
    if (!same) {
      a.fail("stack expects each tensor to be equal size, but got ", ts[0].str(),
             " at entry 0 and ", ts[i].str(), " at entry ", i);
    }
  }
  return static_cast<size_t>(wrap_dim(a.to_int("dim"), static_cast<int64_t>(ts[0].rank()) + 1, a));
}

std::vector<OutType> stack_shape(const Args& a) {
  std::vector<ir::TensorType> ts = tensor_list(a, "stack");
  size_t dim = stack_dim(a, ts);
  Exprs sizes = ts[0].sizes;
  for (const auto& t : ts) {
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (!sizes[d].is_const()) sizes[d] = t.sizes[d];
    }
  }
  sizes.insert(sizes.begin() + static_cast<std::ptrdiff_t>(dim), static_cast<int64_t>(ts.size()));
  return {make_type(promoted(ts), std::move(sizes), ts[0].device)};
}

std::vector<ref::RValue> stack_ref(const Args& a) {
  std::vector<const ref::Tensor*> ins = a.tensors("tensors");
  ref::Tensor out = allocate_output(a);
  size_t dim = stack_dim(a, tensor_list(a, "stack"));
  for (size_t k = 0; k < ins.size(); ++k) {
    for (int64_t i = 0; i < ins[k]->numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, ins[k]->sizes());
      idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(dim), static_cast<int64_t>(k));
      copy_element(out, ravel(idx, out.sizes()), *ins[k], i);
    }
  }
  return {std::move(out)};
}

// ---- padding ---------------------------------------------------------------------------------

enum class PadMode : uint8_t { kConstant, kReflect, kReplicate, kCircular };

PadMode pad_mode(const Args& a) {
  if (a.schema().index_of("mode") < 0) return PadMode::kConstant;
  std::string mode = a.str("mode");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "replicate") return PadMode::kReplicate;
  if (mode == "circular") return PadMode::kCircular;
  a.fail("unrecognised padding mode ", mode);
}

// Checks the pad list and returns the padded sizes.
Exprs padded_sizes(const Args& a, PadMode mode) {
  const ir::TensorType& self = a.type("self");
  Exprs pad = a.syms("pad");
  size_t rank = self.rank();
  if (pad.size() % 2 != 0) a.fail("Length of pad must be even but instead it equals ", pad.size());
  size_t npad = pad.size() / 2;
  if (npad > rank) {
    a.fail(
        "Length of pad should be no more than twice the number of dimensions of the input. "
        "Pad length is ",
        pad.size(), " while the input has ", rank, " dimensions.");
  }
  if (mode != PadMode::kConstant) {
    if (!a.is_none("value") && a.to_double("value") != 0) {
      a.fail("padding mode \"", a.str("mode"), "\" doesn't take in value argument");
    }
    bool ok = (npad == 1 && (rank == 2 || rank == 3)) || (npad == 2 && (rank == 3 || rank == 4)) ||
              (npad == 3 && (rank == 4 || rank == 5));
    if (!ok) {
      a.fail("padding size ", pad.size(), " is not supported for ", rank,
             "D input with non-constant padding: pad 1, 2 or 3 trailing dims of an input with "
             "1 or 2 more dims");
    }
  }
  Exprs sizes = self.sizes;
  for (size_t i = 0; i < npad; ++i) {
    size_t d = rank - 1 - i;
    const sym::Expr& l = pad[2 * i];
    const sym::Expr& r = pad[2 * i + 1];
    const sym::Expr& s = self.sizes[d];
    sym::Expr out = s + l + r;
    if (out.as_const().value_or(0) < 0 || (mode != PadMode::kConstant && is_known(out, 0))) {
      a.fail("the input size ", s.str(), ", plus padding ", l.str(), " and ", r.str(),
             " gives an invalid output size ", out.str(), " at dimension ", d);
    }
    if (mode == PadMode::kReflect &&
        ((l - s).as_const().value_or(-1) >= 0 || (r - s).as_const().value_or(-1) >= 0)) {
      a.fail(
          "Padding size should be less than the corresponding input dimension, but got: "
          "padding (",
          l.str(), ", ", r.str(), ") at dimension ", d, " of input ", self.str());
    }
    if (mode == PadMode::kReplicate && is_known(s, 0)) {
      a.fail("replicate padding of dimension ", d, " of size 0");
    }
    if (mode == PadMode::kCircular) {
      // PyTorch crops the negative sides first, then wraps the rest of the input.
      sym::Expr kept = s - sym::max(-l, 0) - sym::max(-r, 0);
      if ((sym::max(l, 0) - kept).as_const().value_or(0) > 0 ||
          (sym::max(r, 0) - kept).as_const().value_or(0) > 0) {
        a.fail("Padding value causes wrapping around more than once.");
      }
    }
    sizes[d] = out;
  }
  return sizes;
}

std::vector<OutType> pad_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return {make_type(self.dtype, padded_sizes(a, pad_mode(a)), self.device)};
}

// The input index an output index of one padded dim reads, or -1 for the constant.
int64_t pad_source(PadMode mode, int64_t o, int64_t l, int64_t r, int64_t size) {
  int64_t i = o - l;
  switch (mode) {
    case PadMode::kConstant:
      return i >= 0 && i < size ? i : -1;
    case PadMode::kReflect:
      if (i < 0) i = -i;
      if (i >= size) i = 2 * (size - 1) - i;
      return i;
    case PadMode::kReplicate:
      return std::clamp<int64_t>(i, 0, size - 1);
    case PadMode::kCircular: {
      int64_t lo = std::max<int64_t>(-l, 0);
      int64_t kept = size - lo - std::max<int64_t>(-r, 0);
      int64_t c = ((o - std::max<int64_t>(l, 0)) % kept + kept) % kept;
      return lo + c;
    }
  }
  return -1;
}

std::vector<ref::RValue> pad_ref(const Args& a) {
  PadMode mode = pad_mode(a);
  const ref::Tensor& self = a.tensor("self");
  std::vector<int64_t> pad = a.ints("pad");
  ref::Tensor out = allocate_output(a);
  double value = 0;
  if (a.schema().index_of("mode") < 0) {
    value = a.scalar("value").to_double();
  } else if (!a.is_none("value")) {
    value = a.to_double("value");
  }
  size_t rank = self.sizes().size();
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, out.sizes());
    bool inside = true;
    for (size_t k = 0; k < pad.size() / 2 && inside; ++k) {
      size_t d = rank - 1 - k;
      idx[d] = pad_source(mode, idx[d], pad[2 * k], pad[2 * k + 1], self.sizes()[d]);
      inside = idx[d] >= 0;
    }
    if (inside) {
      copy_element(out, i, self, ravel(idx, self.sizes()));
    } else {
      out.set(i, value);
    }
  }
  return {std::move(out)};
}

// ---- repeat, tile, repeat_interleave ---------------------------------------------------------

Exprs repeated_sizes(const Args& a, const ir::TensorType& self, const Exprs& repeats) {
  if (repeats.size() < self.rank()) {
    a.fail(
        "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
        "tensor");
  }
  size_t lead = repeats.size() - self.rank();
  Exprs sizes(repeats.size());
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i].as_const().value_or(0) < 0) {
      a.fail("Trying to create tensor with negative dimension ", repeats[i].str());
    }
    sizes[i] = i < lead ? repeats[i] : repeats[i] * self.sizes[i - lead];
  }
  return sizes;
}

// tile pads its dims with leading 1s up to the input's rank.
Exprs repeat_counts(const Args& a) {
  bool is_tile = a.schema().index_of("dims") >= 0;
  Exprs reps = a.syms(is_tile ? "dims" : "repeats");
  size_t rank = a.type("self").rank();
  if (is_tile && reps.size() < rank) reps.insert(reps.begin(), rank - reps.size(), 1);
  return reps;
}

std::vector<OutType> repeat_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  return {make_type(self.dtype, repeated_sizes(a, self, repeat_counts(a)), self.device)};
}

std::vector<ref::RValue> repeat_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  ref::Tensor out = allocate_output(a);
  size_t lead = out.sizes().size() - self.sizes().size();
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, out.sizes());
    std::vector<int64_t> src(idx.begin() + static_cast<std::ptrdiff_t>(lead), idx.end());
    for (size_t d = 0; d < src.size(); ++d)
      src[d] %= self.sizes()[d];
    copy_element(out, i, self, ravel(src, self.sizes()));
  }
  return {std::move(out)};
}

// repeat_interleave works on self flattened when dim is None.
struct InterleaveInput {
  Exprs sizes;
  size_t dim = 0;
};

InterleaveInput interleave_input(const Args& a) {
  const ir::TensorType& self = a.type("self");
  if (a.is_none("dim")) return {{self.numel()}, 0};
  if (self.rank() == 0) {
    wrap_dim(a.to_int("dim"), 0, a);
    return {{1}, 0};
  }
  auto rank = static_cast<int64_t>(self.rank());
  return {self.sizes, static_cast<size_t>(wrap_dim(a.to_int("dim"), rank, a))};
}

std::vector<OutType> repeat_interleave_int_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  InterleaveInput in = interleave_input(a);
  sym::Expr repeats = a.sym("repeats");
  if (repeats.as_const().value_or(0) < 0) a.fail("repeats can not be negative");
  in.sizes[in.dim] = a.is_none("output_size") ? in.sizes[in.dim] * repeats : a.sym("output_size");
  return {make_type(self.dtype, std::move(in.sizes), self.device)};
}

// The per-index counts of repeat_interleave.self_Tensor, from known repeats.
std::vector<int64_t> interleave_counts(const Args& a, const ref::Tensor& repeats, int64_t size) {
  std::vector<int64_t> counts;
  for (int64_t i = 0; i < repeats.numel(); ++i) {
    if (repeats.get_int(i) < 0) a.fail("repeats can not be negative");
    counts.push_back(repeats.get_int(i));
  }
  if (counts.size() == 1) counts.assign(static_cast<size_t>(size), counts[0]);
  return counts;
}

std::vector<OutType> repeat_interleave_tensor_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  const ir::TensorType& reps = a.type("repeats");
  if (reps.dtype != ir::DType::kInt64 && reps.dtype != ir::DType::kInt32) {
    a.fail("repeats has to be Long or Int tensor");
  }
  if (reps.rank() > 1) a.fail("repeats must be 0-dim or 1-dim tensor");
  InterleaveInput in = interleave_input(a);
  sym::Expr& size = in.sizes[in.dim];
  if (reps.rank() == 1 && !is_known(reps.sizes[0], 1) && known_unequal(reps.sizes[0], size)) {
    a.fail("repeats must have the same size as input along dim, but got repeats.size(0) = ",
           reps.sizes[0].str(), " and input.size(", in.dim, ") = ", size.str());
  }
  if (!a.is_none("output_size")) {
    size = a.sym("output_size");
  } else if (const ref::Tensor* r = a.known_tensor("repeats")) {
    int64_t total = 0;
    for (int64_t c : interleave_counts(a, *r, to_ints({size}, a)[0]))
      total += c;
    size = total;
  } else {
    a.fail(
        "repeat_interleave with a tensor of repeats and no output_size: the output size "
        "depends on the repeats' values");
  }
  return {make_type(self.dtype, std::move(in.sizes), self.device)};
}

std::vector<ref::RValue> repeat_interleave_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  InterleaveInput in = interleave_input(a);
  std::vector<int64_t> in_sizes = to_ints(in.sizes, a);
  int64_t size = in_sizes[in.dim];
  std::vector<int64_t> counts;
  if (const ref::Tensor* r = a.known_tensor("repeats")) {
    counts = interleave_counts(a, *r, size);
  } else {
    counts.assign(static_cast<size_t>(size), a.to_int("repeats"));
  }
  // source[j]: the input index along dim that output index j copies.
  std::vector<int64_t> source;
  for (int64_t k = 0; k < size; ++k)
    source.insert(source.end(), static_cast<size_t>(counts[static_cast<size_t>(k)]), k);
  ref::Tensor out = allocate_output(a);
  std::vector<int64_t> out_sizes = in_sizes;
  out_sizes[in.dim] = static_cast<int64_t>(source.size());
  if (out.size(static_cast<int64_t>(in.dim)) != out_sizes[in.dim]) {
    a.fail("repeat_interleave: output_size ", out.size(static_cast<int64_t>(in.dim)),
           " does not match the sum of the repeats ", out_sizes[in.dim]);
  }
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, out_sizes);
    idx[in.dim] = source[static_cast<size_t>(idx[in.dim])];
    copy_element(out, i, self, ravel(idx, in_sizes));
  }
  return {std::move(out)};
}

// repeat_interleave.Tensor: index k repeated repeats[k] times.
std::vector<OutType> repeat_interleave_counts_shape(const Args& a) {
  const ir::TensorType& reps = a.type("repeats");
  if (reps.dtype != ir::DType::kInt64 && reps.dtype != ir::DType::kInt32) {
    a.fail("repeats has to be Long or Int tensor");
  }
  if (reps.rank() != 1) a.fail("repeat_interleave only accept 1D vector as repeat");
  sym::Expr size;
  if (!a.is_none("output_size")) {
    size = a.sym("output_size");
  } else if (const ref::Tensor* r = a.known_tensor("repeats")) {
    int64_t total = 0;
    for (int64_t c : interleave_counts(a, *r, r->numel()))
      total += c;
    size = total;
  } else {
    a.fail(
        "repeat_interleave with no output_size: the output size depends on the repeats' "
        "values");
  }
  return {make_type(reps.dtype, {size}, reps.device)};
}

std::vector<ref::RValue> repeat_interleave_counts_ref(const Args& a) {
  const ref::Tensor& reps = a.tensor("repeats");
  ref::Tensor out = allocate_output(a);
  int64_t j = 0;
  for (int64_t k = 0; k < reps.numel(); ++k) {
    for (int64_t c = 0; c < reps.get_int(k); ++c, ++j) {
      if (j >= out.numel()) a.fail("repeat_interleave: output_size is smaller than the repeats");
      out.set_int(j, k);
    }
  }
  if (j != out.numel()) a.fail("repeat_interleave: output_size does not match the repeats");
  return {std::move(out)};
}

const OpDef kOps[] = {
    {"aten.cat.default", "cat(Tensor[] tensors, int dim=0) -> Tensor", cat_shape, cat_ref},
    {"aten.concat.default", "concat(Tensor[] tensors, int dim=0) -> Tensor", cat_shape, cat_ref},
    {"aten.stack.default", "stack(Tensor[] tensors, int dim=0) -> Tensor", stack_shape, stack_ref},
    {"aten.pad.default",
     "pad(Tensor self, SymInt[] pad, str mode=\"constant\", float? value=None) -> Tensor",
     pad_shape, pad_ref},
    {"aten.constant_pad_nd.default",
     "constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor", pad_shape, pad_ref},
    {"aten.repeat.default", "repeat(Tensor self, SymInt[] repeats) -> Tensor", repeat_shape,
     repeat_ref},
    {"aten.tile.default", "tile(Tensor self, SymInt[] dims) -> Tensor", repeat_shape, repeat_ref},
    {"aten.repeat_interleave.self_int",
     "repeat_interleave.self_int(Tensor self, SymInt repeats, int? dim=None, *, SymInt? "
     "output_size=None) -> Tensor",
     repeat_interleave_int_shape, repeat_interleave_ref},
    {"aten.repeat_interleave.self_Tensor",
     "repeat_interleave.self_Tensor(Tensor self, Tensor repeats, int? dim=None, *, SymInt? "
     "output_size=None) -> Tensor",
     repeat_interleave_tensor_shape, repeat_interleave_ref},
    {"aten.repeat_interleave.Tensor",
     "repeat_interleave.Tensor(Tensor repeats, *, SymInt? output_size=None) -> Tensor",
     repeat_interleave_counts_shape, repeat_interleave_counts_ref},
};

}  // namespace

std::span<const OpDef> shape_concat_ops() {
  return kOps;
}

}  // namespace kiln::ops
