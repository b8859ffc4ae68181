// The kernel-IR evaluator's kernels: each is checked and compiled once per run (index
// expressions over variable slots, operands resolved), then interpreted point by point.
#include <algorithm>
#include <cmath>
#include <map>

#include "lower/evaluate_internal.h"
#include "sym/checked.h"
#include "util/error.h"

namespace kiln::lower::eval {
namespace {

using ir::DType;

struct CStore {
  int32_t buffer = -1;
  IndexCode index;
  int32_t value = -1;
  bool floating = false;
};

struct CLoop {
  std::vector<IndexCode> ranges;
  int32_t var_base = 0;
  std::optional<ReduceOp> reduce;
  Kind accumulate;
  std::vector<CNode> nodes;
  int32_t value = -1;
  std::vector<CStore> stores;
};

struct CKernel {
  std::vector<int64_t> ranges;
  std::vector<CLoop> loops;
  int32_t num_vars = 0;
  size_t stack_depth = 1;
};

// A reduction loop's result: the combined value and, for arg reductions, its position.
struct LoopResult {
  Val value{};
  bool floating = false;
  int64_t index = -1;
  bool seen = false;
};

bool is_arg(ReduceOp op) {
  return op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
}

int32_t node_ref(int32_t operand, size_t node, const char* which) {
  if (operand < 0 || static_cast<size_t>(operand) >= node) {
    throw error("operand ", which, " = ", operand, " is not an earlier node");
  }
  return operand;
}

// The number after `from` in "<prefix><digits>", read up to `to`; -1 for another form.
int64_t numbered(const std::string& name, size_t from, size_t to) {
  if (from >= to || to > name.size()) return -1;
  int64_t v = 0;
  for (size_t k = from; k < to; ++k) {
    if (name[k] < '0' || name[k] > '9' || v > 1'000'000'000) return -1;
    v = v * 10 + (name[k] - '0');
  }
  return v;
}

class KernelCompiler {
 public:
  KernelCompiler(const Program& program, const SymbolValues& symbols)
      : program_(program), symbols_(symbols) {}

  CKernel compile(const Kernel& k) {
    CKernel out;
    IndexCompiler outer(symbols_, [](const std::string&) { return -1; });
    for (const sym::Expr& r : k.ranges) {
      out.ranges.push_back(outer.compile(r).constant);
      if (out.ranges.back() < 0) throw error("range ", r.str(), " is negative");
    }
    out.num_vars = static_cast<int32_t>(k.ranges.size());
    for (size_t l = 0; l < k.loops.size(); ++l) {
      try {
        out.loops.push_back(compile_loop(k, out, l));
      } catch (const Error& e) {
        throw error("loop ", l, ": ", e.what());
      }
    }
    return out;
  }

 private:
  CLoop compile_loop(const Kernel& k, CKernel& kernel, size_t l) {
    const Loop& loop = k.loops[l];
    CLoop c;
    c.var_base = kernel.num_vars;
    kernel.num_vars += static_cast<int32_t>(loop.ranges.size());
    // One slot per kIndirect node of this body, for its variable t<N>.
    std::map<int64_t, int32_t> indirect_slots;
    for (size_t n = 0; n < loop.body.nodes.size(); ++n) {
      if (loop.body.nodes[n].op == ScalarOp::kIndirect) {
        indirect_slots[static_cast<int64_t>(n)] = kernel.num_vars++;
      }
    }
    size_t visible = 0;  // t<N> may be used by nodes after N
    auto slot_of = [&](const std::string& name) -> int32_t {
      if (name.size() < 2) return -1;
      if (name[0] == 'x') {
        int64_t d = numbered(name, 1, name.size());
        if (d >= 0 && d < static_cast<int64_t>(k.ranges.size())) return static_cast<int32_t>(d);
      } else if (name[0] == 'r') {
        size_t us = name.find('_');
        int64_t loop_of = numbered(name, 1, us);
        int64_t d = us == std::string::npos ? -1 : numbered(name, us + 1, name.size());
        if (loop_of >= 0 && d >= 0) {
          if (loop_of != static_cast<int64_t>(l) || d >= static_cast<int64_t>(loop.ranges.size())) {
            throw error("variable ", name, " is not a variable of loop ", l);
          }
          return c.var_base + static_cast<int32_t>(d);
        }
      } else if (name[0] == 't') {
        int64_t n = numbered(name, 1, name.size());
        if (n >= 0) {
          auto it = indirect_slots.find(n);
          if (it == indirect_slots.end() || static_cast<size_t>(n) >= visible) {
            throw error("variable ", name, " is not an earlier indirect node of the body");
          }
          return it->second;
        }
      }
      return -1;
    };
    IndexCompiler ic(symbols_, slot_of);
    auto compile_index = [&](const sym::Expr& e) {
      IndexCode code = ic.compile(e);
      kernel.stack_depth = std::max(kernel.stack_depth, code.depth);
      return code;
    };
    for (const sym::Expr& r : loop.ranges)
      c.ranges.push_back(compile_index(r));
    for (size_t n = 0; n < loop.body.nodes.size(); ++n) {
      visible = n;
      try {
        c.nodes.push_back(compile_node(loop.body.nodes, n, compile_index, kernel, l));
      } catch (const Error& e) {
        throw error("node ", n, " (", scalar_op_name(loop.body.nodes[n].op), "): ", e.what());
      }
      if (c.nodes.back().op == ScalarOp::kIndirect) {
        c.nodes.back().slot = indirect_slots.at(static_cast<int64_t>(n));
      }
    }
    visible = loop.body.nodes.size();
    const size_t count = c.nodes.size();
    if (loop.reduce) {
      c.reduce = loop.reduce;
      c.accumulate = kind_of(loop.accumulate, "the accumulator");
      c.value = node_ref(loop.value, count, "value");
      if (!loop.stores.empty()) throw error("a reduction loop has stores");
    }
    for (const Store& s : loop.stores) {
      CStore cs;
      cs.buffer = checked_buffer(s.buffer);
      const Buffer& b = program_.buffers[static_cast<size_t>(s.buffer)];
      if (b.kind == BufferKind::kInput || b.kind == BufferKind::kConstant) {
        throw error("a store writes to ", b.name, ", an input or constant buffer");
      }
      cs.index = compile_index(s.index);
      cs.value = node_ref(s.value, count, "value");
      cs.floating = c.nodes[static_cast<size_t>(cs.value)].kind.floating;
      c.stores.push_back(std::move(cs));
    }
    return c;
  }

  template <typename CompileIndex>
  CNode compile_node(const std::vector<ScalarNode>& nodes, size_t n, CompileIndex& compile_index,
                     const CKernel& kernel, size_t l) {
    const ScalarNode& s = nodes[n];
    CNode c;
    c.op = s.op;
    c.kind = kind_of(s.dtype, "the node");
    auto operand = [&](int32_t v, const char* which, bool& floating) {
      int32_t r = node_ref(v, n, which);
      floating = ir::is_floating(nodes[static_cast<size_t>(r)].dtype);
      return r;
    };
    const bool ternary = s.op == ScalarOp::kWhere;
    if (s.op == ScalarOp::kCast || s.op == ScalarOp::kIndirect || is_unary(s.op) ||
        is_binary(s.op) || ternary) {
      c.a = operand(s.a, "a", c.fa);
    }
    if (is_binary(s.op) || ternary) c.b = operand(s.b, "b", c.fb);
    if (ternary) c.c = operand(s.c, "c", c.fc);
    if (floating_only(s.op) && !c.kind.floating) {
      throw error("needs a floating dtype, not ", ir::dtype_name(s.dtype));
    }
    if (integer_only(s.op) && c.kind.floating) {
      throw error("needs an integer or bool dtype, not ", ir::dtype_name(s.dtype));
    }
    if (bool_result(s.op) && s.dtype != DType::kBool) {
      throw error("gives bool, but the node's dtype is ", ir::dtype_name(s.dtype));
    }
    switch (s.op) {
      case ScalarOp::kLoad:
        c.buffer = checked_buffer(s.buffer);
        c.index = compile_index(s.index);
        break;
      case ScalarOp::kConst:
        c.constant = c.kind.floating ? Val{.f = round_as(c.kind, s.fvalue)}
                                     : Val{.i = wrap_as(c.kind, s.ivalue)};
        break;
      case ScalarOp::kIndex:
        c.index = compile_index(s.index);
        break;
      case ScalarOp::kIndirect:
        if (c.fa || c.kind.floating) throw error("an indirect index must be an integer");
        c.index = compile_index(s.index);
        break;
      case ScalarOp::kLoopResult:
      case ScalarOp::kLoopIndex: {
        if (s.ivalue < 0 || static_cast<size_t>(s.ivalue) >= l) {
          throw error("loop ", s.ivalue, " is not an earlier loop of the kernel");
        }
        const CLoop& from = kernel.loops[static_cast<size_t>(s.ivalue)];
        if (!from.reduce) throw error("loop ", s.ivalue, " is not a reduction");
        if (s.op == ScalarOp::kLoopIndex && !is_arg(*from.reduce)) {
          throw error("loop ", s.ivalue, " is not an arg reduction");
        }
        c.loop = static_cast<int32_t>(s.ivalue);
        break;
      }
      default:
        break;
    }
    return c;
  }

  int32_t checked_buffer(BufferId id) const {
    if (id < 0 || static_cast<size_t>(id) >= program_.buffers.size()) {
      throw error("buffer id ", id, " is not a buffer of the program");
    }
    return id;
  }

  const Program& program_;
  const SymbolValues& symbols_;
};

// ---- Running -------------------------------------------------------------------------------

void init(LoopResult& r, ReduceOp op, const Kind& acc) {
  r = LoopResult{};
  r.floating = acc.floating;
  const bool one = op == ReduceOp::kProd || op == ReduceOp::kAll;
  if (acc.floating) {
    r.value.f = one ? 1.0 : 0.0;
  } else {
    r.value.i = one ? 1 : 0;
  }
}

void combine(LoopResult& r, ReduceOp op, const Kind& acc, Val x, int64_t pos) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kProd: {
      const bool sum = op == ReduceOp::kSum;
      if (acc.floating) {
        r.value.f = round_as(acc, sum ? r.value.f + x.f : r.value.f * x.f);
      } else {
        auto a = static_cast<uint64_t>(r.value.i), b = static_cast<uint64_t>(x.i);
        r.value.i = wrap_as(acc, static_cast<int64_t>(sum ? a + b : a * b));
      }
      break;
    }
    case ReduceOp::kAny:
    case ReduceOp::kAll: {
      const bool t = acc.floating ? x.f != 0 : x.i != 0;
      const bool cur = acc.floating ? r.value.f != 0 : r.value.i != 0;
      const bool v = op == ReduceOp::kAny ? cur || t : cur && t;
      if (acc.floating) {
        r.value.f = v;
      } else {
        r.value.i = v;
      }
      break;
    }
    default: {
      // max, min and the arg forms: the first extreme wins; a NaN beats every number.
      const bool max = op == ReduceOp::kMax || op == ReduceOp::kArgMax;
      bool better;
      if (!r.seen) {
        better = true;
      } else if (acc.floating) {
        if (std::isnan(r.value.f)) {
          better = false;
        } else {
          better = std::isnan(x.f) || (max ? x.f > r.value.f : x.f < r.value.f);
        }
      } else {
        better = max ? x.i > r.value.i : x.i < r.value.i;
      }
      if (better) {
        r.value = x;
        r.index = pos;
      }
      break;
    }
  }
  r.seen = true;
}

// Calls fn(p) at every point of the row-major space `sizes`, p counting from 0, with vars[0..n)
// holding the point's coordinates.
template <typename Fn>
void for_each_point(const int64_t* sizes, size_t n, int64_t* vars, Fn&& fn) {
  int64_t total = 1;
  for (size_t d = 0; d < n; ++d)
    total = sizes[d] == 0 ? 0 : sym::detail::checked_mul(total, sizes[d]);
  std::fill(vars, vars + n, 0);
  for (int64_t p = 0; p < total; ++p) {
    fn(p);
    for (size_t d = n; d-- > 0;) {
      if (++vars[d] < sizes[d]) break;
      vars[d] = 0;
    }
  }
}

class KernelRunner {
 public:
  KernelRunner(const CKernel& k, std::vector<Storage>& storage)
      : k_(k),
        storage_(storage),
        vars_(static_cast<size_t>(std::max(k.num_vars, 1)), 0),
        stack_(k.stack_depth + 1, 0),
        results_(k.loops.size()) {
    size_t most = 1;
    for (const CLoop& l : k.loops) {
      most = std::max(most, l.nodes.size());
      sizes_.emplace_back(l.ranges.size() + 1);
    }
    vals_.resize(most);
  }

