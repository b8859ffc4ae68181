// Convolutions: conv1d/2d/3d (explicit or 'same'/'valid' padding), convolution, and the
// transposed convolutions. Weight layouts are PyTorch's: [C_out, C_in/groups, k...], and
// [C_in, C_out/groups, k...] when transposed.
#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

struct ConvParams {
  size_t spatial = 0;
  std::vector<int64_t> stride, pad_before, pad_after, dilation, output_padding;
  int64_t groups = 1;
  bool transposed = false;
  bool same = false;  // padding='same': the output keeps the input's spatial sizes
  bool allow_unbatched = true;
};

void check_params(const ConvParams& p, const Args& a) {
  for (size_t d = 0; d < p.spatial; ++d) {
    if (p.stride[d] <= 0) a.fail("non-positive stride is not supported");
    if (p.pad_before[d] < 0 || p.pad_after[d] < 0) a.fail("negative padding is not supported");
    if (p.dilation[d] <= 0) a.fail("dilation should be greater than zero");
    if (p.transposed) {
      if (p.output_padding[d] < 0) a.fail("negative output_padding is not supported");
      if (p.output_padding[d] >= p.stride[d] && p.output_padding[d] >= p.dilation[d]) {
        a.fail(
            "output padding must be smaller than either stride or dilation, but got "
            "output_padding ",
            p.output_padding[d], ", stride ", p.stride[d], " and dilation ", p.dilation[d]);
      }
    }
  }
  if (p.groups <= 0) a.fail("non-positive groups is not supported");
}

std::vector<OutType> conv_shape(const Args& a, const ConvParams& p) {
  const auto& x = a.type("input");
  const auto& w = a.type("weight");
  size_t n = p.spatial;
  if (w.rank() != n + 2) a.fail("expected weight to be ", n + 2, "-D, got ", w.rank(), "-D");
  bool batched = x.rank() == n + 2;
  if (!batched && !(p.allow_unbatched && x.rank() == n + 1)) {
    a.fail("expected ", p.allow_unbatched ? std::to_string(n + 1) + "-D (unbatched) or " : "",
           n + 2, "-D (batched) input for a ", n + 2, "-D weight, but got input of size ",
           shape_str(x.sizes));
  }
  if (x.dtype != w.dtype) {
    a.fail("input type (", ir::dtype_name(x.dtype), ") and weight type (", ir::dtype_name(w.dtype),
           ") should be the same");
  }
  check_numeric(x.dtype, a, "convolution");
  check_params(p, a);
  size_t c = batched ? 1 : 0;
  const sym::Expr& channels = x.sizes[c];
  sym::Expr out_channels;
  auto check_divisible = [&](const sym::Expr& s) {
    auto v = s.as_const();
    if (v && *v % p.groups != 0) {
      a.fail("given groups=", p.groups, ", expected weight to be divisible by ", p.groups,
             " at dimension 0, but got weight of size ", shape_str(w.sizes));
    }
  };
  check_divisible(w.sizes[0]);
  if (p.transposed) {
    check_same(channels, w.sizes[0], a, "given transposed=1, weight of size ", shape_str(w.sizes),
               ", expected input ", shape_str(x.sizes), " to have ", w.sizes[0].str(),
               " channels, but got ", channels.str(), " channels");
    out_channels = w.sizes[1] * p.groups;
  } else {
    check_same(channels, w.sizes[1] * p.groups, a, "given groups=", p.groups, ", weight of size ",
               shape_str(w.sizes), ", expected input ", shape_str(x.sizes), " to have ",
               (w.sizes[1] * p.groups).str(), " channels, but got ", channels.str(), " channels");
    out_channels = w.sizes[0];
  }
  if (auto bias = a.optional_type("bias")) {
    if (bias->dtype != x.dtype) {
      a.fail("input type (", ir::dtype_name(x.dtype), ") and bias type (",
             ir::dtype_name(bias->dtype), ") should be the same");
    }
    if (bias->rank() != 1) a.fail("bias must be 1-D, got ", shape_str(bias->sizes));
    check_same(bias->sizes[0], out_channels, a, "expected bias to have ", out_channels.str(),
               " elements, got ", bias->sizes[0].str());
  }
  std::vector<sym::Expr> out(x.sizes.begin(), x.sizes.begin() + static_cast<std::ptrdiff_t>(c));
  out.push_back(out_channels);
  for (size_t d = 0; d < n; ++d) {
    const sym::Expr& in = x.sizes[c + 1 + d];
    const sym::Expr& k = w.sizes[2 + d];
    sym::Expr dilated = p.dilation[d] * (k - 1) + 1;
    sym::Expr size;
    if (p.same) {
      size = in;
    } else if (p.transposed) {
      size =
          (in - 1) * p.stride[d] - p.pad_before[d] - p.pad_after[d] + dilated + p.output_padding[d];
    } else {
      sym::Expr padded = in + p.pad_before[d] + p.pad_after[d];
      if (known_greater(dilated, padded)) {
        a.fail("calculated padded input size per channel: ", padded.str(),
               "; kernel size (with dilation): ", dilated.str(),
               ". Kernel size can't be greater than actual input size");
      }
      size = sym::floor_div(padded - dilated, p.stride[d]) + 1;
    }
    if (auto v = size.as_const(); v && *v <= 0) {
      a.fail("given input size ", shape_str(x.sizes), ", calculated output size ", size.str(),
             " at spatial dim ", d, " is too small");
    }
    out.push_back(size);
  }
  return {make_type(x.dtype, std::move(out), x.device)};
}

