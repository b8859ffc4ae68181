// GEMMs: linear, matmul, mm, bmm, addmm, baddbmm, outer, dot. PyTorch does not promote
// between GEMM operands: they must share one dtype, which is the result's.
#include <cmath>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

void check_same_dtype(const ir::TensorType& x, const ir::TensorType& y, std::string_view xn,
                      std::string_view yn, const Args& a) {
  if (x.dtype != y.dtype) {
    a.fail("expected ", xn, " and ", yn, " to have the same dtype, but got ",
           ir::dtype_name(x.dtype), " and ", ir::dtype_name(y.dtype));
  }
  check_numeric(x.dtype, a, a.node().target);
}

void check_rank(const ir::TensorType& t, size_t rank, std::string_view name, const Args& a) {
  if (t.rank() != rank) a.fail(name, " must be a ", rank, "-D tensor, got ", t.rank(), "-D");
}

void check_inner(const sym::Expr& k1, const sym::Expr& k2, const ir::TensorType& x,
                 const ir::TensorType& y, const Args& a) {
  check_same(k1, k2, a, "shapes cannot be multiplied (", shape_str(x.sizes), " and ",
             shape_str(y.sizes), ")");
}

// matmul's result sizes: 1-D operands get a dim added for the product and dropped after.
std::vector<sym::Expr> matmul_sizes(const ir::TensorType& x, const ir::TensorType& y,
                                    const Args& a) {
  if (x.rank() == 0 || y.rank() == 0) {
    a.fail("both arguments to matmul need to be at least 1D, but they are ", x.rank(), "D and ",
           y.rank(), "D");
  }
  std::vector<sym::Expr> xs = x.sizes, ys = y.sizes;
  if (xs.size() == 1) xs.insert(xs.begin(), sym::Expr(1));
  if (ys.size() == 1) ys.push_back(sym::Expr(1));
  check_inner(xs.back(), ys[ys.size() - 2], x, y, a);
  std::vector<sym::Expr> out =
      broadcast_shapes({xs.begin(), xs.end() - 2}, {ys.begin(), ys.end() - 2}, a);
  if (x.rank() > 1) out.push_back(xs[xs.size() - 2]);
  if (y.rank() > 1) out.push_back(ys.back());
  return out;
}

std::vector<OutType> matmul_shape(const Args& a) {
  const auto& x = a.type("self");
  const auto& y = a.type("other");
  check_same_dtype(x, y, "self", "other", a);
  return {make_type(x.dtype, matmul_sizes(x, y, a), x.device)};
}

std::vector<OutType> mm_shape(const Args& a) {
  const auto& x = a.type("self");
  const auto& y = a.type("mat2");
  check_rank(x, 2, "self", a);
  check_rank(y, 2, "mat2", a);
  check_same_dtype(x, y, "self", "mat2", a);
  check_inner(x.sizes[1], y.sizes[0], x, y, a);
  return {make_type(x.dtype, {x.sizes[0], y.sizes[1]}, x.device)};
}

std::vector<sym::Expr> bmm_sizes(const ir::TensorType& x, const ir::TensorType& y,
                                 std::string_view xn, std::string_view yn, const Args& a) {
  check_rank(x, 3, xn, a);
  check_rank(y, 3, yn, a);
  check_same_dtype(x, y, xn, yn, a);
  check_same(x.sizes[0], y.sizes[0], a, "batch sizes differ: ", xn, " is ", shape_str(x.sizes),
             " and ", yn, " is ", shape_str(y.sizes));
  check_inner(x.sizes[2], y.sizes[1], x, y, a);
  return {x.sizes[0], x.sizes[1], y.sizes[2]};
}

std::vector<OutType> bmm_shape(const Args& a) {
  const auto& x = a.type("self");
  return {make_type(x.dtype, bmm_sizes(x, a.type("mat2"), "self", "mat2", a), x.device)};
}

