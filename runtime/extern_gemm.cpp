// extern_gemm: batched strided GEMM with a broadcast bias epilogue (see externs.h). f32 with a
// few rows goes to extern_gemm_few_rows.cpp, other f32 to a cached oneDNN matmul primitive
// with the post-ops fused (extern_dnnl.cpp), or where neither can take the call to oneDNN's
// sgemm (row-major, no reduced precision) and a post-op loop; f16/bf16 convert to f32 around
// sgemm; f64 and integer dtypes use plain loops.
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "extern_dnnl.h"
#include "externs.h"

namespace kiln::rt {
namespace {

constexpr const char* kKind = "gemm";

// Element (b, i, j) of an operand is at offset + (b / n2) * sb + (b % n2) * sb2 + i * si + j * sj
// (n2 = 1 for a one-level batch).
struct View {
  int64_t offset = 0, sb = 0, si = 0, sj = 0, sb2 = 0, n2 = 1;
  int64_t base(int64_t b) const { return offset + b / n2 * sb + b % n2 * sb2; }
  int64_t at(int64_t b, int64_t i, int64_t j) const { return base(b) + i * si + j * sj; }
};

struct Gemm {
  int64_t dtype = 0, batch = 0, m = 0, n = 0, k = 0, n2 = 1;
  View a, b, bias;
  bool has_bias = false;
  double alpha = 1, beta = 1;
  bool use_bias() const { return has_bias && beta != 0; }
};

// How sgemm can read a rows x cols matrix with strides (si, sj): 'N' (row-major, ld = si) or
// 'T' (column-major, ld = sj); 0 when it cannot (the caller packs it first).
char blas_layout(int64_t rows, int64_t cols, int64_t si, int64_t sj, int64_t* ld) {
  if ((sj == 1 || cols == 1) && (rows == 1 || si >= std::max<int64_t>(cols, 1))) {
    *ld = rows == 1 ? std::max<int64_t>(cols, 1) : si;
    return 'N';
  }
  if ((si == 1 || rows == 1) && (cols == 1 || sj >= std::max<int64_t>(rows, 1))) {
    *ld = cols == 1 ? std::max<int64_t>(rows, 1) : sj;
    return 'T';
  }
  return 0;
}

// One f32 product C = alpha * A B + beta_c * C for batch entry `bi`, packing an operand whose
// strides sgemm cannot take into the lease's slot `slot` (kept across calls, so steady-state
// runs allocate nothing).
bool sgemm_one(const Gemm& g, const float* a_data, const View& a, const float* b_data,
               const View& b, int64_t bi, float beta_c, float* c, ext::ScratchLease& lease,
               int32_t slot) {
  int64_t lda = 0, ldb = 0;
  char ta = blas_layout(g.m, g.k, a.si, a.sj, &lda);
  char tb = blas_layout(g.k, g.n, b.si, b.sj, &ldb);
  const float* pa = a_data + a.at(bi, 0, 0);
  const float* pb = b_data + b.at(bi, 0, 0);
  size_t need = (ta == 0 ? static_cast<size_t>(g.m * g.k) : 0) +
                (tb == 0 ? static_cast<size_t>(g.k * g.n) : 0);
  float* next = nullptr;
  if (need > 0) {
    next = static_cast<float*>(lease.get(slot, need * sizeof(float)));
    if (next == nullptr) return false;
  }
  if (ta == 0) {
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t p = 0; p < g.k; ++p)
        next[i * g.k + p] = a_data[a.at(bi, i, p)];
    pa = next;
    next += g.m * g.k;
    ta = 'N';
    lda = g.k;
  }
  if (tb == 0) {
    for (int64_t p = 0; p < g.k; ++p)
      for (int64_t j = 0; j < g.n; ++j)
        next[p * g.n + j] = b_data[b.at(bi, p, j)];
    pb = next;
    tb = 'N';
    ldb = g.n;
  }
  dnnl_status_t st = dnnl_sgemm(ta, tb, g.m, g.n, g.k, static_cast<float>(g.alpha), pa, lda, pb,
                                ldb, beta_c, c, std::max<int64_t>(g.n, 1));
  return st == dnnl_success;
}

// The f32 core over f32 operands: C (dense [batch, M, N], f32) gets the bias first, then the
// products. `bias_at(b, i, j)` reads the bias as f32.
template <typename BiasFn>
bool gemm_f32(const ExternArgs& args, const Gemm& g, const float* a, const View& av, const float* b,
              const View& bv, BiasFn bias_at, float* c) {
  const int64_t plane = g.m * g.n;
  const bool bias = g.use_bias();
  const auto beta = static_cast<float>(g.beta);
  // A batch of small products, or at least as many products as threads: one thread per
  // product (oneDNN runs single-threaded inside); otherwise sgemm threads each product.
  const int64_t flops = g.m * g.n * std::max<int64_t>(g.k, 1);
  const bool per_matrix =
      g.batch > 1 && args.num_threads > 1 && (g.batch >= args.num_threads || flops < (1 << 22));
  ext::ScratchLease lease(args);
  if (!lease.reserve(per_matrix ? args.num_threads : 1)) {
    return ext::error(args, kKind, "out of memory for scratch");
  }
  bool ok = true;
  auto one = [&](int64_t bi, int32_t slot) {
    float* cb = c + bi * plane;
    if (bias) {
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j)
          cb[i * g.n + j] = beta * bias_at(bi, i, j);
    } else {
      std::fill(cb, cb + plane, 0.0f);
    }
    if (g.k == 0 || plane == 0) return true;
    return sgemm_one(g, a, av, b, bv, bi, bias ? 1.0f : 0.0f, cb, lease, slot);
  };
  if (per_matrix) {
#pragma omp parallel for num_threads(args.num_threads) schedule(static)
    for (int64_t bi = 0; bi < g.batch; ++bi) {
      if (!one(bi, omp_get_thread_num())) {
#pragma omp atomic write
        ok = false;
      }
    }
  } else {
    for (int64_t bi = 0; bi < g.batch && ok; ++bi)
      ok = one(bi, 0);
  }
  if (!ok)
    return ext::error(args, kKind, "oneDNN sgemm failed (M=%lld, N=%lld, K=%lld)",
                      static_cast<long long>(g.m), static_cast<long long>(g.n),
                      static_cast<long long>(g.k));
  return true;
}

