// extern_gemm and extern_conv through oneDNN primitives: fused post-ops against naive loops in
// double, pre-packed constant weights in an ExternState (packed once, re-packed after the
// constants change), the sgemm fallback's post-op loop, and malformed epilogue sections.
#include "extern_dnnl.h"

#include <cmath>

#include "extern_test_util.h"

namespace kiln::rt::test {
namespace {

struct Post {
  int64_t kind;
  double alpha = 0, beta = 0;
};

double post_value(const Post& p, double v, double operand) {
  switch (p.kind) {
    case kPostRelu:
      return v > 0 ? v : 0;
    case kPostLeakyRelu:
      return v > 0 ? v : p.alpha * v;
    case kPostElu:
      return v > 0 ? v : p.alpha * std::expm1(v);
    case kPostGeluErf:
      return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case kPostGeluTanh:
      return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    case kPostSigmoid:
      return 1 / (1 + std::exp(-v));
    case kPostTanh:
      return std::tanh(v);
    case kPostSilu:
      return v / (1 + std::exp(-v));
    case kPostHardswish:
      return v * std::min(std::max(v + 3, 0.0), 6.0) / 6;
    case kPostClamp:
      return std::min(std::max(v, p.alpha), p.beta);
    case kPostLinear:
      return p.alpha * v + p.beta;
    case kPostAdd:
    case kPostAddChannel:
      return v + operand;
    case kPostMul:
    case kPostMulChannel:
      return v * operand;
    case kPostSub:
    case kPostSubChannel:
      return v - operand;
    default:
      ADD_FAILURE() << "kind " << p.kind;
      return v;
  }
}

bool reads_operand(int64_t kind) {
  return kind >= kPostAdd;
}
bool per_channel(int64_t kind) {
  return kind == kPostAddChannel || kind == kPostMulChannel || kind == kPostSubChannel;
}

// Appends the epilogue section and the operands' buffers; applies the post-ops to `want`,
// viewed as [outer, channels, inner].
struct EpilogueCall {
  std::vector<Buf> operands;
  void build(const std::vector<Post>& posts, bool weight_constant, int32_t first_input,
             int64_t outer, int64_t channels, int64_t inner, std::mt19937& rng,
             std::vector<int64_t>& ints, std::vector<double>& floats) {
    ints.push_back(weight_constant ? 1 : 0);
    ints.push_back(static_cast<int64_t>(posts.size()));
    operands.reserve(posts.size());
    for (const Post& p : posts) {
      int64_t input = -1;
      if (reads_operand(p.kind)) {
        input = first_input + static_cast<int64_t>(operands.size());
        operands.push_back(random_buf(
            kExtFloat32, per_channel(p.kind) ? channels : outer * channels * inner, rng));
      }
      ints.insert(ints.end(), {p.kind, input});
      floats.insert(floats.end(), {p.alpha, p.beta});
    }
  }
  void apply(const std::vector<Post>& posts, int64_t outer, int64_t channels, int64_t inner,
             std::vector<double>& want) const {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t at = (o * channels + c) * inner + i;
          double v = want[static_cast<size_t>(at)];
          size_t next = 0;
          for (const Post& p : posts) {
            double operand = 0;
            if (reads_operand(p.kind)) {
              operand = operands[next++].get(per_channel(p.kind) ? c : at);
            }
            v = post_value(p, v, operand);
          }
          want[static_cast<size_t>(at)] = v;
        }
  }
};

CallResult call_with_state(bool (*fn)(const ExternArgs&), const std::vector<const Buf*>& inputs,
                           Buf& out, const std::vector<int64_t>& ints,
                           const std::vector<double>& floats, int threads, ExternState* state) {
  std::vector<const void*> in;
  for (const Buf* b : inputs)
    in.push_back(b->data());
  void* outs[] = {out.data()};
  CallResult r;
  ExternArgs args{in.data(),     static_cast<int32_t>(in.size()),
                  outs,          1,
                  ints.data(),   static_cast<int32_t>(ints.size()),
                  floats.data(), static_cast<int32_t>(floats.size()),
                  threads,       &r.sink,
                  state};
  r.ok = fn(args);
  return r;
}

void expect_near_rel(const Buf& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(got.count), want.size()) << what;
  // oneDNN's erf/tanh approximations are good to a few ulp, not to the last bit.
  EXPECT_LE(rel_error(got, want), 1e-4) << what;
}

