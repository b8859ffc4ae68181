// The shape family's lowering table, and the helpers its parts share.
#include <cmath>

#include "lower/families.h"
#include "lower/lower_shape_util.h"
#include "ref/tensor.h"
#include "util/error.h"

namespace kiln::lower {

std::vector<LowerEntry> shape_lowerings() {
  std::vector<LowerEntry> all;
  for (auto part : {shape_view_lowerings, shape_concat_lowerings, shape_reorder_lowerings,
                    shape_factory_lowerings}) {
    auto entries = part();
    all.insert(all.end(), entries.begin(), entries.end());
  }
  return all;
}

TensorRef remap(Lowering& ctx, const TensorRef& in, std::vector<sym::Expr> sizes, IndexMap map) {
  return ctx.pointwise(
      in.dtype(), std::move(sizes),
      [in, map = std::move(map)](BodyBuilder& b, const Index& idx) { return in.load(b, map(idx)); },
      0);
}

sym::Expr clamp_index(const sym::Expr& x, const sym::Expr& size) {
  return sym::max(sym::min(x, size - 1), 0);
}

int32_t index_compare(BodyBuilder& b, ScalarOp op, const sym::Expr& x, const sym::Expr& y) {
  if (auto d = (x - y).as_const()) {
    bool v = false;
    switch (op) {
      case ScalarOp::kLt:
        v = *d < 0;
        break;
      case ScalarOp::kLe:
        v = *d <= 0;
        break;
      case ScalarOp::kGt:
        v = *d > 0;
        break;
      case ScalarOp::kGe:
        v = *d >= 0;
        break;
      case ScalarOp::kEq:
        v = *d == 0;
        break;
      case ScalarOp::kNe:
        v = *d != 0;
        break;
      default:
        throw error("internal: index_compare with a non-comparison op");
    }
    return b.constant(v ? 1 : 0, ir::DType::kBool);
  }
  return b.binary(op, b.index_value(x), b.index_value(y));
}

int32_t all_of(BodyBuilder& b, const std::vector<int32_t>& conds) {
  if (conds.empty()) return b.constant(1, ir::DType::kBool);
  int32_t acc = conds[0];
  for (size_t i = 1; i < conds.size(); ++i)
    acc = b.binary(ScalarOp::kAnd, acc, conds[i]);
  return acc;
}

int32_t scalar_constant(BodyBuilder& b, const ops::Scalar& value, ir::DType dtype) {
  if (ir::is_floating(dtype)) {
    return b.constant(ref::round_to_dtype(dtype, value.to_double()), compute_dtype(dtype));
  }
  if (dtype == ir::DType::kBool) {
    bool v = value.is_floating() ? value.f != 0 : value.i != 0;
    return b.constant(v ? 1 : 0, ir::DType::kBool);
  }
  int64_t v = value.i;
  if (value.is_floating()) {
    // Truncation toward zero; values no int64 holds become 0, as the reference stores them.
    v = (!std::isfinite(value.f) || std::fabs(value.f) >= 9.2e18) ? 0
                                                                  : static_cast<int64_t>(value.f);
  }
  // Through an int64 index node: exact for every int64, where a double literal is not.
  return b.cast(b.index_value(ref::wrap_to_dtype(dtype, v)), compute_dtype(dtype));
}

int32_t to_compute(BodyBuilder& b, int32_t node, ir::DType dtype) {
  return b.cast(node, compute_dtype(dtype));
}

void check_sizes(const Lowering& ctx, const ir::Node& node, const std::vector<sym::Expr>& sizes,
                 int output) {
  const ir::TensorType& want = ctx.output_type(node, output);
  if (want.sizes == sizes) return;
  std::string got = "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    got += (d ? ", " : "") + sizes[d].str();
  throw error("lowering of ", ctx.label(node), ": computed output sizes ", got,
              "] differ from the graph's ", want.str());
}

}  // namespace kiln::lower
