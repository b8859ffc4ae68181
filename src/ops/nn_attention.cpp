// scaled_dot_product_attention, as PyTorch's math backend defines it:
// softmax(q @ k^T * scale + mask) @ v over broadcast batch dims, where a bool mask keeps the
// True entries, is_causal keeps key j <= query i (top-left aligned), and a row with every
// entry masked gives zeros (PyTorch's safe softmax). enable_gqa repeats each key/value head
// over a group of query heads (dim -3). Dropout has no inference meaning, so dropout_p must be 0.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

struct AttentionShapes {
  std::vector<sym::Expr> q_batch, k_batch, v_batch;  // k and v with GQA heads repeated
  std::vector<sym::Expr> scores;                     // [batch..., L, S]
  std::vector<sym::Expr> out;                        // [batch..., L, Ev]
};

std::vector<sym::Expr> batch_dims(const ir::TensorType& t) {
  return dims(t, 0, t.rank() - 2);
}

AttentionShapes attention_shapes(const Args& a) {
  const auto& q = a.type("query");
  const auto& k = a.type("key");
  const auto& v = a.type("value");
  if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2) {
    a.fail("expected query, key and value to be at least 2-D, got ", q.rank(), "-D, ", k.rank(),
           "-D and ", v.rank(), "-D");
  }
  if (q.dtype != k.dtype || q.dtype != v.dtype) {
    a.fail("expected query, key and value to have the same dtype, got ", ir::dtype_name(q.dtype),
           ", ", ir::dtype_name(k.dtype), " and ", ir::dtype_name(v.dtype));
  }
  check_floating(q.dtype, a, "scaled_dot_product_attention");
  double dropout = a.to_double("dropout_p");
  if (dropout != 0) {
    a.fail("dropout_p must be 0 for inference, got ", dropout);
  }
  check_same(q.sizes.back(), k.sizes.back(), a,
             "query and key embedding sizes differ: ", shape_str(q.sizes), " and ",
             shape_str(k.sizes));
  check_same(k.sizes[k.rank() - 2], v.sizes[v.rank() - 2], a,
             "key and value sequence lengths differ: ", shape_str(k.sizes), " and ",
             shape_str(v.sizes));
  AttentionShapes s{batch_dims(q), batch_dims(k), batch_dims(v), {}, {}};
  if (a.to_bool("enable_gqa") && q.rank() >= 3 && k.rank() >= 3 && v.rank() >= 3) {
    const sym::Expr& hq = q.sizes[q.rank() - 3];
    for (const auto* t : {&k, &v}) {
      const sym::Expr& h = t->sizes[t->rank() - 3];
      auto hq_c = hq.as_const();
      auto h_c = h.as_const();
      if (hq_c && h_c && (*h_c == 0 || *hq_c % *h_c != 0)) {
        a.fail("number of heads in key and value (", *h_c,
               ") must divide the number of heads in query (", *hq_c, ")");
      }
    }
    s.k_batch.back() = hq;
    s.v_batch.back() = hq;
  }
  std::vector<sym::Expr> qk = broadcast_shapes(s.q_batch, s.k_batch, a);
  s.scores = qk;
  s.scores.push_back(q.sizes[q.rank() - 2]);
  s.scores.push_back(k.sizes[k.rank() - 2]);
  s.out = broadcast_shapes(qk, s.v_batch, a);
  s.out.push_back(q.sizes[q.rank() - 2]);
  s.out.push_back(v.sizes.back());
  if (auto mask = a.optional_type("attn_mask")) {
    if (a.to_bool("is_causal"))
      a.fail("an explicit attn_mask must not be given with is_causal=True");
    if (mask->dtype != ir::DType::kBool && mask->dtype != q.dtype) {
      a.fail("expected attn_mask dtype to be bool or to match the query dtype (",
             ir::dtype_name(q.dtype), "), got ", ir::dtype_name(mask->dtype));
    }
    check_expandable(mask->sizes, s.scores, a, "attn_mask");
  }
  return s;
}

std::vector<OutType> sdpa_shape(const Args& a) {
  const auto& q = a.type("query");
  return {make_type(q.dtype, attention_shapes(a).out, q.device)};
}