  void run() {
    for_each_point(k_.ranges.data(), k_.ranges.size(), vars_.data(), [&](int64_t) {
      for (size_t l = 0; l < k_.loops.size(); ++l) {
        try {
          run_loop(l);
        } catch (const Error& e) {
          throw error("loop ", l, " at ", point(), ": ", e.what());
        }
      }
    });
  }

 private:
  std::string point() const {
    std::string s = "(";
    for (size_t d = 0; d < k_.ranges.size(); ++d)
      s += (d ? ", x" : "x") + std::to_string(d) + "=" + std::to_string(vars_[d]);
    return s + ")";
  }

  void run_loop(size_t l) {
    const CLoop& loop = k_.loops[l];
    int64_t* sizes = sizes_[l].data();
    const IndexCode* ranges = loop.ranges.data();
    for (size_t d = 0, rank = loop.ranges.size(); d < rank; ++d) {
      sizes[d] = ranges[d].eval(vars_.data(), stack_.data());
      if (sizes[d] < 0) throw error("range ", ranges[d].text, " is ", sizes[d]);
    }
    LoopResult& result = results_[l];
    const bool reducing = loop.reduce.has_value();
    const ReduceOp op = loop.reduce.value_or(ReduceOp::kSum);
    if (reducing) init(result, op, loop.accumulate);
    const bool value_floating =
        reducing && loop.nodes[static_cast<size_t>(loop.value)].kind.floating;
    int64_t* all_vars = vars_.data();
    int64_t* stack = stack_.data();
    const Val* vals = vals_.data();
    Storage* storage = storage_.data();
    const CStore* stores = loop.stores.data();
    const size_t num_stores = loop.stores.size();
    for_each_point(sizes, loop.ranges.size(), all_vars + loop.var_base, [&](int64_t p) {
      run_nodes(loop);
      if (reducing) {
        combine(result, op, loop.accumulate,
                convert(vals[loop.value], value_floating, loop.accumulate), p);
        return;
      }
      for (size_t k = 0; k < num_stores; ++k) {
        const CStore& s = stores[k];
        Storage& b = storage[s.buffer];
        int64_t at = s.index.eval(all_vars, stack);
        if (at < 0 || at >= b.numel) {
          throw error("a store to ", b.str(), " at element ", at, " (", s.index.text,
                      ") is out of bounds");
        }
        b.store(at, vals[s.value], s.floating);
      }
    });
    if (loop.reduce && !result.seen && *loop.reduce != ReduceOp::kSum &&
        *loop.reduce != ReduceOp::kProd && *loop.reduce != ReduceOp::kAny &&
        *loop.reduce != ReduceOp::kAll) {
      throw error("a ", reduce_op_name(*loop.reduce), " reduction over zero elements");
    }
  }