// addmm / baddbmm: self must expand to the product's shape and share its dtype.
std::vector<OutType> add_product_shape(const Args& a, std::vector<sym::Expr> product,
                                       ir::DType dtype) {
  const auto& self = a.type("self");
  if (self.dtype != dtype) {
    a.fail("self and the matrices must have the same dtype, but got ", ir::dtype_name(self.dtype),
           " and ", ir::dtype_name(dtype));
  }
  check_expandable(self.sizes, product, a, "self");
  return {make_type(self.dtype, std::move(product), self.device)};
}

std::vector<OutType> addmm_shape(const Args& a) {
  const auto& x = a.type("mat1");
  const auto& y = a.type("mat2");
  check_rank(x, 2, "mat1", a);
  check_rank(y, 2, "mat2", a);
  check_same_dtype(x, y, "mat1", "mat2", a);
  check_inner(x.sizes[1], y.sizes[0], x, y, a);
  return add_product_shape(a, {x.sizes[0], y.sizes[1]}, x.dtype);
}

std::vector<OutType> baddbmm_shape(const Args& a) {
  const auto& x = a.type("batch1");
  return add_product_shape(a, bmm_sizes(x, a.type("batch2"), "batch1", "batch2", a), x.dtype);
}

std::vector<OutType> outer_shape(const Args& a) {
  const auto& x = a.type("self");
  const auto& y = a.type("vec2");
  check_rank(x, 1, "self", a);
  check_rank(y, 1, "vec2", a);
  // outer is self[:, None] * vec2: an elementwise product, so the dtypes promote.
  ir::DType dtype = promote_types(x.dtype, y.dtype);
  if (!ir::is_floating(dtype) && !ir::is_integral(dtype) && dtype != ir::DType::kBool) {
    a.fail("outer is not implemented for dtype ", ir::dtype_name(dtype));
  }
  return {make_type(dtype, {x.sizes[0], y.sizes[0]}, x.device)};
}

std::vector<OutType> dot_shape(const Args& a) {
  const auto& x = a.type("self");
  const auto& y = a.type("tensor");
  check_rank(x, 1, "self", a);
  check_rank(y, 1, "tensor", a);
  check_same_dtype(x, y, "self", "tensor", a);
  check_same(x.sizes[0], y.sizes[0], a, "inconsistent tensor size: self has ", x.sizes[0].str(),
             " elements and tensor has ", y.sizes[0].str());
  return {make_type(x.dtype, {}, x.device)};
}

std::vector<OutType> linear_shape(const Args& a) {
  const auto& x = a.type("input");
  const auto& w = a.type("weight");
  if (x.rank() == 0 || w.rank() == 0) {
    a.fail("both arguments to linear need to be at least 1D, but they are ", x.rank(), "D and ",
           w.rank(), "D");
  }
  if (w.rank() > 2) a.fail("weight must be 1-D or 2-D, got ", w.rank(), "-D");
  check_same_dtype(x, w, "input", "weight", a);
  auto bias = a.optional_type("bias");
  // PyTorch routes 2-D and 3-D inputs with a bias through addmm, which needs a 2-D weight.
  if (bias && w.rank() == 1 && (x.rank() == 2 || x.rank() == 3)) {
    a.fail("addmm: weight must be a matrix when input is ", x.rank(), "-D and bias is given");
  }
  check_inner(x.sizes.back(), w.sizes.back(), x, w, a);
  std::vector<sym::Expr> out(x.sizes.begin(), x.sizes.end() - 1);
  if (w.rank() == 2) out.push_back(w.sizes[0]);
  if (bias) {
    if (bias->dtype != x.dtype) {
      a.fail("bias must have the dtype of input, ", ir::dtype_name(x.dtype), ", but got ",
             ir::dtype_name(bias->dtype));
    }
    check_expandable(bias->sizes, out, a, "bias");
  }
  return {make_type(x.dtype, std::move(out), x.device)};
}

// The dtype products are computed in before the final rounding: float64 for floating outputs,
// the integral dtype (wrapping, exact) otherwise.
ir::DType wide(ir::DType t) {
  return ir::is_floating(t) ? ir::DType::kFloat64 : ir::DType::kInt64;
}

ref::Tensor rounded(const ref::Tensor& wide_result, const Args& a) {
  ref::Tensor out = alloc_output(a);
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (wide_result.is_floating()) {
      out.set(i, wide_result.get(i));
    } else {
      out.set_int(i, wide_result.get_int(i));
    }
  }
  return out;
}