// t with dim -3 repeated `times` times per entry (repeat_interleave), for GQA.
ref::Tensor repeat_heads(const ref::Tensor& t, int64_t times) {
  if (times == 1) return t;
  std::vector<int64_t> sizes = t.sizes();
  size_t hd = sizes.size() - 3;
  int64_t heads = sizes[hd], inner = sizes[hd + 1] * sizes[hd + 2];
  sizes[hd] *= times;
  ref::Tensor out(t.dtype(), sizes);
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t e = i % inner, h = (i / inner) % (heads * times), b = i / (inner * heads * times);
    out.set(i, t.get((b * heads + h / times) * inner + e));
  }
  return out;
}

std::vector<ref::RValue> sdpa_ref(const Args& a) {
  AttentionShapes s = attention_shapes(a);
  ref::Tensor out = alloc_output(a);
  const ref::Tensor& q = a.tensor("query");
  ref::Tensor k = a.tensor("key");
  ref::Tensor v = a.tensor("value");
  if (a.to_bool("enable_gqa") && q.dim() >= 3 && k.dim() >= 3 && v.dim() >= 3) {
    int64_t hq = q.size(q.dim() - 3);
    k = repeat_heads(k, hq / k.size(k.dim() - 3));
    v = repeat_heads(v, hq / v.size(v.dim() - 3));
  }
  const ref::Tensor* mask = a.optional_tensor("attn_mask");
  bool causal = a.to_bool("is_causal");
  int64_t seq_q = q.size(q.dim() - 2), emb = q.size(q.dim() - 1);
  int64_t seq_k = k.size(k.dim() - 2), emb_v = v.size(v.dim() - 1);
  double scale =
      a.is_none("scale") ? 1.0 / std::sqrt(static_cast<double>(emb)) : a.to_double("scale");
  std::vector<int64_t> out_batch = to_ints(s.out, a);
  out_batch.resize(out_batch.size() - 2);
  int64_t batches = 1;
  for (int64_t b : out_batch)
    batches *= b;
  auto batch_of = [](const ref::Tensor& t) {
    return std::vector<int64_t>(t.sizes().begin(), t.sizes().end() - 2);
  };
  BroadcastIndex qi(batch_of(q), out_batch), ki(batch_of(k), out_batch), vi(batch_of(v), out_batch);
  std::vector<int64_t> score_sizes = out_batch;
  score_sizes.push_back(seq_q);
  score_sizes.push_back(seq_k);
  std::optional<BroadcastIndex> mi;
  if (mask != nullptr) mi.emplace(mask->sizes(), score_sizes);
  const double kNegInf = -std::numeric_limits<double>::infinity();
  std::vector<double> w(static_cast<size_t>(seq_k));
  for (int64_t b = 0; b < batches; ++b) {
    int64_t q0 = qi(b) * seq_q * emb, k0 = ki(b) * seq_k * emb, v0 = vi(b) * seq_k * emb_v;
    for (int64_t i = 0; i < seq_q; ++i) {
      double top = kNegInf;
      bool all_masked = true;
      for (int64_t j = 0; j < seq_k; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < emb; ++e)
          dot += q.get(q0 + i * emb + e) * k.get(k0 + j * emb + e);
        double x = dot * scale;
        if (causal && j > i) x = kNegInf;
        if (mask != nullptr) {
          double m = mask->get((*mi)((b * seq_q + i) * seq_k + j));
          x = mask->dtype() == ir::DType::kBool ? (m != 0 ? x : kNegInf) : x + m;
        }
        w[static_cast<size_t>(j)] = x;
        top = std::max(top, x);
        all_masked = all_masked && x == kNegInf;
      }
      double total = 0;
      for (double& x : w) {
        x = all_masked ? 0.0 : std::exp(x - top);
        total += x;
      }
      for (double& x : w)
        x = all_masked ? 0.0 : x / total;
      for (int64_t e = 0; e < emb_v; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < seq_k; ++j)
          acc += w[static_cast<size_t>(j)] * v.get(v0 + j * emb_v + e);
        out.set((b * seq_q + i) * emb_v + e, acc);
      }
    }
  }
  return ref::single_result(std::move(out));
}

const OpDef kOps[] = {
    {"aten.scaled_dot_product_attention.default",
     "scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? "
     "attn_mask=None, float dropout_p=0., bool is_causal=False, *, float? scale=None, bool "
     "enable_gqa=False) -> Tensor",
     sdpa_shape, sdpa_ref},
};

}  // namespace

std::span<const OpDef> attention_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn
