// Factories: full/zeros/ones/empty and their _like / new_ forms, scalar_tensor and arange.
#include <cmath>

#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using Exprs = std::vector<sym::Expr>;

bool has(const Args& a, std::string_view name) {
  return a.schema().index_of(name) >= 0;
}

void check_sizes(const Args& a, const Exprs& sizes) {
  for (const auto& s : sizes) {
    if (s.as_const().value_or(0) < 0) {
      a.fail("Trying to create tensor with negative dimension ", s.str());
    }
  }
}

// Sizes from `size`, else self's, else a 0-dim tensor; dtype and device from the keywords,
// else self's, else the fill value's kind (full) or float32.
std::vector<OutType> factory_shape(const Args& a) {
  std::optional<ir::TensorType> self;
  if (has(a, "self")) self = a.type("self");
  Exprs sizes = has(a, "size") ? a.syms("size") : self ? self->sizes : Exprs{};
  check_sizes(a, sizes);
  ir::DType dtype = ir::DType::kFloat32;
  if (self) {
    dtype = self->dtype;
  } else if (has(a, "fill_value")) {
    Scalar::Kind kind = a.number_kind("fill_value");
    dtype = kind == Scalar::Kind::kBool  ? ir::DType::kBool
            : kind == Scalar::Kind::kInt ? ir::DType::kInt64
                                         : ir::DType::kFloat32;
  }
  dtype = a.dtype("dtype").value_or(dtype);
  ir::Device device = a.device("device").value_or(self ? self->device : ir::Device{});
  check_strided_layout(a);
  std::optional<ir::MemoryFormat> format;
  if (has(a, "memory_format")) format = a.memory_format("memory_format");
  return {layout_type(dtype, std::move(sizes), device, format)};
}

// The value every element gets.
template <int kValue>
Scalar constant_fill(const Args&) {
  return Scalar{Scalar::Kind::kInt, kValue, 0};
}

Scalar fill_value(const Args& a) {
  return a.scalar("fill_value");
}

Scalar scalar_s(const Args& a) {
  return a.scalar("s");
}

template <Scalar (*Fill)(const Args&)>
std::vector<ref::RValue> factory_ref(const Args& a) {
  ref::Tensor out = allocate_output(a);
  Scalar v = Fill(a);
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (v.is_floating()) {
      out.set(i, v.f);
    } else {
      out.set_int(i, v.i);
    }
  }
  return {std::move(out)};
}

// ---- arange ----------------------------------------------------------------------------------

// A bound of arange: an int (possibly symbolic) or a float.
struct Bound {
  std::optional<sym::Expr> integer;
  double real = 0;
};

Bound bound(const Args& a, std::string_view name, int64_t absent) {
  if (!has(a, name)) return {sym::Expr(absent), static_cast<double>(absent)};
  if (auto e = sym_int_scalar(a, name)) {
    return {e, static_cast<double>(e->as_const().value_or(0))};
  }
  if (std::holds_alternative<bool>(a.raw(name))) {
    int64_t b = a.to_bool(name) ? 1 : 0;
    return {sym::Expr(b), static_cast<double>(b)};
  }
  return {std::nullopt, a.to_double(name)};
}

struct Range {
  Bound start, end, step;
  bool all_int() const { return start.integer && end.integer && step.integer; }
  bool known() const {
    return !all_int() ||
           (start.integer->is_const() && end.integer->is_const() && step.integer->is_const());
  }
};

Range arange_range(const Args& a) {
  return {bound(a, "start", 0), bound(a, "end", 0), bound(a, "step", 1)};
}

ir::DType arange_dtype(const Args& a, const Range& r) {
  return a.dtype("dtype").value_or(r.all_int() ? ir::DType::kInt64 : ir::DType::kFloat32);
}