// ---- gemm ------------------------------------------------------------------------------------

struct GemmCase {
  int64_t batch = 1, m = 1, n = 1, k = 1;
  bool b_transposed = false;  // B read as [N, K] storage (a Linear weight)
  bool b_broadcast = false;   // one B for every batch entry
  int bias = 0;               // 0 none, 1 per column [N], 2 full [batch, M, N]
  double alpha = 1;
  std::vector<Post> posts;
  bool weight_constant = false;
  int threads = 2;
};

struct GemmData {
  Buf a, b, bias;
  EpilogueCall ep;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<double> want;
  std::vector<const Buf*> inputs;
};

GemmData make_gemm(const GemmCase& c, std::mt19937& rng) {
  GemmData d;
  const int64_t bb = c.b_broadcast ? 1 : c.batch;
  d.a = random_buf(kExtFloat32, c.batch * c.m * c.k, rng);
  d.b = random_buf(kExtFloat32, bb * c.k * c.n, rng);
  d.bias = random_buf(kExtFloat32, c.bias == 2 ? c.batch * c.m * c.n : c.n, rng);
  const int64_t sbk = c.b_transposed ? 1 : c.n, sbn = c.b_transposed ? c.k : 1;
  const int64_t sbb = c.b_broadcast ? 0 : c.k * c.n;
  d.ints = {kExtFloat32, c.batch, c.m, c.n, c.k, 0, c.m * c.k, c.k, 1, 0, sbb, sbk, sbn};
  if (c.bias == 0) d.ints.insert(d.ints.end(), {0, 0, 0, 0, 0});
  if (c.bias == 1) d.ints.insert(d.ints.end(), {1, 0, 0, 0, 1});
  if (c.bias == 2) d.ints.insert(d.ints.end(), {1, 0, c.m * c.n, c.n, 1});
  d.floats = {c.alpha, 1.0};
  d.ep.build(c.posts, c.weight_constant, c.bias ? 3 : 2, c.batch * c.m, c.n, 1, rng, d.ints,
             d.floats);
  d.inputs = {&d.a, &d.b};
  if (c.bias) d.inputs.push_back(&d.bias);
  for (const Buf& o : d.ep.operands)
    d.inputs.push_back(&o);
  return d;
}

std::vector<double> gemm_want(const GemmCase& c, const GemmData& d) {
  std::vector<double> want(static_cast<size_t>(c.batch * c.m * c.n));
  for (int64_t bi = 0; bi < c.batch; ++bi)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0;
        const int64_t bbase = c.b_broadcast ? 0 : bi * c.k * c.n;
        for (int64_t q = 0; q < c.k; ++q) {
          const int64_t bidx = bbase + (c.b_transposed ? j * c.k + q : q * c.n + j);
          acc += d.a.get((bi * c.m + i) * c.k + q) * d.b.get(bidx);
        }
        acc *= c.alpha;
        if (c.bias == 1) acc += d.bias.get(j);
        if (c.bias == 2) acc += d.bias.get((bi * c.m + i) * c.n + j);
        want[static_cast<size_t>((bi * c.m + i) * c.n + j)] = acc;
      }
  d.ep.apply(c.posts, c.batch * c.m, c.n, 1, want);
  return want;
}

std::string describe(const GemmCase& c) {
  std::string s = "gemm b" + std::to_string(c.batch) + " m" + std::to_string(c.m) + " n" +
                  std::to_string(c.n) + " k" + std::to_string(c.k) + " bias" +
                  std::to_string(c.bias) + (c.b_transposed ? " bT" : "") +
                  (c.b_broadcast ? " bcast" : "") + " alpha" + std::to_string(c.alpha) + " posts";
  for (const Post& p : c.posts)
    s += " " + std::to_string(p.kind) + "(" + std::to_string(p.alpha) + "," +
         std::to_string(p.beta) + ")";
  return s;
}