  void run_nodes(const CLoop& loop) {
    int64_t* vars = vars_.data();
    int64_t* stack = stack_.data();
    Val* vals = vals_.data();
    Storage* storage = storage_.data();
    const CNode* nodes = loop.nodes.data();
    for (size_t n = 0, count = loop.nodes.size(); n < count; ++n) {
      const CNode& c = nodes[n];
      switch (c.op) {
        case ScalarOp::kLoad: {
          const Storage& b = storage[c.buffer];
          int64_t at = c.index.eval(vars, stack);
          if (at < 0 || at >= b.numel) {
            throw error("node ", n, " loads ", b.str(), " at element ", at, " (", c.index.text,
                        "), out of bounds");
          }
          vals[n] = convert(b.load(at), b.kind.floating, c.kind);
          break;
        }
        case ScalarOp::kConst:
          vals[n] = c.constant;
          break;
        case ScalarOp::kIndex:
          vals[n] = convert(Val{.i = c.index.eval(vars, stack)}, false, c.kind);
          break;
        case ScalarOp::kIndirect: {
          int64_t raw = vals[c.a].i;
          int64_t size = c.index.eval(vars, stack);
          int64_t at = raw < 0 ? raw + size : raw;
          if (at < 0 || at >= size) {
            throw error("index ", raw, " is out of bounds for a dim of size ", size);
          }
          vars[c.slot] = at;
          vals[n].i = at;
          break;
        }
        case ScalarOp::kLoopResult: {
          const LoopResult& r = results_[static_cast<size_t>(c.loop)];
          vals[n] = convert(r.value, r.floating, c.kind);
          break;
        }
        case ScalarOp::kLoopIndex:
          vals[n] = convert(Val{.i = results_[static_cast<size_t>(c.loop)].index}, false, c.kind);
          break;
        default:
          vals[n] = apply_scalar(c, vals);
          break;
      }
    }
  }

  const CKernel& k_;
  std::vector<Storage>& storage_;
  std::vector<int64_t> vars_;
  std::vector<int64_t> stack_;
  std::vector<Val> vals_;
  std::vector<LoopResult> results_;
  std::vector<std::vector<int64_t>> sizes_;  // per loop: its ranges at the current point
};

}  // namespace

void run_kernel(const Kernel& kernel, const Program& program, const SymbolValues& symbols,
                std::vector<Storage>& storage) {
  CKernel compiled;
  try {
    compiled = KernelCompiler(program, symbols).compile(kernel);
  } catch (const Error& e) {
    throw error("kernel ", kernel.name, " is malformed: ", e.what());
  }
  KernelRunner(compiled, storage).run();
}

}  // namespace kiln::lower::eval
