// Naive implementations of the nn extern kinds for the kernel-IR evaluator (lower/evaluate.h):
// plain loops in double (or wrapping int64) over the calls' parameters exactly as
// runtime/externs.h documents them, so lowering tests check what each call asks for
// independently of the optimized runtime routines.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "externs.h"
#include "lower/evaluate.h"
#include "lower/lower_nn_util.h"
#include "util/error.h"

namespace kiln::lower {
namespace {

using Sizes = std::vector<int64_t>;

std::vector<int64_t> ints_of(const ExternCall& call, const SymbolValues& symbols) {
  std::vector<int64_t> out;
  for (const sym::Expr& e : call.int_params)
    out.push_back(e.eval(symbols));
  return out;
}

void expect_params(const ExternCall& call, const std::vector<int64_t>& p, size_t min_ints,
                   size_t min_inputs) {
  if (p.size() < min_ints || call.inputs.size() < min_inputs || call.outputs.size() != 1) {
    throw error(call.kind, ": malformed call (", call.comment, ")");
  }
}

// Sums in double for floating tensors, wrapping uint64 otherwise; stores rounded once.
struct Acc {
  bool floating;
  double f = 0;
  uint64_t i = 0;
  explicit Acc(bool fl) : floating(fl) {}
  void add(const ref::Tensor& t, int64_t at) {
    if (floating) {
      f += t.get(at);
    } else {
      i += static_cast<uint64_t>(t.get_int(at));
    }
  }
  void add_product(const ref::Tensor& a, int64_t ia, const ref::Tensor& b, int64_t ib) {
    if (floating) {
      f += a.get(ia) * b.get(ib);
    } else {
      i += static_cast<uint64_t>(a.get_int(ia)) * static_cast<uint64_t>(b.get_int(ib));
    }
  }
  void store(ref::Tensor& out, int64_t at) const {
    if (floating) {
      out.set(at, f);
    } else {
      out.set_int(at, static_cast<int64_t>(i));
    }
  }
};

// The epilogue section of gemm and conv (runtime/externs.h) at p[at] and floats[fat]: each
// post-op applied in double to y viewed as [outer, channels, inner], rounding to y's dtype after
// each as separate kernels would.
void apply_post_ops(const ExternCall& call, const std::vector<int64_t>& p, size_t at, size_t fat,
                    const std::vector<ref::Tensor*>& in, ref::Tensor& y, int64_t outer,
                    int64_t channels, int64_t inner) {
  if (p.size() == at) return;
  if (p.size() < at + 2)
    throw error(call.kind, ": epilogue section cut short (", call.comment, ")");
  const auto count = static_cast<size_t>(p[at + 1]);
  if (p.size() != at + 2 + 2 * count || call.float_params.size() < fat + 2 * count) {
    throw error(call.kind, ": malformed epilogue section (", call.comment, ")");
  }
  for (size_t k = 0; k < count; ++k) {
    const int64_t kind = p[at + 2 + 2 * k], operand = p[at + 3 + 2 * k];
    const double alpha = call.float_params[fat + 2 * k], beta = call.float_params[fat + 2 * k + 1];
    const ref::Tensor* other = nullptr;
    if (kind >= rt::kPostAdd) {
      if (operand < 0 || static_cast<size_t>(operand) >= in.size()) {
        throw error(call.kind, ": post-op ", k, " reads input ", operand, " (", call.comment, ")");
      }
      other = in[static_cast<size_t>(operand)];
    }
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t e = (o * channels + c) * inner + i;
          const double v = y.get(e);
          double r = v;
          switch (kind) {
            case rt::kPostRelu:
              r = std::isnan(v) ? v : std::max(v, 0.0);
              break;
            case rt::kPostLeakyRelu:
              r = v > 0 ? v : alpha * v;
              break;
            case rt::kPostElu:
              r = v > 0 ? v : alpha * std::expm1(v);
              break;
            case rt::kPostGeluErf:
              r = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
              break;
            case rt::kPostGeluTanh:
              r = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
              break;
            case rt::kPostSigmoid:
              r = 1 / (1 + std::exp(-v));
              break;
            case rt::kPostTanh:
              r = std::tanh(v);
              break;
            case rt::kPostSilu:
              r = v / (1 + std::exp(-v));
              break;
            case rt::kPostHardswish:
              r = v * std::min(std::max(v + 3, 0.0), 6.0) / 6;
              break;
            case rt::kPostClamp:
              r = std::isnan(v) ? v : std::min(std::max(v, alpha), beta);
              break;
            case rt::kPostLinear:
              r = alpha * v + beta;
              break;
            case rt::kPostAdd:
              r = v + other->get(e);
              break;
            case rt::kPostAddChannel:
              r = v + other->get(c);
              break;
            case rt::kPostMul:
              r = v * other->get(e);
              break;
            case rt::kPostMulChannel:
              r = v * other->get(c);
              break;
            case rt::kPostSub:
              r = v - other->get(e);
              break;
            case rt::kPostSubChannel:
              r = v - other->get(c);
              break;
            default:
              throw error(call.kind, ": unknown post-op kind ", kind, " (", call.comment, ")");
          }
          y.set(e, r);
        }
  }
}

void eval_gemm(const ExternCall& call, std::vector<ref::Tensor*> in, std::vector<ref::Tensor*> out,
               const SymbolValues& symbols) {
  auto p = ints_of(call, symbols);
  expect_params(call, p, 18, 2);
  // The batch split section after the epilogue (runtime/externs.h): b = b1 * batch2 + b2 reads
  // an operand at b1 * stride_batch + b2 * stride_batch2.
  int64_t batch2 = 1, split[3] = {0, 0, 0};
  if (p.size() >= 20 && p[19] >= 0 &&
      p.size() == 20 + 2 * static_cast<size_t>(p[19]) + rt::kGemmSplitInts) {
    const size_t at = p.size() - rt::kGemmSplitInts;
    batch2 = p[at];
    split[0] = p[at + 1], split[1] = p[at + 2], split[2] = p[at + 3];
    p.resize(at);
    if (batch2 <= 0 || p[1] % batch2 != 0) {
      throw error(call.kind, ": batch ", p[1], " does not split by ", batch2, " (", call.comment,
                  ")");
    }
  }
  const int64_t batch = p[1], m = p[2], n = p[3], k = p[4];
  // An operand's batch offset: outer stride at p[outer], inner one split[which].
  auto batch_at = [&](int64_t bi, size_t outer, int which) {
    return bi / batch2 * p[outer] + bi % batch2 * split[which];
  };
  const ref::Tensor& a = *in[0];
  const ref::Tensor& b = *in[1];
  const bool has_bias = p[13] != 0 && call.float_params.at(1) != 0;
  const double alpha = call.float_params.at(0), beta = call.float_params.at(1);
  ref::Tensor& c = *out[0];
  const bool fl = c.is_floating();
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        Acc acc(fl);
        for (int64_t q = 0; q < k; ++q) {
          acc.add_product(a, p[5] + batch_at(bi, 6, 0) + i * p[7] + q * p[8], b,
                          p[9] + batch_at(bi, 10, 1) + q * p[11] + j * p[12]);
        }
        acc.f *= alpha;
        acc.i *= static_cast<uint64_t>(static_cast<int64_t>(alpha));
        if (has_bias) {
          int64_t at = p[14] + batch_at(bi, 15, 2) + i * p[16] + j * p[17];
          acc.f += beta * in[2]->get(at);
          acc.i += static_cast<uint64_t>(static_cast<int64_t>(beta)) *
                   static_cast<uint64_t>(in[2]->get_int(at));
        }
        acc.store(c, (bi * m + i) * n + j);
      }
  apply_post_ops(call, p, 18, 2, in, c, batch * m, n, 1);
}