template <const char* X, const char* Y>
std::vector<ref::RValue> matmul_ref(const Args& a) {
  const ref::Tensor& x = a.tensor(X);
  return {rounded(batched_matmul(x, a.tensor(Y), wide(x.dtype())), a)};
}

// beta * self + alpha * product, self broadcast; self is not read when beta is 0 (so its NaNs
// do not propagate), as in PyTorch.
ref::Tensor add_scaled(const ref::Tensor& product, const ref::Tensor* self, double beta,
                       double alpha, const Args& a) {
  ref::Tensor out = alloc_output(a);
  bool floating = out.is_floating();
  if (!floating) {
    beta = std::trunc(beta);
    alpha = std::trunc(alpha);
  }
  std::optional<BroadcastIndex> self_index;
  if (self != nullptr) self_index.emplace(self->sizes(), out.sizes());
  for (int64_t i = 0; i < out.numel(); ++i) {
    Sum p(floating);
    p.add(product, i);
    Sum total = p.scaled(alpha);
    if (self != nullptr && beta != 0) {
      Sum s(floating);
      s.add(*self, (*self_index)(i));
      total += s.scaled(beta);
    }
    total.store(out, i);
  }
  return out;
}

template <const char* X, const char* Y>
std::vector<ref::RValue> add_product_ref(const Args& a) {
  const ref::Tensor& x = a.tensor(X);
  ref::Tensor product = batched_matmul(x, a.tensor(Y), wide(x.dtype()));
  return {add_scaled(product, &a.tensor("self"), a.scalar("beta").to_double(),
                     a.scalar("alpha").to_double(), a)};
}

std::vector<ref::RValue> linear_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("input");
  ref::Tensor product = batched_matmul(x, transpose_last2(a.tensor("weight")), wide(x.dtype()));
  return {add_scaled(product, a.optional_tensor("bias"), 1, 1, a)};
}

std::vector<ref::RValue> outer_ref(const Args& a) {
  const ref::Tensor& x = a.tensor("self");
  const ref::Tensor& y = a.tensor("vec2");
  ref::Tensor out = alloc_output(a);
  for (int64_t i = 0; i < x.numel(); ++i) {
    for (int64_t j = 0; j < y.numel(); ++j) {
      Sum p(out.is_floating());
      p.add_product(x, i, y, j);
      p.store(out, i * y.numel() + j);
    }
  }
  return ref::single_result(std::move(out));
}

// Names of the operands, for the templates.
constexpr char kSelf[] = "self";
constexpr char kOther[] = "other";
constexpr char kMat1[] = "mat1";
constexpr char kMat2[] = "mat2";
constexpr char kBatch1[] = "batch1";
constexpr char kBatch2[] = "batch2";
constexpr char kTensor[] = "tensor";

const OpDef kOps[] = {
    {"aten.linear.default", "linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
     linear_shape, linear_ref},
    {"aten.matmul.default", "matmul(Tensor self, Tensor other) -> Tensor", matmul_shape,
     matmul_ref<kSelf, kOther>},
    {"aten.mm.default", "mm(Tensor self, Tensor mat2) -> Tensor", mm_shape,
     matmul_ref<kSelf, kMat2>},
    {"aten.bmm.default", "bmm(Tensor self, Tensor mat2) -> Tensor", bmm_shape,
     matmul_ref<kSelf, kMat2>},
    {"aten.addmm.default",
     "addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
     addmm_shape, add_product_ref<kMat1, kMat2>},
    {"aten.baddbmm.default",
     "baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> "
     "Tensor",
     baddbmm_shape, add_product_ref<kBatch1, kBatch2>},
    {"aten.outer.default", "outer(Tensor self, Tensor vec2) -> Tensor", outer_shape, outer_ref},
    {"aten.dot.default", "dot(Tensor self, Tensor tensor) -> Tensor", dot_shape,
     matmul_ref<kSelf, kTensor>},
};

}  // namespace

std::span<const OpDef> linear_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
