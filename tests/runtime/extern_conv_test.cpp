// extern_conv against naive loops in double (forward: gather; transposed: scatter), over 1-3
// spatial dims, groups, depthwise, stride, padding, dilation, output padding and every dtype
// family.
#include <cstring>

#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

struct ConvCase {
  int64_t dtype = kExtFloat32, batch = 1, cin = 1, cout = 1, groups = 1;
  bool transposed = false, bias = false;
  std::vector<int64_t> in, k, stride, pad, dil, out_pad;
  int threads = 2;

  size_t n() const { return in.size(); }
  int64_t out_size(size_t d) const {
    int64_t dilated = dil[d] * (k[d] - 1) + 1;
    if (transposed) return (in[d] - 1) * stride[d] - 2 * pad[d] + dilated + out_pad[d];
    return (in[d] + 2 * pad[d] - dilated) / stride[d] + 1;
  }
};

std::string describe(const ConvCase& c) {
  std::string s = std::string(ext::dtype_name(c.dtype)) + (c.transposed ? " transposed" : "") +
                  " N" + std::to_string(c.batch) + " Cin" + std::to_string(c.cin) + " Cout" +
                  std::to_string(c.cout) + " g" + std::to_string(c.groups) + " in";
  for (size_t d = 0; d < c.n(); ++d) {
    s += " " + std::to_string(c.in[d]) + "/k" + std::to_string(c.k[d]) + "/s" +
         std::to_string(c.stride[d]) + "/p" + std::to_string(c.pad[d]) + "/d" +
         std::to_string(c.dil[d]);
  }
  return s + (c.bias ? " bias" : "");
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v)
    p *= x;
  return p;
}

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& sizes) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

void run_conv(const ConvCase& c, std::mt19937& rng) {
  const size_t n = c.n();
  std::vector<int64_t> out(n);
  for (size_t d = 0; d < n; ++d)
    out[d] = c.out_size(d);
  const int64_t ip = product(c.in), op = product(out), kp = product(c.k);
  const int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
  const bool fl = ext::is_floating(c.dtype);
  const double lo = fl ? -2 : -9, hi = fl ? 2 : 9;
  Buf x = random_buf(c.dtype, c.batch * c.cin * ip, rng, lo, hi);
  const int64_t wn = c.transposed ? c.cin * cout_g * kp : c.cout * cin_g * kp;
  Buf w = random_buf(c.dtype, wn, rng, lo, hi);
  Buf bias = random_buf(c.dtype, c.cout, rng, lo, hi);
  Buf y = poisoned(c.dtype, c.batch * c.cout * op);
  std::vector<int64_t> ints = {
      c.dtype, static_cast<int64_t>(n), c.batch, c.cin, c.cout, c.groups, c.transposed, c.bias};
  for (size_t d = 0; d < n; ++d) {
    ints.insert(ints.end(), {c.in[d], out[d], c.k[d], c.stride[d], c.pad[d], c.dil[d]});
  }
  std::vector<const Buf*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&bias);
  CallResult r = call(extern_conv, inputs, {&y}, ints, {}, c.threads);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << describe(c);

  // Naive: accumulate every (input position, tap) contribution in double / wrapping int64.
  std::vector<double> want(static_cast<size_t>(y.count), 0.0);
  std::vector<uint64_t> iwant(static_cast<size_t>(y.count), 0);
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      for (int64_t of = 0; of < op; ++of) {
        size_t at = static_cast<size_t>((b * c.cout + oc) * op + of);
        if (c.bias) {
          want[at] = bias.get(oc);
          iwant[at] = static_cast<uint64_t>(bias.get_int(oc));
        }
      }
    }
    for (int64_t g = 0; g < c.groups; ++g) {
      for (int64_t icg = 0; icg < cin_g; ++icg) {
        for (int64_t ocg = 0; ocg < cout_g; ++ocg) {
          const int64_t ic = g * cin_g + icg, oc = g * cout_g + ocg;
          for (int64_t tap = 0; tap < kp; ++tap) {
            std::vector<int64_t> t = unravel(tap, c.k);
            int64_t wi =
                c.transposed ? (ic * cout_g + ocg) * kp + tap : (oc * cin_g + icg) * kp + tap;
            if (c.transposed) {
              for (int64_t f = 0; f < ip; ++f) {
                std::vector<int64_t> i = unravel(f, c.in);
                int64_t flat = 0;
                bool inside = true;
                for (size_t d = 0; d < n; ++d) {
                  int64_t o = i[d] * c.stride[d] - c.pad[d] + t[d] * c.dil[d];
                  inside = inside && o >= 0 && o < out[d];
                  flat = flat * out[d] + o;
                }
                if (!inside) continue;
                size_t at = static_cast<size_t>((b * c.cout + oc) * op + flat);
                int64_t xi = (b * c.cin + ic) * ip + f;
                want[at] += x.get(xi) * w.get(wi);
                iwant[at] +=
                    static_cast<uint64_t>(x.get_int(xi)) * static_cast<uint64_t>(w.get_int(wi));
              }
            } else {
              for (int64_t of = 0; of < op; ++of) {
                std::vector<int64_t> o = unravel(of, out);
                int64_t flat = 0;
                bool inside = true;
                for (size_t d = 0; d < n; ++d) {
                  int64_t i = o[d] * c.stride[d] - c.pad[d] + t[d] * c.dil[d];
                  inside = inside && i >= 0 && i < c.in[d];
                  flat = flat * c.in[d] + i;
                }
                if (!inside) continue;
                size_t at = static_cast<size_t>((b * c.cout + oc) * op + of);
                int64_t xi = (b * c.cin + ic) * ip + flat;
                want[at] += x.get(xi) * w.get(wi);
                iwant[at] +=
                    static_cast<uint64_t>(x.get_int(xi)) * static_cast<uint64_t>(w.get_int(wi));
              }
            }
          }
        }
      }
    }
  }
  if (fl) {
    expect_close(y, want, describe(c));
  } else {
    std::vector<int64_t> exact(iwant.begin(), iwant.end());
    expect_ints(y, exact, describe(c));
  }
}