void eval_conv(const ExternCall& call, std::vector<ref::Tensor*> in, std::vector<ref::Tensor*> out,
               const SymbolValues& symbols) {
  const auto p = ints_of(call, symbols);
  expect_params(call, p, 8, 2);
  const auto n = static_cast<size_t>(p[1]);
  expect_params(call, p, 8 + 6 * n, p[7] != 0 ? 3 : 2);
  const int64_t batch = p[2], cin = p[3], cout = p[4], groups = p[5];
  const bool transposed = p[6] != 0, has_bias = p[7] != 0;
  Sizes isz, osz, ksz, stride, pad, dil;
  for (size_t d = 0; d < n; ++d) {
    const int64_t* q = p.data() + 8 + 6 * d;
    isz.push_back(q[0]), osz.push_back(q[1]), ksz.push_back(q[2]);
    stride.push_back(q[3]), pad.push_back(q[4]), dil.push_back(q[5]);
  }
  auto prod = [](const Sizes& s) {
    int64_t r = 1;
    for (int64_t v : s)
      r *= v;
    return r;
  };
  const int64_t ip = prod(isz), op = prod(osz), kp = prod(ksz);
  const int64_t cin_g = cin / groups, cout_g = cout / groups;
  // Channels-last activations: [N, spatial..., C] memory (the epilogue section's flags).
  const size_t at = 8 + 6 * n;
  const bool channels_last = p.size() > at && (p[at] & rt::kEpilogueChannelsLast) != 0;
  auto x_at = [&](int64_t b, int64_t c, int64_t flat) {
    return channels_last ? (b * ip + flat) * cin + c : (b * cin + c) * ip + flat;
  };
  auto y_at = [&](int64_t b, int64_t c, int64_t flat) {
    return channels_last ? (b * op + flat) * cout + c : (b * cout + c) * op + flat;
  };
  const ref::Tensor& x = *in[0];
  const ref::Tensor& w = *in[1];
  ref::Tensor& y = *out[0];
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t oc = 0; oc < cout; ++oc) {
      const int64_t g = oc / cout_g;
      for (int64_t of = 0; of < op; ++of) {
        Acc acc(y.is_floating());
        if (has_bias) acc.add(*in[2], oc);
        for (int64_t icg = 0; icg < cin_g; ++icg) {
          const int64_t ic = g * cin_g + icg;
          for (int64_t kf = 0; kf < kp; ++kf) {
            int64_t orest = of, krest = kf, in_flat = 0, scale = 1;
            bool inside = true;
            for (size_t d = n; d-- > 0;) {
              const int64_t o = orest % osz[d], t = krest % ksz[d];
              orest /= osz[d];
              krest /= ksz[d];
              int64_t i = 0;
              if (transposed) {
                int64_t v = o + pad[d] - t * dil[d];
                inside = inside && v >= 0 && v % stride[d] == 0;
                i = v / stride[d];
              } else {
                i = o * stride[d] - pad[d] + t * dil[d];
              }
              inside = inside && i >= 0 && i < isz[d];
              in_flat += i * scale;
              scale *= isz[d];
            }
            if (!inside) continue;
            const int64_t wi = transposed ? (ic * cout_g + (oc - g * cout_g)) * kp + kf
                                          : (oc * cin_g + icg) * kp + kf;
            acc.add_product(x, x_at(b, ic, in_flat), w, wi);
          }
        }
        acc.store(y, y_at(b, oc, of));
      }
    }
  if (channels_last) {
    apply_post_ops(call, p, at, 0, in, y, batch * op, cout, 1);
  } else {
    apply_post_ops(call, p, at, 0, in, y, batch, cout, op);
  }
}

