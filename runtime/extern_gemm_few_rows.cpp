// The f32 GEMM of extern_gemm when A has one or two rows (a linear layer at batch 1 or 2):
// every weight is read once per call, so the product runs at memory speed when the kernel
// streams B at full bandwidth. oneDNN's matmul reaches about two thirds of that at M = 1 (and
// beats these loops from M = 3 on); these loops read B in the caller's layout (columns
// contiguous, as nn.Linear's transposed weight is, or rows contiguous), so nothing is packed.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "extern_dnnl.h"

namespace kiln::rt::ext {
namespace {

constexpr int64_t kMaxRows = 2;
// Bytes of B each thread should stream at least, so small products stay on one thread.
constexpr int64_t kBytesPerThread = 64 * 1024;

// Eight floats; GCC lowers the arithmetic to whatever vector width the target has. The helpers
// taking and returning them are internal and inlined, so the note that their ABI differs
// without AVX concerns no caller.
#pragma GCC diagnostic ignored "-Wpsabi"
using Vec = float __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float lane_sum(Vec v) {
  float s = 0;
  for (int64_t l = 0; l < kLanes; ++l)
    s += v[l];
  return s;
}

struct Operands {
  const float* a;  // row i at a + i * a_row, contiguous
  int64_t a_row;
  const float* b;
  int64_t b_stride;  // dot: column j at b + j * b_stride; axpy: row p at b + p * b_stride
  float* c;          // dense [m, n]
  int64_t m, n, k;
};

// Columns of B contiguous: C[i, j] = dot(A row i, B column j), Cols columns at a time.
template <int64_t M, int64_t Cols>
void dot_block(const Operands& o, int64_t j) {
  Vec acc[M][Cols] = {};
  const float* col[Cols];
  for (int64_t c = 0; c < Cols; ++c)
    col[c] = o.b + (j + c) * o.b_stride;
  int64_t p = 0;
  for (; p + kLanes <= o.k; p += kLanes) {
    Vec x[M];
    for (int64_t i = 0; i < M; ++i)
      x[i] = load(o.a + i * o.a_row + p);
    for (int64_t c = 0; c < Cols; ++c) {
      const Vec w = load(col[c] + p);
      for (int64_t i = 0; i < M; ++i)
        acc[i][c] += x[i] * w;
    }
  }
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t c = 0; c < Cols; ++c) {
      float s = lane_sum(acc[i][c]);
      for (int64_t q = p; q < o.k; ++q)
        s += o.a[i * o.a_row + q] * col[c][q];
      o.c[i * o.n + j + c] = s;
    }
  }
}

// Rows of B contiguous: C[i, j..j+16) accumulates A[i, p] * B row p, two vectors wide.
template <int64_t M>
void axpy_block(const Operands& o, int64_t j) {
  Vec acc[M][2] = {};
  for (int64_t p = 0; p < o.k; ++p) {
    const float* row = o.b + p * o.b_stride + j;
    const Vec w0 = load(row), w1 = load(row + kLanes);
    for (int64_t i = 0; i < M; ++i) {
      const float s = o.a[i * o.a_row + p];
      acc[i][0] += s * w0;
      acc[i][1] += s * w1;
    }
  }
  for (int64_t i = 0; i < M; ++i) {
    std::memcpy(o.c + i * o.n + j, &acc[i][0], sizeof(Vec));
    std::memcpy(o.c + i * o.n + j + kLanes, &acc[i][1], sizeof(Vec));
  }
}

// The columns of B left over by the blocks (fewer than one block): plain loops.
void scalar_columns(const Operands& o, bool dot, int64_t j_begin, int64_t j_end) {
  for (int64_t i = 0; i < o.m; ++i) {
    for (int64_t j = j_begin; j < j_end; ++j) {
      float s = 0;
      for (int64_t p = 0; p < o.k; ++p) {
        const float w = dot ? o.b[j * o.b_stride + p] : o.b[p * o.b_stride + j];
        s += o.a[i * o.a_row + p] * w;
      }
      o.c[i * o.n + j] = s;
    }
  }
}

template <int64_t M>
void run_rows(const Operands& o, bool dot, int threads) {
  // Eight accumulators per block: enough loads in flight, none spilled.
  constexpr int64_t kDotCols = M == 1 ? 8 : 4;
  const int64_t width = dot ? kDotCols : 2 * kLanes;
  const int64_t blocks = o.n / width;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    if (dot) {
      dot_block<M, kDotCols>(o, blk * width);
    } else {
      axpy_block<M>(o, blk * width);
    }
  }
  scalar_columns(o, dot, blocks * width, o.n);
}

}  // namespace

int few_rows_gemm(const ExternArgs& args, const GemmShape& g, const Epilogue& ep) {
  if (g.batch != 1 || g.batch2 != 1 || g.m < 1 || g.m > kMaxRows || g.k < 1) return 0;
  if (g.a[3] != 1 && g.k > 1) return 0;  // A's rows must be contiguous
  const bool dot = g.b[2] == 1 || g.k == 1;
  if (!dot && g.b[3] != 1) return 0;
  Operands o;
  o.a = static_cast<const float*>(args.inputs[0]) + g.a[0];
  o.a_row = g.a[2];
  o.b = static_cast<const float*>(args.inputs[1]) + g.b[0];
  o.b_stride = dot ? g.b[3] : g.b[2];
  o.c = static_cast<float*>(args.outputs[0]);
  o.m = g.m, o.n = g.n, o.k = g.k;
  const int64_t work = g.n * g.k * static_cast<int64_t>(sizeof(float)) / kBytesPerThread;
  const int threads = static_cast<int>(std::clamp<int64_t>(work, 1, args.num_threads));
  if (g.m == 1) {
    run_rows<1>(o, dot, threads);
  } else {
    run_rows<2>(o, dot, threads);
  }
  if (g.has_bias) {
    const float* bias = static_cast<const float*>(args.inputs[2]) + g.bias[0];
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j)
        o.c[i * g.n + j] += bias[i * g.bias[2] + j * g.bias[3]];
  }
  apply_post_ops(args, ep, o.c, g.m, g.n, 1);
  return 1;
}

}  // namespace kiln::rt::ext
