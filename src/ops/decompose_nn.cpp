// Decompositions of nn ops: the convolution variants into aten.convolution (the one the backend
// lowers), the 1-D poolings into their 2-D forms over an added dim of size 1, max_pool2d into
// max_pool2d_with_indices, and scaled_dot_product_attention into matmuls and a softmax as
// PyTorch's math backend computes it.
#include <cmath>
#include <limits>

#include "ops/common.h"
#include "ops/decompose_util.h"

namespace kiln::ops {
namespace {

using ir::DType;
using ir::ValueId;
using Values = std::vector<ValueId>;

// An "int[n]" parameter with n entries (a single value repeated, as PyTorch expands it).
std::vector<int64_t> param(const Args& a, std::string_view name, size_t n) {
  std::vector<int64_t> v = a.ints(name);
  if (v.size() == 1 && n > 1) v.assign(n, v[0]);
  if (v.size() != n) a.fail("expected ", name, " to have ", n, " entries, got ", v.size());
  return v;
}

// ---- Convolutions ----

struct Conv {
  std::vector<int64_t> stride, padding, dilation, output_padding;
  bool transposed = false;
  int64_t groups = 1;
};

// convolution(input, ...) on a batched input; an unbatched one gains and loses the batch dim.
ValueId convolution(Decomposer& d, const Args& a, ValueId x, const Conv& c) {
  ValueId w = tensor_id(a, "weight");
  const bool unbatched = d.rank(x) == d.rank(w) - 1;
  if (unbatched) x = d.unsqueeze(x, 0);
  ir::Argument bias = ir::NoneArg{};
  if (auto b = optional_tensor_id(a, "bias")) bias = tensor_arg(*b);
  ValueId y = d.emit("aten.convolution.default", {{"input", tensor_arg(x)},
                                                  {"weight", tensor_arg(w)},
                                                  {"bias", bias},
                                                  {"stride", c.stride},
                                                  {"padding", c.padding},
                                                  {"dilation", c.dilation},
                                                  {"transposed", c.transposed},
                                                  {"output_padding", c.output_padding},
                                                  {"groups", c.groups}});
  return unbatched ? d.squeeze(y, 0) : y;
}

template <size_t N>
Values conv_nd(Decomposer& d, const Args& a) {
  Conv c{param(a, "stride", N),
         param(a, "padding", N),
         param(a, "dilation", N),
         std::vector<int64_t>(N, 0),
         false,
         a.to_int("groups")};
  return {convolution(d, a, tensor_id(a, "input"), c)};
}

template <size_t N>
Values conv_transpose_nd(Decomposer& d, const Args& a) {
  Conv c{param(a, "stride", N),
         param(a, "padding", N),
         param(a, "dilation", N),
         param(a, "output_padding", N),
         true,
         a.to_int("groups")};
  return {convolution(d, a, tensor_id(a, "input"), c)};
}

// padding="valid" is none; "same" pads dilation * (k - 1) per spatial dim, half on each side
// and the odd one on the right, which convolution's symmetric padding cannot say: that extra
// element is padded onto the input first.
template <size_t N>
Values conv_padding_mode(Decomposer& d, const Args& a) {
  ValueId x = tensor_id(a, "input");
  Conv c{param(a, "stride", N),
         std::vector<int64_t>(N, 0),
         param(a, "dilation", N),
         std::vector<int64_t>(N, 0),
         false,
         a.to_int("groups")};
  if (a.str("padding") == "same") {
    ir::TensorType w = d.type(tensor_id(a, "weight"));
    std::vector<int64_t> extra;  // constant_pad_nd's list: last dim first, (left, right) each
    bool odd = false;
    for (size_t k = 0; k < N; ++k) {
      auto ks = w.sizes[k + 2].as_const();
      if (!ks) a.fail("padding='same' needs a known kernel size");
      int64_t total = c.dilation[k] * (*ks - 1);
      c.padding[k] = total / 2;
      odd = odd || total % 2 != 0;
    }
    for (size_t k = N; k-- > 0;) {
      auto ks = w.sizes[k + 2].as_const();
      extra.push_back(0);
      extra.push_back(c.dilation[k] * (*ks - 1) % 2);
    }
    if (odd) {
      x = d.emit("aten.constant_pad_nd.default",
                 {{"self", tensor_arg(x)}, {"pad", extra}, {"value", int64_t{0}}});
    }
  }
  return {convolution(d, a, x, c)};
}

// ---- Pooling ----

ValueId max_pool2d_of(Decomposer& d, ValueId x, const ir::CallArgs& params) {
  ir::CallArgs args{{"self", tensor_arg(x)}};
  args.insert(args.end(), params.begin(), params.end());
  return d.emit_all("aten.max_pool2d_with_indices.default", args).at(0);
}

Values max_pool2d(Decomposer& d, const Args& a) {
  return {max_pool2d_of(d, tensor_id(a, "self"),
                        {{"kernel_size", a.raw("kernel_size")},
                         {"stride", a.raw("stride")},
                         {"padding", a.raw("padding")},
                         {"dilation", a.raw("dilation")},
                         {"ceil_mode", a.raw("ceil_mode")}})};
}

// A 1-D parameter as the 2-D one over [1, L]: `first` for the added dim.
std::vector<int64_t> widen(const Args& a, std::string_view name, int64_t first) {
  std::vector<int64_t> v = a.ints(name);
  if (v.empty()) return v;  // stride=[]: the kernel size, in both forms
  return {first, v.at(0)};
}

Values max_pool1d(Decomposer& d, const Args& a) {
  ValueId x = d.unsqueeze(tensor_id(a, "self"), -2);
  ValueId y = max_pool2d_of(d, x,
                            {{"kernel_size", widen(a, "kernel_size", 1)},
                             {"stride", widen(a, "stride", 1)},
                             {"padding", widen(a, "padding", 0)},
                             {"dilation", widen(a, "dilation", 1)},
                             {"ceil_mode", a.raw("ceil_mode")}});
  return {d.squeeze(y, -2)};
}

Values avg_pool1d(Decomposer& d, const Args& a) {
  ValueId x = d.unsqueeze(tensor_id(a, "self"), -2);
  ValueId y =
      d.emit("aten.avg_pool2d.default", {{"self", tensor_arg(x)},
                                         {"kernel_size", widen(a, "kernel_size", 1)},
                                         {"stride", widen(a, "stride", 1)},
                                         {"padding", widen(a, "padding", 0)},
                                         {"ceil_mode", a.raw("ceil_mode")},
                                         {"count_include_pad", a.raw("count_include_pad")}});
  return {d.squeeze(y, -2)};
}

Values adaptive_avg_pool1d(Decomposer& d, const Args& a) {
  ValueId x = d.unsqueeze(tensor_id(a, "self"), -2);
  ValueId y = d.emit("aten.adaptive_avg_pool2d.default",
                     {{"self", tensor_arg(x)}, {"output_size", widen(a, "output_size", 1)}});
  return {d.squeeze(y, -2)};
}

// ---- scaled_dot_product_attention ----

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Key j is visible from query i when j <= i (top-left aligned): a bool [L, S].
ValueId causal_mask(Decomposer& d, const ir::SymIntArg& l, const ir::SymIntArg& s,
                    const ir::Device& device) {
  auto arange = [&](const ir::SymIntArg& n) {
    return d.emit(
        "aten.arange.default",
        {{"end", int_arg(n)}, {"dtype", ir::ScalarTypeArg{DType::kInt64}}, {"device", device}});
  };
  ValueId rows = d.unsqueeze(arange(l), 1);
  ValueId cols = arange(s);
  return d.binary("aten.le.Tensor", cols, tensor_arg(rows));
}

// Each head of dim -3 repeated `times` times in place (repeat_interleave), for GQA: [.., h, ..]
// expanded to [.., h, times, ..] and merged to the query's head count.
ValueId repeat_heads(Decomposer& d, ValueId t, const ir::SymIntArg& times,
                     const ir::SymIntArg& heads) {
  const int64_t h = d.rank(t) - 3;
  std::vector<ir::SymIntArg> sizes = d.sizes(t);
  std::vector<ir::SymIntArg> expanded = sizes;
  expanded.insert(expanded.begin() + h + 1, times);
  sizes[static_cast<size_t>(h)] = heads;
  return d.reshape(d.expand(d.unsqueeze(t, h + 1), expanded), sizes);
}

// softmax(q @ k^T * scale + mask) @ v, with a row whose every score is -inf giving zeros
// (PyTorch's safe softmax). 16-bit inputs compute in float32.
Values sdpa(Decomposer& d, const Args& a) {
  if (a.to_double("dropout_p") != 0) a.fail("dropout_p must be 0 for inference");
  ValueId q = tensor_id(a, "query");
  ValueId k = tensor_id(a, "key");
  ValueId v = tensor_id(a, "value");
  const DType t = d.dtype(q), c = opmath(t);
  const ir::Device device = d.type(q).device;
  if (a.to_bool("enable_gqa") && d.rank(q) >= 3 && d.rank(k) >= 3 && d.rank(v) >= 3) {
    ir::SymIntArg hq = d.dim(q, d.rank(q) - 3);
    for (ValueId* kv : {&k, &v}) {
      ir::SymIntArg h = d.dim(*kv, d.rank(*kv) - 3);
      ir::SymIntArg times;
      if (!hq.value && !h.value) {
        times = literal(hq.literal / h.literal);
      } else {
        times = {d.emit("_operator.floordiv", {{"a", hq}, {"b", h}}), 0};
      }
      if (times.value || times.literal != 1) *kv = repeat_heads(d, *kv, times, hq);
    }
  }
  q = d.cast(q, c);
  k = d.cast(k, c);
  v = d.cast(v, c);
  ValueId scores = d.emit("aten.matmul.default",
                          {{"self", tensor_arg(q)}, {"other", tensor_arg(d.transpose(k, -2, -1))}});
  if (!a.is_none("scale")) {
    scores = d.mul_n(scores, a.to_double("scale"));
  } else if (auto e = d.size(q, d.rank(q) - 1).as_const()) {
    scores = d.mul_n(scores, 1 / std::sqrt(static_cast<double>(*e)));
  } else {
    ValueId e_t = d.scalar_tensor(d.dim(q, d.rank(q) - 1), c, device);
    scores = d.mul(scores, d.unary("aten.rsqrt.default", e_t));
  }
  auto masked = [&](ValueId keep) {
    return d.emit(
        "aten.where.ScalarOther",
        {{"condition", tensor_arg(keep)}, {"self", tensor_arg(scores)}, {"other", kNegInf}});
  };
  if (a.to_bool("is_causal")) {
    int64_t r = d.rank(scores);
    scores = masked(causal_mask(d, d.dim(scores, r - 2), d.dim(scores, r - 1), device));
  }
  if (auto mask = optional_tensor_id(a, "attn_mask")) {
    scores = d.dtype(*mask) == DType::kBool ? masked(*mask) : d.add(scores, d.cast(*mask, c));
  }
  ValueId probs =
      d.emit("aten._softmax.default",
             {{"self", tensor_arg(scores)}, {"dim", int64_t{-1}}, {"half_to_float", false}});
  ValueId none_visible =
      d.emit("aten.all.dim", {{"self", tensor_arg(d.binary("aten.eq.Scalar", scores, kNegInf))},
                              {"dim", int64_t{-1}},
                              {"keepdim", true}});
  probs = d.emit(
      "aten.where.ScalarSelf",
      {{"condition", tensor_arg(none_visible)}, {"self", 0.0}, {"other", tensor_arg(probs)}});
  ValueId out =
      d.emit("aten.matmul.default", {{"self", tensor_arg(probs)}, {"other", tensor_arg(v)}});
  return {d.cast(out, t)};
}

const Decomposition kDecompositions[] = {
    {"aten.conv1d.default", conv_nd<1>},
    {"aten.conv2d.default", conv_nd<2>},
    {"aten.conv3d.default", conv_nd<3>},
    {"aten.conv1d.padding", conv_padding_mode<1>},
    {"aten.conv2d.padding", conv_padding_mode<2>},
    {"aten.conv_transpose1d.default", conv_transpose_nd<1>},
    {"aten.conv_transpose2d.input", conv_transpose_nd<2>},
    {"aten.max_pool1d.default", max_pool1d},
    {"aten.max_pool2d.default", max_pool2d},
    {"aten.avg_pool1d.default", avg_pool1d},
    {"aten.adaptive_avg_pool1d.default", adaptive_avg_pool1d},
    {"aten.scaled_dot_product_attention.default", sdpa},
};

}  // namespace

std::span<const Decomposition> nn_decompositions() {
  return kDecompositions;
}

}  // namespace kiln::ops