void run_gemm(const GemmCase& c, std::mt19937& rng, ExternState* state = nullptr) {
  GemmData d = make_gemm(c, rng);
  Buf y = poisoned(kExtFloat32, c.batch * c.m * c.n);
  CallResult r = call_with_state(extern_gemm, d.inputs, y, d.ints, d.floats, c.threads, state);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << describe(c);
  expect_near_rel(y, gemm_want(c, d), describe(c));
}

const std::vector<std::vector<Post>> kPostChains = {
    {},
    {{kPostRelu}},
    {{kPostGeluErf}},
    {{kPostGeluTanh}},
    {{kPostSigmoid}},
    {{kPostTanh}},
    {{kPostSilu}},
    {{kPostHardswish}},
    {{kPostLeakyRelu, 0.1}},
    {{kPostElu, 1.5}},
    {{kPostClamp, 0.0, 6.0}},
    {{kPostClamp, -0.5, INFINITY}},
    {{kPostLinear, 0.5, 0.25}},
    {{kPostAdd}},
    {{kPostAddChannel}, {kPostRelu}},
    {{kPostAdd}, {kPostRelu}},
    {{kPostMul}, {kPostMulChannel}, {kPostTanh}},
    {{kPostSubChannel}, {kPostMulChannel}, {kPostAddChannel}, {kPostAdd}, {kPostRelu}},
    {{kPostSub}, {kPostSilu}},
};

TEST(ExternDnnl, GemmPostOpsAtSeveralShapes) {
  std::mt19937 rng(101);
  struct Shape {
    int64_t batch, m, n, k;
    bool bt, bcast;
    int bias;
  };
  const Shape shapes[] = {{1, 5, 7, 9, true, false, 1},
                          {1, 33, 17, 64, false, false, 0},
                          {3, 4, 6, 5, false, false, 2},
                          {2, 8, 3, 16, true, true, 1},
                          {1, 1, 1, 1, false, false, 1}};
  for (const Shape& s : shapes) {
    for (const auto& posts : kPostChains) {
      GemmCase c;
      c.batch = s.batch, c.m = s.m, c.n = s.n, c.k = s.k;
      c.b_transposed = s.bt, c.b_broadcast = s.bcast, c.bias = s.bias, c.posts = posts;
      run_gemm(c, rng);
    }
  }
}

TEST(ExternDnnl, FewRowGemmsStreamTheWeightsWithoutAPrimitive) {
  // One or two rows of A take extern_gemm_few_rows.cpp: both weight layouts, column counts
  // around its block widths, K with and without a vector tail, one thread and several.
  std::mt19937 rng(105);
  ExternState* state = extern_state_create();
  ASSERT_NE(state, nullptr);
  int calls = 0;
  for (int64_t m = 1; m <= 2; ++m) {
    for (bool bt : {true, false}) {
      for (int64_t n : {1, 7, 8, 16, 17, 100}) {
        for (int64_t k : {1, 7, 8, 33, 300}) {
          GemmCase c;
          c.m = m, c.n = n, c.k = k, c.b_transposed = bt, c.bias = (m + n + k) % 3;
          c.posts = kPostChains[static_cast<size_t>(calls) % kPostChains.size()];
          c.weight_constant = true;
          c.threads = calls % 2 == 0 ? 1 : 4;
          run_gemm(c, rng, state);
          ++calls;
        }
      }
    }
  }
  // Wide enough to run on several threads, with a column tail.
  for (bool bt : {true, false}) {
    GemmCase c;
    c.m = 2, c.n = 1030, c.k = 260, c.b_transposed = bt, c.bias = 1, c.weight_constant = true;
    c.posts = {{kPostGeluErf}}, c.threads = 4;
    run_gemm(c, rng, state);
  }
  EXPECT_EQ(extern_state_stats(state).primitives, 0);
  EXPECT_EQ(extern_state_stats(state).packs, 0);
  // Three rows go to oneDNN.
  GemmCase c;
  c.m = 3, c.n = 24, c.k = 40, c.b_transposed = true, c.weight_constant = true;
  run_gemm(c, rng, state);
  EXPECT_EQ(extern_state_stats(state).primitives, 1);
  extern_state_destroy(state);
}