// A row-major multi-index walk over `sizes`; returns false after the last index.
bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& sizes) {
  for (size_t d = sizes.size(); d-- > 0;) {
    if (++index[d] < sizes[d]) return true;
    index[d] = 0;
  }
  return false;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t s : v)
    p *= s;
  return p;
}

// The direct convolution over batched [N, C, spatial...] tensors.
std::vector<ref::RValue> conv_ref(const Args& a, const ConvParams& p) {
  ref::Tensor result = alloc_output(a);
  const ref::Tensor& w = a.tensor("weight");
  const ref::Tensor* bias = a.optional_tensor("bias");
  const ref::Tensor* input = &a.tensor("input");
  size_t n = p.spatial;
  bool batched = static_cast<size_t>(input->dim()) == n + 2;
  ref::Tensor unbatched;
  if (!batched) {
    std::vector<int64_t> s = input->sizes();
    s.insert(s.begin(), 1);
    unbatched = input->reshaped(s);
    input = &unbatched;
  }
  const ref::Tensor& x = *input;
  std::vector<int64_t> out_sizes = result.sizes();
  if (!batched) out_sizes.insert(out_sizes.begin(), 1);
  ref::Tensor out(result.dtype(), out_sizes);
  int64_t batch = x.size(0), cin = x.size(1), cout = out_sizes[1];
  std::vector<int64_t> in_sp(x.sizes().begin() + 2, x.sizes().end());
  std::vector<int64_t> out_sp(out_sizes.begin() + 2, out_sizes.end());
  std::vector<int64_t> k_sp(w.sizes().begin() + 2, w.sizes().end());
  int64_t cin_g = cin / p.groups, cout_g = cout / p.groups;
  int64_t in_plane = product(in_sp), out_plane = product(out_sp), k_plane = product(k_sp);
  // The kernel taps that land inside the input, as (tap, input position), depend on the output
  // position alone: found once per position, then read for every batch entry and channel.
  std::vector<std::pair<int64_t, int64_t>> taps;
  std::vector<int64_t> o(n, 0), k(n, 0);
  for (int64_t of = 0; of < out_plane; ++of, next_index(o, out_sp)) {
    taps.clear();
    std::fill(k.begin(), k.end(), 0);
    for (int64_t kf = 0; kf < k_plane; ++kf, next_index(k, k_sp)) {
      // The input position this kernel tap reads (forward) or that writes here
      // (transposed: o = i * stride - pad + k * dilation).
      int64_t in_flat = 0;
      bool inside = true;
      for (size_t d = 0; d < n && inside; ++d) {
        int64_t i = 0;
        if (p.transposed) {
          int64_t t = o[d] + p.pad_before[d] - k[d] * p.dilation[d];
          inside = t >= 0 && t % p.stride[d] == 0;
          i = t / p.stride[d];
        } else {
          i = o[d] * p.stride[d] - p.pad_before[d] + k[d] * p.dilation[d];
        }
        inside = inside && i >= 0 && i < in_sp[d];
        in_flat = in_flat * in_sp[d] + i;
      }
      if (inside) taps.emplace_back(kf, in_flat);
    }
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t oc = 0; oc < cout; ++oc) {
        int64_t g = oc / cout_g;
        Sum acc(out.is_floating());
        if (bias != nullptr) acc.add(*bias, oc);
        for (int64_t icg = 0; icg < cin_g; ++icg) {
          int64_t ic = g * cin_g + icg;
          for (const auto& [kf, in_flat] : taps) {
            int64_t xi = (b * cin + ic) * in_plane + in_flat;
            int64_t wi = p.transposed ? (ic * cout_g + (oc - g * cout_g)) * k_plane + kf
                                      : (oc * cin_g + icg) * k_plane + kf;
            acc.add_product(x, xi, w, wi);
          }
        }
        acc.store(out, (b * cout + oc) * out_plane + of);
      }
    }
  }
  return ref::single_result(out.reshaped(result.sizes()));
}

ConvParams explicit_params(const Args& a, size_t n, bool transposed) {
  ConvParams p;
  p.spatial = n;
  p.transposed = transposed;
  p.stride = expand_param(a, "stride", n);
  p.pad_before = expand_param(a, "padding", n);
  p.pad_after = p.pad_before;
  p.dilation = expand_param(a, "dilation", n);
  p.output_padding = transposed ? expand_param(a, "output_padding", n) : std::vector<int64_t>(n, 0);
  p.groups = a.to_int("groups");
  return p;
}