// PyTorch's compute_arange_size: exact for all-int bounds into int64, else ceil in double.
sym::Expr arange_length(const Args& a, const Range& r, ir::DType dtype) {
  if (!r.known()) {
    auto step = r.step.integer->as_const();
    if (!step) a.fail("arange with a symbolic step");
    if (*step == 0) a.fail("step must be nonzero");
    sym::Expr len = sym::ceil_div(*r.end.integer - *r.start.integer, *step);
    if (len.as_const().value_or(0) < 0) {
      a.fail("upper bound and lower bound inconsistent with step sign");
    }
    return len;
  }
  for (const Bound* b : {&r.start, &r.end, &r.step}) {
    if (b->integer && !b->integer->is_const()) {
      a.fail("arange mixing the symbolic bound ", b->integer->str(), " with float bounds");
    }
  }
  double start = r.start.real, end = r.end.real, step = r.step.real;
  if (!std::isfinite(step)) a.fail("step must be finite but got ", step);
  if (step == 0) a.fail("step must be nonzero");
  if (!std::isfinite(start) || !std::isfinite(end)) {
    a.fail("unsupported range: ", start, " -> ", end);
  }
  if (!((step > 0 && end >= start) || (step < 0 && end <= start))) {
    a.fail("upper bound and lower bound inconsistent with step sign");
  }
  if (dtype == ir::DType::kInt64 && r.all_int()) {
    int64_t s = *r.start.integer->as_const(), e = *r.end.integer->as_const();
    int64_t st = *r.step.integer->as_const();
    int64_t sgn = (st > 0) - (st < 0);
    return (e - s + st - sgn) / st;
  }
  double size = std::ceil((end - start) / step);
  if (!(size >= 0 && size <= 9.2e18)) a.fail("invalid size, possible overflow?");
  return static_cast<int64_t>(size);
}

std::vector<OutType> arange_shape(const Args& a) {
  Range r = arange_range(a);
  ir::DType dtype = arange_dtype(a, r);
  if (dtype == ir::DType::kBool) a.fail("arange is not implemented for bool");
  check_strided_layout(a);
  ir::Device device = a.device("device").value_or(ir::Device{});
  return {make_type(dtype, {arange_length(a, r, dtype)}, device)};
}

std::vector<ref::RValue> arange_ref(const Args& a) {
  Range r = arange_range(a);
  ref::Tensor out = allocate_output(a);
  // Integral results step in int64 from the truncated start and step, as PyTorch's kernel does.
  auto trunc = [](double v) { return static_cast<int64_t>(v); };
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (out.is_floating()) {
      out.set(i, r.start.real + r.step.real * static_cast<double>(i));
    } else {
      out.set_int(i, trunc(r.start.real) + trunc(r.step.real) * i);
    }
  }
  return {std::move(out)};
}

constexpr auto kZero = factory_ref<constant_fill<0>>;
constexpr auto kOne = factory_ref<constant_fill<1>>;
constexpr auto kFull = factory_ref<fill_value>;

const OpDef kOps[] = {
    {"aten.full.default",
     "full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, kFull},
    {"aten.full_like.default",
     "full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     factory_shape, kFull},
    {"aten.zeros.default",
     "zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
     "bool? pin_memory=None) -> Tensor",
     factory_shape, kZero},
    {"aten.zeros_like.default",
     "zeros_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     factory_shape, kZero},
    {"aten.ones.default",
     "ones(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
     "bool? pin_memory=None) -> Tensor",
     factory_shape, kOne},
    {"aten.ones_like.default",
     "ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     factory_shape, kOne},
    // empty: the reference fills zeros so runs are reproducible.
    {"aten.empty.memory_format",
     "empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     factory_shape, kZero},
    {"aten.empty_like.default",
     "empty_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     factory_shape, kZero},
    {"aten.new_ones.default",
     "new_ones(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, kOne},
    {"aten.new_zeros.default",
     "new_zeros(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, kZero},
    {"aten.new_full.default",
     "new_full(Tensor self, SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, "
     "Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, kFull},
    {"aten.new_empty.default",
     "new_empty(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, kZero},
    {"aten.scalar_tensor.default",
     "scalar_tensor(Scalar s, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None) -> Tensor",
     factory_shape, factory_ref<scalar_s>},
    {"aten.arange.default",
     "arange(Scalar end, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
     "bool? pin_memory=None) -> Tensor",
     arange_shape, arange_ref},
    {"aten.arange.start",
     "arange.start(Scalar start, Scalar end, *, ScalarType? dtype=None, Layout? layout=None, "
     "Device? device=None, bool? pin_memory=None) -> Tensor",
     arange_shape, arange_ref},
    {"aten.arange.start_step",
     "arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, "
     "Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
     arange_shape, arange_ref},
};

}  // namespace

std::span<const OpDef> factory_ops() {
  return kOps;
}

}  // namespace kiln::ops