TEST(ExternDnnl, GemmFallbackAppliesPostOpsToo) {
  // alpha != 1 takes the sgemm path; its post-op loop must agree with the primitive's.
  std::mt19937 rng(102);
  for (const auto& posts : kPostChains) {
    GemmCase c;
    c.batch = 2, c.m = 5, c.n = 6, c.k = 7, c.alpha = 0.5, c.bias = 1, c.posts = posts;
    run_gemm(c, rng);
  }
}

TEST(ExternDnnl, GemmPackedWeightsArePackedOnceAndRepackedAfterAChange) {
  std::mt19937 rng(103);
  ExternState* state = extern_state_create();
  ASSERT_NE(state, nullptr);
  GemmCase c;
  c.m = 6, c.n = 24, c.k = 40, c.b_transposed = true, c.bias = 1;
  c.posts = {{kPostRelu}}, c.weight_constant = true;
  GemmData d = make_gemm(c, rng);
  Buf y = poisoned(kExtFloat32, c.m * c.n);
  for (int rep = 0; rep < 3; ++rep) {
    d.a = random_buf(kExtFloat32, c.m * c.k, rng);  // fresh activations each run
    CallResult r = call_with_state(extern_gemm, d.inputs, y, d.ints, d.floats, 2, state);
    ASSERT_TRUE(r.ok) << r.sink.message;
    expect_near_rel(y, gemm_want(c, d), "run " + std::to_string(rep));
  }
  EXPECT_EQ(extern_state_stats(state).primitives, 1);
  EXPECT_EQ(extern_state_stats(state).packs, 1);
  // New weights at the same address: the packed copy is stale until the state hears of it.
  d.b = random_buf(kExtFloat32, c.k * c.n, rng);
  extern_state_constants_changed(state);
  CallResult r = call_with_state(extern_gemm, d.inputs, y, d.ints, d.floats, 2, state);
  ASSERT_TRUE(r.ok) << r.sink.message;
  expect_near_rel(y, gemm_want(c, d), "after the change");
  EXPECT_EQ(extern_state_stats(state).packs, 2);
  extern_state_destroy(state);
}

TEST(ExternDnnl, MalformedEpilogueSectionsFail) {
  std::mt19937 rng(104);
  GemmCase c;
  c.m = 2, c.n = 3, c.k = 4, c.posts = {{kPostAdd}};
  GemmData d = make_gemm(c, rng);
  Buf y(kExtFloat32, 6);
  auto expect_fail = [&](std::vector<int64_t> ints, std::vector<const Buf*> inputs,
                         const std::string& message) {
    CallResult r = call_with_state(extern_gemm, inputs, y, ints, d.floats, 1, nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(std::string(r.sink.message).find(message), std::string::npos) << r.sink.message;
  };
  std::vector<int64_t> bad = d.ints;
  bad[20] = 77;  // the post-op's kind
  expect_fail(bad, d.inputs, "unknown kind 77");
  bad = d.ints;
  bad[21] = 5;  // its operand
  expect_fail(bad, d.inputs, "reads input 5");
  bad = d.ints;
  bad[19] = 2;  // two post-ops announced, one given
  expect_fail(bad, d.inputs, "2 post-ops need");
  bad = d.ints;
  bad.resize(19);
  expect_fail(bad, d.inputs, "cut short");
  std::vector<int64_t> f64 = d.ints;
  f64[0] = kExtFloat64;
  expect_fail(f64, d.inputs, "post-ops need f32");
  std::vector<int64_t> none(d.ints.begin(), d.ints.begin() + 18);
  expect_fail(none, d.inputs, "no post-op reads");
}

// ---- conv ------------------------------------------------------------------------------------

struct ConvCase {
  int64_t batch = 2, cin = 4, cout = 6, groups = 1;
  bool transposed = false, bias = true;
  std::vector<int64_t> in, k, stride, pad, dil, out_pad;
  std::vector<Post> posts;
  bool weight_constant = true;
  bool channels_last = false;  // activations and full-tensor operands stored [N, spatial..., C]
  int threads = 2;

  size_t n() const { return in.size(); }
  int64_t out_size(size_t d) const {
    const int64_t ext = dil[d] * (k[d] - 1) + 1;
    if (transposed) return (in[d] - 1) * stride[d] - 2 * pad[d] + ext + out_pad[d];
    return (in[d] + 2 * pad[d] - ext) / stride[d] + 1;
  }
};

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

// [batch, channels, plane] memory as [batch, plane, channels].
Buf to_channels_last(const Buf& b, int64_t batch, int64_t channels, int64_t plane) {
  Buf out(b.dtype, b.count);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t i = 0; i < plane; ++i)
        out.set((n * plane + i) * channels + ch, b.get((n * channels + ch) * plane + i));
  return out;
}

