#include "ops/reduction_util.h"

#include <set>

namespace kiln::ops::reduction {

std::vector<bool> reduced_mask(const Args& a, size_t rank,
                               const std::optional<std::vector<int64_t>>& dims,
                               bool empty_means_all) {
  if (!dims || (dims->empty() && empty_means_all)) return std::vector<bool>(rank, true);
  std::vector<bool> mask(rank, false);
  std::set<int64_t> seen;  // a rank-0 tensor has no mask entry, yet repeats still fail
  for (int64_t d : *dims) {
    int64_t w = wrap_dim(d, static_cast<int64_t>(rank), a);
    if (!seen.insert(w).second) a.fail("dim ", w, " appears multiple times in the list of dims");
    if (rank > 0) mask[static_cast<size_t>(w)] = true;
  }
  return mask;
}

ReduceSpec reduce_spec(const Args& a, size_t rank, bool empty_means_all) {
  ReduceSpec spec;
  bool has_dim = a.schema().index_of("dim") >= 0;
  std::optional<std::vector<int64_t>> dims;
  if (has_dim) dims = a.optional_ints("dim");
  spec.mask = reduced_mask(a, rank, dims, empty_means_all);
  spec.keepdim = a.schema().index_of("keepdim") >= 0 && a.to_bool("keepdim");
  return spec;
}

std::vector<sym::Expr> reduced_sizes(const std::vector<sym::Expr>& sizes,
                                     const std::vector<bool>& mask, bool keepdim) {
  std::vector<sym::Expr> out;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (!mask[d]) {
      out.push_back(sizes[d]);
    } else if (keepdim) {
      out.emplace_back(1);
    }
  }
  return out;
}

void check_nonempty(const Args& a, std::string_view op, const ir::TensorType& t,
                    const std::vector<bool>& mask) {
  bool all = true;
  for (bool m : mask)
    all = all && m;
  if (all && t.rank() > 0 && t.numel() == sym::Expr(0)) {
    a.fail(op, ": Expected reduction dim to be specified for input.numel() == 0.");
  }
  for (size_t d = 0; d < t.rank(); ++d) {
    if (mask[d] && t.sizes[d] == sym::Expr(0)) {
      a.fail(op, ": Expected reduction dim ", d, " to have non-zero size.");
    }
  }
}

std::vector<std::vector<int64_t>> reduction_groups(const std::vector<int64_t>& sizes,
                                                   const std::vector<bool>& mask) {
  std::vector<int64_t> kept = sizes;
  int64_t out_count = 1;
  int64_t numel = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    numel *= sizes[d];
    if (mask[d]) kept[d] = 1;
    out_count *= kept[d];
  }
  std::vector<std::vector<int64_t>> groups(static_cast<size_t>(out_count));
  for (int64_t i = 0; i < numel; ++i) {
    std::vector<int64_t> index = unravel(i, sizes);
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (mask[d]) index[d] = 0;
    }
    groups[static_cast<size_t>(ravel(index, kept))].push_back(i);
  }
  return groups;
}

std::vector<ref::Tensor> alloc_outputs(const Args& a) {
  std::vector<ref::Tensor> out;
  for (const OutType& o : a.op().shape(a)) {
    out.emplace_back(o.tensor.dtype, to_ints(o.tensor.sizes, a));
  }
  return out;
}

double load_float(const ref::Tensor& t, int64_t i, ir::DType dtype) {
  return ref::round_to_dtype(dtype, t.get(i));
}

int64_t load_int(const ref::Tensor& t, int64_t i, ir::DType dtype) {
  if (dtype == ir::DType::kBool) return t.is_floating() ? t.get(i) != 0 : t.get_int(i) != 0;
  return ref::wrap_to_dtype(dtype, t.get_int(i));
}

ir::DType computation_dtype(ir::DType d) {
  if (is_float(d) && ir::dtype_size(d) < 4) return ir::DType::kFloat32;
  return d;
}

bool is_float(ir::DType d) {
  return ir::is_floating(d);
}

void require_floating(const Args& a, std::string_view arg, std::string_view what) {
  ir::DType d = a.type(arg).dtype;
  if (!is_float(d)) a.fail(what, " Got ", ir::dtype_name(d), ".");
}

bool known_unequal(const sym::Expr& x, const sym::Expr& y) {
  auto cx = x.as_const(), cy = y.as_const();
  return cx && cy && *cx != *cy;
}

}  // namespace kiln::ops::reduction