// conv*d.padding: 'valid' is no padding; 'same' pads dilation * (k - 1) in all, the odd one on
// the right, as PyTorch's _convolution_mode does.
ConvParams mode_params(const Args& a, size_t n) {
  ConvParams p;
  p.spatial = n;
  p.stride = expand_param(a, "stride", n);
  p.dilation = expand_param(a, "dilation", n);
  p.output_padding.assign(n, 0);
  p.pad_before.assign(n, 0);
  p.pad_after.assign(n, 0);
  p.groups = a.to_int("groups");
  std::string mode = a.str("padding");
  if (mode == "same") {
    p.same = true;
    for (int64_t s : p.stride) {
      if (s != 1) a.fail("padding='same' is not supported for strided convolutions");
    }
  } else if (mode != "valid") {
    a.fail("invalid padding string: '", mode, "'");
  }
  return p;
}

ConvParams convolution_params(const Args& a) {
  const auto& w = a.type("weight");
  if (w.rank() < 3) a.fail("expected weight to have at least 3 dims, got ", w.rank());
  ConvParams p = explicit_params(a, w.rank() - 2, a.to_bool("transposed"));
  p.allow_unbatched = false;
  return p;
}

template <size_t N>
std::vector<OutType> conv_nd_shape(const Args& a) {
  return conv_shape(a, explicit_params(a, N, false));
}
template <size_t N>
std::vector<ref::RValue> conv_nd_ref(const Args& a) {
  return conv_ref(a, explicit_params(a, N, false));
}
template <size_t N>
std::vector<OutType> conv_mode_shape(const Args& a) {
  return conv_shape(a, mode_params(a, N));
}
template <size_t N>
std::vector<ref::RValue> conv_mode_ref(const Args& a) {
  ConvParams p = mode_params(a, N);
  if (p.same) {
    const ref::Tensor& w = a.tensor("weight");
    for (size_t d = 0; d < N; ++d) {
      int64_t total = p.dilation[d] * (w.size(static_cast<int64_t>(d) + 2) - 1);
      p.pad_before[d] = total / 2;
      p.pad_after[d] = total - total / 2;
    }
  }
  return conv_ref(a, p);
}
template <size_t N>
std::vector<OutType> conv_transpose_shape(const Args& a) {
  return conv_shape(a, explicit_params(a, N, true));
}
template <size_t N>
std::vector<ref::RValue> conv_transpose_ref(const Args& a) {
  return conv_ref(a, explicit_params(a, N, true));
}
std::vector<OutType> convolution_shape(const Args& a) {
  return conv_shape(a, convolution_params(a));
}
std::vector<ref::RValue> convolution_ref(const Args& a) {
  return conv_ref(a, convolution_params(a));
}

const OpDef kOps[] = {
    {"aten.conv1d.default",
     "conv1d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], SymInt[1] "
     "padding=[0], SymInt[1] dilation=[1], SymInt groups=1) -> Tensor",
     conv_nd_shape<1>, conv_nd_ref<1>},
    {"aten.conv2d.default",
     "conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1], SymInt[2] "
     "padding=[0, 0], SymInt[2] dilation=[1, 1], SymInt groups=1) -> Tensor",
     conv_nd_shape<2>, conv_nd_ref<2>},
    {"aten.conv3d.default",
     "conv3d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[3] stride=[1, 1, 1], "
     "SymInt[3] padding=[0, 0, 0], SymInt[3] dilation=[1, 1, 1], SymInt groups=1) -> Tensor",
     conv_nd_shape<3>, conv_nd_ref<3>},
    {"aten.conv1d.padding",
     "conv1d.padding(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], str "
     "padding=\"valid\", SymInt[1] dilation=[1], SymInt groups=1) -> Tensor",
     conv_mode_shape<1>, conv_mode_ref<1>},
    {"aten.conv2d.padding",
     "conv2d.padding(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1], "
     "str padding=\"valid\", SymInt[2] dilation=[1, 1], SymInt groups=1) -> Tensor",
     conv_mode_shape<2>, conv_mode_ref<2>},
    {"aten.convolution.default",
     "convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
     "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor",
     convolution_shape, convolution_ref},
    {"aten.conv_transpose1d.default",
     "conv_transpose1d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], "
     "SymInt[1] padding=[0], SymInt[1] output_padding=[0], SymInt groups=1, SymInt[1] "
     "dilation=[1]) -> Tensor",
     conv_transpose_shape<1>, conv_transpose_ref<1>},
    {"aten.conv_transpose2d.input",
     "conv_transpose2d.input(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] "
     "stride=[1, 1], SymInt[2] padding=[0, 0], SymInt[2] output_padding=[0, 0], SymInt "
     "groups=1, SymInt[2] dilation=[1, 1]) -> Tensor",
     conv_transpose_shape<2>, conv_transpose_ref<2>},
};

}  // namespace

std::span<const OpDef> conv_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