void run_conv(const ConvCase& c, std::mt19937& rng, ExternState* state) {
  const size_t n = c.n();
  std::vector<int64_t> out(n);
  for (size_t d = 0; d < n; ++d)
    out[d] = c.out_size(d);
  const int64_t ip = product(c.in), op = product(out), kp = product(c.k);
  const int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
  Buf x = random_buf(kExtFloat32, c.batch * c.cin * ip, rng);
  Buf w = random_buf(kExtFloat32, c.transposed ? c.cin * cout_g * kp : c.cout * cin_g * kp, rng);
  Buf bias = random_buf(kExtFloat32, c.cout, rng);
  std::vector<int64_t> ints = {
      kExtFloat32, static_cast<int64_t>(n), c.batch, c.cin, c.cout, c.groups, c.transposed, c.bias};
  for (size_t d = 0; d < n; ++d)
    ints.insert(ints.end(), {c.in[d], out[d], c.k[d], c.stride[d], c.pad[d], c.dil[d]});
  std::vector<double> floats;
  EpilogueCall ep;
  ep.build(c.posts, c.weight_constant, c.bias ? 3 : 2, c.batch, c.cout, op, rng, ints, floats);
  // Channels-last calls get the same tensors in that layout; the result is compared after
  // laying the expected values out the same way.
  std::vector<Buf> laid_out;
  laid_out.reserve(1 + ep.operands.size());
  const Buf* x_in = &x;
  if (c.channels_last) {
    ints[8 + 6 * n] |= kEpilogueChannelsLast;
    x_in = &laid_out.emplace_back(to_channels_last(x, c.batch, c.cin, ip));
  }
  std::vector<const Buf*> inputs = {x_in, &w};
  if (c.bias) inputs.push_back(&bias);
  for (const Buf& o : ep.operands) {
    const bool full = o.count == c.batch * c.cout * op && c.cout * op != c.cout;
    inputs.push_back(c.channels_last && full
                         ? &laid_out.emplace_back(to_channels_last(o, c.batch, c.cout, op))
                         : &o);
  }
  Buf y = poisoned(kExtFloat32, c.batch * c.cout * op);
  std::string what = std::string(c.transposed ? "transposed " : "") + "conv" + std::to_string(n) +
                     "d g" + std::to_string(c.groups) + " in" + std::to_string(c.in[0]) + " k" +
                     std::to_string(c.k[0]) + " s" + std::to_string(c.stride[0]) + " p" +
                     std::to_string(c.pad[0]) + " d" + std::to_string(c.dil[0]) + " posts " +
                     std::to_string(c.posts.size());
  CallResult r = call_with_state(extern_conv, inputs, y, ints, floats, c.threads, state);
  ASSERT_TRUE(r.ok) << r.sink.message << " " << what;

  std::vector<double> want(static_cast<size_t>(y.count), 0.0);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t oc = 0; oc < c.cout; ++oc) {
      const int64_t g = oc / cout_g, ocg = oc % cout_g;
      for (int64_t of = 0; of < op; ++of) {
        const std::vector<int64_t> o = unravel(of, out);
        double acc = c.bias ? bias.get(oc) : 0;
        for (int64_t icg = 0; icg < cin_g; ++icg) {
          const int64_t ic = g * cin_g + icg;
          for (int64_t tap = 0; tap < kp; ++tap) {
            const std::vector<int64_t> t = unravel(tap, c.k);
            int64_t flat = 0;
            bool inside = true;
            for (size_t d = 0; d < n; ++d) {
              int64_t i = 0;
              if (c.transposed) {
                const int64_t v = o[d] + c.pad[d] - t[d] * c.dil[d];
                inside = inside && v >= 0 && v % c.stride[d] == 0;
                i = v / c.stride[d];
              } else {
                i = o[d] * c.stride[d] - c.pad[d] + t[d] * c.dil[d];
              }
              inside = inside && i >= 0 && i < c.in[d];
              flat = flat * c.in[d] + i;
            }
            if (!inside) continue;
            const int64_t wi =
                c.transposed ? (ic * cout_g + ocg) * kp + tap : (oc * cin_g + icg) * kp + tap;
            acc += x.get((b * c.cin + ic) * ip + flat) * w.get(wi);
          }
        }
        want[static_cast<size_t>((b * c.cout + oc) * op + of)] = acc;
      }
    }
  ep.apply(c.posts, c.batch, c.cout, op, want);
  if (c.channels_last) {
    Buf plain(kExtFloat64, y.count);
    for (int64_t i = 0; i < y.count; ++i)
      plain.set(i, want[static_cast<size_t>(i)]);
    const Buf laid = to_channels_last(plain, c.batch, c.cout, op);
    for (int64_t i = 0; i < y.count; ++i)
      want[static_cast<size_t>(i)] = laid.get(i);
  }
  expect_near_rel(y, want, what + (c.channels_last ? " channels-last" : ""));
}

