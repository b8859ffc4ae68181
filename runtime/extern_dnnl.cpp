// oneDNN matmul and (de)convolution primitives for extern_gemm and extern_conv, cached per call
// shape in an ExternState, with constant weights pre-packed and post-ops fused (extern_dnnl.h).
// Convolutions run over channels-last activations: those the compiler planned so, or
// channels-last copies of plain ones.
#include "extern_dnnl.h"

#include <oneapi/dnnl/dnnl.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "aligned.h"

namespace kiln::rt {

namespace {

dnnl_engine_t engine() {
  static const dnnl_engine_t e = [] {
    dnnl_engine_t made = nullptr;
    if (dnnl_engine_create(&made, dnnl_cpu, 0) != dnnl_success) made = nullptr;
    return made;
  }();
  return e;
}

}  // namespace

namespace ext {

struct Slot {
  AlignedBuffer buf;
  size_t capacity = 0;
};

// One call's scratch: a stream and aligned buffers, one per slot (OpenMP thread of the call).
struct Workspace {
  dnnl_stream_t stream = nullptr;
  std::vector<Slot> slots;

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    if (stream != nullptr) dnnl_stream_destroy(stream);
  }
};

}  // namespace ext

namespace {

struct Key {
  char kind = 0;  // 'g' gemm, 'c' conv
  bool pack = false;
  int32_t threads = 1;
  std::vector<int64_t> ints;  // the call's ints, then its floats' bit patterns
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(k.kind) ^
                 (static_cast<uint64_t>(k.pack) << 8) ^ (static_cast<uint64_t>(k.threads) << 16);
    for (int64_t v : k.ints)
      h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// One cached primitive. `prim` is null when oneDNN cannot take the call shape (the caller's
// fallback runs instead; the failure is cached too).
struct Prim {
  dnnl_primitive_t prim = nullptr;
  dnnl_primitive_t pack = nullptr;  // user weights -> packed weights; null: used as given
  // Convolutions over channels-last copies: user src -> src, dst -> user dst; null: none.
  dnnl_primitive_t src_in = nullptr, dst_out = nullptr;
  dnnl_memory_desc_t src_user{}, dst_user{};
  size_t src_bytes = 0, dst_bytes = 0;
  dnnl_memory_desc_t src{}, wei_user{}, wei{}, bias{}, dst{}, scratch{};
  bool has_bias = false;
  size_t scratch_bytes = 0, packed_bytes = 0;
  int32_t num_binary = 0;
  int32_t binary_post[ext::kMaxPostOps] = {};  // position of each binary in the post-op chain
  int32_t binary_input[ext::kMaxPostOps] = {};
  dnnl_memory_desc_t binary_md[ext::kMaxPostOps] = {};

  std::mutex mu;                                          // guards packed
  std::unordered_map<const void*, AlignedBuffer> packed;  // by the user weights' address

