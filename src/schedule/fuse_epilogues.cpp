#include "schedule/fuse_epilogues.h"

#include <cmath>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "externs.h"
#include "lower/lowering.h"
#include "schedule/program_uses.h"

namespace kiln::schedule {

namespace {

using lower::Body;
using lower::BufferId;
using lower::ScalarNode;
using lower::ScalarOp;

constexpr size_t kMaxPostOps = 8;  // runtime/extern_dnnl.h

struct PostOp {
  int64_t kind = 0;
  double alpha = 0, beta = 0;
  BufferId operand = -1;
};

// Where a gemm or conv call's epilogue section starts, and its channel layout: the output is
// [outer, channels, inner] with channels = N (gemm) or C_out (conv).
struct CallShape {
  size_t int_at = 0, float_at = 0;
  sym::Expr channels, inner;
};

std::optional<CallShape> call_shape(const lower::ExternCall& call) {
  const auto& p = call.int_params;
  if (p.empty() || p[0] != sym::Expr(static_cast<int64_t>(ir::DType::kFloat32))) return {};
  CallShape s;
  if (call.kind == "gemm" && p.size() >= 20) {
    s = {18, 2, p[3], sym::Expr(1)};
  } else if (call.kind == "conv" && p.size() >= 8) {
    auto spatial = p[1].as_const();
    if (!spatial || *spatial < 1 || *spatial > 3) return {};
    s.int_at = 8 + 6 * static_cast<size_t>(*spatial);
    s.float_at = 0;
    s.channels = p[4];
    s.inner = sym::Expr(1);
    // Channels-last outputs are [N * spatial..., C_out]: channels innermost, as for gemm.
    auto flags = p.size() > s.int_at ? p[s.int_at].as_const() : std::nullopt;
    const bool channels_last = flags && (*flags & rt::kEpilogueChannelsLast) != 0;
    for (int64_t d = 0; d < *spatial && !channels_last; ++d)
      s.inner = s.inner * p[9 + 6 * static_cast<size_t>(d)];
  } else {
    return {};
  }
  if (p.size() < s.int_at + 2 || call.float_params.size() < s.float_at) return {};
  auto count = p[s.int_at + 1].as_const();
  if (!count || p.size() != s.int_at + 2 + 2 * static_cast<size_t>(*count)) return {};
  return s;
}

// Whether two expressions are equal. Canonical forms of products of symbolic sums can depend on
// the order the expressions were built in, so structural inequality falls back to comparing
// values at fixed pseudo-random points (positive symbols, loop variables included).
bool same(const sym::Expr& a, const sym::Expr& b) {
  if (a == b) return true;
  std::set<std::string> names = a.free_symbols();
  for (const std::string& n : b.free_symbols())
    names.insert(n);
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int64_t> value(1, 97);
  try {
    for (int trial = 0; trial < 8; ++trial) {
      std::unordered_map<std::string, int64_t> at;
      for (const std::string& n : names)
        at[n] = value(rng);
      if (a.eval(at) != b.eval(at)) return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool is_const(const Body& body, int32_t n, double* value) {
  if (n < 0) return false;  // other_of found no operand
  const ScalarNode& node = body.nodes[static_cast<size_t>(n)];
  if (node.op != ScalarOp::kConst) return false;
  *value = ir::is_floating(node.dtype) ? node.fvalue : static_cast<double>(node.ivalue);
  return true;
}

// Constants of f32 bodies are rounded to f32: `want` matches within f32 precision.
bool is_const_near(const Body& body, int32_t n, double want) {
  double v = 0;
  return is_const(body, n, &v) && std::abs(v - want) <= 1e-6 * std::max(1.0, std::abs(want));
}

// The operand of a commutative binary node n that is not `x`, or -1.
int32_t other_of(const ScalarNode& n, int32_t x) {
  if (n.a == x) return n.b;
  if (n.b == x) return n.a;
  return -1;
}

const ScalarNode& at(const Body& body, int32_t n) {
  return body.nodes[static_cast<size_t>(n)];
}

bool is_op(const Body& body, int32_t n, ScalarOp op) {
  return n >= 0 && at(body, n).op == op;
}

// x * c or c * x for a constant c close to `want`: node n's other operand.
bool scaled(const Body& body, int32_t n, int32_t x, double want) {
  return is_op(body, n, ScalarOp::kMul) && is_const_near(body, other_of(at(body, n), x), want);
}

// Matches node n as one post-op applied to node x. Loads of other buffers are checked by the
// caller (through `load`).
bool match(const Body& body, int32_t n, int32_t x, PostOp* op, int32_t* load) {
  const ScalarNode& node = at(body, n);
  if (node.dtype != ir::DType::kFloat32) return false;
  *load = -1;
  double c = 0;
  switch (node.op) {
    case ScalarOp::kSigmoid:
      op->kind = rt::kPostSigmoid;
      return node.a == x;
    case ScalarOp::kTanh:
      op->kind = rt::kPostTanh;
      return node.a == x;
    case ScalarOp::kWhere: {
      // relu: x < 0 ? 0 : x
      if (is_op(body, node.a, ScalarOp::kLt) && at(body, node.a).a == x &&
          is_const_near(body, at(body, node.a).b, 0) && is_const_near(body, node.b, 0) &&
          node.c == x) {
        op->kind = rt::kPostRelu;
        return true;
      }
      // leaky_relu: x > 0 ? x : x * slope; elu: x > 0 ? x : expm1(x) * alpha
      if (!is_op(body, node.a, ScalarOp::kGt) || at(body, node.a).a != x ||
          !is_const_near(body, at(body, node.a).b, 0) || node.b != x ||
          !is_op(body, node.c, ScalarOp::kMul)) {
        return false;
      }
      const ScalarNode& neg = at(body, node.c);
      if (is_const(body, other_of(neg, x), &c)) {
        op->kind = rt::kPostLeakyRelu;
        op->alpha = c;
        return true;
      }
      for (int32_t e : {neg.a, neg.b}) {
        if (is_op(body, e, ScalarOp::kExpm1) && at(body, e).a == x &&
            is_const(body, e == neg.a ? neg.b : neg.a, &c)) {
          op->kind = rt::kPostElu;
          op->alpha = c;
          return true;
        }
      }
      return false;
    }
    case ScalarOp::kMax:
      if (!is_const(body, other_of(node, x), &c) || std::isnan(c)) return false;
      op->kind = rt::kPostClamp;
      op->alpha = c;
      op->beta = INFINITY;
      return true;
    case ScalarOp::kMin:
      if (!is_const(body, other_of(node, x), &c) || std::isnan(c)) return false;
      op->kind = rt::kPostClamp;
      op->alpha = -INFINITY;
      op->beta = c;
      return true;
    case ScalarOp::kSub:
      if (node.a != x) return false;
      if (is_op(body, node.b, ScalarOp::kLoad)) {
        op->kind = rt::kPostSub;
        *load = node.b;
        return true;
      }
      if (!is_const(body, node.b, &c)) return false;
      op->kind = rt::kPostLinear;
      op->alpha = 1;
      op->beta = -c;
      return true;
    case ScalarOp::kAdd:
    case ScalarOp::kMul: {
      const bool add = node.op == ScalarOp::kAdd;
      const int32_t y = other_of(node, x);
      if (y < 0) break;
      if (is_const(body, y, &c)) {
        op->kind = rt::kPostLinear;
        op->alpha = add ? 1 : c;
        op->beta = add ? c : 0;
        return true;
      }
      if (is_op(body, y, ScalarOp::kLoad)) {
        op->kind = add ? rt::kPostAdd : rt::kPostMul;
        *load = y;
        return true;
      }
      if (!add && is_op(body, y, ScalarOp::kSigmoid) && at(body, y).a == x) {
        op->kind = rt::kPostSilu;
        return true;
      }
      break;
    }
    default:
      return false;
  }
  if (node.op != ScalarOp::kMul) return false;
  // hardswish: x * (min(max(x + 3, 0), 6) / 6)
  for (int32_t g : {node.a, node.b}) {
    if (other_of(node, g) != x || !is_op(body, g, ScalarOp::kDiv) ||
        !is_const_near(body, at(body, g).b, 6)) {
      continue;
    }
    const int32_t mn = at(body, g).a;
    if (!is_op(body, mn, ScalarOp::kMin)) continue;
    for (int32_t mx : {at(body, mn).a, at(body, mn).b}) {
      if (!is_op(body, mx, ScalarOp::kMax) || !is_const_near(body, other_of(at(body, mn), mx), 6)) {
        continue;
      }
      for (int32_t sum : {at(body, mx).a, at(body, mx).b}) {
        if (is_op(body, sum, ScalarOp::kAdd) &&
            is_const_near(body, other_of(at(body, mx), sum), 0) &&
            is_const_near(body, other_of(at(body, sum), x), 3)) {
          op->kind = rt::kPostHardswish;
          return true;
        }
      }
    }
  }
  // gelu: (x * 0.5) * (inner + 1), inner erf(x * (1 / sqrt 2)) or
  // tanh((x + x * x * x * 0.044715) * sqrt(2 / pi))
  for (int32_t half : {node.a, node.b}) {
    const int32_t one_plus = half == node.a ? node.b : node.a;
    if (!scaled(body, half, x, 0.5) || !is_op(body, one_plus, ScalarOp::kAdd)) continue;
    const ScalarNode& sum = at(body, one_plus);
    for (int32_t inner : {sum.a, sum.b}) {
      if (!is_const_near(body, other_of(sum, inner), 1)) continue;
      const ScalarNode& f = at(body, inner);
      if (f.op == ScalarOp::kErf && scaled(body, f.a, x, 1 / std::numbers::sqrt2)) {
        op->kind = rt::kPostGeluErf;
        return true;
      }
      if (f.op != ScalarOp::kTanh || !is_op(body, f.a, ScalarOp::kMul)) continue;
      const ScalarNode& arg = at(body, f.a);
      for (int32_t poly : {arg.a, arg.b}) {
        if (!is_const_near(body, other_of(arg, poly), std::sqrt(2 / std::numbers::pi)) ||
            !is_op(body, poly, ScalarOp::kAdd)) {
          continue;
        }
        const int32_t cube_scaled = other_of(at(body, poly), x);
        if (cube_scaled < 0 || !is_op(body, cube_scaled, ScalarOp::kMul)) continue;
        const ScalarNode& cs = at(body, cube_scaled);
        for (int32_t cube : {cs.a, cs.b}) {
          if (!is_const_near(body, other_of(cs, cube), 0.044715) ||
              !is_op(body, cube, ScalarOp::kMul)) {
            continue;
          }
          const int32_t sq = other_of(at(body, cube), x);
          if (is_op(body, sq, ScalarOp::kMul) && at(body, sq).a == x && at(body, sq).b == x) {
            op->kind = rt::kPostGeluTanh;
            return true;
          }
        }
      }
    }
  }
  return false;
}

// The kernel's loop variables x0.. and its flat (row-major) position.
struct Space {
  lower::Index xs;
  sym::Expr flat;
};

// Whether `index` reads the channel of the flat position: x_d where the ranges after d hold
// `inner` elements and range d is `channels`.
bool is_channel_index(const lower::Kernel& k, const Space& s, const sym::Expr& index,
                      const CallShape& shape) {
  sym::Expr after(1);
  for (size_t d = k.ranges.size(); d-- > 0;) {
    if (same(after, shape.inner) && same(k.ranges[d], shape.channels) && index == s.xs[d]) {
      return true;
    }
    after = after * k.ranges[d];
  }
  return same(index, sym::mod(sym::floor_div(s.flat, shape.inner), shape.channels));
}

// The post-ops kernel k applies to buffer r (the call's output), or nothing when it does more.
std::optional<std::vector<PostOp>> epilogue_of(const lower::Program& program,
                                               const lower::Kernel& k, BufferId r,
                                               const CallShape& shape, BufferId* stored) {
  if (k.loops.size() != 1) return {};
  const lower::Loop& loop = k.loops[0];
  if (loop.reduce || !loop.ranges.empty() || loop.stores.size() != 1) return {};
  const lower::Store& st = loop.stores[0];
  const lower::Buffer& out = program.buffers[static_cast<size_t>(st.buffer)];
  const lower::Buffer& src = program.buffers[static_cast<size_t>(r)];
  if (out.dtype != ir::DType::kFloat32 || out.kind == lower::BufferKind::kInput ||
      out.kind == lower::BufferKind::kConstant || st.buffer == r) {
    return {};
  }
  Space s;
  sym::Expr count(1);
  for (size_t d = 0; d < k.ranges.size(); ++d) {
    s.xs.push_back(sym::Expr::symbol("x" + std::to_string(d)));
    count = count * k.ranges[d];
  }
  s.flat = lower::ravel(s.xs, k.ranges);
  if (!same(st.index, s.flat) || !same(count, src.numel()) || !same(out.numel(), src.numel())) {
    return {};
  }
  const Body& body = loop.body;
  int32_t cur = -1;
  for (size_t i = 0; i < body.nodes.size(); ++i) {
    const ScalarNode& n = body.nodes[i];
    if (n.op == ScalarOp::kIndirect || n.op == ScalarOp::kLoopResult ||
        n.op == ScalarOp::kLoopIndex) {
      return {};
    }
    if (n.op == ScalarOp::kLoad && n.buffer == st.buffer) return {};  // reads its own output
    if (n.op == ScalarOp::kLoad && n.buffer == r) {
      if (cur >= 0 || !same(n.index, s.flat) || n.dtype != ir::DType::kFloat32) return {};
      cur = static_cast<int32_t>(i);
    }
  }
  if (cur < 0) return {};
  std::vector<int32_t> operand_loads;
  std::vector<PostOp> ops;
  while (cur != st.value) {
    // The outermost node that applies one post-op to cur: inner nodes of a composite op
    // (gelu's x * 0.5) match smaller ops, the composite's root comes last.
    bool found = false;
    for (auto n = static_cast<int32_t>(body.nodes.size()); n-- > cur + 1;) {
      PostOp op;
      int32_t load = -1;
      if (!match(body, n, cur, &op, &load)) continue;
      if (load >= 0) {
        const ScalarNode& l = at(body, load);
        const lower::Buffer& b = program.buffers[static_cast<size_t>(l.buffer)];
        if (b.dtype != ir::DType::kFloat32 || l.dtype != ir::DType::kFloat32 || l.buffer == r) {
          continue;
        }
        if (same(l.index, s.flat) && same(b.numel(), src.numel())) {
        } else if (is_channel_index(k, s, l.index, shape) && same(b.numel(), shape.channels)) {
          op.kind = op.kind == rt::kPostAdd   ? rt::kPostAddChannel
                    : op.kind == rt::kPostSub ? rt::kPostSubChannel
                                              : rt::kPostMulChannel;
        } else {
          continue;
        }
        op.operand = l.buffer;
        operand_loads.push_back(load);
      }
      // max(x, lo) then min(., hi) is one clamp.
      if (op.kind == rt::kPostClamp && !ops.empty() && ops.back().kind == rt::kPostClamp &&
          std::isinf(ops.back().beta) && std::isinf(op.alpha)) {
        ops.back().beta = op.beta;
      } else {
        ops.push_back(op);
      }
      cur = n;
      found = true;
      break;
    }
    if (!found || ops.size() > kMaxPostOps) return {};
  }
  if (ops.empty()) return {};
  // Every load is the call's output or a matched operand: nothing else feeds the value.
  for (size_t i = 0; i < body.nodes.size(); ++i) {
    const ScalarNode& n = body.nodes[i];
    if (n.op != ScalarOp::kLoad || n.buffer == r) continue;
    bool matched = false;
    for (int32_t l : operand_loads)
      matched = matched || l == static_cast<int32_t>(i);
    if (!matched) return {};
  }
  *stored = st.buffer;
  return ops;
}

bool touches(const BufferUses& u, BufferId b, bool reads, bool writes) {
  auto has = [b](const std::vector<BufferId>& v) {
    for (BufferId x : v) {
      if (x == b) return true;
    }
    return false;
  };
  return (reads && has(u.reads)) || (writes && has(u.writes));
}

// Tries to fold the one reader of call step s's output into it.
bool fuse_at(lower::Program& program, size_t s) {
  lower::ExternCall& call = *program.steps[s].call;
  const auto shape = call_shape(call);
  if (!shape || call.outputs.size() != 1) return false;
  const BufferId r = call.outputs[0];
  if (program.buffers[static_cast<size_t>(r)].kind != lower::BufferKind::kTemp) return false;
  for (const auto& o : program.outputs) {
    if (o.buffer == r) return false;
  }
  const StepUses uses = step_uses(program);
  size_t reader = 0;
  int readers = 0;
  for (size_t t = 0; t < uses.size(); ++t) {
    if (t != s && touches(uses[t], r, true, true)) {
      reader = t;
      ++readers;
    }
  }
  if (readers != 1 || reader < s || !program.steps[reader].kernel) return false;
  BufferId stored = -1;
  auto ops = epilogue_of(program, *program.steps[reader].kernel, r, *shape, &stored);
  if (!ops) return false;
  const auto existing = *call.int_params[shape->int_at + 1].as_const();
  if (static_cast<size_t>(existing) + ops->size() > kMaxPostOps) return false;
  // The kernel's work moves up to step s: its operands must be ready there, and its output
  // untouched in between.
  for (size_t t = s + 1; t < reader; ++t) {
    if (touches(uses[t], stored, true, true)) return false;
    for (const PostOp& op : *ops) {
      if (op.operand >= 0 && touches(uses[t], op.operand, false, true)) return false;
    }
  }
  auto& p = call.int_params;
  p[shape->int_at + 1] = sym::Expr(existing + static_cast<int64_t>(ops->size()));
  for (const PostOp& op : *ops) {
    int64_t input = -1;
    if (op.operand >= 0) {
      input = static_cast<int64_t>(call.inputs.size());
      call.inputs.push_back(op.operand);
    }
    p.insert(p.end(), {sym::Expr(op.kind), sym::Expr(input)});
    call.float_params.insert(call.float_params.end(), {op.alpha, op.beta});
  }
  call.outputs = {stored};
  call.comment += " + " + program.steps[reader].kernel->comment;
  program.steps.erase(program.steps.begin() + static_cast<std::ptrdiff_t>(reader));
  return true;
}

}  // namespace

int fuse_epilogues(lower::Program& program) {
  int fused = 0;
  for (size_t s = 0; s < program.steps.size(); ++s) {
    if (!program.steps[s].call) continue;
    // A call can absorb several kernels in a row (conv, then add, then relu).
    while (fuse_at(program, s))
      ++fused;
  }
  return fused;
}

}  // namespace kiln::schedule