ConvCase geometry(std::vector<int64_t> in, std::vector<int64_t> k, int64_t stride, int64_t pad,
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

TEST(ExternDnnl, ConvGeometriesWithPackedWeightsAndPostOps) {
  std::mt19937 rng(105);
  ExternState* state = extern_state_create();
  ASSERT_NE(state, nullptr);
  std::vector<ConvCase> cases = {
      geometry({7, 6}, {3, 3}, 1, 1, 1),        // padded
      geometry({9, 8}, {3, 3}, 2, 1, 1),        // strided
      geometry({9, 9}, {3, 3}, 1, 2, 2),        // dilated
      geometry({6, 5}, {1, 1}, 1, 0, 1),        // pointwise
      geometry({8, 7}, {3, 2}, 2, 0, 1),        // unread trailing input
      geometry({12}, {5}, 2, 2, 1),             // 1d
      geometry({4, 5, 6}, {3, 3, 3}, 1, 1, 1),  // 3d
  };
  ConvCase grouped = geometry({7, 7}, {3, 3}, 1, 1, 1);
  grouped.groups = 2;
  cases.push_back(grouped);
  ConvCase depthwise = geometry({9, 8}, {3, 3}, 2, 1, 1);
  depthwise.cin = 6, depthwise.groups = 6;
  cases.push_back(depthwise);
  ConvCase multiplier = depthwise;
  multiplier.cin = 3, multiplier.groups = 3;
  cases.push_back(multiplier);
  for (size_t i = 0; i < cases.size(); ++i) {
    for (const auto& posts :
         {kPostChains[0], kPostChains[1], kPostChains[14], kPostChains[15], kPostChains[16],
          kPostChains[7], kPostChains[10], kPostChains[17], kPostChains[18]}) {
      for (bool channels_last : {false, true}) {
        ConvCase c = cases[i];
        c.posts = posts;
        c.bias = i % 2 == 0;
        c.channels_last = channels_last;
        run_conv(c, rng, state);
      }
    }
  }
  EXPECT_GT(extern_state_stats(state).primitives, 0);
  extern_state_destroy(state);
}

// Convolutions run on channels-last copies of their activations, which gives depthwise ones a
// oneDNN kernel too (over plain layouts they stay with the routine's own loop).
TEST(ExternDnnl, DepthwiseAndPlainConvsRunAsPrimitives) {
  std::mt19937 rng(106);
  for (int64_t groups : {1, 8}) {
    ExternState* state = extern_state_create();
    ASSERT_NE(state, nullptr);
    ConvCase c = geometry({10, 9}, {3, 3}, 1, 1, 1);
    c.cin = 8, c.cout = 8, c.groups = groups;
    c.posts = kPostChains[1];
    run_conv(c, rng, state);
    EXPECT_EQ(extern_state_stats(state).primitives, 1) << "groups " << groups;
    extern_state_destroy(state);
  }
}

// The routine's own loop over channels-last activations (oneDNN off), with every kind of
// post-op operand.
TEST(ExternDnnl, ChannelsLastConvWithoutOneDnn) {
  std::mt19937 rng(107);
  ext::set_dnnl_enabled(false);
  for (const auto& posts : {kPostChains[0], kPostChains[14], kPostChains[16], kPostChains[18]}) {
    for (ConvCase c : {geometry({7, 6}, {3, 3}, 2, 1, 1), geometry({9}, {3}, 1, 1, 2)}) {
      c.posts = posts;
      c.channels_last = true;
      run_conv(c, rng, nullptr);
    }
  }
  ext::set_dnnl_enabled(true);
}

TEST(ExternDnnl, TransposedConvWithPostOps) {
  std::mt19937 rng(106);
  ExternState* state = extern_state_create();
  struct T {
    std::vector<int64_t> in, k;
    int64_t stride, pad, dil, out_pad, groups;
  };
  const T ts[] = {{{5, 4}, {3, 3}, 2, 1, 1, 1, 1},
                  {{6, 6}, {4, 4}, 2, 1, 1, 0, 2},
                  {{7}, {3}, 1, 0, 2, 0, 1},
                  {{3, 4, 3}, {2, 2, 2}, 2, 0, 1, 0, 1}};
  for (const T& t : ts) {
    for (const auto& posts : {kPostChains[0], kPostChains[1], kPostChains[14]}) {
      ConvCase c = geometry(t.in, t.k, t.stride, t.pad, t.dil);
      c.out_pad.assign(c.n(), t.out_pad);
      c.transposed = true, c.groups = t.groups, c.posts = posts;
      run_conv(c, rng, state);
    }
  }
  extern_state_destroy(state);
}

TEST(ExternDnnl, ConvWithoutStateOrNonConstantWeights) {
  std::mt19937 rng(107);
  ConvCase c = geometry({7, 6}, {3, 3}, 1, 1, 1);
  c.posts = kPostChains[15];
  run_conv(c, rng, nullptr);
  ExternState* state = extern_state_create();
  c.weight_constant = false;
  run_conv(c, rng, state);
  EXPECT_EQ(extern_state_stats(state).packs, 0);
  extern_state_destroy(state);
}

TEST(ExternDnnl, ThreadCountsGetTheirOwnPrimitives) {
  std::mt19937 rng(108);
  ExternState* state = extern_state_create();
  for (int threads : {1, 2, 3}) {
    ConvCase c = geometry({8, 8}, {3, 3}, 1, 1, 1);
    c.threads = threads, c.posts = kPostChains[1];
    run_conv(c, rng, state);
  }
  EXPECT_EQ(extern_state_stats(state).primitives, 3);
  extern_state_destroy(state);
}

}  // namespace
}  // namespace kiln::rt::test