ConvCase make(std::vector<int64_t> in, std::vector<int64_t> k, int64_t stride, int64_t pad,
              int64_t dil) {
  ConvCase c;
  c.in = std::move(in);
  c.k = std::move(k);
  c.stride.assign(c.n(), stride);
  c.pad.assign(c.n(), pad);
  c.dil.assign(c.n(), dil);
  c.out_pad.assign(c.n(), 0);
  return c;
}

TEST(ExternConv, Forward2dGeometries) {
  std::mt19937 rng(21);
  struct G {
    std::vector<int64_t> in, k;
    int64_t stride, pad, dil;
  };
  const G geos[] = {{{5, 7}, {3, 3}, 1, 1, 1}, {{8, 6}, {3, 2}, 2, 1, 1},
                    {{9, 9}, {3, 3}, 1, 2, 2}, {{1, 1}, {1, 1}, 1, 0, 1},
                    {{6, 5}, {1, 1}, 1, 0, 1}, {{7, 7}, {5, 5}, 3, 2, 1}};
  for (const G& g : geos) {
    for (int64_t groups : {1, 2}) {
      for (bool bias : {false, true}) {
        ConvCase c = make(g.in, g.k, g.stride, g.pad, g.dil);
        c.batch = 2, c.cin = 4, c.cout = 6, c.groups = groups, c.bias = bias;
        c.threads = bias ? 3 : 1;
        run_conv(c, rng);
      }
    }
  }
}

TEST(ExternConv, OneImagePerThreadWhenTheBatchIsLarge) {
  std::mt19937 rng(26);
  for (int threads : {2, 3}) {
    for (bool pointwise : {false, true}) {
      ConvCase c = pointwise ? make({5, 6}, {1, 1}, 1, 0, 1) : make({6, 5}, {3, 3}, 1, 1, 1);
      c.batch = 4, c.cin = 4, c.cout = 6, c.groups = 2, c.bias = true, c.threads = threads;
      run_conv(c, rng);
    }
  }
}

