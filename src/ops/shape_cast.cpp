// Casts (to, _to_copy, type_as), assertions that export leaves in the graph, and dropout,
// which is the identity in the inference programs kiln compiles.
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

// The converted copy: dtype, device and memory format as the op's arguments give them, the
// input's where an argument is absent.
std::vector<OutType> cast_shape(const Args& a) {
  const ir::TensorType& self = a.type("self");
  ir::DType dtype = self.dtype;
  ir::Device device = self.device;
  const OpSchema& s = a.schema();
  if (s.index_of("other") >= 0) {
    dtype = a.type("other").dtype;
    device = a.type("other").device;
  }
  if (s.index_of("dtype") >= 0) dtype = a.dtype("dtype").value_or(dtype);
  if (s.index_of("device") >= 0) device = a.device("device").value_or(device);
  if (s.index_of("layout") >= 0) check_strided_layout(a);
  std::optional<ir::MemoryFormat> format;
  if (s.index_of("memory_format") >= 0) format = a.memory_format("memory_format");
  return {layout_type(dtype, self.sizes, device, format)};
}

std::vector<ref::RValue> cast_ref(const Args& a) {
  const ref::Tensor& self = a.tensor("self");
  ref::Tensor out = allocate_output(a);
  for (int64_t i = 0; i < self.numel(); ++i)
    copy_element(out, i, self, i);
  return {std::move(out)};
}

// ---- assertions ------------------------------------------------------------------------------

// Checks what is decidable now: statically in shape inference, everything in reference
// evaluation (where sizes are known). Strides are not checked: reference tensors are dense
// copies, so their strides say nothing of the program's layout.
void check_metadata(const Args& a) {
  const ir::TensorType& t = a.type("a");
  if (auto dtype = a.dtype("dtype"); dtype && *dtype != t.dtype) {
    a.fail("tensor dtype mismatch: expected ", ir::dtype_name(*dtype), " but got ",
           ir::dtype_name(t.dtype));
  }
  if (!a.is_none("size")) {
    std::vector<sym::Expr> size = a.syms("size");
    bool ok = size.size() == t.rank();
    for (size_t i = 0; ok && i < size.size(); ++i)
      ok = !known_unequal(size[i], t.sizes[i]);
    if (!ok) a.fail("tensor sizes mismatch: expected ", size.size(), " dims matching ", t.str());
  }
  check_strided_layout(a);
}

std::vector<OutType> assert_metadata_shape(const Args& a) {
  check_metadata(a);
  return {};
}

std::vector<ref::RValue> assert_metadata_ref(const Args& a) {
  check_metadata(a);
  return {};
}

// The asserted condition: a SymBool (or SymInt, or literal) as an expression.
sym::Expr asserted(const Args& a) {
  const ir::Argument& arg = a.raw("self");
  if (const auto* b = std::get_if<ir::SymBoolArg>(&arg)) {
    return b->value ? a.source().sym_int(*b->value) : sym::Expr(b->literal ? 1 : 0);
  }
  if (const auto* b = std::get_if<bool>(&arg)) return *b ? 1 : 0;
  if (std::holds_alternative<int64_t>(arg) || std::holds_alternative<ir::SymIntArg>(arg)) {
    return a.sym("self");
  }
  Scalar s = a.scalar("self");
  return s.is_floating() ? sym::Expr(s.f != 0 ? 1 : 0) : sym::Expr(s.i);
}

std::vector<OutType> assert_scalar_shape(const Args& a) {
  if (is_known(asserted(a), 0)) a.fail("assertion failed: ", a.str("assert_msg"));
  return {};
}

std::vector<ref::RValue> assert_scalar_ref(const Args& a) {
  sym::Expr cond = asserted(a);
  if (!cond.is_const()) a.fail("the asserted condition ", cond.str(), " is not known");
  if (is_known(cond, 0)) a.fail("assertion failed: ", a.str("assert_msg"));
  return {};
}

// ---- dropout ---------------------------------------------------------------------------------

const char* input_name(const Args& a) {
  return a.schema().index_of("input") >= 0 ? "input" : "self";
}

std::vector<OutType> dropout_shape(const Args& a) {
  double p = a.to_double("p");
  if (!(p >= 0 && p <= 1)) a.fail("dropout probability has to be between 0 and 1, but got ", p);
  if (a.to_bool("train") && p > 0) {
    a.fail(
        "dropout with train=True: kiln compiles inference programs only (export the model "
        "in eval mode)");
  }
  const ir::TensorType& in = a.type(input_name(a));
  return {make_type(in.dtype, in.sizes, in.device)};
}

std::vector<ref::RValue> dropout_ref(const Args& a) {
  a.op().shape(a);
  return {a.tensor(input_name(a))};
}

const OpDef kOps[] = {
    {"aten.to.dtype",
     "to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, "
     "MemoryFormat? memory_format=None) -> Tensor(a)",
     cast_shape, cast_ref},
    {"aten.to.dtype_layout",
     "to.dtype_layout(Tensor(a) self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, bool non_blocking=False, bool copy=False, "
     "MemoryFormat? memory_format=None) -> Tensor(a)",
     cast_shape, cast_ref},
    {"aten.to.device",
     "to.device(Tensor(a) self, Device device, ScalarType dtype, bool non_blocking=False, bool "
     "copy=False, MemoryFormat? memory_format=None) -> Tensor(a)",
     cast_shape, cast_ref},
    {"aten.to.other",
     "to.other(Tensor(a) self, Tensor other, bool non_blocking=False, bool copy=False, "
     "MemoryFormat? memory_format=None) -> Tensor(a)",
     cast_shape, cast_ref},
    {"aten._to_copy.default",
     "_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
     "bool? pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> "
     "Tensor",
     cast_shape, cast_ref},
    {"aten.type_as.default", "type_as(Tensor self, Tensor other) -> Tensor", cast_shape, cast_ref},
    {"aten._assert_tensor_metadata.default",
     "_assert_tensor_metadata(Tensor a, SymInt[]? size=None, SymInt[]? stride=None, ScalarType? "
     "dtype=None, *, Device? device=None, Layout? layout=None) -> ()",
     assert_metadata_shape, assert_metadata_ref},
    {"aten._assert_scalar.default", "_assert_scalar(Scalar self, str assert_msg) -> ()",
     assert_scalar_shape, assert_scalar_ref},
    {"aten.dropout.default", "dropout(Tensor input, float p, bool train) -> Tensor", dropout_shape,
     dropout_ref},
    {"aten.dropout_.default", "dropout_(Tensor(a!) self, float p, bool train) -> Tensor(a!)",
     dropout_shape, dropout_ref, "aten.dropout.default"},
    {"aten.feature_dropout.default", "feature_dropout(Tensor input, float p, bool train) -> Tensor",
     dropout_shape, dropout_ref},
};

}  // namespace

std::span<const OpDef> shape_cast_ops() {
  return kOps;
}

}  // namespace kiln::ops