template <bool kProduct>
void eval_scan(const ExternCall& call, std::vector<ref::Tensor*> in, std::vector<ref::Tensor*> out,
               const SymbolValues& symbols) {
  const auto p = ints_of(call, symbols);
  expect_params(call, p, 4, 1);
  const int64_t outer = p[1], length = p[2], inner = p[3];
  const ref::Tensor& x = *in[0];
  ref::Tensor& y = *out[0];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double f = kProduct ? 1 : 0;
      uint64_t i = kProduct ? 1 : 0;
      for (int64_t l = 0; l < length; ++l) {
        const int64_t at = (o * length + l) * inner + j;
        if (y.is_floating()) {
          f = kProduct ? f * x.get(at) : f + x.get(at);
          y.set(at, f);
        } else {
          auto v = static_cast<uint64_t>(x.get_int(at));
          i = kProduct ? i * v : i + v;
          y.set_int(at, static_cast<int64_t>(i));
        }
      }
    }
}

Sizes take(const std::vector<int64_t>& p, size_t& at, int64_t count) {
  if (count < 0 || at + static_cast<size_t>(count) > p.size()) throw error("malformed sizes");
  Sizes s(p.begin() + static_cast<std::ptrdiff_t>(at),
          p.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(count)));
  at += static_cast<size_t>(count);
  return s;
}