  Prim() = default;
  Prim(const Prim&) = delete;
  Prim& operator=(const Prim&) = delete;
  ~Prim() { reset(); }
  // Back to no primitive (its creation failed part-way).
  void reset() {
    for (dnnl_primitive_t* q : {&prim, &pack, &src_in, &dst_out}) {
      if (*q != nullptr) dnnl_primitive_destroy(*q);
      *q = nullptr;
    }
  }
};

}  // namespace

struct ExternState {
  std::shared_mutex mu;  // guards prims (the map, not the entries)
  std::unordered_map<Key, std::unique_ptr<Prim>, KeyHash> prims;
  std::atomic<int64_t> packs{0};
  std::mutex pool_mu;  // guards idle and workspaces
  std::vector<std::unique_ptr<ext::Workspace>> idle;
  int64_t workspaces = 0;
};

ExternState* extern_state_create() {
  return new (std::nothrow) ExternState();
}

void extern_state_destroy(ExternState* state) {
  delete state;
}

void extern_state_constants_changed(ExternState* state) {
  if (state == nullptr) return;
  std::unique_lock lock(state->mu);
  for (auto& [key, prim] : state->prims) {
    std::lock_guard g(prim->mu);
    prim->packed.clear();
  }
}

ExternStateStats extern_state_stats(const ExternState* state) {
  ExternStateStats s;
  if (state == nullptr) return s;
  auto* st = const_cast<ExternState*>(state);
  std::shared_lock lock(st->mu);
  for (const auto& [key, prim] : st->prims)
    s.primitives += prim->prim != nullptr ? 1 : 0;
  s.packs = st->packs.load();
  std::lock_guard pool(st->pool_mu);
  s.workspaces = st->workspaces;
  return s;
}

namespace ext {
namespace {

ExternState& process_state() {
  static ExternState* const s = new ExternState();  // lives as long as the process
  return *s;
}

}  // namespace

ScratchLease::ScratchLease(const ExternArgs& args)
    : state_(args.state != nullptr ? args.state : &process_state()), ws_(nullptr) {
  std::lock_guard lock(state_->pool_mu);
  if (!state_->idle.empty()) {
    ws_ = state_->idle.back().release();
    state_->idle.pop_back();
    return;
  }
  ws_ = new (std::nothrow) Workspace();
  if (ws_ != nullptr) ++state_->workspaces;
}

ScratchLease::~ScratchLease() {
  if (ws_ == nullptr) return;
  std::lock_guard lock(state_->pool_mu);
  // push_back allocates only while the pool grows to its peak.
  try {
    state_->idle.emplace_back(ws_);
  } catch (...) {
    delete ws_;
    --state_->workspaces;
  }
}

bool ScratchLease::reserve(int32_t count) {
  if (ws_ == nullptr) return false;
  try {
    if (ws_->slots.size() < static_cast<size_t>(std::max(count, 1)))
      ws_->slots.resize(static_cast<size_t>(std::max(count, 1)));
  } catch (...) {
    return false;
  }
  return true;
}

void* ScratchLease::get(int32_t slot, size_t bytes) {
  if (ws_ == nullptr || slot < 0 || static_cast<size_t>(slot) >= ws_->slots.size()) return nullptr;
  Slot& s = ws_->slots[static_cast<size_t>(slot)];
  if (s.capacity < bytes || !s.buf) {
    s.buf.reset();  // the old block goes first, so peak memory is the new size alone
    s.buf = make_aligned(bytes);
    s.capacity = s.buf ? bytes : 0;
  }
  return s.buf.get();
}

void* ScratchLease::stream() {
  if (ws_ == nullptr || engine() == nullptr) return nullptr;
  if (ws_->stream == nullptr &&
      dnnl_stream_create(&ws_->stream, engine(), dnnl_stream_default_flags) != dnnl_success) {
    ws_->stream = nullptr;
  }
  return ws_->stream;
}

namespace {

dnnl_memory_desc_t plain_md(int ndims, const int64_t* dims, const int64_t* strides) {
  dnnl_memory_desc_t md{};
  dnnl_dims_t d{}, s{};
  for (int i = 0; i < ndims; ++i) {
    d[i] = dims[i];
    s[i] = strides[i];
  }
  if (dnnl_memory_desc_init_by_strides(&md, ndims, d, dnnl_f32, s) != dnnl_success) md.ndims = 0;
  return md;
}

dnnl_memory_desc_t dense_md(int ndims, const int64_t* dims) {
  int64_t strides[DNNL_MAX_NDIMS] = {};
  int64_t acc = 1;
  for (int i = ndims; i-- > 0;) {
    strides[i] = acc;
    acc *= std::max<int64_t>(dims[i], 1);
  }
  return plain_md(ndims, dims, strides);
}

// [N, C, spatial...] laid out as [N, spatial..., C].
dnnl_memory_desc_t channels_last_md(int ndims, const int64_t* dims) {
  int64_t strides[DNNL_MAX_NDIMS] = {};
  int64_t acc = std::max<int64_t>(dims[1], 1);
  strides[1] = 1;
  for (int i = ndims; i-- > 2;) {
    strides[i] = acc;
    acc *= std::max<int64_t>(dims[i], 1);
  }
  strides[0] = acc;
  return plain_md(ndims, dims, strides);
}

dnnl_memory_desc_t any_md(int ndims, const int64_t* dims) {
  dnnl_memory_desc_t md{};
  dnnl_dims_t d{};
  for (int i = 0; i < ndims; ++i)
    d[i] = dims[i];
  if (dnnl_memory_desc_init_by_tag(&md, ndims, d, dnnl_f32, dnnl_format_tag_any) != dnnl_success) {
    md.ndims = 0;
  }
  return md;
}

bool eltwise_alg(const PostOp& op, dnnl_alg_kind_t* alg, float* alpha, float* beta) {
  *alpha = 0;
  *beta = 0;
  switch (op.kind) {
    case kPostRelu:
      *alg = dnnl_eltwise_relu;
      return true;
    case kPostLeakyRelu:
      *alg = dnnl_eltwise_relu;
      *alpha = op.alpha;
      return true;
    case kPostElu:
      *alg = dnnl_eltwise_elu;
      *alpha = op.alpha;
      return true;
    case kPostGeluErf:
      *alg = dnnl_eltwise_gelu_erf;
      return true;
    case kPostGeluTanh:
      *alg = dnnl_eltwise_gelu_tanh;
      return true;
    case kPostSigmoid:
      *alg = dnnl_eltwise_logistic;
      return true;
    case kPostTanh:
      *alg = dnnl_eltwise_tanh;
      return true;
    case kPostSilu:
      *alg = dnnl_eltwise_swish;
      *alpha = 1;
      return true;
    // Later oneDNN versions read alpha and beta as x * clip(alpha * x + beta, 0, 1).
    case kPostHardswish:
      *alg = dnnl_eltwise_hardswish;
      *alpha = 1.0f / 6;
      *beta = 0.5f;
      return true;
    case kPostClamp:
      *alg = dnnl_eltwise_clip_v2;
      *alpha = op.alpha;
      *beta = op.beta;
      return true;
    case kPostLinear:
      *alg = dnnl_eltwise_linear;
      *alpha = op.alpha;
      *beta = op.beta;
      return true;
    default:
      return false;
  }
}

// The attributes: user scratchpad and the post-ops, binary operands shaped `full` (dense, the
// output's dims) or `channel` (1 everywhere but the channel dim).
dnnl_primitive_attr_t make_attr(const Epilogue& ep, int ndims, const int64_t* out_dims,
                                int channel_dim, Prim& p) {
  dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return nullptr;
  dnnl_post_ops_t po = nullptr;
  bool ok =
      dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
      dnnl_post_ops_create(&po) == dnnl_success;
  for (int32_t i = 0; ok && i < ep.count; ++i) {
    const PostOp& op = ep.ops[i];
    dnnl_alg_kind_t alg{};
    float alpha = 0, beta = 0;
    // oneDNN's clip mishandles infinite bounds (clamp_min, clamp_max): those calls fall back.
    if (op.kind == kPostClamp && !(std::isfinite(op.alpha) && std::isfinite(op.beta))) {
      ok = false;
      break;
    }
    if (eltwise_alg(op, &alg, &alpha, &beta)) {
      ok = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta) == dnnl_success;
      continue;
    }
    const bool channel =
        op.kind == kPostAddChannel || op.kind == kPostMulChannel || op.kind == kPostSubChannel;
    int64_t dims[DNNL_MAX_NDIMS] = {};
    for (int d = 0; d < ndims; ++d)
      dims[d] = channel && d != channel_dim ? 1 : out_dims[d];
    const int32_t b = p.num_binary++;
    p.binary_md[b] = dense_md(ndims, dims);
    p.binary_post[b] = i;
    p.binary_input[b] = static_cast<int32_t>(op.operand);
    dnnl_alg_kind_t binary = dnnl_binary_mul;
    if (op.kind == kPostAdd || op.kind == kPostAddChannel) binary = dnnl_binary_add;
    if (op.kind == kPostSub || op.kind == kPostSubChannel) binary = dnnl_binary_sub;
    ok = p.binary_md[b].ndims != 0 &&
         dnnl_post_ops_append_binary(po, binary, &p.binary_md[b]) == dnnl_success;
  }
  ok = ok && dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
  if (po != nullptr) dnnl_post_ops_destroy(po);
  if (!ok) {
    dnnl_primitive_attr_destroy(attr);
    return nullptr;
  }
  return attr;
}

// A reorder primitive between two layouts of one tensor, or null.
dnnl_primitive_t make_reorder(const dnnl_memory_desc_t& from, const dnnl_memory_desc_t& to) {
  dnnl_primitive_desc_t rpd = nullptr;
  if (dnnl_reorder_primitive_desc_create(&rpd, &from, engine(), &to, engine(), nullptr) !=
      dnnl_success) {
    return nullptr;
  }
  dnnl_primitive_t prim = nullptr;
  if (dnnl_primitive_create(&prim, rpd) != dnnl_success) prim = nullptr;
  dnnl_primitive_desc_destroy(rpd);
  return prim;
}

// Creates p's primitive from an op descriptor; leaves p.prim null when oneDNN has no
// implementation for it, or only a reference one (slower than the routines' own fallback).
void create(Prim& p, const_dnnl_op_desc_t desc, dnnl_primitive_attr_t attr, bool pack) {
  dnnl_primitive_desc_t pd = nullptr;
  if (attr == nullptr ||
      dnnl_primitive_desc_create(&pd, desc, attr, engine(), nullptr) != dnnl_success) {
    return;
  }
  const char* impl = nullptr;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  const dnnl_memory_desc_t* wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t* scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  bool ok = impl != nullptr && std::strncmp(impl, "ref", 3) != 0 && wei != nullptr;
  if (ok) {
    p.wei = *wei;
    if (scratch != nullptr) {
      p.scratch = *scratch;
      p.scratch_bytes = dnnl_memory_desc_get_size(scratch);
    }
    ok = dnnl_primitive_create(&p.prim, pd) == dnnl_success;
    if (!ok) p.prim = nullptr;
  }
  dnnl_primitive_desc_destroy(pd);
  if (!ok || !pack || dnnl_memory_desc_equal(&p.wei, &p.wei_user)) return;
  p.pack = make_reorder(p.wei_user, p.wei);
  if (p.pack == nullptr) {
    // No way to pack: without it the primitive cannot run.
    dnnl_primitive_destroy(p.prim);
    p.prim = nullptr;
  }
  p.packed_bytes = dnnl_memory_desc_get_size(&p.wei);
}

// The cached primitive for `key`, built by `build` on first use.
template <typename Build>
Prim* lookup(ExternState& st, Key&& key, Build build) {
  {
    std::shared_lock lock(st.mu);
    auto it = st.prims.find(key);
    if (it != st.prims.end()) return it->second.get();
  }
  auto made = std::make_unique<Prim>();
  build(*made);
  std::unique_lock lock(st.mu);
  auto [it, inserted] = st.prims.emplace(std::move(key), std::move(made));
  return it->second.get();  // a racing thread's entry wins; ours is dropped
}

struct Memories {
  dnnl_memory_t items[8 + kMaxPostOps] = {};
  int count = 0;
  dnnl_exec_arg_t args[8 + kMaxPostOps] = {};
  bool ok = true;
  void add(int arg, const dnnl_memory_desc_t& md, const void* data) {
    if (!ok) return;
    dnnl_memory_t m = nullptr;
    if (dnnl_memory_create(&m, &md, engine(), const_cast<void*>(data)) != dnnl_success) {
      ok = false;
      return;
    }
    items[count] = m;
    args[count] = {arg, m};
    ++count;
  }
  ~Memories() {
    for (int i = 0; i < count; ++i)
      dnnl_memory_destroy(items[i]);
  }
};

// The packed copy of the weights at `wei` (made on first use), or null when out of memory.
const void* packed_weights(ExternState& st, Prim& p, const void* wei, dnnl_stream_t stream) {
  std::lock_guard lock(p.mu);
  auto it = p.packed.find(wei);
  if (it != p.packed.end()) return it->second.get();
  AlignedBuffer buf = make_aligned(p.packed_bytes);
  if (!buf) return nullptr;
  Memories m;
  m.add(DNNL_ARG_FROM, p.wei_user, wei);
  m.add(DNNL_ARG_TO, p.wei, buf.get());
  if (!m.ok || stream == nullptr ||
      dnnl_primitive_execute(p.pack, stream, m.count, m.args) != dnnl_success ||
      dnnl_stream_wait(stream) != dnnl_success) {
    return nullptr;
  }
  ++st.packs;
  return p.packed.emplace(wei, std::move(buf)).first->second.get();
}

bool reorder(dnnl_primitive_t prim, const dnnl_memory_desc_t& from_md, const void* from,
             const dnnl_memory_desc_t& to_md, void* to, dnnl_stream_t stream) {
  Memories m;
  m.add(DNNL_ARG_FROM, from_md, from);
  m.add(DNNL_ARG_TO, to_md, to);
  return m.ok && stream != nullptr &&
         dnnl_primitive_execute(prim, stream, m.count, m.args) == dnnl_success &&
         dnnl_stream_wait(stream) == dnnl_success;
}

int run(const ExternArgs& args, const char* kind, ExternState& st, Prim& p, const void* src,
        const void* wei, const void* bias, void* dst) {
  // Primitives run in user scratchpad mode, so concurrent runs of one primitive never share a
  // scratchpad: each call's comes from its own lease.
  ScratchLease lease(args);
  auto s = static_cast<dnnl_stream_t>(lease.stream());
  if (p.pack != nullptr) {
    wei = packed_weights(st, p, wei, s);
    if (wei == nullptr) {
      error(args, kind, "out of memory packing weights");
      return -1;
    }
  }
  const size_t scratch_bytes = std::max<size_t>(p.scratch_bytes, 1);
  void* scratch = lease.reserve(3) ? lease.get(0, scratch_bytes) : nullptr;
  void* user_dst = dst;
  if (scratch != nullptr && p.src_in != nullptr) {
    void* copy = lease.get(1, p.src_bytes);
    if (copy == nullptr || !reorder(p.src_in, p.src_user, src, p.src, copy, s)) {
      error(args, kind, copy == nullptr ? "out of memory for the scratchpad"
                                        : "oneDNN reorder of the input failed");
      return -1;
    }
    src = copy;
  }
  if (scratch != nullptr && p.dst_out != nullptr) dst = lease.get(2, p.dst_bytes);
  if (scratch == nullptr || dst == nullptr) {
    error(args, kind, "out of memory for the scratchpad");
    return -1;
  }
  Memories m;
  m.add(DNNL_ARG_SRC, p.src, src);
  m.add(DNNL_ARG_WEIGHTS, p.wei, wei);
  if (p.has_bias) m.add(DNNL_ARG_BIAS, p.bias, bias);
  m.add(DNNL_ARG_DST, p.dst, dst);
  if (p.scratch_bytes > 0) m.add(DNNL_ARG_SCRATCHPAD, p.scratch, scratch);
  for (int32_t b = 0; b < p.num_binary; ++b) {
    m.add(DNNL_ARG_ATTR_MULTIPLE_POST_OP(p.binary_post[b]) | DNNL_ARG_SRC_1, p.binary_md[b],
          args.inputs[p.binary_input[b]]);
  }
  if (!m.ok || s == nullptr || dnnl_primitive_execute(p.prim, s, m.count, m.args) != dnnl_success ||
      dnnl_stream_wait(s) != dnnl_success) {
    error(args, kind, "oneDNN primitive failed");
    return -1;
  }
  if (p.dst_out != nullptr && !reorder(p.dst_out, p.dst, dst, p.dst_user, user_dst, s)) {
    error(args, kind, "oneDNN reorder of the output failed");
    return -1;
  }
  return 1;
}

// Strides of size-1 dims do not matter to the math; 1 keeps oneDNN's layout checks simple.
void tidy_strides(int ndims, const int64_t* dims, int64_t* strides) {
  for (int d = 0; d < ndims; ++d) {
    if (dims[d] == 1) strides[d] = 1;
  }
}

Key make_key(char kind, const ExternArgs& args, bool pack) {
  Key k;
  k.kind = kind;
  k.pack = pack;
  k.threads = std::max(args.num_threads, 1);
  k.ints.assign(args.ints, args.ints + args.num_ints);
  // Post-op parameters shape the primitive too.
  for (int32_t i = 0; i < args.num_floats; ++i) {
    int64_t bits = 0;
    std::memcpy(&bits, &args.floats[i], sizeof bits);
    k.ints.push_back(bits);
  }
  return k;
}

}  // namespace

namespace {
std::atomic<bool> dnnl_enabled{true};
}  // namespace

void set_dnnl_enabled(bool enabled) {
  dnnl_enabled.store(enabled);
}

int dnnl_gemm(const ExternArgs& args, const GemmShape& g, const Epilogue& ep) {
  if (!dnnl_enabled.load(std::memory_order_relaxed) || engine() == nullptr) return 0;
  // Broadcast inside an operand matrix (a zero stride on a dim of size > 1) has no oneDNN
  // layout; the bias broadcasts through dims of size 1.
  auto inner_ok = [](const int64_t* v, int64_t rows, int64_t cols) {
    return (rows == 1 || v[2] != 0) && (cols == 1 || v[3] != 0);
  };
  if (!inner_ok(g.a, g.m, g.k) || !inner_ok(g.b, g.k, g.n)) return 0;
  ExternState& st = args.state != nullptr ? *args.state : process_state();
  const bool pack = ep.weight_constant && args.state != nullptr;
  set_threads(args.num_threads);
  Prim* p = lookup(st, make_key('g', args, pack), [&](Prim& prim) {
    // The primitive's dims: [batch, batch2, rows, cols], without the batch dims it lacks.
    const int nd = g.batch2 > 1 ? 4 : g.batch > 1 ? 3 : 2;
    auto md = [&](int64_t b1, int64_t b2, int64_t rows, int64_t cols, const int64_t* v,
                  bool dense) {
      const int64_t all_dims[4] = {b1, b2, rows, cols};
      const int64_t all_strides[4] = {v[1], v[4], v[2], v[3]};
      // Which of [batch, batch2, rows, cols] the primitive has.
      static constexpr int kPick[3][4] = {{2, 3}, {0, 2, 3}, {0, 1, 2, 3}};
      int64_t dims[4] = {}, strides[4] = {};
      for (int d = 0; d < nd; ++d) {
        dims[d] = all_dims[kPick[nd - 2][d]];
        strides[d] = all_strides[kPick[nd - 2][d]];
      }
      if (dense) return dense_md(nd, dims);
      tidy_strides(nd, dims, strides);
      return plain_md(nd, dims, strides);
    };
    // Batch dims an operand broadcasts over (stride 0) have size 1 in its descriptor.
    auto b1 = [&](const int64_t* v) { return v[1] != 0 ? g.batch : int64_t{1}; };
    auto b2 = [&](const int64_t* v) { return v[4] != 0 ? g.batch2 : int64_t{1}; };
    prim.src = md(b1(g.a), b2(g.a), g.m, g.k, g.a, false);
    prim.wei_user = md(b1(g.b), b2(g.b), g.k, g.n, g.b, false);
    const int64_t none[5] = {};
    prim.dst = md(g.batch, g.batch2, g.m, g.n, none, true);
    if (pack) {
      const dnnl_memory_desc_t dense = md(b1(g.b), b2(g.b), g.k, g.n, none, true);
      prim.wei = any_md(nd, dense.dims);
    } else {
      prim.wei = prim.wei_user;
    }
    prim.has_bias = g.has_bias;
    if (g.has_bias) {
      prim.bias = md(b1(g.bias), b2(g.bias), g.bias[2] != 0 ? g.m : 1, g.bias[3] != 0 ? g.n : 1,
                     g.bias, false);
    }
    for (const auto* d : {&prim.src, &prim.wei_user, &prim.dst, &prim.wei}) {
      if (d->ndims == 0) return;
    }
    if (g.has_bias && prim.bias.ndims == 0) return;
    dnnl_matmul_desc_t desc{};
    if (dnnl_matmul_desc_init(&desc, &prim.src, &prim.wei, g.has_bias ? &prim.bias : nullptr,
                              &prim.dst) != dnnl_success) {
      return;
    }
    dnnl_primitive_attr_t attr = make_attr(ep, nd, prim.dst.dims, nd - 1, prim);
    create(prim, &desc, attr, pack);
    if (attr != nullptr) dnnl_primitive_attr_destroy(attr);
  });
  if (p->prim == nullptr) return 0;
  const auto* a = static_cast<const float*>(args.inputs[0]) + g.a[0];
  const auto* b = static_cast<const float*>(args.inputs[1]) + g.b[0];
  const float* bias = g.has_bias ? static_cast<const float*>(args.inputs[2]) + g.bias[0] : nullptr;
  return run(args, "gemm", st, *p, a, b, bias, args.outputs[0]);
}

int dnnl_conv(const ExternArgs& args, const ConvShape& c, const Epilogue& ep) {
  if (!dnnl_enabled.load(std::memory_order_relaxed) || engine() == nullptr) return 0;
  const int sp = static_cast<int>(c.spatial);
  int64_t pad_r[3] = {};
  for (int d = 0; d < sp; ++d) {
    const int64_t ext = (c.k[d] - 1) * c.dil[d] + 1;
    // The trailing padding oneDNN's size rule asks for; rounding in the rule lets it grow by
    // up to stride - 1, which keeps a negative one (unread trailing input) legal.
    const int64_t r = c.transposed ? (c.in[d] - 1) * c.stride[d] + ext - c.out[d] - c.pad[d]
                                   : (c.out[d] - 1) * c.stride[d] + ext - c.in[d] - c.pad[d];
    pad_r[d] = r < 0 && r + c.stride[d] - 1 >= 0 ? 0 : r;
    if (pad_r[d] < 0 || c.pad[d] < 0) return 0;
  }
  ExternState& st = args.state != nullptr ? *args.state : process_state();
  const bool pack = ep.weight_constant && args.state != nullptr;
  // Over plain layouts oneDNN convolves through im2col + GEMM, whose binary post-ops run
  // element by element (measured 20-50x slower than the plain loop): with tensor operands, the
  // post-ops run in the loop after the primitive instead.
  Epilogue in_primitive = ep;
  if (ep.has_operands()) in_primitive.count = 0;
  set_threads(args.num_threads);
  Prim* p = lookup(st, make_key('c', args, pack), [&](Prim& prim) {
    const int nd = 2 + sp;
    int64_t src_dims[5] = {c.batch, c.cin}, dst_dims[5] = {c.batch, c.cout};
    for (int d = 0; d < sp; ++d) {
      src_dims[2 + d] = c.in[d];
      dst_dims[2 + d] = c.out[d];
    }
    // The caller's layout: plain, or channels-last as the compiler planned it.
    prim.src_user = ep.channels_last ? channels_last_md(nd, src_dims) : dense_md(nd, src_dims);
    prim.dst_user = ep.channels_last ? channels_last_md(nd, dst_dims) : dense_md(nd, dst_dims);
    // Weights [G,] O/G, I/G, k... in oneDNN's order over PyTorch's memory: forward
    // [C_out, C_in/G, k...], transposed [C_in, C_out/G, k...].
    const int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
    int64_t kp = 1;
    for (int d = 0; d < sp; ++d)
      kp *= c.k[d];
    const bool grouped = c.groups > 1;
    const int wnd = nd + (grouped ? 1 : 0);
    int64_t wdims[6] = {}, wstrides[6] = {};
    int at = 0;
    if (grouped) {
      wdims[at] = c.groups;
      wstrides[at++] = cin_g * cout_g * kp;
    }
    wdims[at] = cout_g;
    wstrides[at++] = c.transposed ? kp : cin_g * kp;
    wdims[at] = cin_g;
    wstrides[at++] = c.transposed ? cout_g * kp : kp;
    int64_t inner = kp;
    for (int d = 0; d < sp; ++d) {
      inner /= std::max<int64_t>(c.k[d], 1);
      wdims[at] = c.k[d];
      wstrides[at++] = inner;
    }
    tidy_strides(wnd, wdims, wstrides);
    prim.wei_user = plain_md(wnd, wdims, wstrides);
    prim.has_bias = c.has_bias;
    if (c.has_bias) {
      const int64_t bdims[1] = {c.cout};
      prim.bias = dense_md(1, bdims);
    }
    dnnl_dims_t strides{}, dilates{}, pl{}, pr{};
    for (int d = 0; d < sp; ++d) {
      strides[d] = c.stride[d];
      dilates[d] = c.dil[d] - 1;
      pl[d] = c.pad[d];
      pr[d] = pad_r[d];
    }
    const dnnl_memory_desc_t* bias = c.has_bias ? &prim.bias : nullptr;
    auto attempt = [&](bool channels_last) {
      prim.src = channels_last ? channels_last_md(nd, src_dims) : prim.src_user;
      prim.dst = channels_last ? channels_last_md(nd, dst_dims) : prim.dst_user;
      prim.wei = pack ? any_md(wnd, wdims) : prim.wei_user;
      for (const auto* md : {&prim.src, &prim.wei_user, &prim.dst, &prim.wei}) {
        if (md->ndims == 0) return;
      }
      prim.num_binary = 0;
      dnnl_primitive_attr_t attr = make_attr(in_primitive, nd, dst_dims, 1, prim);
      if (c.transposed) {
        dnnl_deconvolution_desc_t desc{};
        if (dnnl_dilated_deconvolution_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_deconvolution_direct, &prim.src, &prim.wei,
                bias, &prim.dst, strides, dilates, pl, pr) == dnnl_success) {
          create(prim, &desc, attr, pack);
        }
      } else {
        dnnl_convolution_desc_t desc{};
        if (dnnl_dilated_convolution_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_convolution_direct, &prim.src, &prim.wei, bias,
                &prim.dst, strides, dilates, pl, pr) == dnnl_success) {
          create(prim, &desc, attr, pack);
        }
      }
      if (attr != nullptr) dnnl_primitive_attr_destroy(attr);
      if (prim.prim == nullptr || !channels_last || ep.channels_last) return;
      prim.src_in = make_reorder(prim.src_user, prim.src);
      prim.dst_out = make_reorder(prim.dst, prim.dst_user);
      prim.src_bytes = dnnl_memory_desc_get_size(&prim.src);
      prim.dst_bytes = dnnl_memory_desc_get_size(&prim.dst);
      if (prim.src_in == nullptr || prim.dst_out == nullptr) prim.reset();
    };
    // Over plain NC<spatial> activations oneDNN convolves through im2col + GEMM; its direct
    // kernels take channels-last. Copying the activations to channels-last and back is cheaper
    // than the difference (measured 1.3-1.8x for resnet18's convolutions at batch 1 and 8, and
    // depthwise ones have no fast plain kernel at all).
    if (!c.transposed || ep.channels_last) attempt(true);
    // Depthwise convolutions over plain layouts only get per-group GEMMs: the routine's own
    // direct loop is faster.
    const bool depthwise = !c.transposed && c.groups > 1 && c.cin == c.groups;
    if (prim.prim == nullptr && !depthwise) attempt(false);
  });
  if (p->prim == nullptr) return 0;
  const int r = run(args, "conv", st, *p, args.inputs[0], args.inputs[1],
                    c.has_bias ? args.inputs[2] : nullptr, args.outputs[0]);
  if (r > 0 && in_primitive.count != ep.count) {
    int64_t plane = 1;
    for (int d = 0; d < sp; ++d)
      plane *= c.out[d];
    auto* y = static_cast<float*>(args.outputs[0]);
    if (ep.channels_last) {
      apply_post_ops(args, ep, y, c.batch * plane, c.cout, 1);
    } else {
      apply_post_ops(args, ep, y, c.batch, c.cout, plane);
    }
  }
  return r;
}

}  // namespace ext

}  // namespace kiln::rt
