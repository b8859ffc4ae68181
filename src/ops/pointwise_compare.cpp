// Comparisons, logical and bitwise binary ops, maximum/minimum, clamp, where and masked_fill.
// Comparisons cast both operands to their promoted dtype (so an int8 tensor compares with 300
// wrapped to int8, as PyTorch does) and return bool.
#include <cmath>
#include <limits>

#include "ops/pointwise_util.h"

namespace kiln::ops::pointwise {
namespace {

using ir::DType;

// ---- Comparisons ---------------------------------------------------------------------------

std::vector<OutType> compare_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, DType::kBool);
}

enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };

template <typename T>
bool compare(Cmp op, T x, T y) {
  switch (op) {
    case Cmp::kEq:
      return x == y;
    case Cmp::kNe:
      return x != y;
    case Cmp::kLt:
      return x < y;
    case Cmp::kLe:
      return x <= y;
    case Cmp::kGt:
      return x > y;
    case Cmp::kGe:
      return x >= y;
  }
  return false;
}

template <Cmp Op>
std::vector<ref::RValue> compare_ref(const Args& a) {
  return map_binary(a, "self", "other", result_type(a, {"self", "other"}), [](Num x, Num y) {
    return Num::of_int(x.real ? compare(Op, x.f, y.f) : compare(Op, x.i, y.i));
  });
}

// ---- Logical and bitwise -------------------------------------------------------------------

std::vector<OutType> logical_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, DType::kBool);
}

enum class Logic { kAnd, kOr, kXor };

template <Logic Op>
std::vector<ref::RValue> logical_ref(const Args& a) {
  return map_binary(a, "self", "other", DType::kBool, [](Num x, Num y) {
    bool p = x.i != 0, q = y.i != 0;
    return Num::of_int(Op == Logic::kAnd ? p && q : Op == Logic::kOr ? p || q : p != q);
  });
}

template <const char* Name>
std::vector<OutType> bitwise_shape(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  if (ir::is_floating(t)) fail_dtype(a, Name, t);
  return elementwise(a, {"self", "other"}, t);
}

template <Logic Op>
std::vector<ref::RValue> bitwise_ref(const Args& a) {
  return map_binary(a, "self", "other", result_type(a, {"self", "other"}), [](Num x, Num y) {
    return Num::of_int(Op == Logic::kAnd ? x.i & y.i : Op == Logic::kOr ? x.i | y.i : x.i ^ y.i);
  });
}

constexpr char kBitwiseAnd[] = "bitwise_and";
constexpr char kBitwiseOr[] = "bitwise_or";
constexpr char kBitwiseXor[] = "bitwise_xor";

// ---- maximum, minimum, clamp ---------------------------------------------------------------

std::vector<OutType> promoted_shape(const Args& a) {
  return elementwise(a, {"self", "other"}, result_type(a, {"self", "other"}));
}

// NaN propagates; on equal values (0 and -0) the first operand is kept.
Num max_of(Num x, Num y) {
  if (!x.real) return x.i < y.i ? y : x;
  if (std::isnan(x.f)) return x;
  if (std::isnan(y.f)) return y;
  return x.f < y.f ? y : x;
}
Num min_of(Num x, Num y) {
  if (!x.real) return x.i > y.i ? y : x;
  if (std::isnan(x.f)) return x;
  if (std::isnan(y.f)) return y;
  return x.f > y.f ? y : x;
}

template <bool Max>
std::vector<ref::RValue> extremum_ref(const Args& a) {
  return map_binary(a, "self", "other", result_type(a, {"self", "other"}),
                    [](Num x, Num y) { return Max ? max_of(x, y) : min_of(x, y); });
}

bool has_bound(const Args& a, std::string_view name) {
  return a.schema().index_of(name) >= 0 && !a.is_none(name);
}

// Bounds given as numbers (clamp.default, clamp_min, clamp_max) rather than tensors.
bool number_bounds(const Args& a) {
  for (const char* name : {"min", "max"}) {
    int i = a.schema().index_of(name);
    if (i >= 0) return a.schema().args[static_cast<size_t>(i)].type == ArgType::kScalar;
  }
  return false;
}