Sizes unravel_sizes(int64_t flat, const Sizes& sizes) {
  Sizes idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = sizes[d] == 0 ? 0 : flat % sizes[d];
    flat = sizes[d] == 0 ? 0 : flat / sizes[d];
  }
  return idx;
}

int64_t ravel_sizes(const Sizes& idx, const Sizes& sizes) {
  int64_t f = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    f = f * sizes[d] + idx[d];
  return f;
}

void copy_all(const ref::Tensor& from, ref::Tensor& to) {
  for (int64_t i = 0; i < to.numel(); ++i) {
    if (to.is_floating()) {
      to.set(i, from.get(i));
    } else {
      to.set_int(i, from.get_int(i));
    }
  }
}

void copy_one(const ref::Tensor& from, int64_t i, ref::Tensor& to, int64_t j) {
  if (to.is_floating()) {
    to.set(j, from.get(i));
  } else {
    to.set_int(j, from.get_int(i));
  }
}

void eval_scatter(const ExternCall& call, std::vector<ref::Tensor*> in,
                  std::vector<ref::Tensor*> out, const SymbolValues& symbols) {
  const auto p = ints_of(call, symbols);
  expect_params(call, p, 6, 2);
  const int64_t mode = p[2], rank = p[3], dim = p[4];
  size_t at = 6;
  const Sizes ss = take(p, at, rank), is = take(p, at, rank);
  const Sizes srcs = mode != 0 ? take(p, at, rank) : Sizes{};
  ref::Tensor& o = *out[0];
  copy_all(*in[0], o);
  std::vector<Acc> sums;
  if (mode == 2) {
    for (int64_t i = 0; i < o.numel(); ++i) {
      sums.emplace_back(o.is_floating());
      sums.back().add(*in[0], i);
    }
  }
  for (int64_t i = 0; i < in[1]->numel(); ++i) {
    Sizes pos = unravel_sizes(i, is);
    const int64_t from = mode != 0 ? ravel_sizes(pos, srcs) : 0;
    const int64_t v = in[1]->get_int(i);
    const int64_t size = ss[static_cast<size_t>(dim)];
    if (v < 0 || v >= size) {
      throw error("index ", v, " is out of bounds for dimension ", dim, " with size ", size);
    }
    pos[static_cast<size_t>(dim)] = v;
    const int64_t to = ravel_sizes(pos, ss);
    if (mode == 2) {
      sums[static_cast<size_t>(to)].add(*in[2], from);
    } else if (mode == 1) {
      copy_one(*in[2], from, o, to);
    } else if (o.is_floating()) {
      o.set(to, call.float_params.at(0));
    } else {
      o.set_int(to, p[5]);
    }
  }
  for (size_t i = 0; i < sums.size(); ++i)
    sums[i].store(o, static_cast<int64_t>(i));
}

