#include "ops/common.h"

namespace kiln::ops {
namespace {

enum class Category : uint8_t { kNone, kBool, kIntegral, kFloating, kComplex };

Category category(ir::DType t) {
  if (t == ir::DType::kUndefined) return Category::kNone;
  if (t == ir::DType::kBool) return Category::kBool;
  if (ir::is_integral(t)) return Category::kIntegral;
  if (ir::is_floating(t)) return Category::kFloating;
  return Category::kComplex;
}

ir::DType promote_skip_undefined(ir::DType a, ir::DType b) {
  if (a == ir::DType::kUndefined) return b;
  if (b == ir::DType::kUndefined) return a;
  return promote_types(a, b);
}

// c10's combine_categories: the higher-priority result wins unless the lower one is of a
// higher category.
ir::DType combine(ir::DType higher, ir::DType lower) {
  if (category(higher) == Category::kComplex) return higher;
  if (category(higher) == Category::kFloating) return higher;
  if (higher == ir::DType::kBool || category(lower) == Category::kFloating ||
      category(lower) == Category::kComplex) {
    return promote_skip_undefined(higher, lower);
  }
  if (higher != ir::DType::kUndefined) return higher;
  return lower;
}

int int_rank(ir::DType t) {
  switch (t) {
    case ir::DType::kInt8:
      return 1;
    case ir::DType::kInt16:
      return 2;
    case ir::DType::kInt32:
      return 3;
    case ir::DType::kInt64:
      return 4;
    default:
      return 0;
  }
}

}  // namespace

int64_t wrap_dim(int64_t dim, int64_t rank, const Args& args) {
  int64_t r = rank == 0 ? 1 : rank;
  if (dim < -r || dim >= r) {
    args.fail("dim ", dim, " is out of range for a tensor of rank ", rank);
  }
  return dim < 0 ? dim + r : dim;
}

std::vector<sym::Expr> broadcast_shapes(const std::vector<sym::Expr>& a,
                                        const std::vector<sym::Expr>& b, const Args& args) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<sym::Expr> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const sym::Expr one = 1;
    const sym::Expr& x = i < rank - a.size() ? one : a[i - (rank - a.size())];
    const sym::Expr& y = i < rank - b.size() ? one : b[i - (rank - b.size())];
    if (x == y || y == one) {
      out[i] = x;
    } else if (x == one) {
      out[i] = y;
    } else if (x.is_const() && y.is_const()) {
      args.fail("shapes do not broadcast: dim ", i, " is ", x.str(), " and ", y.str());
    } else {
      out[i] = x.is_const() ? x : y;
    }
  }
  return out;
}

std::vector<sym::Expr> to_exprs(const std::vector<int64_t>& sizes) {
  return {sizes.begin(), sizes.end()};
}

std::vector<int64_t> to_ints(const std::vector<sym::Expr>& sizes, const Args& args) {
  std::vector<int64_t> out;
  for (const auto& s : sizes) {
    auto c = s.as_const();
    if (!c) args.fail("size ", s.str(), " is not known");
    out.push_back(*c);
  }
  return out;
}

ir::TensorType make_type(ir::DType dtype, std::vector<sym::Expr> sizes, const ir::Device& device) {
  return ir::TensorType::contiguous(dtype, std::move(sizes), device);
}

ir::DType promote_types(ir::DType a, ir::DType b) {
  using ir::DType;
  if (a == b) return a;
  if (a == DType::kBool) return b;
  if (b == DType::kBool) return a;
  Category ca = category(a), cb = category(b);
  if (ca == Category::kComplex || cb == Category::kComplex) {
    return ca == Category::kComplex ? a : b;
  }
  if (ca == Category::kFloating && cb == Category::kFloating) {
    if ((a == DType::kFloat16 && b == DType::kBFloat16) ||
        (a == DType::kBFloat16 && b == DType::kFloat16)) {
      return DType::kFloat32;
    }
    if (a == DType::kFloat64 || b == DType::kFloat64) return DType::kFloat64;
    if (a == DType::kFloat32 || b == DType::kFloat32) return DType::kFloat32;
    // float8 with a 16-bit float: the wider one
    return ir::dtype_size(a) >= ir::dtype_size(b) ? a : b;
  }
  if (ca == Category::kFloating) return a;
  if (cb == Category::kFloating) return b;
  // Both integral.
  auto is_unsigned = [](DType t) { return t == DType::kUInt8 || t == DType::kUInt16; };
  if (is_unsigned(a) && is_unsigned(b)) return ir::dtype_size(a) >= ir::dtype_size(b) ? a : b;
  if (is_unsigned(a) || is_unsigned(b)) {
    DType u = is_unsigned(a) ? a : b;
    DType s = is_unsigned(a) ? b : a;
    int need = u == DType::kUInt8 ? 2 : 3;  // a signed type wider than the unsigned one
    int rank = std::max(int_rank(s), need);
    return rank == 2 ? DType::kInt16 : rank == 3 ? DType::kInt32 : DType::kInt64;
  }
  return int_rank(a) >= int_rank(b) ? a : b;
}

void ResultType::add_tensor(const ir::TensorType& t) {
  ir::DType& slot = t.rank() == 0 ? zero_dim_ : dim_;
  slot = promote_skip_undefined(slot, t.dtype);
}

void ResultType::add_scalar(const Scalar& s) {
  ir::DType t = s.kind == Scalar::Kind::kBool    ? ir::DType::kBool
                : s.kind == Scalar::Kind::kFloat ? ir::DType::kFloat32
                                                 : ir::DType::kInt64;
  wrapped_ = promote_skip_undefined(wrapped_, t);
}

ir::DType ResultType::result() const {
  return combine(dim_, combine(zero_dim_, wrapped_));
}

BroadcastIndex::BroadcastIndex(const std::vector<int64_t>& operand_sizes,
                               const std::vector<int64_t>& out_sizes)
    : out_sizes_(out_sizes), operand_strides_(out_sizes.size(), 0) {
  size_t offset = out_sizes.size() - operand_sizes.size();
  int64_t running = 1;
  for (size_t i = operand_sizes.size(); i-- > 0;) {
    operand_strides_[i + offset] = operand_sizes[i] == 1 ? 0 : running;
    running *= operand_sizes[i];
  }
}

int64_t BroadcastIndex::operator()(int64_t out_flat) const {
  int64_t result = 0;
  for (size_t d = out_sizes_.size(); d-- > 0;) {
    int64_t size = out_sizes_[d];
    if (size == 0) return 0;
    result += (out_flat % size) * operand_strides_[d];
    out_flat /= size;
  }
  return result;
}

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& sizes) {
  std::vector<int64_t> index(sizes.size(), 0);
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 0) continue;
    index[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return index;
}

int64_t ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& sizes) {
  int64_t flat = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    flat = flat * sizes[d] + index[d];
  return flat;
}

}  // namespace kiln::ops