// An operand of a 16-bit float dtype, packed to dense f32 [batch, rows, cols].
std::vector<float> widen(const void* data, int64_t dtype, const View& v, int64_t batch,
                         int64_t rows, int64_t cols, int threads) {
  std::vector<float> out(static_cast<size_t>(batch * rows * cols));
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        out[static_cast<size_t>((b * rows + i) * cols + j)] =
            static_cast<float>(ext::load_float(data, dtype, v.at(b, i, j)));
  return out;
}

bool gemm_half(const ExternArgs& args, const Gemm& g) {
  std::vector<float> a = widen(args.inputs[0], g.dtype, g.a, g.batch, g.m, g.k, args.num_threads);
  std::vector<float> b = widen(args.inputs[1], g.dtype, g.b, g.batch, g.k, g.n, args.num_threads);
  std::vector<float> c(static_cast<size_t>(g.batch * g.m * g.n));
  // Widened operands are dense: a one-level batch.
  const View av{0, g.m * g.k, g.k, 1, 0, 1}, bv{0, g.k * g.n, g.n, 1, 0, 1};
  const void* bias = g.use_bias() ? args.inputs[2] : nullptr;
  auto bias_at = [&](int64_t bi, int64_t i, int64_t j) {
    return static_cast<float>(ext::load_float(bias, g.dtype, g.bias.at(bi, i, j)));
  };
  if (!gemm_f32(args, g, a.data(), av, b.data(), bv, bias_at, c.data())) return false;
  void* out = args.outputs[0];
  const auto total = static_cast<int64_t>(c.size());
#pragma omp parallel for num_threads(args.num_threads) schedule(static)
  for (int64_t i = 0; i < total; ++i)
    ext::store_float(out, g.dtype, i, c[static_cast<size_t>(i)]);
  return true;
}

// f64: plain loops accumulating in double.
void gemm_f64(const ExternArgs& args, const Gemm& g) {
  const auto* a = static_cast<const double*>(args.inputs[0]);
  const auto* b = static_cast<const double*>(args.inputs[1]);
  const auto* bias = g.use_bias() ? static_cast<const double*>(args.inputs[2]) : nullptr;
  auto* c = static_cast<double*>(args.outputs[0]);
#pragma omp parallel for collapse(2) num_threads(args.num_threads) schedule(static)
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    for (int64_t i = 0; i < g.m; ++i) {
      double* row = c + (bi * g.m + i) * g.n;
      std::fill(row, row + g.n, 0.0);
      for (int64_t p = 0; p < g.k; ++p) {
        double x = a[g.a.at(bi, i, p)];
        for (int64_t j = 0; j < g.n; ++j)
          row[j] += x * b[g.b.at(bi, p, j)];
      }
      for (int64_t j = 0; j < g.n; ++j) {
        row[j] *= g.alpha;
        if (bias != nullptr) row[j] += g.beta * bias[g.bias.at(bi, i, j)];
      }
    }
  }
}

// Integers: wrapping 64-bit arithmetic, stored wrapped to the dtype.
void gemm_int(const ExternArgs& args, const Gemm& g) {
  const void* a = args.inputs[0];
  const void* b = args.inputs[1];
  const void* bias = g.use_bias() ? args.inputs[2] : nullptr;
  void* c = args.outputs[0];
  const auto alpha = static_cast<uint64_t>(static_cast<int64_t>(g.alpha));
  const auto beta = static_cast<uint64_t>(static_cast<int64_t>(g.beta));
#pragma omp parallel for collapse(2) num_threads(args.num_threads) schedule(static)
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        uint64_t acc = 0;
        for (int64_t p = 0; p < g.k; ++p) {
          acc += static_cast<uint64_t>(ext::load_int(a, g.dtype, g.a.at(bi, i, p))) *
                 static_cast<uint64_t>(ext::load_int(b, g.dtype, g.b.at(bi, p, j)));
        }
        acc *= alpha;
        if (bias != nullptr) {
          acc += beta * static_cast<uint64_t>(ext::load_int(bias, g.dtype, g.bias.at(bi, i, j)));
        }
        ext::store_int(c, g.dtype, (bi * g.m + i) * g.n + j, static_cast<int64_t>(acc));
      }
    }
  }
}

}  // namespace