void eval_index_put(const ExternCall& call, std::vector<ref::Tensor*> in,
                    std::vector<ref::Tensor*> out, const SymbolValues& symbols) {
  const auto p = ints_of(call, symbols);
  expect_params(call, p, 3, 2);
  const bool accumulate = p[1] != 0;
  size_t at = 3;
  // A count, then that many sizes.
  auto take_counted = [&]() {
    const int64_t count = p.at(at++);
    return take(p, at, count);
  };
  const Sizes shape = take(p, at, p[2]);
  const Sizes vsizes = take_counted();
  const int64_t entries = p.at(at++);
  // Per self dim: all positions (empty), or the positions and their own shape.
  std::vector<std::optional<std::pair<Sizes, std::vector<int64_t>>>> dims(shape.size());
  size_t d = 0, next = 2;
  for (int64_t e = 0; e < entries; ++e) {
    const int64_t kind = p.at(at++);
    const Sizes s = take_counted();
    if (kind == 0) {
      ++d;
      continue;
    }
    const ref::Tensor& t = *in.at(next++);
    if (kind >= 3) {
      for (size_t j = 0; j < s.size(); ++j) {
        if (d + j >= shape.size() || s[j] != shape[d + j]) {
          throw error("index_put: the mask's shape does not match the indexed tensor");
        }
        dims[d + j] = std::make_pair(Sizes{0}, std::vector<int64_t>{});
      }
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (t.get_int(i) == 0) continue;
        Sizes pos = unravel_sizes(i, s);
        for (size_t j = 0; j < s.size(); ++j)
          dims[d + j]->second.push_back(pos[j]);
      }
      for (size_t j = 0; j < s.size(); ++j)
        dims[d + j]->first = {static_cast<int64_t>(dims[d + j]->second.size())};
      d += s.size();
    } else {
      std::vector<int64_t> v;
      for (int64_t i = 0; i < t.numel(); ++i)
        v.push_back(t.get_int(i));
      dims.at(d++) = std::make_pair(s, v);
    }
  }
  Sizes bshape;
  std::vector<size_t> adv;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i]) continue;
    const Sizes& s = dims[i]->first;
    Sizes r(std::max(bshape.size(), s.size()));
    for (size_t k = 0; k < r.size(); ++k) {
      int64_t x = k < bshape.size() ? bshape[bshape.size() - 1 - k] : 1;
      int64_t y = k < s.size() ? s[s.size() - 1 - k] : 1;
      if (x != y && x != 1 && y != 1) {
        throw error("shape mismatch: indexing tensors could not be broadcast together");
      }
      r[r.size() - 1 - k] = x == 1 ? y : x;
    }
    bshape = r;
    adv.push_back(i);
  }
  if (adv.empty()) throw error("index_put needs at least one index tensor");
  const size_t bpos = adv.back() - adv.front() + 1 == adv.size() ? adv.front() : 0;
  std::vector<size_t> nones;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!dims[i]) nones.push_back(i);
  }
  Sizes result;
  for (size_t i = 0; i < bpos; ++i)
    result.push_back(shape[nones[i]]);
  result.insert(result.end(), bshape.begin(), bshape.end());
  for (size_t i = bpos; i < nones.size(); ++i)
    result.push_back(shape[nones[i]]);
  bool fits = vsizes.size() <= result.size();
  for (size_t i = 0; fits && i < vsizes.size(); ++i) {
    int64_t v = vsizes[vsizes.size() - 1 - i];
    fits = v == 1 || v == result[result.size() - 1 - i];
  }
  if (!fits) throw error("shape mismatch: value tensor cannot be broadcast to the indexing result");
  ref::Tensor& o = *out[0];
  copy_all(*in[0], o);
  std::vector<Acc> sums;
  if (accumulate) {
    for (int64_t i = 0; i < o.numel(); ++i) {
      sums.emplace_back(o.is_floating());
      sums.back().add(*in[0], i);
    }
  }
  int64_t rn = 1;
  for (int64_t s : result)
    rn *= s;
  for (int64_t r = 0; r < rn; ++r) {
    const Sizes ri = unravel_sizes(r, result);
    Sizes sidx(shape.size());
    size_t nn = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (!dims[i]) {
        sidx[i] = ri[nn < bpos ? nn : nn + bshape.size()];
        ++nn;
        continue;
      }
      const Sizes& s = dims[i]->first;
      int64_t flat = 0;
      for (size_t k = 0; k < s.size(); ++k)
        flat = flat * s[k] + (s[k] == 1 ? 0 : ri[bpos + bshape.size() - s.size() + k]);
      const int64_t q = dims[i]->second[static_cast<size_t>(flat)];
      if (q < -shape[i] || q >= shape[i]) {
        throw error("index ", q, " is out of bounds for dimension ", i, " with size ", shape[i]);
      }
      sidx[i] = q < 0 ? q + shape[i] : q;
    }
    int64_t vflat = 0;
    for (size_t k = 0; k < vsizes.size(); ++k)
      vflat = vflat * vsizes[k] + (vsizes[k] == 1 ? 0 : ri[result.size() - vsizes.size() + k]);
    const int64_t dst = ravel_sizes(sidx, shape);
    if (accumulate) {
      sums[static_cast<size_t>(dst)].add(*in[1], vflat);
    } else {
      copy_one(*in[1], vflat, o, dst);
    }
  }
  for (size_t i = 0; i < sums.size(); ++i)
    sums[i].store(o, static_cast<int64_t>(i));
}

}  // namespace

void register_nn_extern_evaluators() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_extern_evaluator("gemm", eval_gemm);
    register_extern_evaluator("conv", eval_conv);
    register_extern_evaluator("cumsum", eval_scan<false>);
    register_extern_evaluator("cumprod", eval_scan<true>);
    register_extern_evaluator("scatter", eval_scatter);
    register_extern_evaluator("index_put", eval_index_put);
  });
}

}  // namespace kiln::lower