// clamp promotes self with the bounds given; at least one bound is required. Number bounds
// have no bool kernel and are range-checked against the result dtype.
std::vector<OutType> clamp_shape(const Args& a) {
  bool has_min = has_bound(a, "min"), has_max = has_bound(a, "max");
  if (!has_min && !has_max) {
    a.fail("torch.clamp: At least one of 'min' or 'max' must not be None");
  }
  DType t = has_min && has_max ? result_type(a, {"self", "min", "max"})
            : has_min          ? result_type(a, {"self", "min"})
                               : result_type(a, {"self", "max"});
  if (number_bounds(a)) {
    if (t == DType::kBool) fail_dtype(a, "clamp", t);
    for (const char* name : {"min", "max"}) {
      if (!has_bound(a, name)) continue;
      if (auto v = a.known_scalar(name)) check_clamp_bound(a, name, *v, t);
    }
  }
  return has_min && has_max ? elementwise(a, {"self", "min", "max"}, t)
         : has_min          ? elementwise(a, {"self", "min"}, t)
                            : elementwise(a, {"self", "max"}, t);
}

// max(x, lo) then min(., hi), so lo > hi gives hi; NaN in x or a bound gives NaN. Integer
// number bounds compare unwrapped, so one beyond the dtype's range clamps nothing.
std::vector<ref::RValue> clamp_ref(const Args& a) {
  DType t = clamp_shape(a).at(0).tensor.dtype;
  bool has_min = has_bound(a, "min"), has_max = has_bound(a, "max");
  ref::Tensor none(DType::kBool, {});
  OperandValue lo = has_min ? operand_value(a, "min") : OperandValue(none);
  OperandValue hi = has_max ? operand_value(a, "max") : OperandValue(none);
  DType bound = number_bounds(a) && ir::is_integral(t) ? DType::kInt64 : t;
  return ref::single_result(map_elements<3>(a, {operand_value(a, "self"), lo.get(), hi.get()},
                                            {t, bound, bound}, [&](const std::array<Num, 3>& v) {
                                              Num r = v[0];
                                              for (int k = 1; k <= 2; ++k) {
                                                if (!(k == 1 ? has_min : has_max)) continue;
                                                const Num& b = v[static_cast<size_t>(k)];
                                                if (r.real && std::isnan(b.f)) return b;
                                                if (r.real && std::isnan(r.f)) return r;
                                                bool take = r.real
                                                                ? (k == 1 ? r.f < b.f : r.f > b.f)
                                                                : (k == 1 ? r.i < b.i : r.i > b.i);
                                                if (take) r = b;
                                              }
                                              return r;
                                            }));
}

// ---- where ---------------------------------------------------------------------------------

void check_condition(const Args& a, std::string_view name, std::string_view op) {
  DType t = a.type(name).dtype;
  if (t != DType::kBool && t != DType::kUInt8) {
    a.fail(op, " expected condition to be a boolean tensor, but got a tensor with dtype ",
           c10_name(t));
  }
}

std::vector<OutType> where_shape(const Args& a) {
  check_condition(a, "condition", "where");
  return elementwise(a, {"condition", "self", "other"}, result_type(a, {"self", "other"}));
}

std::vector<ref::RValue> where_ref(const Args& a) {
  DType t = result_type(a, {"self", "other"});
  return ref::single_result(map_elements<3>(
      a, {operand_value(a, "condition"), operand_value(a, "self"), operand_value(a, "other")},
      {DType::kBool, t, t}, [](const std::array<Num, 3>& v) { return v[0].i != 0 ? v[1] : v[2]; }));
}

// ---- masked_fill ---------------------------------------------------------------------------

// The result keeps self's dtype; out of place, self and mask broadcast together.
std::vector<OutType> masked_fill_shape(const Args& a) {
  DType mask = a.type("mask").dtype;
  if (mask != DType::kBool) {
    a.fail("masked_fill_ only supports boolean masks, but got mask with dtype ", c10_name(mask));
  }
  OperandType value = operand_type(a, "value");
  if (!value.is_number && !value.sizes.empty()) {
    a.fail("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with ",
           value.sizes.size(), " dimension(s).");
  }
  return elementwise(a, {"self", "mask"}, a.type("self").dtype);
}