bool extern_gemm(const ExternArgs& args) {
  if (!ext::check_counts(args, kKind, 2, 3 + ext::kMaxPostOps, 1, 18, 2)) return false;
  const int64_t* p = args.ints;
  // The batch split section follows a complete epilogue section.
  ExternArgs head = args;
  if (args.num_ints >= 20 && args.ints[19] >= 0 && args.ints[19] <= ext::kMaxPostOps) {
    const auto epilogue_end = static_cast<int32_t>(20 + 2 * args.ints[19]);
    if (args.num_ints == epilogue_end + kGemmSplitInts) head.num_ints = epilogue_end;
  }
  Gemm g;
  g.dtype = p[0];
  g.batch = p[1];
  g.m = p[2];
  g.n = p[3];
  g.k = p[4];
  g.a = {p[5], p[6], p[7], p[8], 0, 1};
  g.b = {p[9], p[10], p[11], p[12], 0, 1};
  g.has_bias = p[13] != 0;
  g.bias = {p[14], p[15], p[16], p[17], 0, 1};
  g.alpha = args.floats[0];
  g.beta = args.floats[1];
  if (head.num_ints != args.num_ints) {
    const int64_t* q = p + head.num_ints;
    g.n2 = q[0];
    if (g.n2 <= 0 || g.batch % g.n2 != 0) {
      return ext::error(args, kKind, "batch %lld does not split into inner batches of %lld",
                        static_cast<long long>(g.batch), static_cast<long long>(g.n2));
    }
    g.a.sb2 = q[1], g.b.sb2 = q[2], g.bias.sb2 = q[3];
    g.a.n2 = g.b.n2 = g.bias.n2 = g.n2;
  }
  if (g.batch < 0 || g.m < 0 || g.n < 0 || g.k < 0) {
    return ext::error(args, kKind, "negative size (batch=%lld, M=%lld, N=%lld, K=%lld)",
                      static_cast<long long>(g.batch), static_cast<long long>(g.m),
                      static_cast<long long>(g.n), static_cast<long long>(g.k));
  }
  if (g.has_bias && args.num_inputs < 3) return ext::error(args, kKind, "has_bias without bias");
  if (g.dtype == kExtBool) return ext::error(args, kKind, "bool is not supported");
  ext::Epilogue ep;
  if (!ext::parse_epilogue(head, kKind, 18, 2, g.has_bias ? 3 : 2, &ep)) return false;
  if (ep.count == 0 && args.num_inputs > (g.has_bias ? 3 : 2)) {
    return ext::error(args, kKind, "%d inputs, but no post-op reads the extra ones",
                      args.num_inputs);
  }
  if (g.batch == 0 || g.m == 0 || g.n == 0) return true;
  ext::set_threads(args.num_threads);
  switch (g.dtype) {
    case kExtFloat32: {
      // The primitive's bias is unscaled; other alphas and betas take the sgemm path.
      if (g.alpha == 1 && (!g.use_bias() || g.beta == 1) && g.k > 0) {
        ext::GemmShape s;
        s.batch = g.batch / g.n2, s.batch2 = g.n2, s.m = g.m, s.n = g.n, s.k = g.k;
        const View* views[3] = {&g.a, &g.b, &g.bias};
        int64_t* dst[3] = {s.a, s.b, s.bias};
        for (int v = 0; v < 3; ++v) {
          dst[v][0] = views[v]->offset, dst[v][1] = views[v]->sb;
          dst[v][2] = views[v]->si, dst[v][3] = views[v]->sj, dst[v][4] = views[v]->sb2;
        }
        s.has_bias = g.use_bias();
        int r = ext::few_rows_gemm(args, s, ep);
        if (r == 0) r = ext::dnnl_gemm(args, s, ep);
        if (r != 0) return r > 0;
      }
      const auto* bias = g.use_bias() ? static_cast<const float*>(args.inputs[2]) : nullptr;
      auto bias_at = [&](int64_t bi, int64_t i, int64_t j) { return bias[g.bias.at(bi, i, j)]; };
      auto* c = static_cast<float*>(args.outputs[0]);
      if (!gemm_f32(args, g, static_cast<const float*>(args.inputs[0]), g.a,
                    static_cast<const float*>(args.inputs[1]), g.b, bias_at, c)) {
        return false;
      }
      ext::apply_post_ops(args, ep, c, g.batch * g.m, g.n, 1);
      return true;
    }
    case kExtFloat16:
    case kExtBFloat16:
      return gemm_half(args, g);
    case kExtFloat64:
      gemm_f64(args, g);
      return true;
    default:
      gemm_int(args, g);
      return true;
  }
}

}  // namespace kiln::rt
