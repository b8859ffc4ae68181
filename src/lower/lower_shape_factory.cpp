// Factories and fills: full/zeros/ones/empty (and their _like and new_ forms), scalar_tensor,
// arange, fill and copy. Their bodies are constants, index values, or a broadcast load.
#include <cmath>
#include <optional>

#include "lower/lower_shape_util.h"
#include "ops/common.h"

namespace kiln::lower {
namespace {

using Exprs = std::vector<sym::Expr>;

// A number argument: a known Scalar, or a symbolic int (a SymInt the program computes).
struct Number {
  std::optional<sym::Expr> sym;
  ops::Scalar scalar;

  int32_t node(BodyBuilder& b, ir::DType dtype) const {
    if (!sym) return scalar_constant(b, scalar, dtype);
    return to_compute(b, b.index_value(*sym), dtype);
  }
};

Number read_number(const ops::Args& args, std::string_view name) {
  const ir::Argument& raw = args.raw(name);
  if (const auto* s = std::get_if<ir::SymIntArg>(&raw); s && s->value) {
    sym::Expr e = args.sym(name);
    if (auto c = e.as_const()) return {std::nullopt, ops::Scalar{ops::Scalar::Kind::kInt, *c, 0}};
    return {e, {}};
  }
  return {std::nullopt, args.scalar(name)};
}

template <int kValue>
Number constant_fill(const ops::Args&) {
  return {std::nullopt, ops::Scalar{ops::Scalar::Kind::kInt, kValue, 0}};
}

Number fill_value(const ops::Args& args) {
  return read_number(args, "fill_value");
}

Number scalar_s(const ops::Args& args) {
  return read_number(args, "s");
}

Number value_arg(const ops::Args& args) {
  return read_number(args, "value");
}

// A tensor of the node's declared type, `Fill(args)` everywhere.
template <Number (*Fill)(const ops::Args&)>
void lower_full(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  const ir::TensorType& out = ctx.output_type(node);
  ir::DType dtype = out.dtype;
  Number value = Fill(args);
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes, [value, dtype](BodyBuilder& b, const Index&) {
                   return value.node(b, dtype);
                 }));
}

// fill.Tensor: the value is a 0-d tensor, converted to self's dtype.
void lower_fill_tensor(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef value = ctx.tensor(args, "value");
  if (value.rank() != 0) args.fail("fill only supports a 0-dimension value tensor");
  const ir::TensorType& out = ctx.output_type(node);
  ir::DType dtype = out.dtype;
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes, [value, dtype](BodyBuilder& b, const Index&) {
                   return to_compute(b, value.load(b, {}), dtype);
                 }));
}

// copy (the functional copy_): src broadcast to self's shape, converted to self's dtype.
void lower_copy(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  TensorRef src = ctx.tensor(args, "src");
  const ir::TensorType& out = ctx.output_type(node);
  if (src.rank() > out.rank()) args.fail("copy: src has more dims than self");
  ir::DType dtype = out.dtype;
  ctx.set_output(node, 0,
                 ctx.pointwise(dtype, out.sizes, [src, dtype](BodyBuilder& b, const Index& idx) {
                   return to_compute(b, src.load(b, broadcast_index(idx, src.sizes())), dtype);
                 }));
}

// ---- arange ----------------------------------------------------------------------------------

// A bound of arange: an int (possibly symbolic) or a float.
struct Bound {
  std::optional<sym::Expr> integer;
  double real = 0;
};

Bound bound(const ops::Args& args, std::string_view name, int64_t absent) {
  if (args.schema().index_of(name) < 0) return {sym::Expr(absent), static_cast<double>(absent)};
  const ir::Argument& raw = args.raw(name);
  if (std::holds_alternative<int64_t>(raw) || std::holds_alternative<ir::SymIntArg>(raw)) {
    sym::Expr e = args.sym(name);
    return {e, static_cast<double>(e.as_const().value_or(0))};
  }
  if (std::holds_alternative<bool>(raw)) {
    int64_t v = args.to_bool(name) ? 1 : 0;
    return {sym::Expr(v), static_cast<double>(v)};
  }
  return {std::nullopt, args.to_double(name)};
}

// Element i is start + step * i: exact in int64 for integer bounds, else computed in double
// (as the reference does) and rounded to the dtype; integral results from float bounds step
// from the truncated start and step.
void lower_arange(Lowering& ctx, const ir::Node& node, const ops::Args& args) {
  Bound start = bound(args, "start", 0), end = bound(args, "end", 0), step = bound(args, "step", 1);
  const ir::TensorType& out = ctx.output_type(node);
  ir::DType dtype = out.dtype;
  if (out.rank() != 1) args.fail("arange: the graph declares a rank-", out.rank(), " result");
  bool all_int = start.integer && end.integer && step.integer;
  std::optional<sym::Expr> int_start, int_step;
  if (all_int) {
    int_start = *start.integer;
    int_step = *step.integer;
  } else {
    for (const Bound* b : {&start, &step}) {
      if (b->integer && !b->integer->is_const()) {
        args.fail("arange mixing the symbolic bound ", b->integer->str(), " with float bounds");
      }
    }
    if (!ir::is_floating(dtype)) {
      auto trunc = [](double v) {
        return std::isfinite(v) && std::fabs(v) < 9.2e18 ? static_cast<int64_t>(v) : 0;
      };
      int_start = sym::Expr(trunc(start.real));
      int_step = sym::Expr(trunc(step.real));
    }
  }
  double s0 = start.real, ds = step.real;
  ctx.set_output(
      node, 0,
      ctx.pointwise(dtype, out.sizes,
                    [int_start, int_step, s0, ds, dtype](BodyBuilder& b, const Index& idx) {
                      if (int_start) {
                        return to_compute(b, b.index_value(*int_start + *int_step * idx[0]), dtype);
                      }
                      constexpr ir::DType f64 = ir::DType::kFloat64;
                      int32_t i = b.cast(b.index_value(idx[0]), f64);
                      int32_t v = b.binary(ScalarOp::kAdd, b.constant(s0, f64),
                                           b.binary(ScalarOp::kMul, b.constant(ds, f64), i));
                      return to_compute(b, v, dtype);
                    }));
}

}  // namespace

std::vector<LowerEntry> shape_factory_lowerings() {
  constexpr auto kZeros = lower_full<constant_fill<0>>;
  constexpr auto kOnes = lower_full<constant_fill<1>>;
  constexpr auto kFull = lower_full<fill_value>;
  return {
      {"aten.full.default", kFull},
      {"aten.full_like.default", kFull},
      {"aten.new_full.default", kFull},
      {"aten.zeros.default", kZeros},
      {"aten.zeros_like.default", kZeros},
      {"aten.new_zeros.default", kZeros},
      {"aten.ones.default", kOnes},
      {"aten.ones_like.default", kOnes},
      {"aten.new_ones.default", kOnes},
      // empty: zeros, as the reference gives, so runs are reproducible.
      {"aten.empty.memory_format", kZeros},
      {"aten.empty_like.default", kZeros},
      {"aten.new_empty.default", kZeros},
      {"aten.scalar_tensor.default", lower_full<scalar_s>},
      {"aten.fill.Scalar", lower_full<value_arg>},
      {"aten.fill.Tensor", lower_fill_tensor},
      {"aten.copy.default", lower_copy},
      {"aten.arange.default", lower_arange},
      {"aten.arange.start", lower_arange},
      {"aten.arange.start_step", lower_arange},
  };
}

}  // namespace kiln::lower