TEST(ExternConv, DepthwiseAndChannelMultiplier) {
  std::mt19937 rng(22);
  for (int64_t mult : {1, 2}) {
    ConvCase c = make({9, 8}, {3, 3}, 2, 1, 1);
    c.batch = 3, c.cin = 5, c.cout = 5 * mult, c.groups = 5, c.bias = true;
    run_conv(c, rng);
  }
}

TEST(ExternConv, OneAndThreeSpatialDims) {
  std::mt19937 rng(23);
  ConvCase c1 = make({17}, {4}, 2, 1, 2);
  c1.batch = 2, c1.cin = 3, c1.cout = 4, c1.bias = true;
  run_conv(c1, rng);
  ConvCase c3 = make({4, 5, 6}, {2, 3, 3}, 1, 1, 1);
  c3.batch = 1, c3.cin = 2, c3.cout = 3, c3.bias = true;
  run_conv(c3, rng);
}

TEST(ExternConv, TransposedWithOutputPaddingAndGroups) {
  std::mt19937 rng(24);
  struct G {
    std::vector<int64_t> in, k;
    int64_t stride, pad, dil, out_pad;
  };
  const G geos[] = {{{4, 5}, {3, 3}, 2, 1, 1, 1},
                    {{3, 3}, {2, 2}, 2, 0, 1, 0},
                    {{5, 4}, {3, 3}, 1, 1, 2, 0},
                    {{4, 4}, {4, 4}, 3, 1, 1, 2}};
  for (const G& g : geos) {
    for (int64_t groups : {1, 2}) {
      ConvCase c = make(g.in, g.k, g.stride, g.pad, g.dil);
      c.out_pad.assign(2, g.out_pad);
      c.transposed = true;
      c.batch = 2, c.cin = 4, c.cout = 6, c.groups = groups, c.bias = groups == 2;
      run_conv(c, rng);
    }
  }
  ConvCase c1 = make({7}, {3}, 2, 1, 1);
  c1.out_pad = {1};
  c1.transposed = true;
  c1.cin = 3, c1.cout = 2, c1.bias = true;
  run_conv(c1, rng);
}

TEST(ExternConv, OtherDtypes) {
  std::mt19937 rng(25);
  for (int64_t dtype : {kExtFloat16, kExtBFloat16, kExtFloat64, kExtInt64, kExtInt32}) {
    for (bool transposed : {false, true}) {
      ConvCase c = make({5, 6}, {3, 3}, 2, 1, 1);
      c.out_pad.assign(2, transposed ? 1 : 0);
      c.dtype = dtype, c.transposed = transposed;
      c.batch = 2, c.cin = 4, c.cout = 4, c.groups = 2, c.bias = true;
      run_conv(c, rng);
    }
  }
}

TEST(ExternConv, MalformedCallsFail) {
  Buf x(kExtFloat32, 16), w(kExtFloat32, 9), y(kExtFloat32, 16);
  CallResult r = call(extern_conv, {&x, &w}, {&y}, {kExtFloat32, 4, 1, 1, 1, 1, 0, 0});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "conv: expected 1 to 3 spatial dims, got 4"), nullptr)
      << r.sink.message;
  r = call(extern_conv, {&x, &w}, {&y}, {kExtFloat32, 2, 1, 3, 3, 2, 0, 0});
  EXPECT_FALSE(r.ok);
  r = call(extern_conv, {&x, &w}, {&y}, {kExtFloat32, 1, 1, 3, 4, 2, 0, 0, 4, 4, 1, 1, 0, 1});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::strstr(r.sink.message, "not divisible into 2 groups"), nullptr) << r.sink.message;
}

}  // namespace
}  // namespace kiln::rt::test