std::vector<ref::RValue> masked_fill_ref(const Args& a) {
  DType t = a.type("self").dtype;
  OperandValue value_operand = operand_value(a, "value");
  const ref::Tensor& value = value_operand.get();
  Scalar v;
  if (value.is_floating()) {
    v.kind = Scalar::Kind::kFloat;
    v.f = value.get(0);
  } else {
    v.kind = value.dtype() == DType::kBool ? Scalar::Kind::kBool : Scalar::Kind::kInt;
    v.i = value.get_int(0);
  }
  check_fits(a, v, t);
  return ref::single_result(
      map_elements<3>(a, {operand_value(a, "self"), a.tensor("mask"), value}, {t, DType::kBool, t},
                      [](const std::array<Num, 3>& x) { return x[1].i != 0 ? x[2] : x[0]; }));
}

#define KILN_COMPARE(name, op)                                                                   \
  {"aten." #name ".Scalar", #name ".Scalar(Tensor self, Scalar other) -> Tensor", compare_shape, \
   compare_ref<op>},                                                                             \
      {"aten." #name ".Tensor", #name ".Tensor(Tensor self, Tensor other) -> Tensor",            \
       compare_shape, compare_ref<op>},                                                          \
      {"aten." #name "_.Scalar", #name "_.Scalar(Tensor(a!) self, Scalar other) -> Tensor(a!)",  \
       inplace<compare_shape>, compare_ref<op>, "aten." #name ".Scalar"},                        \
  {                                                                                              \
    "aten." #name "_.Tensor", #name "_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)",     \
        inplace<compare_shape>, compare_ref<op>, "aten." #name ".Tensor"                         \
  }

#define KILN_LOGICAL(name, op)                                                             \
  {"aten." #name ".default", #name "(Tensor self, Tensor other) -> Tensor", logical_shape, \
   logical_ref<op>},                                                                       \
  {                                                                                        \
    "aten." #name "_.default", #name "_(Tensor(a!) self, Tensor other) -> Tensor(a!)",     \
        inplace<logical_shape>, logical_ref<op>, "aten." #name ".default"                  \
  }

const OpDef kOps[] = {
    KILN_COMPARE(eq, Cmp::kEq),
    KILN_COMPARE(ne, Cmp::kNe),
    KILN_COMPARE(lt, Cmp::kLt),
    KILN_COMPARE(le, Cmp::kLe),
    KILN_COMPARE(gt, Cmp::kGt),
    KILN_COMPARE(ge, Cmp::kGe),
    KILN_LOGICAL(logical_and, Logic::kAnd),
    KILN_LOGICAL(logical_or, Logic::kOr),
    KILN_LOGICAL(logical_xor, Logic::kXor),
    {"aten.bitwise_and.Tensor", "bitwise_and.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseAnd>, bitwise_ref<Logic::kAnd>},
    {"aten.bitwise_and.Scalar", "bitwise_and.Scalar(Tensor self, Scalar other) -> Tensor",
     bitwise_shape<kBitwiseAnd>, bitwise_ref<Logic::kAnd>},
    {"aten.bitwise_and_.Tensor", "bitwise_and_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)",
     inplace<bitwise_shape<kBitwiseAnd>>, bitwise_ref<Logic::kAnd>, "aten.bitwise_and.Tensor"},
    {"aten.__and__.Tensor", "__and__.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseAnd>, bitwise_ref<Logic::kAnd>},
    {"aten.bitwise_or.Tensor", "bitwise_or.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseOr>, bitwise_ref<Logic::kOr>},
    {"aten.bitwise_or.Scalar", "bitwise_or.Scalar(Tensor self, Scalar other) -> Tensor",
     bitwise_shape<kBitwiseOr>, bitwise_ref<Logic::kOr>},
    {"aten.bitwise_or_.Tensor", "bitwise_or_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)",
     inplace<bitwise_shape<kBitwiseOr>>, bitwise_ref<Logic::kOr>, "aten.bitwise_or.Tensor"},
    {"aten.__or__.Tensor", "__or__.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseOr>, bitwise_ref<Logic::kOr>},
    {"aten.bitwise_xor.Tensor", "bitwise_xor.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseXor>, bitwise_ref<Logic::kXor>},
    {"aten.bitwise_xor.Scalar", "bitwise_xor.Scalar(Tensor self, Scalar other) -> Tensor",
     bitwise_shape<kBitwiseXor>, bitwise_ref<Logic::kXor>},
    {"aten.__xor__.Tensor", "__xor__.Tensor(Tensor self, Tensor other) -> Tensor",
     bitwise_shape<kBitwiseXor>, bitwise_ref<Logic::kXor>},
    {"aten.maximum.default", "maximum(Tensor self, Tensor other) -> Tensor", promoted_shape,
     extremum_ref<true>},
    {"aten.minimum.default", "minimum(Tensor self, Tensor other) -> Tensor", promoted_shape,
     extremum_ref<false>},
    {"aten.max.other", "max.other(Tensor self, Tensor other) -> Tensor", promoted_shape,
     extremum_ref<true>},
    {"aten.min.other", "min.other(Tensor self, Tensor other) -> Tensor", promoted_shape,
     extremum_ref<false>},
    {"aten.clamp.default", "clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor",
     clamp_shape, clamp_ref},
    {"aten.clamp.Tensor", "clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor",
     clamp_shape, clamp_ref},
    {"aten.clamp_.default",
     "clamp_(Tensor(a!) self, Scalar? min=None, Scalar? max=None) -> Tensor(a!)",
     inplace<clamp_shape>, clamp_ref, "aten.clamp.default"},
    {"aten.clamp_.Tensor",
     "clamp_.Tensor(Tensor(a!) self, Tensor? min=None, Tensor? max=None) -> Tensor(a!)",
     inplace<clamp_shape>, clamp_ref, "aten.clamp.Tensor"},
    {"aten.clamp_min.default", "clamp_min(Tensor self, Scalar min) -> Tensor", clamp_shape,
     clamp_ref},
    {"aten.clamp_min_.default", "clamp_min_(Tensor(a!) self, Scalar min) -> Tensor(a!)",
     inplace<clamp_shape>, clamp_ref, "aten.clamp_min.default"},
    {"aten.clamp_max.default", "clamp_max(Tensor self, Scalar max) -> Tensor", clamp_shape,
     clamp_ref},
    {"aten.clamp_max_.default", "clamp_max_(Tensor(a!) self, Scalar max) -> Tensor(a!)",
     inplace<clamp_shape>, clamp_ref, "aten.clamp_max.default"},
    {"aten.where.self", "where.self(Tensor condition, Tensor self, Tensor other) -> Tensor",
     where_shape, where_ref},
    {"aten.where.ScalarOther",
     "where.ScalarOther(Tensor condition, Tensor self, Scalar other) -> Tensor", where_shape,
     where_ref},
    {"aten.where.ScalarSelf",
     "where.ScalarSelf(Tensor condition, Scalar self, Tensor other) -> Tensor", where_shape,
     where_ref},
    {"aten.where.Scalar", "where.Scalar(Tensor condition, Scalar self, Scalar other) -> Tensor",
     where_shape, where_ref},
    {"aten.masked_fill.Scalar",
     "masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor", masked_fill_shape,
     masked_fill_ref},
    {"aten.masked_fill.Tensor",
     "masked_fill.Tensor(Tensor self, Tensor mask, Tensor value) -> Tensor", masked_fill_shape,
     masked_fill_ref},
    {"aten.masked_fill_.Scalar",
     "masked_fill_.Scalar(Tensor(a!) self, Tensor mask, Scalar value) -> Tensor(a!)",
     inplace<masked_fill_shape>, masked_fill_ref, "aten.masked_fill.Scalar"},
    {"aten.masked_fill_.Tensor",
     "masked_fill_.Tensor(Tensor(a!) self, Tensor mask, Tensor value) -> Tensor(a!)",
     inplace<masked_fill_shape>, masked_fill_ref, "aten.masked_fill.Tensor"},
};

#undef KILN_COMPARE
#undef KILN_LOGICAL

}  // namespace

std::span<const OpDef> compare_ops() {
  return kOps;
}

}  // namespace kiln::ops::pointwise
